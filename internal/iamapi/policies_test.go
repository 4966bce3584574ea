package iamapi_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/berth-registry/berth/internal/policy"
)

// pullPolicy has characters IAM's URL encoding must carry: spaces, quotes,
// colons, slashes, an asterisk, a plus and a newline.
const pullPolicy = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [{\"Sid\": \"PullRead\", \"Effect\": \"Allow\", " +
	"\"Action\": [\"ecr:BatchGetImage\", \"ecr:GetDownloadUrlForLayer\"], " +
	"\"Resource\": \"arn:aws:ecr:us-east-1:123456789012:repository/team+a/*\"}]\n}"

func TestInlinePolicies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.root()
	must[*iam.CreateUserOutput](t)(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("dev")}))
	must[*iam.PutUserPolicyOutput](t)(c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("dev"),
		PolicyName: aws.String("pull"), PolicyDocument: aws.String(pullPolicy)}))
	got := must[*iam.GetUserPolicyOutput](t)(c.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String("dev"),
		PolicyName: aws.String("pull")}))
	raw := aws.ToString(got.PolicyDocument)
	if strings.ContainsAny(raw, " {\"+*:/\n") {
		t.Fatalf("document not URL-encoded as IAM sends it: %s", raw)
	}
	if doc, err := url.QueryUnescape(raw); err != nil || doc != pullPolicy {
		t.Fatalf("decoded document = %q (%v)", doc, err)
	}
	if aws.ToString(got.UserName) != "dev" || aws.ToString(got.PolicyName) != "pull" {
		t.Fatalf("GetUserPolicy = %+v", got)
	}
	must[*iam.PutUserPolicyOutput](t)(c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("dev"),
		PolicyName: aws.String("push"), PolicyDocument: aws.String(`{"Statement":[]}`)}))
	names := must[*iam.ListUserPoliciesOutput](t)(c.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: aws.String("dev")}))
	if fmt.Sprint(names.PolicyNames) != "[pull push]" || names.IsTruncated {
		t.Fatalf("ListUserPolicies = %+v", names)
	}

	_, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("dev"), PolicyName: aws.String("bad"),
		PolicyDocument: aws.String("not json")})
	wantAPIError(t, err, "MalformedPolicyDocument", http.StatusBadRequest)
	wantType[*types.MalformedPolicyDocumentException](t, err)
	big := `{"Statement":[{"Sid":"` + strings.Repeat("x", 2048) + `","Effect":"Allow","Action":"ecr:*","Resource":"*"}]}`
	_, err = c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String("dev"), PolicyName: aws.String("big"),
		PolicyDocument: aws.String(big)})
	wantAPIError(t, err, "LimitExceeded", http.StatusConflict)

	must[*iam.DeleteUserPolicyOutput](t)(c.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: aws.String("dev"),
		PolicyName: aws.String("pull")}))
	_, err = c.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: aws.String("dev"), PolicyName: aws.String("pull")})
	wantAPIError(t, err, "NoSuchEntity", http.StatusNotFound)
}

func TestManagedPolicies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.root()
	p := must[*iam.CreatePolicyOutput](t)(c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("Pull"),
		Path: aws.String("/team/"), PolicyDocument: aws.String(pullPolicy), Description: aws.String("pull team images")})).Policy
	arn := "arn:aws:iam::123456789012:policy/team/Pull"
	if aws.ToString(p.Arn) != arn || aws.ToString(p.DefaultVersionId) != "v1" || !strings.HasPrefix(aws.ToString(p.PolicyId), "ANPA") ||
		aws.ToInt32(p.AttachmentCount) != 0 || !p.IsAttachable || p.CreateDate == nil || p.UpdateDate == nil {
		t.Fatalf("CreatePolicy = %+v", p)
	}
	got := must[*iam.GetPolicyOutput](t)(c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})).Policy
	if aws.ToString(got.Description) != "pull team images" || aws.ToString(got.PolicyId) != aws.ToString(p.PolicyId) {
		t.Fatalf("GetPolicy = %+v", got)
	}
	v := must[*iam.GetPolicyVersionOutput](t)(c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(arn),
		VersionId: got.DefaultVersionId})).PolicyVersion
	if doc, _ := url.QueryUnescape(aws.ToString(v.Document)); doc != pullPolicy || !v.IsDefaultVersion || aws.ToString(v.VersionId) != "v1" {
		t.Fatalf("GetPolicyVersion = %+v (document %q)", v, doc)
	}
	_, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("pull"), PolicyDocument: aws.String(pullPolicy)})
	wantAPIError(t, err, "EntityAlreadyExists", http.StatusConflict)
	_, err = c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String("arn:aws:iam::123456789012:policy/Pull")})
	wantAPIError(t, err, "NoSuchEntity", http.StatusNotFound)
	_, err = c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String("arn:aws:iam::123456789012:role/team/Pull")})
	wantAPIError(t, err, "InvalidInput", http.StatusBadRequest)

	must[*iam.CreateUserOutput](t)(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("u")}))
	for _, a := range []string{arn, awsPolicyPrefix + "AmazonEC2ContainerRegistryPowerUser"} {
		must[*iam.AttachUserPolicyOutput](t)(c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("u"), PolicyArn: aws.String(a)}))
	}
	attached := must[*iam.ListAttachedUserPoliciesOutput](t)(c.ListAttachedUserPolicies(ctx,
		&iam.ListAttachedUserPoliciesInput{UserName: aws.String("u")}))
	var pairs []string
	for _, a := range attached.AttachedPolicies {
		pairs = append(pairs, aws.ToString(a.PolicyName)+" "+aws.ToString(a.PolicyArn))
	}
	slices.Sort(pairs)
	if fmt.Sprint(pairs) != "[AmazonEC2ContainerRegistryPowerUser arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser Pull "+arn+"]" {
		t.Fatalf("attached = %v", pairs)
	}
	_, err = c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("u"), PolicyArn: aws.String(awsPolicyPrefix + "AdministratorAccess")})
	wantAPIError(t, err, "NoSuchEntity", http.StatusNotFound)

	_, err = c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: aws.String(arn)})
	wantAPIError(t, err, "DeleteConflict", http.StatusConflict)
	must[*iam.DetachUserPolicyOutput](t)(c.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: aws.String("u"), PolicyArn: aws.String(arn)}))
	_, err = c.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: aws.String("u"), PolicyArn: aws.String(arn)})
	wantAPIError(t, err, "NoSuchEntity", http.StatusNotFound)
	must[*iam.DeletePolicyOutput](t)(c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: aws.String(arn)}))
	_, err = c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: aws.String(awsPolicyPrefix + "AmazonEC2ContainerRegistryPowerUser")})
	wantAPIError(t, err, "AccessDenied", http.StatusForbidden)
}

func TestAWSManagedECRPolicies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.root()
	must[*iam.CreatePolicyOutput](t)(c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("mine"),
		PolicyDocument: aws.String(`{"Statement":[]}`)}))
	list := func(in *iam.ListPoliciesInput) []string {
		var names []string
		for p := iam.NewListPoliciesPaginator(c, in); p.HasMorePages(); {
			for _, pol := range must[*iam.ListPoliciesOutput](t)(p.NextPage(ctx)).Policies {
				names = append(names, aws.ToString(pol.PolicyName))
			}
		}
		return names
	}
	ecr := "[AmazonEC2ContainerRegistryFullAccess AmazonEC2ContainerRegistryPowerUser AmazonEC2ContainerRegistryPullOnly AmazonEC2ContainerRegistryReadOnly]"
	if got := fmt.Sprint(list(&iam.ListPoliciesInput{Scope: types.PolicyScopeTypeAws})); got != ecr {
		t.Fatalf("Scope=AWS: %s", got)
	}
	if got := fmt.Sprint(list(&iam.ListPoliciesInput{MaxItems: aws.Int32(2)})); got != strings.TrimSuffix(ecr, "]")+" mine]" {
		t.Fatalf("Scope=All: %s", got)
	}
	if got := fmt.Sprint(list(&iam.ListPoliciesInput{Scope: types.PolicyScopeTypeLocal})); got != "[mine]" {
		t.Fatalf("Scope=Local: %s", got)
	}
	must[*iam.CreateUserOutput](t)(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("u")}))
	for _, name := range policy.ManagedNames() {
		arn := awsPolicyPrefix + name
		builtin, _ := policy.Managed(name)
		doc := builtin.Text()
		must[*iam.AttachUserPolicyOutput](t)(c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("u"), PolicyArn: aws.String(arn)}))
		p := must[*iam.GetPolicyOutput](t)(c.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(arn)})).Policy
		if aws.ToString(p.PolicyName) != name || aws.ToString(p.Path) != "/" || aws.ToInt32(p.AttachmentCount) != 1 {
			t.Fatalf("GetPolicy(%s) = %+v", name, p)
		}
		v := must[*iam.GetPolicyVersionOutput](t)(c.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(arn),
			VersionId: p.DefaultVersionId})).PolicyVersion
		if got, _ := url.QueryUnescape(aws.ToString(v.Document)); got != doc {
			t.Fatalf("%s document = %s", name, got)
		}
	}
	if got := fmt.Sprint(list(&iam.ListPoliciesInput{OnlyAttached: true})); got != ecr {
		t.Fatalf("OnlyAttached: %s", got)
	}
	_, err := c.ListPolicies(ctx, &iam.ListPoliciesInput{Scope: "Everything"})
	wantAPIError(t, err, "ValidationError", http.StatusBadRequest)
}

func TestAttachLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.root()
	must[*iam.CreateUserOutput](t)(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("u")}))
	for i := range 11 {
		arn := must[*iam.CreatePolicyOutput](t)(c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String(fmt.Sprint("p", i)),
			PolicyDocument: aws.String(`{"Statement":[]}`)})).Policy.Arn
		_, err := c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("u"), PolicyArn: arn})
		if i < 10 && err != nil {
			t.Fatal(err)
		}
		if i == 10 {
			wantAPIError(t, err, "LimitExceeded", http.StatusConflict)
		}
	}
	var n int
	for p := iam.NewListAttachedUserPoliciesPaginator(c, &iam.ListAttachedUserPoliciesInput{UserName: aws.String("u"),
		MaxItems: aws.Int32(3)}); p.HasMorePages(); {
		n += len(must[*iam.ListAttachedUserPoliciesOutput](t)(p.NextPage(ctx)).AttachedPolicies)
	}
	if n != 10 {
		t.Fatalf("listed %d attached policies, want 10", n)
	}
}
