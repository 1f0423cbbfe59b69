// Command otelecs runs OpenTelemetry's ECS resource detector for Go
// (go.opentelemetry.io/contrib/detectors/aws/ecs) as an application would,
// and prints the resource it detects as one JSON object, attribute key →
// value. The compatibility suite (test/compat/otel_test.go) points it at an
// ECS task metadata endpoint through the environment.
//
// It is a module of its own so that the OpenTelemetry SDK stays out of
// credd's go.mod.
//
// What the detector reads (detectors/aws/ecs/ecs.go, v1.47.0):
//   - ECS_CONTAINER_METADATA_URI_V4 and ECS_CONTAINER_METADATA_URI: with
//     neither set it returns a nil resource and no error. The v3 one is only
//     tested for being set: everything it fetches comes from the v4 one,
//     GET $V4 (the container) then GET $V4/task, through
//     github.com/brunoscheufler/aws-ecs-metadata-go (v4.go), which does not
//     look at the status code, so a non-JSON error body fails to decode.
//   - os.Hostname() for container.name (not the metadata's container Name).
//   - /proc/self/cgroup for container.id: the 64-hex-digit id of a line
//     ending /ecs/<task>/<id>, else "" (also when the file is missing), so
//     it does not fail outside a container.
//
// Usage: otelecs. Exit status 1, with the error on stderr, when detection
// fails or finds nothing.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"go.opentelemetry.io/contrib/detectors/aws/ecs"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "otelecs:", err)
		os.Exit(1)
	}
}

func run() error {
	// The detector's HTTP client has no timeout of its own.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := ecs.NewResourceDetector().Detect(ctx)
	if err != nil {
		return fmt.Errorf("ecs.NewResourceDetector().Detect: %w", err)
	}
	if res == nil {
		return errors.New("the detector found no ECS environment: set ECS_CONTAINER_METADATA_URI_V4 " +
			"(and ECS_CONTAINER_METADATA_URI) to the task metadata endpoint")
	}
	attrs := map[string]any{}
	for _, kv := range res.Attributes() {
		attrs[string(kv.Key)] = kv.Value.AsInterface()
	}
	return json.NewEncoder(os.Stdout).Encode(attrs)
}
