package ecstask

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	smithy "github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/internal/awsapi"
)

// credd's own codes, for failures that carry no ECS error code. A timeout
// is daemon.CodeTimeout; an HTTP error without a code is "HTTP" and its
// status, such as HTTP503.
const (
	// CodeWaitingForCredentials: the role has no credentials yet, so no
	// call was made. Not a failure: credd retries soon.
	CodeWaitingForCredentials daemon.Code = "WaitingForCredentials"
	CodeNetwork               daemon.Code = "NetworkError"
	CodeTLS                   daemon.Code = "TLSError"
	// CodeMalformedResponse: ECS answered 200 with something that is not
	// the task definition asked for.
	CodeMalformedResponse daemon.Code = "MalformedResponse"
)

// ECS's error codes as they arrive on the wire (the "__type" of an AWS JSON
// 1.1 error body). The DescribeTaskDefinition API reference lists
// ClientException, InvalidParameterException and ServerException
// (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeTaskDefinition.html#API_DescribeTaskDefinition_Errors);
// the rest are common to every ECS action
// (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/CommonErrors.html),
// ThrottlingException among them ("Request throttling for the Amazon ECS
// API": "If you exceed an API throttling quota, you get the
// ThrottlingException error code", HTTP 400).
const (
	CodeClientException      daemon.Code = "ClientException"
	CodeInvalidParameter     daemon.Code = "InvalidParameterException"
	CodeServerException      daemon.Code = "ServerException"
	CodeAccessDenied         daemon.Code = "AccessDeniedException"
	CodeThrottling           daemon.Code = "ThrottlingException"
	CodeUnrecognizedClient   daemon.Code = "UnrecognizedClientException"
	CodeInvalidSignature     daemon.Code = "InvalidSignatureException"
	CodeExpiredToken         daemon.Code = "ExpiredTokenException"
	CodeInvalidClientTokenID daemon.Code = "InvalidClientTokenId"
	CodeServiceUnavailable   daemon.Code = "ServiceUnavailable"
	CodeInternalFailure      daemon.Code = "InternalFailure"
	CodeRequestLimitExceeded daemon.Code = "RequestLimitExceeded"
	CodeTooManyRequests      daemon.Code = "TooManyRequestsException"
	CodeUnknownOperation     daemon.Code = "UnknownOperationException"
)

// unableToDescribe is how ECS answers a task definition it cannot
// describe: no such family or revision, or an INACTIVE revision no task or
// service uses any more ("An error occurred (ClientException) when calling
// the DescribeTaskDefinition operation: Unable to describe task
// definition.", sil-org/ecs-deploy#145, for a mistyped name).
const unableToDescribe = "Unable to describe task definition"

const (
	hintRetry    = "ECS is failing; credd retries with backoff and keeps mirroring the last revision it fetched"
	hintThrottle = "ECS is throttling this account's requests in this region (the quota is shared by every caller in the account); credd backs off and keeps mirroring the last revision it fetched"
	hintCreds    = "ECS did not accept the role's credentials: check that the ECS region (the task definition ARN's, else --region) is enabled for the account and that AWS_ENDPOINT_URL_ECS, if set, points at ECS"
)

type rule struct {
	kind daemon.Kind
	hint string
}

// ecsCodes classifies ECS's error codes. The hints that depend on the
// task definition are filled in by classify.
var ecsCodes = map[daemon.Code]rule{
	CodeServerException:      {daemon.KindRetryable, hintRetry},
	CodeServiceUnavailable:   {daemon.KindRetryable, hintRetry},
	CodeInternalFailure:      {daemon.KindRetryable, hintRetry},
	CodeThrottling:           {daemon.KindRetryable, hintThrottle},
	CodeRequestLimitExceeded: {daemon.KindRetryable, hintThrottle},
	CodeTooManyRequests:      {daemon.KindRetryable, hintThrottle},
	CodeUnrecognizedClient:   {daemon.KindPermanent, hintCreds},
	CodeInvalidSignature:     {daemon.KindPermanent, hintCreds},
	CodeInvalidClientTokenID: {daemon.KindPermanent, hintCreds},
	CodeExpiredToken:         {daemon.KindRetryable, "the role's credentials expired on the way to ECS; credd retries with fresh ones"},
	CodeUnknownOperation:     {daemon.KindPermanent, "the endpoint does not know DescribeTaskDefinition: check that AWS_ENDPOINT_URL_ECS, if set, points at ECS"},
}

// errAttemptTimeout is the cause of the per-attempt deadline, so that it
// can be told apart from the caller's own cancellation.
var errAttemptTimeout = errors.New("ecs attempt timed out")

// noCredentialsError marks an error of the credentials provider, so that
// it is told apart from ECS's answers however the SDK wraps it
// (aws-sdk-go-v2 internal/auth/smithy/credentials_adapter.go wraps it
// with %w: "get credentials: %w").
type noCredentialsError struct{ err error }

func (e *noCredentialsError) Error() string { return e.err.Error() }
func (e *noCredentialsError) Unwrap() error { return e.err }

// isAccessDenied reports whether ECS answered AccessDeniedException.
func isAccessDenied(err error) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == string(CodeAccessDenied)
}

// classify turns an error of a DescribeTaskDefinition call into a
// *daemon.Error whose hint says what to do. ctx is Run's context, actx the
// attempt's.
func (w *Watcher) classify(actx context.Context, err error) *daemon.Error {
	var credErr *noCredentialsError
	if errors.As(err, &credErr) {
		return &daemon.Error{Kind: daemon.KindRetryable, Code: CodeWaitingForCredentials,
			Message: "waiting for the role's credentials to read the task definition: " + sanitize(credErr.err.Error()),
			Hint:    "credd reads the task definition as soon as the role has credentials; run `credd status` to see why it has none",
			Err:     err}
	}
	if errors.Is(context.Cause(actx), errAttemptTimeout) {
		return &daemon.Error{Kind: daemon.KindRetryable, Code: daemon.CodeTimeout,
			Message: fmt.Sprintf("ECS did not answer within %s", attemptTimeout),
			Hint:    w.hintNetwork(), Err: err}
	}

	status := 0
	var respErr *smithyhttp.ResponseError
	if errors.As(err, &respErr) {
		status = respErr.HTTPStatusCode()
	}

	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() != "" && apiErr.ErrorCode() != "UnknownError" {
		code := daemon.Code(apiErr.ErrorCode())
		msg := sanitize(apiErr.ErrorMessage())
		if msg == "" {
			msg = fmt.Sprintf("ECS refused DescribeTaskDefinition %s", w.ref)
		}
		r, ok := ecsCodes[code]
		switch {
		case code == CodeAccessDenied:
			r = rule{daemon.KindPermanent, fmt.Sprintf(
				"the role lacks ecs:DescribeTaskDefinition on %s: allow it in the role's IAM policy (Action \"ecs:DescribeTaskDefinition\", Resource \"*\"); credd retries with backoff", w.ref)}
		case code == CodeClientException && strings.Contains(msg, unableToDescribe):
			r = rule{daemon.KindPermanent, w.hintNotFound()}
		case code == CodeClientException:
			r = rule{daemon.KindPermanent, fmt.Sprintf("ECS refused to describe %s: check --ecs-task-definition and the role's permissions; credd retries with backoff", w.ref)}
		case code == CodeInvalidParameter:
			r = rule{daemon.KindPermanent, fmt.Sprintf("ECS rejected %q as a task definition: check --ecs-task-definition (FAMILY, FAMILY:REVISION or a task definition ARN)", w.ref.String())}
		case !ok:
			r = ruleForStatus(status, apiErr.ErrorFault())
		}
		return &daemon.Error{Kind: r.kind, Code: code, Message: msg, Hint: r.hint, Err: err}
	}

	if status >= 400 {
		r := ruleForStatus(status, smithy.FaultUnknown)
		return &daemon.Error{Kind: r.kind, Code: daemon.Code(fmt.Sprintf("HTTP%d", status)),
			Message: fmt.Sprintf("ECS answered HTTP %d %s without an error code", status, http.StatusText(status)),
			Hint:    r.hint, Err: err}
	}

	// A response arrived but the SDK could not read it.
	var desErr *smithy.DeserializationError
	if errors.As(err, &desErr) || status != 0 {
		return &daemon.Error{Kind: daemon.KindRetryable, Code: CodeMalformedResponse,
			Message: "ECS's response could not be parsed",
			Hint:    "check that AWS_ENDPOINT_URL_ECS, if set, points at ECS; credd retries", Err: err}
	}

	if awsapi.IsCertError(err) {
		return &daemon.Error{Kind: daemon.KindPermanent, Code: CodeTLS,
			Message: "the ECS endpoint's TLS certificate was not accepted: " + sanitize(awsapi.TransportMessage(err)),
			Hint:    "check AWS_ENDPOINT_URL_ECS, and that a TLS-intercepting proxy's CA is in the system trust store",
			Err:     err}
	}

	var sendErr *smithyhttp.RequestSendError
	var netErr net.Error
	if errors.As(err, &sendErr) || errors.As(err, &netErr) {
		return &daemon.Error{Kind: daemon.KindRetryable, Code: CodeNetwork,
			Message: "cannot reach ECS: " + sanitize(awsapi.TransportMessage(err)),
			Hint:    w.hintNetwork(), Err: err}
	}

	return &daemon.Error{Kind: daemon.KindRetryable, Code: daemon.CodeUnknown,
		Message: "the DescribeTaskDefinition call failed: " + sanitize(err.Error()),
		Hint:    "credd retries with backoff; if it persists, run `credd doctor`", Err: err}
}

// hintNotFound explains "Unable to describe task definition.": the
// family's latest ACTIVE revision for a followed family, the revision for
// a pinned one. DescribeTaskDefinition describes "the latest ACTIVE
// revision" of a family, and "You can only describe INACTIVE task
// definitions while an active task or service references them" (its API
// reference).
func (w *Watcher) hintNotFound() string {
	if w.ref.Pinned() {
		return fmt.Sprintf("ECS has no task definition %s in %s that it can describe: check the family, revision and region; a deregistered (INACTIVE) revision can be described only while a task or service uses it — pin an ACTIVE revision or follow the family (--ecs-task-definition %q)",
			w.ref, w.region, w.ref.Family)
	}
	return fmt.Sprintf("ECS has no task definition family %q with an ACTIVE revision in %s: check --ecs-task-definition and the region (the task definition ARN's, else --region); credd retries with backoff",
		w.ref.Family, w.region)
}

// hintNetwork names the endpoint that could not be reached.
func (w *Watcher) hintNetwork() string {
	where := "the ECS endpoint of " + w.region
	if w.endpoint != "" {
		where = w.endpoint + " (AWS_ENDPOINT_URL_ECS)"
	}
	return "check that " + where + " is reachable from here (DNS, HTTPS_PROXY/NO_PROXY, firewall); credd retries with backoff and keeps mirroring the last revision it fetched"
}

func ruleForStatus(status int, fault smithy.ErrorFault) rule {
	switch {
	case status >= 500:
		return rule{daemon.KindRetryable, hintRetry}
	case status == http.StatusTooManyRequests:
		return rule{daemon.KindRetryable, hintThrottle}
	case status >= 400 || fault == smithy.FaultClient:
		return rule{daemon.KindPermanent, "ECS refused the request: check --ecs-task-definition, the region and AWS_ENDPOINT_URL_ECS; credd retries with backoff"}
	}
	return rule{daemon.KindRetryable, hintRetry}
}

// sanitize is awsapi.Sanitize: an ECS message made safe to show.
func sanitize(msg string) string { return awsapi.Sanitize(msg) }
