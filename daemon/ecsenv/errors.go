package ecsenv

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	smithy "github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/credd-dev/credd/daemon/redact"
)

// Error lists the variables that could not be resolved. It never holds a
// value: only names, valueFroms, and what went wrong.
type Error struct {
	Failures []Failure
}

// Failure is one variable that could not be resolved.
type Failure struct {
	// Name is the variable's name ("" for an environment file).
	Name string
	// ValueFrom is the secret's valueFrom, or the environment file's ARN.
	ValueFrom string
	// Reason says what went wrong; Hint what to do about it.
	Reason, Hint string
}

func (e *Error) Error() string {
	var b strings.Builder
	if len(e.Failures) == 1 {
		b.WriteString("1 variable of the container could not be resolved:")
	} else {
		fmt.Fprintf(&b, "%d variables of the container could not be resolved:", len(e.Failures))
	}
	for _, f := range e.Failures {
		b.WriteString("\n  ")
		b.WriteString(f.String())
	}
	return b.String()
}

func (f Failure) String() string {
	s := f.Name
	if s == "" {
		s = "environment file"
	}
	if f.ValueFrom != "" {
		s += " (valueFrom " + f.ValueFrom + ")"
	}
	s += ": " + f.Reason
	if f.Hint != "" {
		s += "; " + f.Hint
	}
	return s
}

// service is what the classifier needs to know of the service it called.
type service struct {
	name     string // as users know it
	api      string // the operation called, as an IAM action
	endpoint string // the environment variable that overrides its URL
}

var (
	ssmService = service{"SSM Parameter Store", "ssm:GetParameters", "AWS_ENDPOINT_URL_SSM"}
	asmService = service{"Secrets Manager", "secretsmanager:GetSecretValue", "AWS_ENDPOINT_URL_SECRETS_MANAGER"}
)

// classify turns an error of a call to svc about what (a parameter or
// secret, with its region), whose ARN is resource, into a reason and a
// hint. The service's own message goes into the reason, redacted: AWS
// messages name resources and principals, never secret values, but the
// redaction costs nothing here.
//
// Codes are those of the API references: GetParameters (API_GetParameters:
// InternalServerError, InvalidKeyId), GetSecretValue
// (API_GetSecretValue: DecryptionFailure, InternalServiceError,
// InvalidParameterException, InvalidRequestException,
// ResourceNotFoundException), and the common errors of both
// (CommonErrors: AccessDeniedException, ThrottlingException,
// UnrecognizedClientException, ExpiredTokenException, ...).
func classify(ctx context.Context, svc service, what, resource string, err error) problem {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return problem{fmt.Sprintf("%s was not read: %v", what, context.Cause(ctx)), "try again, with more time"}
	}
	var credsErr *credentialsError
	if errors.As(err, &credsErr) {
		return problem{fmt.Sprintf("%s was not read: the role's credentials are not available (%s)", what, redact.String(credsErr.Error())),
			"run `credd status` to see why"}
	}
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return problem{fmt.Sprintf("could not call %s for %s: %s", svc.name, what, redact.String(err.Error())),
			fmt.Sprintf("check the network, and %s if you set it", svc.endpoint)}
	}
	code, msg := apiErr.ErrorCode(), redact.String(apiErr.ErrorMessage())
	// IAM's refusal names the resource it checked ("... is not authorized
	// to perform: ACTION on resource: ARN ...", troubleshoot_access-denied):
	// with its account, a better target for the hint than our guess.
	if m := deniedResourceRE.FindStringSubmatch(apiErr.ErrorMessage()); m != nil {
		resource = m[1]
	}
	said := code
	if msg != "" {
		said += ": " + msg
	}
	switch code {
	case "AccessDeniedException", "AccessDenied":
		if mentionsKMS(msg) {
			key := "that customer-managed KMS key"
			if strings.Contains(resource, ":kms:") {
				key = resource
			}
			return problem{fmt.Sprintf("the role may not decrypt %s with its KMS key (%s)", what, said),
				"allow kms:Decrypt on " + key + " to the role credd assumes (in its IAM policy and the key policy); keys AWS manages need no grant"}
		}
		return problem{fmt.Sprintf("the role may not read %s (%s)", what, said),
			fmt.Sprintf("allow %s on %s to the role credd assumes", svc.api, resource)}
	case "DecryptionFailure":
		// "Secrets Manager can't decrypt the protected secret text using
		// the provided KMS key." (API_GetSecretValue, Errors)
		return problem{fmt.Sprintf("Secrets Manager cannot decrypt %s with its KMS key (%s)", what, said),
			"check that the secret's KMS key is enabled and that the role credd assumes may use kms:Decrypt on it"}
	case "InvalidKeyId":
		// "The query key ID isn't valid." (API_GetParameters, Errors)
		return problem{fmt.Sprintf("the KMS key of %s is not valid (%s)", what, said),
			"check in KMS that the parameter's key exists and is enabled"}
	case "ResourceNotFoundException":
		return problem{fmt.Sprintf("%s was not found (%s)", what, said),
			"check the ARN, including the 6 characters Secrets Manager appends to the name, its region, and the version stage or ID if given"}
	case "InvalidRequestException":
		// "The secret is scheduled for deletion." among its causes
		// (API_GetSecretValue, Errors).
		return problem{fmt.Sprintf("%s cannot be read now (%s)", what, said),
			"a secret scheduled for deletion can be restored with aws secretsmanager restore-secret"}
	case "InvalidParameterException", "ValidationException":
		return problem{fmt.Sprintf("%s refused the request for %s (%s)", svc.name, what, said),
			"fix the valueFrom"}
	case "UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException",
		"InvalidClientTokenId", "IncompleteSignature", "MissingAuthenticationToken":
		return problem{fmt.Sprintf("%s refused the role's credentials for %s (%s)", svc.name, what, said),
			"run `credd status`; if the credentials are fine, check that " + svc.endpoint + " points at the right service"}
	case "ThrottlingException", "TooManyUpdates":
		return problem{fmt.Sprintf("%s throttled the request for %s (%s)", svc.name, what, said), "try again in a moment"}
	}
	var respErr *smithyhttp.ResponseError
	if errors.As(err, &respErr) && respErr.HTTPStatusCode() >= http.StatusInternalServerError {
		return problem{fmt.Sprintf("%s failed for %s (%s)", svc.name, what, said), "try again in a moment"}
	}
	return problem{fmt.Sprintf("%s refused the request for %s (%s)", svc.name, what, said),
		"see the service's message"}
}

var deniedResourceRE = regexp.MustCompile(`on resource: (arn:[^\s"]+)`)

// mentionsKMS reports whether an AccessDenied message is about the KMS key
// rather than the parameter or secret: Secrets Manager says "Access to KMS
// is not allowed", SSM relays KMS's "The ciphertext refers to a customer
// master key that does not exist, does not exist in this region, or you
// are not allowed to access. (Service: AWSKMS; ...)", and newer messages
// name the kms:Decrypt action (reports in
// aws-samples/aws-secrets-manager-rotation-lambdas#53,
// external-secrets/external-secrets#390, tryolabs/aws-workshop#6).
func mentionsKMS(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "kms") || strings.Contains(m, "customer master key")
}
