package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/berth-registry/berth/internal/metastore"
)

var iamCases = []testCase{
	{"CreateGetUser", testIAMCreateGetUser},
	{"ListUsersPages", testIAMListUsers},
	{"UserTags", testIAMUserTags},
	{"UserTagLimit", testIAMUserTagLimit},
	{"DeleteUserConflicts", testIAMDeleteUserConflicts},
	{"InlinePolicies", testIAMInlinePolicies},
	{"ManagedPolicies", testIAMManagedPolicies},
	{"Attachments", testIAMAttachments},
	{"AttachDeleteRace", testIAMAttachDeleteRace},
	{"IdentityPolicies", testIAMIdentityPolicies},
	{"DeleteAccount", testIAMDeleteAccount},
}

const (
	acct1 = "111111111111"
	acct2 = "222222222222"
	// awsECRReadOnly is an AWS-managed policy; the store never has its document.
	awsECRReadOnly = metastore.AWSManagedPolicyPrefix + "AmazonEC2ContainerRegistryReadOnly"
)

// mustUser creates an account (idempotently) and a user in it.
func mustUser(t *testing.T, s metastore.Store, account, name string) {
	t.Helper()
	mustAccount(t, s, account)
	noErr(t, "CreateUser "+name, s.CreateUser(ctxOf(t), metastore.User{AccountID: account, Name: name, ID: "AIDA" + account + name}))
}

// mustPolicy creates a customer-managed policy and returns it as stored.
func mustPolicy(t *testing.T, s metastore.Store, account, name, doc string) metastore.ManagedPolicy {
	t.Helper()
	p := metastore.ManagedPolicy{AccountID: account, Name: name, ID: "ANPA" + account + name, Document: doc}
	noErr(t, "CreatePolicy "+name, s.CreatePolicy(ctxOf(t), p))
	got, err := s.GetPolicy(ctxOf(t), account, name)
	noErr(t, "GetPolicy "+name, err)
	return got
}

func userNames(us []metastore.User) []string {
	names := make([]string, len(us))
	for i, u := range us {
		names[i] = u.Name
	}
	return names
}

func testIAMCreateGetUser(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	mustAccount(t, s, acct1)
	mustAccount(t, s, acct2)
	alice := metastore.User{AccountID: acct1, Name: "Alice", ID: "AIDAALICE", Path: "/team/", CreatedAt: time1,
		Tags: rtags("team", "core", "Dept", "eng")}
	noErr(t, "CreateUser", s.CreateUser(ctx, alice))
	noErr(t, "CreateUser(defaults)", s.CreateUser(ctx, metastore.User{AccountID: acct1, Name: "bob", ID: "AIDABOB"}))
	noErr(t, "CreateUser(same name, other account)", s.CreateUser(ctx, metastore.User{AccountID: acct2, Name: "alice", ID: "AIDAALICE2"}))

	for _, dup := range []metastore.User{
		{AccountID: acct1, Name: "alice", ID: "AIDANEW1"}, // name differing only in case
		{AccountID: acct1, Name: "ALICE", ID: "AIDANEW2"},
		{AccountID: acct1, Name: "carol", ID: "AIDAALICE"}, // id taken
	} {
		wantErr(t, "CreateUser(dup "+dup.Name+"/"+dup.ID+")", s.CreateUser(ctx, dup), metastore.ErrAlreadyExists)
	}
	wantErr(t, "CreateUser(missing account)",
		s.CreateUser(ctx, metastore.User{AccountID: "999999999999", Name: "x", ID: "AIDAX"}), metastore.ErrNotFound)

	for _, name := range []string{"Alice", "alice", "ALICE", "aLiCe"} {
		got, err := s.GetUser(ctx, acct1, name)
		noErr(t, "GetUser("+name+")", err)
		if got.Name != "Alice" || got.ID != "AIDAALICE" || got.Path != "/team/" || got.AccountID != acct1 {
			t.Errorf("GetUser(%s) = %+v, want %+v", name, got, alice)
		}
		if want := rtags("Dept", "eng", "team", "core"); !slices.Equal(got.Tags, want) {
			t.Errorf("GetUser(%s) tags = %+v, want %+v", name, got.Tags, want)
		}
		wantTime(t, "CreatedAt", got.CreatedAt, time1)
	}
	bob, err := s.GetUser(ctx, acct1, "BOB")
	noErr(t, "GetUser(bob)", err)
	if bob.Name != "bob" || bob.Path != "/" || len(bob.Tags) != 0 {
		t.Errorf("GetUser(bob) = %+v, want path / and no tags", bob)
	}
	wantRecent(t, "defaulted CreatedAt", bob.CreatedAt)
	if other, err := s.GetUser(ctx, acct2, "ALICE"); err != nil || other.ID != "AIDAALICE2" {
		t.Errorf("GetUser(other account) = %+v, %v", other, err)
	}
	wantErr(t, "GetUser(missing)", firstErr(s.GetUser(ctx, acct1, "carol")), metastore.ErrNotFound)
	wantErr(t, "GetUser(missing account)", firstErr(s.GetUser(ctx, "999999999999", "alice")), metastore.ErrNotFound)
}

func testIAMListUsers(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	for _, n := range []string{"bob", "Alice", "carol", "dave", "Eve", "_x"} {
		mustUser(t, s, acct1, n)
	}
	mustUser(t, s, acct2, "zed")
	noErr(t, "TagUser", s.TagUser(ctx, acct1, "carol", rtags("b", "2", "a", "1"), 50))

	want := []string{"Alice", "Eve", "_x", "bob", "carol", "dave"} // byte order
	var got []string
	for p := (metastore.Page{Limit: 4}); ; {
		page, err := s.ListUsers(ctx, acct1, p)
		noErr(t, "ListUsers", err)
		if len(page) > 4 {
			t.Fatalf("page of %d users, limit 4", len(page))
		}
		for _, u := range page {
			if u.Name == "carol" && !slices.Equal(u.Tags, rtags("a", "1", "b", "2")) {
				t.Errorf("listed carol tags = %+v", u.Tags)
			}
		}
		got = append(got, userNames(page)...)
		if len(page) < 4 {
			break
		}
		p.Last = page[len(page)-1].Name
	}
	if !slices.Equal(got, want) {
		t.Errorf("ListUsers pages = %v, want %v", got, want)
	}
	page, err := s.ListUsers(ctx, acct1, metastore.Page{Last: "_x", Limit: 2})
	noErr(t, "ListUsers(after _x)", err)
	if names := userNames(page); !slices.Equal(names, []string{"bob", "carol"}) {
		t.Errorf("ListUsers(after _x, 2) = %v", names)
	}
	if page, _ = s.ListUsers(ctx, "999999999999", metastore.Page{Limit: 10}); len(page) != 0 {
		t.Errorf("missing account lists %v", userNames(page))
	}
	if err := firstErr(s.ListUsers(ctx, acct1, metastore.Page{})); err == nil {
		t.Error("ListUsers(limit 0) succeeded, want an error")
	}
}

func testIAMUserTags(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	mustUser(t, s, acct1, "alice")
	mustUser(t, s, acct1, "bob")
	tags := func(name string) []metastore.ResourceTag {
		t.Helper()
		u, err := s.GetUser(ctx, acct1, name)
		noErr(t, "GetUser", err)
		return u.Tags
	}
	noErr(t, "TagUser", s.TagUser(ctx, acct1, "ALICE", rtags("team", "core", "Team", "upper", "cost", ""), 50))
	noErr(t, "TagUser(bob)", s.TagUser(ctx, acct1, "bob", rtags("team", "other"), 50))
	noErr(t, "TagUser(upsert)", s.TagUser(ctx, acct1, "alice", rtags("team", "platform", "new", "1"), 50))
	if got, want := tags("alice"), rtags("Team", "upper", "cost", "", "new", "1", "team", "platform"); !slices.Equal(got, want) {
		t.Errorf("tags = %+v, want %+v", got, want)
	}
	noErr(t, "UntagUser", s.UntagUser(ctx, acct1, "Alice", []string{"team", "absent", "NEW"}))
	noErr(t, "UntagUser(nothing)", s.UntagUser(ctx, acct1, "alice", nil))
	if got, want := tags("alice"), rtags("Team", "upper", "cost", "", "new", "1"); !slices.Equal(got, want) {
		t.Errorf("after untag = %+v, want %+v", got, want)
	}
	if got := tags("bob"); !slices.Equal(got, rtags("team", "other")) {
		t.Errorf("bob's tags = %+v", got)
	}
	wantErr(t, "TagUser(missing)", s.TagUser(ctx, acct1, "carol", rtags("k", "v"), 50), metastore.ErrNotFound)
	wantErr(t, "TagUser(missing, nothing)", s.TagUser(ctx, acct1, "carol", nil, 50), metastore.ErrNotFound)
	wantErr(t, "UntagUser(missing)", s.UntagUser(ctx, acct1, "carol", []string{"k"}), metastore.ErrNotFound)
	wantErr(t, "TagUser(other account)", s.TagUser(ctx, acct2, "alice", rtags("k", "v"), 50), metastore.ErrNotFound)
}

func testIAMUserTagLimit(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	mustUser(t, s, acct1, "alice")
	const limit = 3
	tags := func() []metastore.ResourceTag {
		t.Helper()
		u, err := s.GetUser(ctx, acct1, "alice")
		noErr(t, "GetUser", err)
		return u.Tags
	}
	four := rtags("a", "1", "b", "1", "c", "1", "d", "1")
	wantErr(t, "TagUser(4 > max)", s.TagUser(ctx, acct1, "alice", four, limit), metastore.ErrTooManyTags)
	if got := tags(); len(got) != 0 {
		t.Fatalf("refused TagUser stored %+v", got)
	}
	noErr(t, "TagUser(exactly max)", s.TagUser(ctx, acct1, "alice", four[:3], limit))
	full := tags()
	mixed := rtags("a", "changed", "e", "1") // an update and one too many
	wantErr(t, "TagUser(update + new)", s.TagUser(ctx, acct1, "alice", mixed, limit), metastore.ErrTooManyTags)
	if got := tags(); !slices.Equal(got, full) {
		t.Fatalf("after refused TagUser = %+v, want %+v unchanged", got, full)
	}
	noErr(t, "TagUser(update at max)", s.TagUser(ctx, acct1, "alice", rtags("a", "2"), limit))
	if got, want := tags(), rtags("a", "2", "b", "1", "c", "1"); !slices.Equal(got, want) {
		t.Errorf("final = %+v, want %+v", got, want)
	}
}

func testIAMDeleteUserConflicts(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	mustUser(t, s, acct1, "alice")
	mustUser(t, s, acct2, "alice")
	noErr(t, "TagUser", s.TagUser(ctx, acct1, "alice", rtags("k", "v"), 50))
	// Keys that are not alice's in this account do not hold her.
	for _, k := range []metastore.AccessKey{
		{ID: "AKIAROOT", AccountID: acct1, SecretCiphertext: []byte("s")},
		{ID: "AKIABOB", AccountID: acct1, UserName: "bob", SecretCiphertext: []byte("s")},
		{ID: "AKIAOTHER", AccountID: acct2, UserName: "alice", SecretCiphertext: []byte("s")},
	} {
		noErr(t, "CreateAccessKey "+k.ID, s.CreateAccessKey(ctx, k))
	}
	pol := mustPolicy(t, s, acct1, "pol", `{"Statement":[]}`)

	uses := []struct {
		what        string
		add, remove func() error
	}{
		{what: "access key", add: func() error {
			return s.CreateAccessKey(ctx, metastore.AccessKey{ID: "AKIAALICE", AccountID: acct1, UserName: "alice", SecretCiphertext: []byte("s")})
		}, remove: func() error { return s.DeleteAccessKey(ctx, "AKIAALICE") }},
		{what: "access key named in other case", add: func() error {
			return s.CreateAccessKey(ctx, metastore.AccessKey{ID: "AKIAALICE2", AccountID: acct1, UserName: "ALICE", SecretCiphertext: []byte("s")})
		}, remove: func() error { return s.DeleteAccessKey(ctx, "AKIAALICE2") }},
		{what: "inline policy", add: func() error {
			return s.PutUserPolicy(ctx, acct1, "alice", metastore.InlinePolicy{Name: "p", Document: "{}"})
		}, remove: func() error { return s.DeleteUserPolicy(ctx, acct1, "alice", "p") }},
		{what: "customer-managed attachment", add: func() error {
			return s.AttachUserPolicy(ctx, acct1, "alice", pol.ARN())
		}, remove: func() error { return s.DetachUserPolicy(ctx, acct1, "alice", pol.ARN()) }},
		{what: "AWS-managed attachment", add: func() error {
			return s.AttachUserPolicy(ctx, acct1, "alice", awsECRReadOnly)
		}, remove: func() error { return s.DetachUserPolicy(ctx, acct1, "alice", awsECRReadOnly) }},
	}
	for _, u := range uses {
		noErr(t, "add "+u.what, u.add())
		wantErr(t, "DeleteUser(with "+u.what+")", s.DeleteUser(ctx, acct1, "ALICE"), metastore.ErrDeleteConflict)
		if _, err := s.GetUser(ctx, acct1, "alice"); err != nil {
			t.Fatalf("user gone after refused delete (%s): %v", u.what, err)
		}
		noErr(t, "remove "+u.what, u.remove())
	}
	// All uses at once, removed one by one: each alone still blocks.
	for _, u := range uses {
		noErr(t, "add "+u.what, u.add())
	}
	for _, u := range uses {
		wantErr(t, "DeleteUser(before removing "+u.what+")", s.DeleteUser(ctx, acct1, "alice"), metastore.ErrDeleteConflict)
		noErr(t, "remove "+u.what, u.remove())
	}

	noErr(t, "DeleteUser", s.DeleteUser(ctx, acct1, "Alice"))
	wantErr(t, "GetUser(deleted)", firstErr(s.GetUser(ctx, acct1, "alice")), metastore.ErrNotFound)
	wantErr(t, "DeleteUser(again)", s.DeleteUser(ctx, acct1, "alice"), metastore.ErrNotFound)
	wantErr(t, "DeleteUser(never existed)", s.DeleteUser(ctx, acct1, "nobody"), metastore.ErrNotFound)
	noErr(t, "GetUser(other account)", firstErr(s.GetUser(ctx, acct2, "alice")))

	// Re-created under the same name: a new user, without the old tags.
	noErr(t, "CreateUser(again)", s.CreateUser(ctx, metastore.User{AccountID: acct1, Name: "alice", ID: "AIDANEW"}))
	if u, err := s.GetUser(ctx, acct1, "alice"); err != nil || u.ID != "AIDANEW" || len(u.Tags) != 0 {
		t.Errorf("re-created user = %+v, %v; want new id, no tags", u, err)
	}
}

func testIAMInlinePolicies(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	mustUser(t, s, acct1, "alice")
	mustUser(t, s, acct1, "bob")
	put := func(user, name, doc string) {
		t.Helper()
		noErr(t, "PutUserPolicy "+name, s.PutUserPolicy(ctx, acct1, user, metastore.InlinePolicy{Name: name, Document: doc}))
	}
	list := func(user string) []string {
		t.Helper()
		names, err := s.ListUserPolicies(ctx, acct1, user)
		noErr(t, "ListUserPolicies", err)
		return names
	}
	if got := list("alice"); len(got) != 0 {
		t.Errorf("new user has inline policies %v", got)
	}
	doc := "{ \"Statement\" : [ {\"Sid\": \"caf\u00e9\"} ] }\n" // stored verbatim
	put("ALICE", "Pull", doc)
	put("alice", "beta", "{}")
	put("alice", "Alpha", "{}")
	put("bob", "pull", "{bob}")
	put("alice", "PULL", `{"v":2}`) // replaces Pull, keeps its name

	if got, want := list("Alice"), []string{"Alpha", "Pull", "beta"}; !slices.Equal(got, want) {
		t.Errorf("ListUserPolicies = %v, want %v (byte order)", got, want)
	}
	p, err := s.GetUserPolicy(ctx, acct1, "aLiCe", "pull")
	noErr(t, "GetUserPolicy", err)
	if want := (metastore.InlinePolicy{Name: "Pull", Document: `{"v":2}`}); p != want {
		t.Errorf("GetUserPolicy = %+v, want %+v", p, want)
	}
	put("alice", "verbatim", doc)
	if p, _ = s.GetUserPolicy(ctx, acct1, "alice", "VERBATIM"); p.Document != doc {
		t.Errorf("document = %q, want %q", p.Document, doc)
	}
	if p, _ = s.GetUserPolicy(ctx, acct1, "bob", "pull"); p.Document != "{bob}" {
		t.Errorf("bob's policy = %+v", p)
	}

	noErr(t, "DeleteUserPolicy", s.DeleteUserPolicy(ctx, acct1, "alice", "BETA"))
	wantErr(t, "GetUserPolicy(deleted)", firstErr(s.GetUserPolicy(ctx, acct1, "alice", "beta")), metastore.ErrNotFound)
	wantErr(t, "DeleteUserPolicy(again)", s.DeleteUserPolicy(ctx, acct1, "alice", "beta"), metastore.ErrNotFound)
	if got, want := list("alice"), []string{"Alpha", "Pull", "verbatim"}; !slices.Equal(got, want) {
		t.Errorf("after delete = %v, want %v", got, want)
	}

	in := metastore.InlinePolicy{Name: "p", Document: "{}"}
	wantErr(t, "PutUserPolicy(missing user)", s.PutUserPolicy(ctx, acct1, "carol", in), metastore.ErrNotFound)
	wantErr(t, "PutUserPolicy(missing account)", s.PutUserPolicy(ctx, "999999999999", "alice", in), metastore.ErrNotFound)
	wantErr(t, "GetUserPolicy(missing user)", firstErr(s.GetUserPolicy(ctx, acct1, "carol", "p")), metastore.ErrNotFound)
	wantErr(t, "ListUserPolicies(missing user)", firstErr(s.ListUserPolicies(ctx, acct1, "carol")), metastore.ErrNotFound)
	wantErr(t, "DeleteUserPolicy(missing user)", s.DeleteUserPolicy(ctx, acct1, "carol", "p"), metastore.ErrNotFound)
	wantErr(t, "ListUserPolicies(other account)", firstErr(s.ListUserPolicies(ctx, acct2, "alice")), metastore.ErrNotFound)
}

func testIAMManagedPolicies(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	mustAccount(t, s, acct1)
	mustAccount(t, s, acct2)
	full := metastore.ManagedPolicy{AccountID: acct1, Name: "EcrPush", ID: "ANPAPUSH", Path: "/ci/",
		Description: "push images", Document: "{\n \"Statement\": []\n}", CreatedAt: time1, UpdatedAt: time2}
	noErr(t, "CreatePolicy", s.CreatePolicy(ctx, full))
	if want := "arn:aws:iam::111111111111:policy/ci/EcrPush"; full.ARN() != want {
		t.Errorf("ARN() = %q, want %q", full.ARN(), want)
	}
	got, err := s.GetPolicy(ctx, acct1, "ecrpush")
	noErr(t, "GetPolicy", err)
	wantTime(t, "CreatedAt", got.CreatedAt, time1)
	wantTime(t, "UpdatedAt", got.UpdatedAt, time2)
	got.CreatedAt, got.UpdatedAt = full.CreatedAt, full.UpdatedAt
	if got != full {
		t.Errorf("GetPolicy = %+v, want %+v", got, full)
	}

	for _, name := range []string{"bravo", "Alpha", "charlie", "delta"} {
		mustPolicy(t, s, acct1, name, "{}")
	}
	mustPolicy(t, s, acct2, "ecrpush", "{}")
	d, err := s.GetPolicy(ctx, acct1, "DELTA")
	noErr(t, "GetPolicy(defaults)", err)
	if d.Path != "/" || d.Name != "delta" || d.Attachments != 0 || !d.UpdatedAt.Equal(d.CreatedAt) {
		t.Errorf("defaulted policy = %+v, want path /, UpdatedAt = CreatedAt", d)
	}
	wantRecent(t, "defaulted CreatedAt", d.CreatedAt)

	for _, dup := range []metastore.ManagedPolicy{
		{AccountID: acct1, Name: "ECRPUSH", ID: "ANPANEW1"},
		{AccountID: acct1, Name: "ecrpush", ID: "ANPANEW2", Path: "/other/"}, // unique per account, whatever the path
		{AccountID: acct1, Name: "echo", ID: "ANPAPUSH"},                     // id taken
	} {
		wantErr(t, "CreatePolicy(dup "+dup.Name+"/"+dup.ID+")", s.CreatePolicy(ctx, dup), metastore.ErrAlreadyExists)
	}
	wantErr(t, "CreatePolicy(missing account)",
		s.CreatePolicy(ctx, metastore.ManagedPolicy{AccountID: "999999999999", Name: "x", ID: "ANPAX"}), metastore.ErrNotFound)
	wantErr(t, "GetPolicy(missing)", firstErr(s.GetPolicy(ctx, acct1, "nope")), metastore.ErrNotFound)

	var names []string
	for p := (metastore.Page{Limit: 2}); ; {
		page, err := s.ListPolicies(ctx, acct1, p)
		noErr(t, "ListPolicies", err)
		for _, mp := range page {
			names = append(names, mp.Name)
		}
		if len(page) < 2 {
			break
		}
		p.Last = page[len(page)-1].Name
	}
	if want := []string{"Alpha", "EcrPush", "bravo", "charlie", "delta"}; !slices.Equal(names, want) {
		t.Errorf("ListPolicies pages = %v, want %v", names, want)
	}
	if err := firstErr(s.ListPolicies(ctx, acct1, metastore.Page{})); err == nil {
		t.Error("ListPolicies(limit 0) succeeded, want an error")
	}

	noErr(t, "DeletePolicy", s.DeletePolicy(ctx, acct1, "ECRPUSH"))
	wantErr(t, "GetPolicy(deleted)", firstErr(s.GetPolicy(ctx, acct1, "EcrPush")), metastore.ErrNotFound)
	wantErr(t, "DeletePolicy(again)", s.DeletePolicy(ctx, acct1, "EcrPush"), metastore.ErrNotFound)
	noErr(t, "GetPolicy(other account)", firstErr(s.GetPolicy(ctx, acct2, "ecrpush")))
}

func testIAMAttachments(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	mustUser(t, s, acct1, "alice")
	mustUser(t, s, acct1, "bob")
	pol := mustPolicy(t, s, acct1, "Deploy", "{}")
	other := mustPolicy(t, s, acct1, "other", "{}")
	list := func(user string) []string {
		t.Helper()
		arns, err := s.ListAttachedUserPolicies(ctx, acct1, user)
		noErr(t, "ListAttachedUserPolicies", err)
		return arns
	}
	count := func(name string) int {
		t.Helper()
		p, err := s.GetPolicy(ctx, acct1, name)
		noErr(t, "GetPolicy", err)
		return p.Attachments
	}
	if got := list("alice"); len(got) != 0 {
		t.Errorf("new user has attachments %v", got)
	}
	noErr(t, "Attach", s.AttachUserPolicy(ctx, acct1, "alice", pol.ARN()))
	noErr(t, "Attach(again)", s.AttachUserPolicy(ctx, acct1, "ALICE", pol.ARN()))
	noErr(t, "Attach(again, ARN in other case)", s.AttachUserPolicy(ctx, acct1, "alice", "arn:aws:iam::111111111111:policy/DEPLOY"))
	noErr(t, "Attach(AWS-managed)", s.AttachUserPolicy(ctx, acct1, "alice", awsECRReadOnly))
	noErr(t, "Attach(bob)", s.AttachUserPolicy(ctx, acct1, "bob", pol.ARN()))
	want := []string{pol.ARN(), awsECRReadOnly} // byte order, as first attached
	if got := list("Alice"); !slices.Equal(got, want) {
		t.Errorf("ListAttachedUserPolicies = %v, want %v", got, want)
	}
	if n := count("deploy"); n != 2 {
		t.Errorf("Attachments = %d, want 2 (alice and bob)", n)
	}
	if n := count("other"); n != 0 {
		t.Errorf("unattached policy Attachments = %d", n)
	}

	wantErr(t, "Attach(missing user)", s.AttachUserPolicy(ctx, acct1, "carol", pol.ARN()), metastore.ErrNotFound)
	wantErr(t, "Attach(missing policy)",
		s.AttachUserPolicy(ctx, acct1, "alice", "arn:aws:iam::111111111111:policy/nope"), metastore.ErrNotFound)
	wantErr(t, "Attach(wrong path)",
		s.AttachUserPolicy(ctx, acct1, "alice", "arn:aws:iam::111111111111:policy/x/Deploy"), metastore.ErrNotFound)
	wantErr(t, "ListAttached(missing user)", firstErr(s.ListAttachedUserPolicies(ctx, acct1, "carol")), metastore.ErrNotFound)

	wantErr(t, "DeletePolicy(attached)", s.DeletePolicy(ctx, acct1, "Deploy"), metastore.ErrDeleteConflict)
	noErr(t, "Detach(ARN in other case)", s.DetachUserPolicy(ctx, acct1, "alice", "ARN:AWS:IAM::111111111111:POLICY/deploy"))
	wantErr(t, "DeletePolicy(still attached to bob)", s.DeletePolicy(ctx, acct1, "deploy"), metastore.ErrDeleteConflict)
	noErr(t, "Detach(bob)", s.DetachUserPolicy(ctx, acct1, "bob", pol.ARN()))
	wantErr(t, "Detach(again)", s.DetachUserPolicy(ctx, acct1, "bob", pol.ARN()), metastore.ErrNotFound)
	wantErr(t, "Detach(never attached)", s.DetachUserPolicy(ctx, acct1, "alice", other.ARN()), metastore.ErrNotFound)
	wantErr(t, "Detach(missing user)", s.DetachUserPolicy(ctx, acct1, "carol", pol.ARN()), metastore.ErrNotFound)
	noErr(t, "DeletePolicy(detached)", s.DeletePolicy(ctx, acct1, "deploy"))
	if got := list("alice"); !slices.Equal(got, []string{awsECRReadOnly}) {
		t.Errorf("after detach = %v", got)
	}
}

// testIAMAttachDeleteRace attaches and deletes a policy concurrently: an
// attachment must never outlive its policy.
func testIAMAttachDeleteRace(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	mustUser(t, s, acct1, "alice")
	for i := range 20 {
		pol := mustPolicy(t, s, acct1, fmt.Sprintf("p%d", i), "{}")
		var attachErr, deleteErr error
		var wg sync.WaitGroup
		wg.Go(func() { attachErr = s.AttachUserPolicy(ctx, acct1, "alice", pol.ARN()) })
		wg.Go(func() { deleteErr = s.DeletePolicy(ctx, acct1, pol.Name) })
		wg.Wait()
		attachedFirst := attachErr == nil && errors.Is(deleteErr, metastore.ErrDeleteConflict)
		deletedFirst := deleteErr == nil && errors.Is(attachErr, metastore.ErrNotFound)
		if !attachedFirst && !deletedFirst {
			t.Fatalf("round %d: attach = %v, delete = %v", i, attachErr, deleteErr)
		}
		if attachedFirst {
			noErr(t, "Detach", s.DetachUserPolicy(ctx, acct1, "alice", pol.ARN()))
		}
	}
	if arns, err := s.ListAttachedUserPolicies(ctx, acct1, "alice"); err != nil || len(arns) != 0 {
		t.Errorf("left attached: %v, %v", arns, err)
	}
}

func testIAMIdentityPolicies(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	mustUser(t, s, acct1, "Alice")
	mustUser(t, s, acct1, "bob")
	mustUser(t, s, acct2, "alice")
	put := func(account, user, name, doc string) {
		t.Helper()
		noErr(t, "PutUserPolicy", s.PutUserPolicy(ctx, account, user, metastore.InlinePolicy{Name: name, Document: doc}))
	}
	attach := func(account, user, arn string) {
		t.Helper()
		noErr(t, "AttachUserPolicy "+arn, s.AttachUserPolicy(ctx, account, user, arn))
	}
	put(acct1, "alice", "in1", `{"inline":1}`)
	put(acct1, "alice", "in2", `{"inline":2}`)
	cm1 := mustPolicy(t, s, acct1, "cm1", `{"managed":1}`)
	cm2 := metastore.ManagedPolicy{AccountID: acct1, Name: "cm2", ID: "ANPACM2", Path: "/team/", Document: `{"managed":2}`}
	noErr(t, "CreatePolicy(cm2)", s.CreatePolicy(ctx, cm2))
	mustPolicy(t, s, acct1, "unattached", `{"unattached":1}`)
	attach(acct1, "alice", cm1.ARN())
	attach(acct1, "ALICE", cm2.ARN())
	attach(acct1, "alice", awsECRReadOnly)
	// Others' policies must not leak in.
	put(acct1, "bob", "in1", `{"bob":1}`)
	attach(acct1, "bob", cm1.ARN())
	attach(acct1, "bob", metastore.AWSManagedPolicyPrefix+"AmazonEC2ContainerRegistryPowerUser")
	put(acct2, "alice", "in1", `{"otherAccount":1}`)
	mustPolicy(t, s, acct2, "cm1", `{"otherAccount":2}`)
	attach(acct2, "alice", "arn:aws:iam::222222222222:policy/cm1")

	for _, name := range []string{"Alice", "alice", "ALICE"} {
		docs, aws, err := s.IdentityPolicies(ctx, acct1, name)
		noErr(t, "IdentityPolicies("+name+")", err)
		slices.Sort(docs)
		if want := []string{`{"inline":1}`, `{"inline":2}`, `{"managed":1}`, `{"managed":2}`}; !slices.Equal(docs, want) {
			t.Errorf("IdentityPolicies(%s) docs = %v, want %v", name, docs, want)
		}
		if !slices.Equal(aws, []string{awsECRReadOnly}) {
			t.Errorf("IdentityPolicies(%s) AWS-managed = %v, want [%s]", name, aws, awsECRReadOnly)
		}
	}
	docs, aws, err := s.IdentityPolicies(ctx, acct1, "carol")
	noErr(t, "IdentityPolicies(missing user)", err)
	if len(docs) != 0 || len(aws) != 0 {
		t.Errorf("missing user has policies %v %v", docs, aws)
	}
	mustUser(t, s, acct1, "dave")
	if docs, aws, err = s.IdentityPolicies(ctx, acct1, "dave"); err != nil || len(docs) != 0 || len(aws) != 0 {
		t.Errorf("user without policies: %v %v %v", docs, aws, err)
	}
}

func testIAMDeleteAccount(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	blob := dg("shared-layer")
	for _, acct := range []string{acct1, acct2} {
		r := mustRepo(t, s, acct, "app")
		mustLink(t, s, r.ID, blob, 7)
		mustPut(t, s, newImage(t, s, r.ID, "img", 1), "v1")
		noErr(t, "TagResource", s.TagResource(ctx, r.ID, rtags("k", "v"), 50))
		noErr(t, "SetRepositoryPolicy", s.SetRepositoryPolicy(ctx, r.ID, "{}"))
		noErr(t, "CreateUpload", s.CreateUpload(ctx, metastore.Upload{ID: "up-" + acct, RepositoryID: r.ID, Algorithm: "sha256"}))
		noErr(t, "PutRegistryPolicy", s.PutRegistryPolicy(ctx, acct, "{}"))
		noErr(t, "PutAccountSetting", s.PutAccountSetting(ctx, acct, "BASIC_SCAN_TYPE_VERSION", "CLAIR"))
		mustUser(t, s, acct, "alice")
		noErr(t, "TagUser", s.TagUser(ctx, acct, "alice", rtags("k", "v"), 50))
		for _, k := range []metastore.AccessKey{
			{ID: "AKIAROOT" + acct, AccountID: acct, SecretCiphertext: []byte("s")},
			{ID: "AKIAALICE" + acct, AccountID: acct, UserName: "alice", SecretCiphertext: []byte("s")},
		} {
			noErr(t, "CreateAccessKey", s.CreateAccessKey(ctx, k))
		}
		noErr(t, "PutUserPolicy", s.PutUserPolicy(ctx, acct, "alice", metastore.InlinePolicy{Name: "p", Document: "{}"}))
		pol := mustPolicy(t, s, acct, "pol", "{}")
		noErr(t, "Attach", s.AttachUserPolicy(ctx, acct, "alice", pol.ARN()))
		noErr(t, "Attach(AWS)", s.AttachUserPolicy(ctx, acct, "alice", awsECRReadOnly))
	}
	r1, err := s.GetRepository(ctx, acct1, "app")
	noErr(t, "GetRepository", err)

	noErr(t, "DeleteAccount", s.DeleteAccount(ctx, acct1))
	wantErr(t, "DeleteAccount(again)", s.DeleteAccount(ctx, acct1), metastore.ErrNotFound)
	wantErr(t, "DeleteAccount(never existed)", s.DeleteAccount(ctx, "999999999999"), metastore.ErrNotFound)

	gone := map[string]error{
		"GetAccount":          firstErr(s.GetAccount(ctx, acct1)),
		"GetRepository":       firstErr(s.GetRepository(ctx, acct1, "app")),
		"GetManifestByTag":    firstErr(s.GetManifestByTag(ctx, r1.ID, "v1")),
		"BlobSize":            firstErr(s.BlobSize(ctx, r1.ID, blob)),
		"ListResourceTags":    firstErr(s.ListResourceTags(ctx, r1.ID)),
		"GetRepositoryPolicy": firstErr(s.GetRepositoryPolicy(ctx, r1.ID)),
		"GetUpload":           firstErr(s.GetUpload(ctx, r1.ID, "up-"+acct1)),
		"GetRegistryPolicy":   firstErr(s.GetRegistryPolicy(ctx, acct1)),
		"GetAccountSetting":   firstErr(s.GetAccountSetting(ctx, acct1, "BASIC_SCAN_TYPE_VERSION")),
		"GetAccessKey(root)":  firstErr(s.GetAccessKey(ctx, "AKIAROOT"+acct1)),
		"GetAccessKey(user)":  firstErr(s.GetAccessKey(ctx, "AKIAALICE"+acct1)),
		"GetUser":             firstErr(s.GetUser(ctx, acct1, "alice")),
		"GetUserPolicy":       firstErr(s.GetUserPolicy(ctx, acct1, "alice", "p")),
		"GetPolicy":           firstErr(s.GetPolicy(ctx, acct1, "pol")),
	}
	for what, err := range gone {
		wantErr(t, what+"(deleted account)", err, metastore.ErrNotFound)
	}
	if accts, err := s.ListAccounts(ctx); err != nil || len(accts) != 1 || accts[0].ID != acct2 {
		t.Errorf("ListAccounts = %+v, %v; want only %s", accts, err, acct2)
	}

	// The other account is untouched.
	r2, err := s.GetRepository(ctx, acct2, "app")
	noErr(t, "GetRepository(other)", err)
	noErr(t, "GetManifestByTag(other)", firstErr(s.GetManifestByTag(ctx, r2.ID, "v1")))
	noErr(t, "BlobSize(other)", firstErr(s.BlobSize(ctx, r2.ID, blob)))
	noErr(t, "GetUpload(other)", firstErr(s.GetUpload(ctx, r2.ID, "up-"+acct2)))
	noErr(t, "GetRegistryPolicy(other)", firstErr(s.GetRegistryPolicy(ctx, acct2)))
	noErr(t, "GetAccessKey(other)", firstErr(s.GetAccessKey(ctx, "AKIAALICE"+acct2)))
	if u, err := s.GetUser(ctx, acct2, "alice"); err != nil || len(u.Tags) != 1 {
		t.Errorf("other account's user = %+v, %v", u, err)
	}
	docs, aws, err := s.IdentityPolicies(ctx, acct2, "alice")
	if err != nil || len(docs) != 2 || len(aws) != 1 {
		t.Errorf("other account's identity policies = %v %v %v", docs, aws, err)
	}
	if p, err := s.GetPolicy(ctx, acct2, "pol"); err != nil || p.Attachments != 1 {
		t.Errorf("other account's policy = %+v, %v", p, err)
	}

	// Re-created, the account starts empty.
	mustAccount(t, s, acct1)
	if rs, err := s.ListRepositories(ctx, acct1, metastore.Page{Limit: 10}); err != nil || len(rs) != 0 {
		t.Errorf("re-created account repositories = %+v, %v", rs, err)
	}
	if us, err := s.ListUsers(ctx, acct1, metastore.Page{Limit: 10}); err != nil || len(us) != 0 {
		t.Errorf("re-created account users = %+v, %v", us, err)
	}
	if ps, err := s.ListPolicies(ctx, acct1, metastore.Page{Limit: 10}); err != nil || len(ps) != 0 {
		t.Errorf("re-created account policies = %+v, %v", ps, err)
	}
	if ks, err := s.ListAccessKeys(ctx, acct1, ""); err != nil || len(ks) != 0 {
		t.Errorf("re-created account root keys = %+v, %v", ks, err)
	}
	mustUser(t, s, acct1, "alice")
	if docs, aws, err := s.IdentityPolicies(ctx, acct1, "alice"); err != nil || len(docs)+len(aws) != 0 {
		t.Errorf("re-created user inherits policies %v %v %v", docs, aws, err)
	}
	noErr(t, "DeleteUser(re-created)", s.DeleteUser(ctx, acct1, "alice"))
}
