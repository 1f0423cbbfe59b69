// The minio-go client built against minio-go 7.0.46, the version Debian's
// restic 0.14 is built with: `go build -modfile=go.minio-7.0.46.mod`.
module github.com/credd-dev/credd/test/compat/goclient/minio

go 1.26.0

require (
	github.com/credd-dev/credd/test/compat/goclient/protocol v0.0.0
	github.com/minio/minio-go/v7 v7.0.46
)

require (
	github.com/dustin/go-humanize v1.0.0 // indirect
	github.com/google/uuid v1.3.0 // indirect
	github.com/json-iterator/go v1.1.12 // indirect
	github.com/klauspost/compress v1.15.9 // indirect
	github.com/klauspost/cpuid/v2 v2.1.0 // indirect
	github.com/minio/md5-simd v1.1.2 // indirect
	github.com/minio/sha256-simd v1.0.0 // indirect
	github.com/modern-go/concurrent v0.0.0-20180306012644-bacd9c7ef1dd // indirect
	github.com/modern-go/reflect2 v1.0.2 // indirect
	github.com/rs/xid v1.4.0 // indirect
	github.com/sirupsen/logrus v1.9.0 // indirect
	golang.org/x/crypto v0.0.0-20220722155217-630584e8d5aa // indirect
	golang.org/x/net v0.0.0-20220722155237-a158d28d115b // indirect
	golang.org/x/sys v0.0.0-20220722155257-8c9f86f7a55f // indirect
	golang.org/x/text v0.3.7 // indirect
	gopkg.in/ini.v1 v1.66.6 // indirect
)

replace github.com/credd-dev/credd/test/compat/goclient/protocol => ../protocol
