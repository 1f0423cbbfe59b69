package sts

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"

	smithy "github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/credd-dev/credd/daemon"
	"github.com/credd-dev/credd/daemon/internal/awsapi"
)

// credd's own codes, for failures that carry no STS error code. A timeout
// is daemon.CodeTimeout, anything unclassified daemon.CodeUnknown; an HTTP
// error without a code is "HTTP" and its status, such as HTTP503.
const (
	CodeMalformedResponse daemon.Code = "MalformedResponse"
	CodeCanceled          daemon.Code = "Canceled"
	CodeNetwork           daemon.Code = "NetworkError"
	CodeTLS               daemon.Code = "TLSError"
	// CodeInvalidConfig: New refused the configuration.
	CodeInvalidConfig daemon.Code = "InvalidConfig"
	// CodeEmptyToken: Exchange was given no token.
	CodeEmptyToken daemon.Code = "EmptyToken"
)

// STS's error codes that credd classifies, as they arrive on the wire: the
// AssumeRoleWithWebIdentity API reference lists most, the rest are errors
// common to AWS query APIs. STS's codes are passed on unchanged, so one
// that is not listed here is still a valid Code.
const (
	CodeThrottling              daemon.Code = "Throttling"
	CodeThrottlingException     daemon.Code = "ThrottlingException"
	CodeRequestLimitExceeded    daemon.Code = "RequestLimitExceeded"
	CodeIDPCommunicationError   daemon.Code = "IDPCommunicationError"
	CodeInternalFailure         daemon.Code = "InternalFailure"
	CodeInternalError           daemon.Code = "InternalError"
	CodeServiceUnavailable      daemon.Code = "ServiceUnavailable"
	CodeInvalidIdentityToken    daemon.Code = "InvalidIdentityToken"
	CodeExpiredToken            daemon.Code = "ExpiredTokenException"
	CodeAccessDenied            daemon.Code = "AccessDenied"
	CodeIDPRejectedClaim        daemon.Code = "IDPRejectedClaim"
	CodeMalformedPolicyDocument daemon.Code = "MalformedPolicyDocument"
	CodePackedPolicyTooLarge    daemon.Code = "PackedPolicyTooLarge"
	CodeRegionDisabled          daemon.Code = "RegionDisabledException"
	CodeValidationError         daemon.Code = "ValidationError"
	CodeInvalidParameterValue   daemon.Code = "InvalidParameterValue"
)

const (
	hintRetry     = "STS is busy or failing; credd retries with backoff and keeps serving the last good credentials"
	hintNewToken  = "the identity token was refused: fetch a new one / check the token source"
	hintMalformed = "STS answered with something that is not an AssumeRoleWithWebIdentity response: check --sts-endpoint points at STS; credd retries"
	hintNetwork   = "check that the STS endpoint is reachable from here (DNS, HTTPS_PROXY/NO_PROXY, firewall, --sts-endpoint); credd retries with backoff"
	hintParameter = "STS rejected a parameter: check --duration against the role's maximum session duration, --session-name and --role-arn"
)

// Hints for STS failing to verify the token with the IdP.
const (
	// hintIDPCommunication: STS reached for the IdP and got no answer in
	// time, "often a transient error caused by network conditions" (the
	// STS API model, aws/aws-sdk-go-v2 service/sts/types/errors.go,
	// IDPCommunicationErrorException).
	hintIDPCommunication = "STS could not reach the identity provider to verify the token, often a passing network problem; credd retries with backoff — if it persists, the IdP may be down or not answering AWS"
	// hintVerificationKey: STS could not get the key that signed the token:
	// the issuer's discovery document or JWKS was unreachable from AWS, or
	// the JWKS has no key with the token's kid.
	hintVerificationKey = "STS could not fetch the IdP's OIDC discovery document or JWKS: the issuer's /.well-known/openid-configuration and its jwks_uri must be reachable from the internet (not only from this network), and the JWKS must hold the key (kid) that signed the token; credd retries with backoff"
)

type rule struct {
	kind daemon.Kind
	hint string
}

// stsCodes classifies STS error codes, keyed by canonical code. Lookups also
// accept the code with or without an "Exception" suffix, since the wire code
// and the SDK's shape name differ for some errors.
var stsCodes = map[daemon.Code]rule{
	CodeThrottling:            {daemon.KindRetryable, "STS is throttling requests; credd retries with backoff"},
	CodeThrottlingException:   {daemon.KindRetryable, "STS is throttling requests; credd retries with backoff"},
	CodeRequestLimitExceeded:  {daemon.KindRetryable, "STS is throttling requests; credd retries with backoff"},
	CodeIDPCommunicationError: {daemon.KindRetryable, hintIDPCommunication},
	CodeInternalFailure:       {daemon.KindRetryable, hintRetry},
	CodeInternalError:         {daemon.KindRetryable, hintRetry},
	CodeServiceUnavailable:    {daemon.KindRetryable, hintRetry},

	CodeInvalidIdentityToken: {daemon.KindNewToken, hintNewToken},
	CodeExpiredToken:         {daemon.KindNewToken, hintNewToken},

	CodeAccessDenied:            {daemon.KindPermanent, "the role's trust policy does not accept this token: check Principal.Federated matches the token issuer, the aud condition and the sub condition; run `credd doctor`"},
	CodeIDPRejectedClaim:        {daemon.KindPermanent, "the identity provider rejected the token's claims: check the IAM OIDC provider's audiences include the token's aud and the issuer URL matches iss; run `credd doctor`"},
	CodeMalformedPolicyDocument: {daemon.KindPermanent, "the session policy is not a valid IAM policy: fix or remove it"},
	CodePackedPolicyTooLarge:    {daemon.KindPermanent, "the session policy and policy ARNs are too large: shorten them"},
	CodeRegionDisabled:          {daemon.KindPermanent, "STS is not activated in this region: activate it in the account's IAM settings or use another --region"},
	CodeValidationError:         {daemon.KindPermanent, hintParameter},
	CodeInvalidParameterValue:   {daemon.KindPermanent, hintParameter},
}

// lookupCode finds the rule for the code STS answered with. An unknown code
// is kept as it is: it is STS's word for the failure.
func lookupCode(code string) (canonical daemon.Code, r rule, ok bool) {
	for _, c := range []string{code, strings.TrimSuffix(code, "Exception"), code + "Exception"} {
		if r, ok := stsCodes[daemon.Code(c)]; ok {
			return daemon.Code(c), r, true
		}
	}
	return daemon.Code(code), rule{}, false
}

// classify turns an SDK error into a *daemon.Error. It relies on error types
// (smithy.APIError, ResponseError, DeserializationError, net errors) and
// STS's codes; a message text matters only where STS gives one code two
// meanings (see refineInvalidToken). ctx is the caller's context, actx the
// attempt's.
func (c *Client) classify(ctx, actx context.Context, token string, err error) *daemon.Error {
	// The caller's own deadline reads as a timeout (STS was too slow for
	// it); its cancellation (shutdown, say) as Canceled.
	if cerr := ctx.Err(); errors.Is(cerr, context.DeadlineExceeded) {
		return &daemon.Error{Kind: daemon.KindRetryable, Code: daemon.CodeTimeout,
			Message: "STS did not answer before the caller's deadline",
			Hint:    hintNetwork, Err: fmt.Errorf("%w: %w", cerr, err)}
	} else if cerr != nil {
		return &daemon.Error{Kind: daemon.KindRetryable, Code: CodeCanceled,
			Message: "the STS call was canceled",
			Err:     fmt.Errorf("%w: %w", cerr, err)}
	}
	if errors.Is(context.Cause(actx), errAttemptTimeout) {
		return &daemon.Error{Kind: daemon.KindRetryable, Code: daemon.CodeTimeout,
			Message: fmt.Sprintf("STS did not answer within %s", c.attemptTimeout),
			Hint:    hintNetwork, Err: err}
	}

	status := 0
	var respErr *smithyhttp.ResponseError
	if errors.As(err, &respErr) {
		status = respErr.HTTPStatusCode()
	}

	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() != "" && apiErr.ErrorCode() != "UnknownError" {
		code, r, ok := lookupCode(apiErr.ErrorCode())
		if !ok {
			r = ruleForStatus(status, apiErr.ErrorFault())
		}
		msg := sanitize(apiErr.ErrorMessage(), token)
		if code == CodeInvalidIdentityToken {
			r = refineInvalidToken(msg, r)
		}
		if msg == "" {
			msg = "STS refused the request"
			if status != 0 {
				msg += fmt.Sprintf(" with HTTP %d", status)
			}
		}
		return &daemon.Error{Kind: r.kind, Code: code, Message: msg, Hint: r.hint, Err: err}
	}

	if status >= 400 {
		r := ruleForStatus(status, smithy.FaultUnknown)
		return &daemon.Error{Kind: r.kind, Code: daemon.Code(fmt.Sprintf("HTTP%d", status)),
			Message: fmt.Sprintf("STS answered HTTP %d %s without an error code", status, http.StatusText(status)),
			Hint:    r.hint, Err: err}
	}

	// A response arrived (2xx/3xx) but the SDK could not turn it into an
	// output: the body was malformed, whatever the SDK's error type.
	var desErr *smithy.DeserializationError
	if errors.As(err, &desErr) || status != 0 {
		return &daemon.Error{Kind: daemon.KindRetryable, Code: CodeMalformedResponse,
			Message: "STS's response could not be parsed", Hint: hintMalformed, Err: err}
	}

	if awsapi.IsCertError(err) {
		return &daemon.Error{Kind: daemon.KindPermanent, Code: CodeTLS,
			Message: "the STS endpoint's TLS certificate was not accepted: " + sanitize(awsapi.TransportMessage(err), token),
			Hint:    "check --sts-endpoint, and that a TLS-intercepting proxy's CA is in the system trust store",
			Err:     err}
	}

	var sendErr *smithyhttp.RequestSendError
	var netErr net.Error
	if errors.As(err, &sendErr) || errors.As(err, &netErr) {
		return &daemon.Error{Kind: daemon.KindRetryable, Code: CodeNetwork,
			Message: "cannot reach STS: " + sanitize(awsapi.TransportMessage(err), token),
			Hint:    hintNetwork, Err: err}
	}

	return &daemon.Error{Kind: daemon.KindRetryable, Code: daemon.CodeUnknown,
		Message: "the STS call failed: " + sanitize(err.Error(), token),
		Hint:    "credd retries with backoff; if it persists, run `credd doctor`", Err: err}
}

// verificationKeyMessage is how STS words the InvalidIdentityToken it
// answers when it cannot get the key that signed the token
// (aws/aws-cli#7194, awslabs/aws-sdk-rust#827; with an unknown kid too,
// radkawar/stackd internal/services/sts/testdata/oidc/aws.json). STS sends
// two spaces after the comma; sanitize has made them one.
const verificationKeyMessage = "couldn't retrieve verification key from your identity provider"

// refineInvalidToken sorts InvalidIdentityToken by its message, the only
// thing that tells its causes apart: STS uses the one code both for a token
// that a new one would replace and for an IdP whose keys it cannot fetch.
// The latter is retryable (the IdP may come back, AWS may refetch its
// JWKS; a new token alone would not help), so the refresher backs off
// rather than give up after a few new tokens. The code stays STS's, so
// status shows what STS sent. The other cases only get a sharper hint.
func refineInvalidToken(msg string, r rule) rule {
	switch {
	case strings.Contains(strings.ToLower(msg), verificationKeyMessage):
		return rule{daemon.KindRetryable, hintVerificationKey}
	case strings.Contains(msg, "No OpenIDConnect provider found"):
		r.hint = "no IAM OIDC identity provider in the role's account matches the token's issuer: create one for the token's iss URL, or check --role-arn's account; run `credd doctor`"
	case strings.Contains(msg, "Incorrect token audience"):
		r.hint = "the token's aud is not a client ID of the IAM OIDC identity provider: add it there, or set --audience to one it accepts; run `credd doctor`"
	}
	return r
}

func ruleForStatus(status int, fault smithy.ErrorFault) rule {
	switch {
	case status >= 500 || status == http.StatusTooManyRequests:
		return rule{daemon.KindRetryable, hintRetry}
	case status >= 400:
		return rule{daemon.KindPermanent, "STS refused the request: check --role-arn, --region and --sts-endpoint; run `credd doctor`"}
	case fault == smithy.FaultClient:
		return rule{daemon.KindPermanent, "STS refused the request: check --role-arn, --region and --sts-endpoint; run `credd doctor`"}
	default:
		return rule{daemon.KindRetryable, hintRetry}
	}
}

// jwtRE matches anything shaped like a JWT (header.payload.signature), and
// a JWT cut short after its payload, as an endpoint echoing part of the
// token might send it.
var jwtRE = regexp.MustCompile(`eyJ[\w-]*\.[\w-]+(?:\.[\w-]*)?`)

// sanitize keeps a message short, on one line, and free of the token, in
// case an endpoint echoes it, and of any other secret (redact.String): an
// endpoint that is not STS (a proxy, an emulator) may echo anything.
// Redacting comes before cutting, which could leave half a secret that no
// longer looks like one.
func sanitize(msg, token string) string {
	if token != "" {
		msg = strings.ReplaceAll(msg, token, "[token]")
	}
	return awsapi.Sanitize(jwtRE.ReplaceAllString(msg, "[token]"))
}
