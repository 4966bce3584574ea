package identity_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/identity"
)

func TestCreateUserValidation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	many := make([]identity.Tag, 51)
	for i := range many {
		many[i] = identity.Tag{Key: fmt.Sprint("k", i)}
	}
	cases := []struct {
		name string
		in   identity.CreateUserInput
		msg  string
	}{
		{"missing name", identity.CreateUserInput{},
			"1 validation error detected: Value null at 'userName' failed to satisfy constraint: Member must not be null"},
		{"bad name", identity.CreateUserInput{UserName: "a b"},
			`1 validation error detected: Value 'a b' at 'userName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+`},
		{"long name", identity.CreateUserInput{UserName: strings.Repeat("a", 65)},
			"Member must have length less than or equal to 64"},
		{"bad path", identity.CreateUserInput{UserName: "a", Path: "team"},
			`Value 'team' at 'path' failed to satisfy constraint: Member must satisfy regular expression pattern: (\u002F)|(\u002F[\u0021-\u007E]+\u002F)`},
		{"too many tags", identity.CreateUserInput{UserName: "a", Tags: many},
			"at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50"},
		{"empty tag key", identity.CreateUserInput{UserName: "a", Tags: []identity.Tag{{Value: "v"}}},
			"Value null at 'tags.1.member.key' failed to satisfy constraint: Member must not be null"},
		{"bad tag value", identity.CreateUserInput{UserName: "a", Tags: []identity.Tag{{Key: "k", Value: "a*b"}}},
			"Value 'a*b' at 'tags.1.member.value' failed to satisfy constraint: Member must satisfy regular expression pattern"},
		{"two problems", identity.CreateUserInput{UserName: "a b", Path: "x"},
			"2 validation errors detected: Value 'a b' at 'userName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+; Value 'x' at 'path'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.CreateUser(ctx, root, tc.in)
			wantErr(t, err, identity.ErrValidation, tc.msg)
		})
	}
}

func TestCreateUserRules(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cases := []struct {
		name string
		in   identity.CreateUserInput
		kind error
		msg  string
	}{
		{"reserved tag", identity.CreateUserInput{UserName: "a", Tags: []identity.Tag{{Key: "aws:x", Value: "v"}}},
			identity.ErrInvalidInput, "reserved"},
		{"duplicate tag keys", identity.CreateUserInput{UserName: "a", Tags: []identity.Tag{{Key: "Team"}, {Key: "team"}}},
			identity.ErrInvalidInput, "Duplicate tag keys found"},
		{"permissions boundary", identity.CreateUserInput{UserName: "a", PermissionsBoundary: ecrReadOnly},
			identity.ErrInvalidInput, "permissions boundaries"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.CreateUser(ctx, root, tc.in)
			wantErr(t, err, tc.kind, tc.msg)
		})
	}
}

func TestUserLifecycle(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	u, err := f.svc.CreateUser(ctx, root, identity.CreateUserInput{UserName: "Alice", Path: "/team/a/",
		Tags: []identity.Tag{{Key: "b", Value: "2"}, {Key: "a", Value: "1"}}})
	ok(t, err)
	if !regexp.MustCompile(`^AIDA[A-Z2-7]{16}$`).MatchString(u.ID) {
		t.Errorf("user id %q is not AIDA + 16 base32 characters", u.ID)
	}
	if u.ARN != "arn:aws:iam::123456789012:user/team/a/Alice" || u.Path != "/team/a/" || !u.CreatedAt.Equal(someday) {
		t.Errorf("created %+v", u)
	}
	got, err := f.svc.GetUser(ctx, root, "ALICE")
	ok(t, err)
	if got.Name != "Alice" || got.ID != u.ID || fmt.Sprint(got.Tags) != "[{a 1} {b 2}]" {
		t.Errorf("GetUser = %+v", got)
	}
	_, err = f.svc.CreateUser(ctx, root, identity.CreateUserInput{UserName: "alice"})
	wantErr(t, err, identity.ErrEntityAlreadyExists, "User with name alice already exists.")

	ok(t, f.svc.DeleteUser(ctx, root, "alice"))
	_, err = f.svc.GetUser(ctx, root, "Alice")
	wantErr(t, err, identity.ErrNoSuchEntity, "The user with name Alice cannot be found.")
	wantErr(t, f.svc.DeleteUser(ctx, root, "Alice"), identity.ErrNoSuchEntity, "cannot be found")
}

func TestGetUserOfCaller(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(o *identity.Options) { o.Authorize = allowAll })
	r, err := f.svc.GetUser(ctx, root, "")
	ok(t, err)
	if r.ID != acct || r.ARN != "arn:aws:iam::123456789012:root" || r.Name != "" || !r.CreatedAt.Equal(someday) {
		t.Errorf("root GetUser = %+v", r)
	}
	f.mustUser(t, "dev")
	u, err := f.svc.GetUser(ctx, user("dev"), "")
	ok(t, err)
	if u.Name != "dev" {
		t.Errorf("self GetUser = %+v", u)
	}
}

func TestListUsers(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for i, name := range []string{"e", "d", "c", "b", "a"} {
		path := "/ops/"
		if i%2 == 0 {
			path = "/dev/"
		}
		_, err := f.svc.CreateUser(ctx, root, identity.CreateUserInput{UserName: name, Path: path,
			Tags: []identity.Tag{{Key: "k", Value: "v"}}})
		ok(t, err)
	}
	var names []string
	o := identity.ListOptions{MaxItems: 2}
	for pages := 0; ; pages++ {
		p, err := f.svc.ListUsers(ctx, root, "", o)
		ok(t, err)
		for _, u := range p.Items {
			names = append(names, u.Name)
		}
		if p.Marker == "" {
			if pages != 2 {
				t.Errorf("%d pages, want 3", pages+1)
			}
			break
		}
		o.Marker = p.Marker
	}
	if strings.Join(names, "") != "abcde" {
		t.Errorf("listed %v", names)
	}
	p, err := f.svc.ListUsers(ctx, root, "/dev/", identity.ListOptions{MaxItems: 1})
	ok(t, err)
	if len(p.Items) != 1 || p.Items[0].Name != "a" || p.Marker == "" {
		t.Fatalf("first /dev/ page = %+v", p)
	}
	p, err = f.svc.ListUsers(ctx, root, "/dev/", identity.ListOptions{Marker: p.Marker})
	ok(t, err)
	if len(p.Items) != 2 || p.Items[0].Name != "c" || p.Items[1].Name != "e" || p.Marker != "" {
		t.Fatalf("second /dev/ page = %+v", p)
	}
	_, err = f.svc.ListUsers(ctx, root, "dev", identity.ListOptions{MaxItems: 1001})
	wantErr(t, err, identity.ErrValidation, "2 validation errors detected")
	_, err = f.svc.ListUsers(ctx, root, "", identity.ListOptions{Marker: "!!"})
	wantErr(t, err, identity.ErrInvalidInput, "Marker")
	// Well-formed base64 of bytes that are no name (PostgreSQL cannot take them).
	_, err = f.svc.ListUsers(ctx, root, "", identity.ListOptions{Marker: "_wA"})
	wantErr(t, err, identity.ErrInvalidInput, "Marker")
}

func TestDeleteUserConflicts(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.mustUser(t, "u")
	k, err := f.svc.CreateAccessKey(ctx, root, "u")
	ok(t, err)
	wantErr(t, f.svc.DeleteUser(ctx, root, "u"), identity.ErrDeleteConflict, "must delete access keys first")
	ok(t, f.svc.DeleteAccessKey(ctx, root, "u", k.ID))

	ok(t, f.svc.PutUserPolicy(ctx, root, "u", "p", `{"Statement":[]}`))
	wantErr(t, f.svc.DeleteUser(ctx, root, "u"), identity.ErrDeleteConflict, "must delete policies first")
	ok(t, f.svc.DeleteUserPolicy(ctx, root, "u", "p"))

	ok(t, f.svc.AttachUserPolicy(ctx, root, "u", ecrReadOnly))
	wantErr(t, f.svc.DeleteUser(ctx, root, "u"), identity.ErrDeleteConflict, "must detach all policies first")
	ok(t, f.svc.DetachUserPolicy(ctx, root, "u", ecrReadOnly))

	ok(t, f.svc.DeleteUser(ctx, root, "u"))
}

func TestTagUntagUser(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(o *identity.Options) { o.Limits.TagsPerUser = 3 })
	_, err := f.svc.CreateUser(ctx, root, identity.CreateUserInput{UserName: "u", Tags: []identity.Tag{{Key: "Team", Value: "a"}}})
	ok(t, err)
	ok(t, f.svc.TagUser(ctx, root, "U", []identity.Tag{{Key: "team", Value: "b"}, {Key: "env", Value: "prod"}}))
	u, err := f.svc.GetUser(ctx, root, "u")
	ok(t, err)
	if fmt.Sprint(u.Tags) != "[{Team b} {env prod}]" {
		t.Fatalf("tags = %v; a key differing in case must replace the value and keep its spelling", u.Tags)
	}
	wantErr(t, f.svc.TagUser(ctx, root, "u", []identity.Tag{{Key: "x"}, {Key: "y"}}),
		identity.ErrLimitExceeded, "Cannot exceed quota for TagsPerUser: 3")
	wantErr(t, f.svc.TagUser(ctx, root, "ghost", []identity.Tag{{Key: "x"}}), identity.ErrNoSuchEntity, "ghost")
	wantErr(t, f.svc.TagUser(ctx, root, "u", []identity.Tag{{Key: "aws:x"}}), identity.ErrInvalidInput, "reserved")

	ok(t, f.svc.UntagUser(ctx, root, "u", []string{"TEAM", "absent"}))
	u, err = f.svc.GetUser(ctx, root, "u")
	ok(t, err)
	if fmt.Sprint(u.Tags) != "[{env prod}]" {
		t.Fatalf("tags after untag = %v", u.Tags)
	}
	wantErr(t, f.svc.UntagUser(ctx, root, "ghost", []string{"x"}), identity.ErrNoSuchEntity, "ghost")
	wantErr(t, f.svc.UntagUser(ctx, root, "u", []string{""}), identity.ErrValidation, "'tagKeys.1.member'")
}
