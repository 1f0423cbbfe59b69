package ecsenv

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	smithy "github.com/aws/smithy-go"
)

// maxNamesPerCall is the most names one GetParameters call takes ("Array
// Members: Minimum number of 1 item. Maximum number of 10 items.",
// API_GetParameters.html); the ECS agent batches by the same number
// (amazon-ecs-agent agent/taskresource/ssmsecret/ssmsecret.go, MaxBatchNum).
const maxNamesPerCall = 10

// outcome is what became of one valueFrom: its value, or why there is none.
type outcome struct {
	value string
	fail  *problem
}

// getParameters reads refs (distinct parameters of one region) with one
// GetParameters call, decrypting SecureStrings (WithDecryption true, as
// the agent's GetSecretsFromSSM does, amazon-ecs-agent agent/ssm/ssm.go).
// It returns an outcome per ref.parameter.
func getParameters(ctx context.Context, api *ssm.Client, refs []reference) map[string]outcome {
	names := make([]string, len(refs))
	for i, ref := range refs {
		names[i] = ref.parameter
	}
	res := make(map[string]outcome, len(refs))
	out, err := api.GetParameters(ctx, &ssm.GetParametersInput{Names: names, WithDecryption: aws.Bool(true)})
	if err != nil {
		// IAM checks every parameter of the call and refuses the whole
		// call for one it denies; ask one by one to name the one that
		// the role may not read.
		var apiErr smithy.APIError
		if len(refs) > 1 && errors.As(err, &apiErr) && strings.HasPrefix(apiErr.ErrorCode(), "AccessDenied") {
			for _, ref := range refs {
				res[ref.parameter] = getParameters(ctx, api, []reference{ref})[ref.parameter]
			}
			return res
		}
		for _, ref := range refs {
			p := classify(ctx, ssmService, ref.describe(), ref.paramARN, err)
			res[ref.parameter] = outcome{fail: &p}
		}
		return res
	}

	// The results come in alphabetical order, not in the order asked
	// ("The results for GetParameters requests are listed in alphabetical
	// order", API_GetParameters.html), so they are matched by name. A
	// parameter asked for by ARN or with a :version or :label selector
	// may come back under its name, its ARN, either with its Selector.
	found := make(map[string]string, len(out.Parameters))
	for _, p := range out.Parameters {
		selector := aws.ToString(p.Selector) // ":3" or ":label"
		if selector != "" && !strings.HasPrefix(selector, ":") {
			selector = ":" + selector
		}
		for _, id := range []string{aws.ToString(p.Name), aws.ToString(p.ARN)} {
			if id == "" {
				continue
			}
			found[parameterKey(id+selector)] = aws.ToString(p.Value)
			if selector == "" {
				continue
			}
			// Without the selector only if nothing else claimed it: a
			// name asked for both plain and with a version keeps each.
			if _, taken := found[parameterKey(id)]; !taken {
				found[parameterKey(id)] = aws.ToString(p.Value)
			}
		}
	}
	invalid := make(map[string]bool, len(out.InvalidParameters))
	for _, name := range out.InvalidParameters {
		invalid[parameterKey(name)] = true
	}
	for _, ref := range refs {
		key := parameterKey(ref.parameter)
		switch value, ok := found[key]; {
		case ok:
			res[ref.parameter] = outcome{value: value}
		case invalid[key]:
			res[ref.parameter] = outcome{fail: &problem{
				// "InvalidParameters: A list of parameters that aren't
				// formatted correctly or don't run during an execution"
				// (API_GetParameters.html): a name that does not exist,
				// or a version or label it does not have.
				reason: ref.describe() + " was not found (GetParameters listed it as invalid)",
				hint: "check the name, any :version or :label after it, and the region; a parameter in another region needs its full ARN, " +
					"arn:aws:ssm:REGION:ACCOUNT:parameter/NAME, and a Secrets Manager secret needs its full ARN too",
			}}
		default:
			res[ref.parameter] = outcome{fail: &problem{
				reason: "SSM answered GetParameters without " + ref.describe() + ", neither as a parameter nor as invalid",
				hint:   "try again; if it persists, check that AWS_ENDPOINT_URL_SSM, if set, points at SSM",
			}}
		}
	}
	return res
}

// parameterKey is how a parameter is matched between the request and the
// response: "x" and "/x" are one parameter (sysman-parameter-name-constraints:
// "/TestParam1" and "TestParam1" are not unique), so a top-level name
// loses its slash.
func parameterKey(id string) string {
	if strings.HasPrefix(id, "/") && !strings.Contains(id[1:], "/") {
		return id[1:]
	}
	return id
}

// describe names what a reference points at, for messages.
func (r reference) describe() string {
	if r.store == storeSSM {
		return fmt.Sprintf("SSM parameter %s in %s", r.paramName, r.region)
	}
	s := fmt.Sprintf("secret %s in %s", r.secretID, r.region)
	if r.versionStage != "" {
		s += " (version stage " + r.versionStage + ")"
	}
	if r.versionID != "" {
		s += " (version ID " + r.versionID + ")"
	}
	return s
}
