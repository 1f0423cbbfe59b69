// The aws-sdk-go-v2 config 1.18 client of the compatibility suite, a module
// of its own: credd's go.mod requires a newer config.
module github.com/credd-dev/credd/test/compat/goclient/config118

go 1.26.0

require (
	github.com/aws/aws-sdk-go-v2 v1.21.2
	github.com/aws/aws-sdk-go-v2/config v1.18.45
	github.com/aws/aws-sdk-go-v2/service/sts v1.23.2
	github.com/credd-dev/credd/test/compat/goclient/protocol v0.0.0
)

require (
	github.com/aws/aws-sdk-go-v2/credentials v1.13.43 // indirect
	github.com/aws/aws-sdk-go-v2/feature/ec2/imds v1.13.13 // indirect
	github.com/aws/aws-sdk-go-v2/internal/configsources v1.1.43 // indirect
	github.com/aws/aws-sdk-go-v2/internal/endpoints/v2 v2.4.37 // indirect
	github.com/aws/aws-sdk-go-v2/internal/ini v1.3.45 // indirect
	github.com/aws/aws-sdk-go-v2/service/internal/presigned-url v1.9.37 // indirect
	github.com/aws/aws-sdk-go-v2/service/sso v1.15.2 // indirect
	github.com/aws/aws-sdk-go-v2/service/ssooidc v1.17.3 // indirect
	github.com/aws/smithy-go v1.15.0 // indirect
)

replace github.com/credd-dev/credd/test/compat/goclient/protocol => ../protocol
