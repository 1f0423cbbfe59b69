// Command minio is a minio-go client for the compatibility suite
// (test/compat). Its credentials come from minio-go's IAM provider,
// credentials.NewIAM(""), the one minio-go offers for AWS roles: it reads
// AWS_CONTAINER_CREDENTIALS_FULL_URI and the token itself
// (pkg/credentials/iam_aws.go, IAM.Retrieve). Each call writes an object
// to the suite's S3 stand-in and lists the buckets, both SigV4-signed. See
// package protocol for its arguments and output.
//
// The same source builds against minio-go 7.4.1 (go.mod) and 7.0.46, the
// version Debian's restic 0.14 is built with (go.minio-7.0.46.mod, used with
// `go build -modfile`).
package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/credd-dev/credd/test/compat/goclient/protocol"
)

// bucket is the bucket the suite's S3 stand-in starts with.
const bucket = "credd-compat"

func main() {
	os.Exit(protocol.Main([]string{"github.com/minio/minio-go/v7"}, func(endpoint string, capture *http.Client) (protocol.Caller, error) {
		u, err := url.Parse(endpoint)
		if err != nil {
			return nil, err
		}
		client, err := minio.New(u.Host, &minio.Options{
			Creds:     credentials.NewIAM(""),
			Secure:    u.Scheme == "https",
			Region:    "us-east-1",
			Transport: capture.Transport,
		})
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, n int) (string, error) {
			key := fmt.Sprintf("minio-go/%d", n)
			body := fmt.Sprintf("written by minio-go, call %d\n", n)
			if _, err := client.PutObject(ctx, bucket, key, strings.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
				return "", err
			}
			buckets, err := client.ListBuckets(ctx)
			if err != nil {
				return "", err
			}
			if !slices.ContainsFunc(buckets, func(b minio.BucketInfo) bool { return b.Name == bucket }) {
				return "", fmt.Errorf("ListBuckets does not list %s: %v", bucket, buckets)
			}
			return "s3://" + bucket + "/" + key, nil
		}, nil
	}))
}
