package registry_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/metastore"
	"github.com/berth-registry/berth/internal/registry"
	"github.com/berth-registry/berth/internal/registry/registrytest"
)

func TestPolicyAuthorizer(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := registrytest.New(t, registry.Options{})
	authz := &registry.PolicyAuthorizer{Store: env.Meta, Clock: env.Clock.Now, TTL: time.Second}
	a, b := registrytest.Account, registrytest.OtherAccount
	repo := env.CreateRepository(t, a, "shared/app")
	arn := "arn:aws:ecr:us-east-1:" + a + ":repository/shared/app"
	ask := func(ctx context.Context, who auth.Principal, action string) error {
		return authz.Authorize(ctx, registry.AccessRequest{Principal: who, Action: action, Resource: arn, ResourceAccount: a})
	}
	rootA, rootB := registrytest.Root(a), registrytest.Root(b)
	alice := auth.Principal{Type: auth.TypeIAMUser, AccountID: a, UserName: "alice", AccessKeyID: "AKIAALICE00000000000"}
	if err := env.Meta.CreateUser(ctx, metastore.User{AccountID: a, Name: "alice", ID: "AIDAALICE"}); err != nil {
		t.Fatal(err)
	}
	allowed := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Errorf("%s: denied: %v", what, err)
		}
	}
	denied := func(what string, err error, because string) {
		t.Helper()
		if !errors.Is(err, registry.ErrDenied) || !strings.Contains(registry.Message(err), because) {
			t.Errorf("%s: %v, want a denial mentioning %q", what, err, because)
		}
	}

	allowed("root in its own account", ask(ctx, rootA, registry.ActionPutImage))
	denied("another account's root without a repository policy", ask(ctx, rootB, registry.ActionBatchGetImage),
		"is not authorized to perform: ecr:BatchGetImage")
	denied("a user without policies", ask(ctx, alice, registry.ActionBatchGetImage), "no identity-based policy allows")

	// A repository policy grants account B pulls, and denies alice pushes.
	setPolicy := func(text string) {
		t.Helper()
		if err := env.Meta.SetRepositoryPolicy(ctx, repo.ID, text); err != nil {
			t.Fatal(err)
		}
		authz.InvalidateRepository(a, "shared/app")
	}
	setPolicy(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + b + `:root"},"Action":["ecr:BatchGetImage"]},
		{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::` + a + `:user/alice"},"Action":"ecr:PutImage"}]}`)
	allowed("account B's root pulls with the repository policy", ask(ctx, rootB, registry.ActionBatchGetImage))
	denied("account B's root may not push", ask(ctx, rootB, registry.ActionPutImage), "ecr:PutImage")

	// Alice's identity policy: pulls and pushes on shared/*.
	if err := env.Meta.PutUserPolicy(ctx, a, "alice", metastore.InlinePolicy{Name: "rw", Document: `{"Version":"2012-10-17",
		"Statement":[{"Effect":"Allow","Action":["ecr:BatchGetImage","ecr:PutImage"],"Resource":"arn:aws:ecr:*:*:repository/shared/*"}]}`}); err != nil {
		t.Fatal(err)
	}
	denied("within the TTL the cached (empty) identity stands", ask(ctx, alice, registry.ActionBatchGetImage), "no identity-based policy")
	authz.InvalidateIdentity(a, "ALICE") // user names are case-insensitive
	allowed("alice pulls after her policy changed on this node", ask(ctx, alice, registry.ActionBatchGetImage))
	denied("the repository policy's explicit deny beats alice's allow", ask(ctx, alice, registry.ActionPutImage), "explicit deny")

	// Conditions see the request context.
	setPolicy(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"ecr:*",
		"Condition":{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}`)
	inside := auth.WithRequestInfo(ctx, auth.RequestInfo{SourceIP: "10.1.2.3"})
	outside := auth.WithRequestInfo(ctx, auth.RequestInfo{SourceIP: "192.0.2.1"})
	allowed("root from inside the allowed network", ask(inside, rootA, registry.ActionBatchGetImage))
	denied("root from outside is denied by the resource policy", ask(outside, rootA, registry.ActionBatchGetImage), "explicit deny")

	// A registry policy (scope V2) applies to every repository.
	setPolicy(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage"}]}`)
	if err := env.Meta.PutRegistryPolicy(ctx, a, `{"Version":"2012-10-17","Statement":[{"Effect":"Deny",
		"Principal":{"AWS":"arn:aws:iam::`+b+`:root"},"Action":"ecr:*","Resource":"*"}]}`); err != nil {
		t.Fatal(err)
	}
	allowed("registry policy not yet seen (cached)", ask(ctx, rootB, registry.ActionBatchGetImage))
	env.Clock.Advance(time.Second)
	denied("after the TTL the registry policy's deny applies", ask(ctx, rootB, registry.ActionBatchGetImage), "explicit deny")

	// Anonymous callers get only what Principal "*" grants.
	anon := auth.Principal{Type: auth.TypeAnonymous}
	if _, err := env.Meta.DeleteRegistryPolicy(ctx, a); err != nil {
		t.Fatal(err)
	}
	authz.InvalidateRegistry(a)
	allowed("anonymous pull granted to Principal *", ask(ctx, anon, registry.ActionBatchGetImage))
	denied("anonymous push", ask(ctx, anon, registry.ActionPutImage), "ecr:PutImage")
}
