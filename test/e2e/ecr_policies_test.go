package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
)

// A policy with the formatting a user typed: it must come back unchanged.
const userPolicy = "{\n  \"Version\" : \"2012-10-17\",\n\t\"Statement\": [ {\"Sid\":\"pull\", \"Effect\":\"Allow\"," +
	"\"Principal\":{\"AWS\":\"arn:aws:iam::000000000000:root\"},\"Action\":[\"ecr:BatchGetImage\",\"ecr:GetDownloadUrlForLayer\"]," +
	"\"Condition\":{\"StringLike\":{\"aws:PrincipalTag/team\":\"a*\\u00e9\"}}} ]\n}\n"

// registryPolicy is a registry policy as typed: registry policy statements
// name the repositories they cover.
const registryPolicy = "{\n  \"Version\" : \"2012-10-17\",\n\t\"Statement\": [ {\"Sid\":\"pull\", \"Effect\":\"Allow\"," +
	"\"Principal\":{\"AWS\":\"arn:aws:iam::000000000000:root\"},\"Action\":[\"ecr:BatchGetImage\"]," +
	"\"Resource\":\"arn:aws:ecr:us-east-1:000000000000:repository/*\"} ]\n}\n"

// invalidPolicies are refused by Set/PutRegistry/RepositoryPolicy.
var invalidPolicies = map[string]string{
	"not JSON":         `{"Statement": [`,
	"no Statement":     `{"Version":"2012-10-17"}`,
	"a JSON array":     `[{"Statement":[]}]`,
	"over 10240 chars": `{"Statement":[],"Sid":"` + strings.Repeat("x", 10240) + `"}`,
}

func TestECRRepositoryPolicy(t *testing.T) {
	t.Parallel()
	s := startBerth(t)
	ctx := testContext(t, time.Minute)
	c := s.ecr()
	const repo = "policy/app"
	createRepo(t, ctx, c, repo)
	name := aws.String(repo)

	_, err := c.GetRepositoryPolicy(ctx, &ecr.GetRepositoryPolicyInput{RepositoryName: name})
	wantException[*types.RepositoryPolicyNotFoundException](t, "GetRepositoryPolicy before any is set", err)
	_, err = c.DeleteRepositoryPolicy(ctx, &ecr.DeleteRepositoryPolicyInput{RepositoryName: name})
	wantException[*types.RepositoryPolicyNotFoundException](t, "DeleteRepositoryPolicy before any is set", err)

	set, err := c.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: name, PolicyText: aws.String(userPolicy)})
	if err != nil {
		t.Fatalf("SetRepositoryPolicy: %v", err)
	}
	if aws.ToString(set.PolicyText) != userPolicy || aws.ToString(set.RepositoryName) != repo || aws.ToString(set.RegistryId) != defaultAccount {
		t.Errorf("SetRepositoryPolicy answered %q for %s/%s, want the text as sent", aws.ToString(set.PolicyText),
			aws.ToString(set.RegistryId), aws.ToString(set.RepositoryName))
	}
	got, err := c.GetRepositoryPolicy(ctx, &ecr.GetRepositoryPolicyInput{RepositoryName: name})
	if err != nil || aws.ToString(got.PolicyText) != userPolicy || aws.ToString(got.RepositoryName) != repo {
		t.Errorf("GetRepositoryPolicy = %q, %v; want the text byte for byte:\n%q", aws.ToString(got.PolicyText), err, userPolicy)
	}
	for what, text := range invalidPolicies {
		_, err := c.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: name, PolicyText: aws.String(text)})
		wantException[*types.InvalidParameterException](t, "SetRepositoryPolicy "+what, err)
	}
	if got, err := c.GetRepositoryPolicy(ctx, &ecr.GetRepositoryPolicyInput{RepositoryName: name}); err != nil || aws.ToString(got.PolicyText) != userPolicy {
		t.Errorf("policy after refused changes = %q, %v", aws.ToString(got.PolicyText), err)
	}
	replacement := `{"Version":"2012-10-17","Statement":[]}`
	if _, err := c.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: name, PolicyText: aws.String(replacement)}); err != nil {
		t.Fatalf("SetRepositoryPolicy replacing: %v", err)
	}
	del, err := c.DeleteRepositoryPolicy(ctx, &ecr.DeleteRepositoryPolicyInput{RepositoryName: name})
	if err != nil || aws.ToString(del.PolicyText) != replacement {
		t.Errorf("DeleteRepositoryPolicy = %q, %v; want the deleted text %q", aws.ToString(del.PolicyText), err, replacement)
	}
	_, err = c.GetRepositoryPolicy(ctx, &ecr.GetRepositoryPolicyInput{RepositoryName: name})
	wantException[*types.RepositoryPolicyNotFoundException](t, "GetRepositoryPolicy after delete", err)

	missing := aws.String("policy/none")
	_, err = c.GetRepositoryPolicy(ctx, &ecr.GetRepositoryPolicyInput{RepositoryName: missing})
	wantException[*types.RepositoryNotFoundException](t, "GetRepositoryPolicy of a missing repository", err)
	_, err = c.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: missing, PolicyText: aws.String(replacement)})
	wantException[*types.RepositoryNotFoundException](t, "SetRepositoryPolicy of a missing repository", err)
	_, err = c.DeleteRepositoryPolicy(ctx, &ecr.DeleteRepositoryPolicyInput{RepositoryName: missing})
	wantException[*types.RepositoryNotFoundException](t, "DeleteRepositoryPolicy of a missing repository", err)

	// A policy goes with its repository.
	if _, err := c.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: name, PolicyText: aws.String(userPolicy)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteRepository(ctx, &ecr.DeleteRepositoryInput{RepositoryName: name}); err != nil {
		t.Fatal(err)
	}
	createRepo(t, ctx, c, repo)
	_, err = c.GetRepositoryPolicy(ctx, &ecr.GetRepositoryPolicyInput{RepositoryName: name})
	wantException[*types.RepositoryPolicyNotFoundException](t, "GetRepositoryPolicy of a recreated repository", err)
}

func TestECRRegistryPolicy(t *testing.T) {
	t.Parallel()
	s := startBerth(t)
	ctx := testContext(t, time.Minute)
	c := s.ecr()

	_, err := c.GetRegistryPolicy(ctx, &ecr.GetRegistryPolicyInput{})
	wantException[*types.RegistryPolicyNotFoundException](t, "GetRegistryPolicy before any is set", err)
	_, err = c.DeleteRegistryPolicy(ctx, &ecr.DeleteRegistryPolicyInput{})
	wantException[*types.RegistryPolicyNotFoundException](t, "DeleteRegistryPolicy before any is set", err)

	put, err := c.PutRegistryPolicy(ctx, &ecr.PutRegistryPolicyInput{PolicyText: aws.String(registryPolicy)})
	if err != nil {
		t.Fatalf("PutRegistryPolicy: %v", err)
	}
	if aws.ToString(put.PolicyText) != registryPolicy || aws.ToString(put.RegistryId) != defaultAccount {
		t.Errorf("PutRegistryPolicy answered %q for %s", aws.ToString(put.PolicyText), aws.ToString(put.RegistryId))
	}
	got, err := c.GetRegistryPolicy(ctx, &ecr.GetRegistryPolicyInput{})
	if err != nil || aws.ToString(got.PolicyText) != registryPolicy || aws.ToString(got.RegistryId) != defaultAccount {
		t.Errorf("GetRegistryPolicy = %q, %v; want the text byte for byte:\n%q", aws.ToString(got.PolicyText), err, registryPolicy)
	}
	for what, text := range invalidPolicies {
		_, err := c.PutRegistryPolicy(ctx, &ecr.PutRegistryPolicyInput{PolicyText: aws.String(text)})
		wantException[*types.InvalidParameterException](t, "PutRegistryPolicy "+what, err)
	}
	del, err := c.DeleteRegistryPolicy(ctx, &ecr.DeleteRegistryPolicyInput{})
	if err != nil || aws.ToString(del.PolicyText) != registryPolicy || aws.ToString(del.RegistryId) != defaultAccount {
		t.Errorf("DeleteRegistryPolicy = %q, %v; want the deleted text", aws.ToString(del.PolicyText), err)
	}
	_, err = c.GetRegistryPolicy(ctx, &ecr.GetRegistryPolicyInput{})
	wantException[*types.RegistryPolicyNotFoundException](t, "GetRegistryPolicy after delete", err)
}

func TestECRAccountSettings(t *testing.T) {
	t.Parallel()
	s := startBerth(t)
	ctx := testContext(t, time.Minute)
	c := s.ecr()
	get := func(name string) string {
		t.Helper()
		out, err := c.GetAccountSetting(ctx, &ecr.GetAccountSettingInput{Name: aws.String(name)})
		if err != nil {
			t.Fatalf("GetAccountSetting %s: %v", name, err)
		}
		if aws.ToString(out.Name) != name {
			t.Errorf("GetAccountSetting %s answered name %q", name, aws.ToString(out.Name))
		}
		return aws.ToString(out.Value)
	}
	// Defaults (BLOB_MOUNTING is ENABLED in Berth by design).
	for name, want := range map[string]string{"BASIC_SCAN_TYPE_VERSION": "AWS_NATIVE", "REGISTRY_POLICY_SCOPE": "V2", "BLOB_MOUNTING": "ENABLED"} {
		if got := get(name); got != want {
			t.Errorf("default %s = %q, want %q", name, got, want)
		}
	}
	out, err := c.PutAccountSetting(ctx, &ecr.PutAccountSettingInput{Name: aws.String("BLOB_MOUNTING"), Value: aws.String("DISABLED")})
	if err != nil || aws.ToString(out.Name) != "BLOB_MOUNTING" || aws.ToString(out.Value) != "DISABLED" {
		t.Errorf("PutAccountSetting BLOB_MOUNTING=DISABLED = %+v, %v", out, err)
	}
	if got := get("BLOB_MOUNTING"); got != "DISABLED" {
		t.Errorf("BLOB_MOUNTING after put = %q, want DISABLED", got)
	}
	if got := get("REGISTRY_POLICY_SCOPE"); got != "V2" {
		t.Errorf("REGISTRY_POLICY_SCOPE changed to %q by another setting's put", got)
	}
	invalid := []struct{ name, value string }{
		{"BLOB_MOUNTING", "MAYBE"},
		{"BLOB_MOUNTING", "enabled"},
		{"BASIC_SCAN_TYPE_VERSION", "CLAIR_2"},
		{"NO_SUCH_SETTING", "X"},
		{strings.Repeat("N", 65), "X"},
	}
	for _, in := range invalid {
		_, err := c.PutAccountSetting(ctx, &ecr.PutAccountSettingInput{Name: aws.String(in.name), Value: aws.String(in.value)})
		wantException[*types.InvalidParameterException](t, "PutAccountSetting "+in.name+"="+in.value, err)
	}
	_, err = c.GetAccountSetting(ctx, &ecr.GetAccountSettingInput{Name: aws.String("NO_SUCH_SETTING")})
	wantException[*types.InvalidParameterException](t, "GetAccountSetting NO_SUCH_SETTING", err)
	if got := get("BLOB_MOUNTING"); got != "DISABLED" {
		t.Errorf("BLOB_MOUNTING after refused puts = %q, want DISABLED", got)
	}
}
