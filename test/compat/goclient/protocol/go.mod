// The driver protocol (see test/compat/goclient/driver) as a module of its
// own, with no dependencies: the third-party Go clients pin versions that
// credd's go.mod would raise (aws-sdk-go-v2/config 1.18 against credd's
// 1.33), so they cannot require the main module for package driver.
module github.com/credd-dev/credd/test/compat/goclient/protocol

go 1.26.0
