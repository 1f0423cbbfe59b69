// The aws-sdk-go (v1) client of the compatibility suite, a module of its
// own so that the deprecated SDK stays out of credd's go.mod. Its path
// cannot end in /v1 (Go reserves that for major versions), hence sdkv1.
module github.com/credd-dev/credd/test/compat/goclient/sdkv1

go 1.26.0

require (
	github.com/aws/aws-sdk-go v1.55.8
	github.com/credd-dev/credd v0.0.0
)

require github.com/jmespath/go-jmespath v0.4.0 // indirect

// The shared client protocol, test/compat/goclient/driver.
replace github.com/credd-dev/credd => ../../../..
