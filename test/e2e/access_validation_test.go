package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// TestAccessPolicyValidation: policies are validated when written, with
// messages that name the problem, and a refused policy changes nothing.
func TestAccessPolicyValidation(t *testing.T) {
	t.Parallel()
	s := startBerth(t)
	ctx := testContext(t, time.Minute)
	root := s.ecr()
	const repo = "validate/app"
	createRepo(t, ctx, root, repo)
	const valid = `{"Version":"2012-10-17","Statement":[{"Sid":"Pull","Effect":"Allow",` +
		`"Principal":{"AWS":"arn:aws:iam::222222222222:root"},"Action":"ecr:BatchGetImage"}]}`
	if _, err := root.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: aws.String(repo),
		PolicyText: aws.String(valid)}); err != nil {
		t.Fatalf("SetRepositoryPolicy with a valid policy: %v", err)
	}

	for _, tc := range []struct {
		what, text string
		mentions   []string // each must appear in the message
	}{
		{"a statement without Principal",
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:BatchGetImage"}]}`,
			[]string{"Principal"}},
		{"an unknown condition operator",
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage",` +
				`"Condition":{"StringEqualsSometimes":{"aws:SourceIp":"10.0.0.1"}}}]}`,
			[]string{"StringEqualsSometimes"}},
		{"invalid JSON",
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow",}]}`,
			[]string{"JSON"}},
	} {
		_, err := root.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: aws.String(repo),
			PolicyText: aws.String(tc.text)})
		e := wantException[*types.InvalidParameterException](t, "SetRepositoryPolicy with "+tc.what, err)
		if e == nil {
			continue
		}
		msg := aws.ToString(e.Message)
		t.Logf("SetRepositoryPolicy with %s: %s", tc.what, msg)
		if !strings.Contains(msg, "PolicyText") {
			t.Errorf("SetRepositoryPolicy with %s: message %q does not name the parameter PolicyText", tc.what, msg)
		}
		for _, m := range tc.mentions {
			if !strings.Contains(msg, m) {
				t.Errorf("SetRepositoryPolicy with %s: message %q does not mention %q", tc.what, msg, m)
			}
		}
	}
	got, err := root.GetRepositoryPolicy(ctx, &ecr.GetRepositoryPolicyInput{RepositoryName: aws.String(repo)})
	if err != nil || aws.ToString(got.PolicyText) != valid {
		t.Errorf("the policy after refused writes = %q, %v; want the valid one unchanged", aws.ToString(got.PolicyText), err)
	}

	// Identity policies name no principal: IAM refuses one that does.
	c := s.iam(rootKey)
	if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("someone")}); err != nil {
		t.Fatal(err)
	}
	withPrincipal := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},` +
		`"Action":"ecr:*","Resource":"*"}]}`
	_, err = c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("someone"),
		PolicyName: aws.String("with-principal"), PolicyDocument: aws.String(withPrincipal)})
	wantErrorCode(t, "PutUserPolicy with a Principal", err, "MalformedPolicyDocument")
	if e := wantException[*iamtypes.MalformedPolicyDocumentException](t, "PutUserPolicy with a Principal", err); e != nil {
		msg := aws.ToString(e.Message)
		t.Logf("PutUserPolicy with a Principal: %s", msg)
		if !strings.Contains(msg, "principal") {
			t.Errorf("PutUserPolicy with a Principal: message %q does not say a principal is the problem", msg)
		}
	}
	_, err = c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("with-principal"),
		PolicyDocument: aws.String(withPrincipal)})
	wantErrorCode(t, "CreatePolicy with a Principal", err, "MalformedPolicyDocument")
	list, err := c.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: aws.String("someone")})
	if err != nil || len(list.PolicyNames) != 0 {
		t.Errorf("ListUserPolicies after the refused policy = %+v, %v; want none", list, err)
	}
}
