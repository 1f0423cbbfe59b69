package sandbox

import (
	"fmt"
	"net/http"

	"github.com/credd-dev/credd/daemon/policy"
)

// errInvalidTags is STS's answer to session tags that break IAM's rules
// (policy.ParseSessionTags). The words are real STS's for
// AssumeRoleWithWebIdentity: "api error ValidationError: Unable to validate
// tags", StatusCode 400 (hashicorp/terraform-provider-aws#44712), and the
// same for a SAML session tag value over 256 characters (the UK Ministry of
// Justice's Cloud Platform runbook, "Debugging AWS Console read-only access
// issues"). No capture shows which words a malformed claim or another rule
// gets; that they all get these is credd's reading.
var errInvalidTags = errValidation("Unable to validate tags")

// errPackedPolicyTooLarge is STS's answer to tags whose packed size passes
// 100%: the code without the SDKs' "Exception" suffix
// (aws-actions/configure-aws-credentials#1898) and the words "Packed size of
// session tags consumes 142% of allotted space."
// (aws-actions/configure-aws-credentials#1803, aws/containers-roadmap#2413).
// The percentage is policy.SessionTags.PackedSize, credd's estimate.
func errPackedPolicyTooLarge(percent int) *apiError {
	return &apiError{http.StatusBadRequest, "PackedPolicyTooLarge",
		fmt.Sprintf("Packed size of session tags consumes %d%% of allotted space.", percent)}
}

// checkSessionTags refuses a token whose session tags STS would refuse,
// and returns its packed size for the answer's PackedPolicySize (nil for a
// token without tags, whose answer has none: the API reference describes it
// as the size of the session policies and tags passed, and this STS takes
// no session policy). The SDKs' STS model now marks PackedPolicySize
// deprecated in favour of SessionTokenSize and SessionTokenUtilization
// (aws-sdk-go-v2 service/sts v1.52.0), which this emulator does not report.
func checkSessionTags(c *idClaims) (*int, *apiError) {
	if c.sessionTags == nil {
		return nil, nil
	}
	if c.tagsErr != nil {
		return nil, errInvalidTags
	}
	size := c.sessionTags.PackedSize()
	if size > 100 {
		return nil, errPackedPolicyTooLarge(size)
	}
	return &size, nil
}

// trustRequest is the request the role's trust policy is evaluated
// against: the token's condition keys and, with session tags, the tags'
// keys and sts:TagSession (policy.Request.WithSessionTags).
func trustRequest(c *idClaims, account string) policy.Request {
	req := policy.NewRequest(c.policyClaims(), account)
	if c.sessionTags != nil {
		req = req.WithSessionTags(*c.sessionTags)
	}
	return req
}
