package identity_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/identity"
)

// doc returns a policy document of at least n non-space characters.
func doc(n int) string {
	d := `{"Statement":[{"Effect":"Allow","Action":"ecr:*","Resource":"*","Sid":"%s"}]}`
	pad := max(n-len(fmt.Sprintf(d, "")), 0)
	return fmt.Sprintf(d, strings.Repeat("x", pad))
}

func TestInlinePolicies(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.mustUser(t, "Dev")
	ok(t, f.svc.PutUserPolicy(ctx, root, "dev", "Pull", doc(100)))
	ok(t, f.svc.PutUserPolicy(ctx, root, "dev", "push", doc(200)))
	ok(t, f.svc.PutUserPolicy(ctx, root, "dev", "pull", doc(300))) // replaces Pull
	p, err := f.svc.GetUserPolicy(ctx, root, "DEV", "PULL")
	ok(t, err)
	if p.UserName != "Dev" || p.Name != "Pull" || p.Document != doc(300) {
		t.Fatalf("GetUserPolicy = %+v", p)
	}
	names, err := f.svc.ListUserPolicies(ctx, root, "dev", identity.ListOptions{MaxItems: 1})
	ok(t, err)
	if fmt.Sprint(names.Items) != "[Pull]" || names.Marker == "" {
		t.Fatalf("first page = %+v", names)
	}
	names, err = f.svc.ListUserPolicies(ctx, root, "dev", identity.ListOptions{Marker: names.Marker})
	ok(t, err)
	if fmt.Sprint(names.Items) != "[push]" || names.Marker != "" {
		t.Fatalf("second page = %+v", names)
	}

	// 2,048 characters for all inline policies of a user, whitespace not
	// counted; replacing a policy counts its new size only.
	ok(t, f.svc.PutUserPolicy(ctx, root, "dev", "pull", doc(1848)))
	ok(t, f.svc.PutUserPolicy(ctx, root, "dev", "pull", doc(1848)+strings.Repeat(" \n", 500)))
	wantErr(t, f.svc.PutUserPolicy(ctx, root, "dev", "pull", doc(1849)), identity.ErrLimitExceeded,
		"Maximum policy size of 2048 bytes exceeded for user Dev")
	wantErr(t, f.svc.PutUserPolicy(ctx, root, "dev", "third", doc(80)), identity.ErrLimitExceeded, "2048")

	wantErr(t, f.svc.PutUserPolicy(ctx, root, "dev", "bad", "{"), identity.ErrMalformedPolicyDocument, "Syntax errors in policy.")
	wantErr(t, f.svc.PutUserPolicy(ctx, root, "dev", "bad", `{"Version":"2012-10-17"}`), identity.ErrMalformedPolicyDocument, "")
	wantErr(t, f.svc.PutUserPolicy(ctx, root, "dev", "bad", "\x01"), identity.ErrValidation, "'policyDocument'")
	wantErr(t, f.svc.PutUserPolicy(ctx, root, "ghost", "p", doc(10)), identity.ErrNoSuchEntity, "ghost")
	_, err = f.svc.GetUserPolicy(ctx, root, "dev", "nope")
	wantErr(t, err, identity.ErrNoSuchEntity, "The user policy with name nope cannot be found.")
	wantErr(t, f.svc.DeleteUserPolicy(ctx, root, "dev", "nope"), identity.ErrNoSuchEntity, "nope")
	ok(t, f.svc.DeleteUserPolicy(ctx, root, "dev", "PUSH"))
	_, err = f.svc.ListUserPolicies(ctx, root, "ghost", identity.ListOptions{})
	wantErr(t, err, identity.ErrNoSuchEntity, "ghost")
}

func TestInjectedPolicyValidator(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(o *identity.Options) {
		o.ValidatePolicy = func(doc string) error {
			switch doc {
			case "big":
				return fmt.Errorf("too big: %w", identity.ErrLimitExceeded)
			case "bad":
				return errors.New("Policy statement must contain actions.")
			}
			return nil
		}
	})
	f.mustUser(t, "u")
	ok(t, f.svc.PutUserPolicy(ctx, root, "u", "p", "anything"))
	wantErr(t, f.svc.PutUserPolicy(ctx, root, "u", "p", "big"), identity.ErrLimitExceeded, "too big")
	wantErr(t, f.svc.PutUserPolicy(ctx, root, "u", "p", "bad"), identity.ErrMalformedPolicyDocument,
		"Policy statement must contain actions.")
	_, err := f.svc.CreatePolicy(ctx, root, identity.CreatePolicyInput{PolicyName: "p", PolicyDocument: "bad"})
	wantErr(t, err, identity.ErrMalformedPolicyDocument, "must contain actions")
}

func TestManagedPolicies(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	p, err := f.svc.CreatePolicy(ctx, root, identity.CreatePolicyInput{PolicyName: "Pull", Path: "/team/",
		PolicyDocument: doc(50), Description: "pull images"})
	ok(t, err)
	arn := "arn:aws:iam::123456789012:policy/team/Pull"
	if p.ARN != arn || !strings.HasPrefix(p.ID, "ANPA") || p.DefaultVersionID != "v1" || p.AttachmentCount != 0 ||
		p.Description != "pull images" || !p.CreatedAt.Equal(someday) || !p.UpdatedAt.Equal(someday) || p.AWSManaged {
		t.Fatalf("created %+v", p)
	}
	got, err := f.svc.GetPolicy(ctx, root, arn)
	ok(t, err)
	if got.ID != p.ID || got.Path != "/team/" {
		t.Fatalf("GetPolicy = %+v", got)
	}
	v, err := f.svc.GetPolicyVersion(ctx, root, arn, "v1")
	ok(t, err)
	if v.Document != doc(50) || !v.IsDefault || v.VersionID != "v1" {
		t.Fatalf("GetPolicyVersion = %+v", v)
	}
	_, err = f.svc.GetPolicyVersion(ctx, root, arn, "v2")
	wantErr(t, err, identity.ErrNoSuchEntity, "version v2 does not exist")
	_, err = f.svc.GetPolicyVersion(ctx, root, arn, "2")
	wantErr(t, err, identity.ErrValidation, "'versionId'")

	errs := []struct {
		arn  string
		kind error
		msg  string
	}{
		{"arn:aws:iam::123456789012:policy/Pull", identity.ErrNoSuchEntity, "Policy arn:aws:iam::123456789012:policy/Pull was not found."},
		{"arn:aws:iam::123456789012:policy/team/Push", identity.ErrNoSuchEntity, "was not found"},
		{"arn:aws:iam::123456789012:user/team/Pull", identity.ErrInvalidInput, "ARN arn:aws:iam::123456789012:user/team/Pull is not valid."},
		{"arn:aws:s3:::bucket/object/x/y", identity.ErrInvalidInput, "is not valid"},
		{"short", identity.ErrValidation, "Member must have length greater than or equal to 20"},
	}
	for _, e := range errs {
		_, err := f.svc.GetPolicy(ctx, root, e.arn)
		wantErr(t, err, e.kind, e.msg)
	}

	_, err = f.svc.CreatePolicy(ctx, root, identity.CreatePolicyInput{PolicyName: "pull", PolicyDocument: doc(50)})
	wantErr(t, err, identity.ErrEntityAlreadyExists, "A policy called pull already exists. Duplicate names are not allowed.")
	_, err = f.svc.CreatePolicy(ctx, root, identity.CreatePolicyInput{PolicyName: "big", PolicyDocument: doc(6145)})
	wantErr(t, err, identity.ErrLimitExceeded, "Cannot exceed quota for PolicySize: 6144")
	_, err = f.svc.CreatePolicy(ctx, root, identity.CreatePolicyInput{PolicyName: "fits", PolicyDocument: doc(6144) + "   "})
	ok(t, err)
	_, err = f.svc.CreatePolicy(ctx, root, identity.CreatePolicyInput{PolicyName: "tagged", PolicyDocument: doc(50),
		Tags: []identity.Tag{{Key: "k", Value: "v"}}})
	wantErr(t, err, identity.ErrInvalidInput, "tags")
	_, err = f.svc.CreatePolicy(ctx, root, identity.CreatePolicyInput{PolicyName: "p", Path: "/a b/", PolicyDocument: doc(50),
		Description: strings.Repeat("d", 1001)})
	wantErr(t, err, identity.ErrValidation, "2 validation errors detected")

	f.mustUser(t, "u")
	ok(t, f.svc.AttachUserPolicy(ctx, root, "u", arn))
	got, err = f.svc.GetPolicy(ctx, root, arn)
	ok(t, err)
	if got.AttachmentCount != 1 {
		t.Fatalf("attachment count = %d", got.AttachmentCount)
	}
	wantErr(t, f.svc.DeletePolicy(ctx, root, arn), identity.ErrDeleteConflict, "Cannot delete a policy attached to entities.")
	ok(t, f.svc.DetachUserPolicy(ctx, root, "u", arn))
	ok(t, f.svc.DeletePolicy(ctx, root, arn))
	wantErr(t, f.svc.DeletePolicy(ctx, root, arn), identity.ErrNoSuchEntity, "was not found")
}

func TestAWSManagedPolicies(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	p, err := f.svc.GetPolicy(ctx, root, ecrReadOnly)
	ok(t, err)
	if p.Name != "AmazonEC2ContainerRegistryReadOnly" || !p.AWSManaged || p.Path != "/" || p.AttachmentCount != 0 ||
		!strings.HasPrefix(p.ID, "ANPA") || p.DefaultVersionID != "v1" {
		t.Fatalf("GetPolicy = %+v", p)
	}
	f.mustUser(t, "a")
	f.mustUser(t, "b")
	ok(t, f.svc.AttachUserPolicy(ctx, root, "a", ecrReadOnly))
	ok(t, f.svc.AttachUserPolicy(ctx, root, "b", ecrReadOnly))
	again, err := f.svc.GetPolicy(ctx, root, ecrReadOnly)
	ok(t, err)
	if again.AttachmentCount != 2 || again.ID != p.ID {
		t.Fatalf("after attaching twice: %+v", again)
	}
	v, err := f.svc.GetPolicyVersion(ctx, root, ecrReadOnly, "v1")
	ok(t, err)
	if v.Document != testCatalog[ecrReadOnly][1] {
		t.Fatalf("document = %s", v.Document)
	}
	_, err = f.svc.GetPolicy(ctx, root, "arn:aws:iam::aws:policy/AdministratorAccess")
	wantErr(t, err, identity.ErrNoSuchEntity, "Policy arn:aws:iam::aws:policy/AdministratorAccess was not found.")
	wantErr(t, f.svc.DeletePolicy(ctx, root, ecrReadOnly), identity.ErrAccessDenied, "is not authorized to perform: iam:DeletePolicy")
}

func TestListPolicies(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, name := range []string{"c", "a", "b"} {
		path := "/x/"
		if name == "b" {
			path = "/y/"
		}
		_, err := f.svc.CreatePolicy(ctx, root, identity.CreatePolicyInput{PolicyName: name, Path: path, PolicyDocument: doc(10)})
		ok(t, err)
	}
	f.mustUser(t, "u")
	ok(t, f.svc.AttachUserPolicy(ctx, root, "u", "arn:aws:iam::123456789012:policy/x/c"))
	ok(t, f.svc.AttachUserPolicy(ctx, root, "u", ecrReadOnly))

	list := func(in identity.ListPoliciesInput) []string {
		t.Helper()
		var names []string
		for {
			p, err := f.svc.ListPolicies(ctx, root, in)
			ok(t, err)
			if len(p.Items) > max(in.MaxItems, 100) {
				t.Fatalf("page of %d items, MaxItems %d", len(p.Items), in.MaxItems)
			}
			for _, pol := range p.Items {
				names = append(names, pol.Name)
			}
			if p.Marker == "" {
				return names
			}
			in.Marker = p.Marker
		}
	}
	all := []string{"AmazonEC2ContainerRegistryPullOnly", "AmazonEC2ContainerRegistryReadOnly", "a", "b", "c"}
	for n := 1; n <= 6; n++ {
		if got := list(identity.ListPoliciesInput{ListOptions: identity.ListOptions{MaxItems: n}}); !slices.Equal(got, all) {
			t.Errorf("MaxItems %d: %v", n, got)
		}
	}
	cases := []struct {
		in   identity.ListPoliciesInput
		want string
	}{
		{identity.ListPoliciesInput{Scope: "AWS"}, "[AmazonEC2ContainerRegistryPullOnly AmazonEC2ContainerRegistryReadOnly]"},
		{identity.ListPoliciesInput{Scope: "AWS", ListOptions: identity.ListOptions{MaxItems: 1}},
			"[AmazonEC2ContainerRegistryPullOnly AmazonEC2ContainerRegistryReadOnly]"},
		{identity.ListPoliciesInput{Scope: "Local", ListOptions: identity.ListOptions{MaxItems: 1}}, "[a b c]"},
		{identity.ListPoliciesInput{OnlyAttached: true}, "[AmazonEC2ContainerRegistryReadOnly c]"},
		{identity.ListPoliciesInput{Scope: "Local", PathPrefix: "/x/"}, "[a c]"},
		{identity.ListPoliciesInput{PolicyUsageFilter: "PermissionsBoundary"}, "[]"},
		{identity.ListPoliciesInput{PolicyUsageFilter: "PermissionsPolicy", Scope: "Local"}, "[a b c]"},
	}
	for _, tc := range cases {
		if got := fmt.Sprint(list(tc.in)); got != tc.want {
			t.Errorf("%+v: %s, want %s", tc.in, got, tc.want)
		}
	}
	_, err := f.svc.ListPolicies(ctx, root, identity.ListPoliciesInput{Scope: "Mine"})
	wantErr(t, err, identity.ErrValidation, "Value 'Mine' at 'scope' failed to satisfy constraint: Member must satisfy enum value set: [All, AWS, Local]")
	_, err = f.svc.ListPolicies(ctx, root, identity.ListPoliciesInput{ListOptions: identity.ListOptions{Marker: "eHl6"}})
	wantErr(t, err, identity.ErrInvalidInput, "Marker")
}

func TestAttachDetach(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(o *identity.Options) { o.Limits.ManagedPoliciesPerUser = 2 })
	f.mustUser(t, "u")
	_, err := f.svc.CreatePolicy(ctx, root, identity.CreatePolicyInput{PolicyName: "Mine", Path: "/team/", PolicyDocument: doc(10)})
	ok(t, err)
	mine := "arn:aws:iam::123456789012:policy/team/Mine"
	ok(t, f.svc.AttachUserPolicy(ctx, root, "u", "arn:aws:iam::123456789012:policy/team/mine"))
	ok(t, f.svc.AttachUserPolicy(ctx, root, "U", ecrReadOnly))
	ok(t, f.svc.AttachUserPolicy(ctx, root, "u", ecrReadOnly)) // again: no change, not over the limit
	wantErr(t, f.svc.AttachUserPolicy(ctx, root, "u", "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly"),
		identity.ErrLimitExceeded, "Cannot exceed quota for PoliciesPerUser: 2")

	missing := []string{
		"arn:aws:iam::aws:policy/AdministratorAccess",
		"arn:aws:iam::123456789012:policy/Mine", // wrong path
		"arn:aws:iam::210987654321:policy/team/Mine",
	}
	for _, arn := range missing {
		wantErr(t, f.svc.AttachUserPolicy(ctx, root, "u", arn), identity.ErrNoSuchEntity,
			"Policy "+arn+" does not exist or is not attachable.")
	}
	wantErr(t, f.svc.AttachUserPolicy(ctx, root, "ghost", mine), identity.ErrNoSuchEntity, "ghost")
	wantErr(t, f.svc.AttachUserPolicy(ctx, root, "u", "arn:aws:iam::123456789012:user/u"), identity.ErrInvalidInput, "is not valid")

	p, err := f.svc.ListAttachedUserPolicies(ctx, root, "u", "", identity.ListOptions{MaxItems: 1})
	ok(t, err)
	if len(p.Items) != 1 || p.Marker == "" {
		t.Fatalf("first page = %+v", p)
	}
	rest, err := f.svc.ListAttachedUserPolicies(ctx, root, "u", "", identity.ListOptions{Marker: p.Marker})
	ok(t, err)
	got := append(p.Items, rest.Items...)
	want := []identity.AttachedPolicy{{Name: "AmazonEC2ContainerRegistryReadOnly", ARN: ecrReadOnly}, {Name: "Mine", ARN: mine}}
	slices.SortFunc(got, func(a, b identity.AttachedPolicy) int { return strings.Compare(a.Name, b.Name) })
	if fmt.Sprint(got) != fmt.Sprint(want) || rest.Marker != "" {
		t.Fatalf("attached = %+v", got)
	}
	team, err := f.svc.ListAttachedUserPolicies(ctx, root, "u", "/team/", identity.ListOptions{})
	ok(t, err)
	if fmt.Sprint(team.Items) != fmt.Sprint(want[1:]) {
		t.Fatalf("under /team/: %+v", team.Items)
	}

	wantErr(t, f.svc.DetachUserPolicy(ctx, root, "u", "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly"),
		identity.ErrNoSuchEntity, "was not found")
	ok(t, f.svc.DetachUserPolicy(ctx, root, "u", "arn:aws:iam::123456789012:policy/team/MINE"))
	wantErr(t, f.svc.DetachUserPolicy(ctx, root, "ghost", mine), identity.ErrNoSuchEntity, "ghost")
	_, err = f.svc.ListAttachedUserPolicies(ctx, root, "ghost", "", identity.ListOptions{})
	wantErr(t, err, identity.ErrNoSuchEntity, "ghost")
}
