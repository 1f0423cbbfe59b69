// OpenTelemetry's ECS resource detector for Go, run by the compatibility
// suite (test/compat/otel_test.go): a module of its own so that the
// OpenTelemetry SDK stays out of credd's go.mod.
module github.com/credd-dev/credd/test/compat/goclient/otelecs

go 1.26.0

require go.opentelemetry.io/contrib/detectors/aws/ecs v1.47.0

require (
	github.com/brunoscheufler/aws-ecs-metadata-go v0.0.0-20221221133751-67e37ae746cd // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/go-logr/logr v1.4.4 // indirect
	github.com/go-logr/stdr v1.2.2 // indirect
	github.com/google/uuid v1.6.0 // indirect
	go.opentelemetry.io/auto/sdk v1.2.1 // indirect
	go.opentelemetry.io/otel v1.47.0 // indirect
	go.opentelemetry.io/otel/log v1.47.0 // indirect
	go.opentelemetry.io/otel/metric v1.47.0 // indirect
	go.opentelemetry.io/otel/sdk v1.47.0 // indirect
	go.opentelemetry.io/otel/trace v1.47.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
)
