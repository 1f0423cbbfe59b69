package ecsenv

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// getSecret reads a Secrets Manager reference as the ECS agent does
// (amazon-ecs-agent agent/asm/asm.go, GetSecretFromASMWithInput):
// GetSecretValue with the secret's ARN and the version stage or ID when
// the valueFrom gives them, then the whole SecretString or one top-level
// key of it.
func getSecret(ctx context.Context, api *secretsmanager.Client, ref reference) outcome {
	in := &secretsmanager.GetSecretValueInput{SecretId: aws.String(ref.secretID)}
	// The guide says a valueFrom gives a stage or an ID, not both; the
	// agent passes what it finds, and GetSecretValue then requires that
	// "the two parameters must refer to the same secret version".
	if ref.versionStage != "" {
		in.VersionStage = aws.String(ref.versionStage)
	}
	if ref.versionID != "" {
		in.VersionId = aws.String(ref.versionID)
	}
	out, err := api.GetSecretValue(ctx, in)
	if err != nil {
		p := classify(ctx, asmService, ref.describe(), ref.secretID, err)
		return outcome{fail: &p}
	}
	if out.SecretString == nil {
		if out.SecretBinary != nil {
			// "Only secrets that store text data, which are secrets created
			// with the SecretString parameter of the CreateSecret API, are
			// supported. Secrets that store binary data [...] are not
			// supported." (specifying-sensitive-data-secrets.html). The
			// agent would set the variable to "" (aws.ToString of a nil
			// SecretString); saying so beats an empty value.
			return outcome{fail: &problem{
				reason: ref.describe() + " holds binary data (SecretBinary), which ECS does not support as an environment variable",
				hint:   "store the value as text (SecretString), for instance base64-encoded, and decode it in the container",
			}}
		}
		return outcome{fail: &problem{
			reason: "Secrets Manager answered GetSecretValue for " + ref.describe() + " without a SecretString",
			hint:   "try again; if it persists, check that AWS_ENDPOINT_URL_SECRETS_MANAGER, if set, points at Secrets Manager",
		}}
	}
	if ref.jsonKey == "" {
		return outcome{value: *out.SecretString}
	}
	return pickJSONKey(ref, *out.SecretString)
}

// pickJSONKey returns the value of the top-level key ref.jsonKey of the
// JSON object secret. As the agent does, a value that is not a string is
// printed with %v after encoding/json decoded it into an interface{}: a
// number such as 5432 gives "5432", true gives "true", null "<nil>", an
// object "map[k:v]" (amazon-ecs-agent agent/asm/asm.go:
// fmt.Sprintf("%v", secretValue)). No error says anything of the secret
// but how many keys it has.
func pickJSONKey(ref reference, secret string) outcome {
	var object map[string]any
	if err := json.Unmarshal([]byte(secret), &object); err != nil {
		return outcome{fail: &problem{
			reason: fmt.Sprintf("%s is not a JSON object, so its key %q cannot be taken (the secret is not shown)", ref.describe(), ref.jsonKey),
			hint:   "remove the json-key from valueFrom (…:secret:NAME:: takes the whole secret), or store the secret as a JSON object",
		}}
	}
	value, ok := object[ref.jsonKey]
	if !ok {
		return outcome{fail: &problem{
			reason: fmt.Sprintf("%s has no top-level JSON key %q (its JSON object has %s; keys are case-sensitive; the secret is not shown)", ref.describe(), ref.jsonKey, count(len(object), "key")),
			hint:   "check the json-key in valueFrom against the keys of the secret's JSON object",
		}}
	}
	if s, isString := value.(string); isString {
		return outcome{value: s}
	}
	return outcome{value: fmt.Sprintf("%v", value)}
}

// count says n things: "1 key", "2 keys".
func count(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}
