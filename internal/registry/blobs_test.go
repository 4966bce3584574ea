package registry_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/blobstore"
	"github.com/berth-registry/berth/internal/registry"
	rt "github.com/berth-registry/berth/internal/registry/registrytest"
)

func TestBlobReadAndDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t, registry.Options{})
	content := []byte("layer bytes")
	d := e.PutBlob(t, root, repo, content)

	got, size, err := e.Service.StatBlob(ctx, root, repo, d.String())
	if err != nil || got != d || size != int64(len(content)) {
		t.Fatalf("StatBlob = %s, %d, %v", got, size, err)
	}
	b, err := e.Service.OpenBlob(ctx, root, repo, d.String(), true)
	if err != nil {
		t.Fatalf("OpenBlob: %v", err)
	}
	data, err := io.ReadAll(b.Body)
	b.Body.Close()
	if err != nil || string(data) != string(content) || b.Size != size || b.Digest != d || b.RedirectURL != "" {
		t.Fatalf("OpenBlob = %+v, %q, %v", b, data, err)
	}

	// A blob linked in SQL but lost from storage is an internal error, not
	// an unknown blob.
	lost := e.PutBlob(t, root, repo, []byte("lost"))
	if err := e.Blobs.Delete(ctx, lost); err != nil {
		t.Fatal(err)
	}
	_, err = e.Service.OpenBlob(ctx, root, repo, lost.String(), false)
	if err == nil || errors.Is(err, registry.ErrBlobUnknown) || !errors.Is(err, blobstore.ErrNotFound) {
		t.Errorf("OpenBlob of a lost blob err = %v, want an internal error wrapping blobstore.ErrNotFound", err)
	}

	// Another repository of the account does not see the blob.
	e.CreateRepository(t, rt.Account, "other")
	_, _, err = e.Service.StatBlob(ctx, root, rt.Ref(rt.Account, "other"), d.String())
	wantKind(t, err, registry.ErrBlobUnknown)

	if err := e.Service.DeleteBlob(ctx, root, repo, d.String()); err != nil {
		t.Fatalf("DeleteBlob: %v", err)
	}
	_, _, err = e.Service.StatBlob(ctx, root, repo, d.String())
	wantKind(t, err, registry.ErrBlobUnknown)
	if det, _ := registry.Detail(err).(map[string]string); det["digest"] != d.String() {
		t.Errorf("detail = %#v, want the digest", registry.Detail(err))
	}
	_, err = e.Service.OpenBlob(ctx, root, repo, d.String(), false)
	wantKind(t, err, registry.ErrBlobUnknown)
	wantKind(t, e.Service.DeleteBlob(ctx, root, repo, d.String()), registry.ErrBlobUnknown)

	for _, bad := range []string{"", "sha256:1234", "latest", "sha256:" + strings.Repeat("A", 64)} {
		_, _, err := e.Service.StatBlob(ctx, root, repo, bad)
		if !errors.Is(err, registry.ErrDigestInvalid) {
			t.Errorf("StatBlob(%q) err = %v, want ErrDigestInvalid", bad, err)
		}
	}
}

func TestMountBlob(t *testing.T) {
	t.Parallel()
	content := []byte("shared layer")
	d := digest.FromBytes(content)
	ref := func(account, name string) *registry.RepoRef { r := rt.Ref(account, name); return &r }
	ours, theirs := rt.Ref(rt.Account, "src"), rt.Ref(rt.OtherAccount, "src")
	tests := []struct {
		name    string
		authz   registry.Authorizer
		holder  registry.RepoRef // where the blob is before the mount
		target  registry.RepoRef
		from    *registry.RepoRef
		digest  string
		mounted bool
		kind    error
	}{
		{name: "from a repository holding it", holder: ours, target: repo, from: &ours, mounted: true},
		{name: "without from, held in the account", holder: ours, target: repo, mounted: true},
		{name: "from a repository without it", holder: ours, target: repo, from: ref(rt.Account, "empty")},
		{name: "from a missing repository", holder: ours, target: repo, from: ref(rt.Account, "nowhere")},
		{name: "from an invalid name", holder: ours, target: repo, from: ref(rt.Account, "../src")},
		{name: "from another account", holder: theirs, target: repo, from: &theirs},
		{name: "without from, held only in another account", holder: theirs, target: repo},
		{name: "caller denied on source", authz: rt.Deny("src"), holder: ours, target: repo, from: &ours},
		{name: "caller denied on target", authz: rt.Deny("app"), holder: ours, target: repo, from: &ours,
			kind: registry.ErrDenied},
		{name: "target missing", holder: ours, target: rt.Ref(rt.Account, "missing"), from: &ours,
			kind: registry.ErrNameUnknown},
		{name: "malformed digest", holder: ours, target: repo, from: &ours, digest: "sha256:nope",
			kind: registry.ErrDigestInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, registry.Options{Authorizer: tc.authz})
			for _, r := range []registry.RepoRef{ours, theirs, rt.Ref(rt.Account, "empty")} {
				e.CreateRepository(t, r.AccountID, r.Name)
			}
			e.PutBlob(t, rt.Root(tc.holder.AccountID), tc.holder, content)
			dg := tc.digest
			if dg == "" {
				dg = d.String()
			}
			ok, err := e.Service.MountBlob(ctx, root, tc.target, tc.from, dg)
			if tc.kind != nil {
				wantKind(t, err, tc.kind)
				return
			}
			if err != nil || ok != tc.mounted {
				t.Fatalf("MountBlob = %v, %v; want %v", ok, err, tc.mounted)
			}
			_, size, err := e.Service.StatBlob(ctx, root, tc.target, d.String())
			switch {
			case tc.mounted && (err != nil || size != int64(len(content))):
				t.Fatalf("after mount StatBlob = %d, %v", size, err)
			case !tc.mounted && !errors.Is(err, registry.ErrBlobUnknown):
				t.Fatalf("blob visible in target without a mount: %v", err)
			}
		})
	}
}

func TestCreateOnPush(t *testing.T) {
	t.Parallel()
	missing := rt.Ref(rt.Account, "team/new")
	tests := []struct {
		name    string
		on      bool
		authz   registry.Authorizer
		push    func(e *rt.Env) error
		created bool
		kind    error
		hint    bool // the message says how to create the repository
	}{
		{"upload creates when on", true, nil, func(e *rt.Env) error {
			_, err := e.Service.StartUpload(ctx, root, missing)
			return err
		}, true, nil, false},
		{"monolithic blob creates when on", true, nil, func(e *rt.Env) error {
			_, err := e.Service.PutBlob(ctx, root, missing, digest.FromString("x").String(), 1, strings.NewReader("x"))
			return err
		}, true, nil, false},
		{"upload refused when off", false, nil, func(e *rt.Env) error {
			_, err := e.Service.StartUpload(ctx, root, missing)
			return err
		}, false, registry.ErrNameUnknown, true},
		{"manifest refused when off", false, nil, func(e *rt.Env) error {
			_, err := e.Service.PutManifest(ctx, root, missing, "v1", "", rt.Image{Config: []byte("{}")}.JSON(), nil)
			return err
		}, false, registry.ErrNameUnknown, true},
		{"pull never creates", true, nil, func(e *rt.Env) error {
			_, err := e.Service.GetManifest(ctx, root, missing, "v1")
			return err
		}, false, registry.ErrNameUnknown, false},
		{"CreateRepository denied", true, rt.AuthorizerFunc(func(_ context.Context, req registry.AccessRequest) error {
			if req.Action == registry.ActionCreateRepository {
				return registry.DeniedError(req, "test")
			}
			return nil
		}), func(e *rt.Env) error {
			_, err := e.Service.StartUpload(ctx, root, missing)
			return err
		}, false, registry.ErrDenied, false},
		{"other account never created", true, nil, func(e *rt.Env) error {
			_, err := e.Service.StartUpload(ctx, root, rt.Ref(rt.OtherAccount, "team/new"))
			return err
		}, false, registry.ErrDenied, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := rt.New(t, registry.Options{CreateOnPush: tc.on, Authorizer: tc.authz})
			err := tc.push(e)
			if tc.kind != nil {
				wantKind(t, err, tc.kind)
			} else if err != nil {
				t.Fatalf("push: %v", err)
			}
			msg := ""
			if err != nil {
				msg = registry.Message(err)
			}
			hint := strings.Contains(msg, "aws ecr create-repository --repository-name team/new") &&
				strings.Contains(msg, "createOnPush")
			if tc.hint != hint {
				t.Errorf("message %q: mentions how to create the repository = %v, want %v", msg, hint, tc.hint)
			}
			if tc.kind == registry.ErrNameUnknown && !strings.Contains(msg, "'team/new'") {
				t.Errorf("message %q does not name the repository", msg)
			}
			names := append(e.RepositoryNames(t, rt.Account), e.RepositoryNames(t, rt.OtherAccount)...)
			if created := len(names) == 1; created != tc.created {
				t.Fatalf("repositories = %v, want created = %v", names, tc.created)
			}
			if tc.created {
				r, err := e.Meta.GetRepository(ctx, rt.Account, "team/new")
				if err != nil || r.ImageTagMutability != "MUTABLE" || r.EncryptionType != "AES256" {
					t.Fatalf("created repository = %+v, %v", r, err)
				}
			}
		})
	}
}

// TestNamesValidatedFirst: malformed names fail before any lookup or
// authorization, and create nothing.
func TestNamesValidatedFirst(t *testing.T) {
	t.Parallel()
	e := rt.New(t, registry.Options{CreateOnPush: true})
	for _, name := range []string{"..", "a//b", "Upper", "-a", "a", strings.Repeat("a", 257), "123456789012/x", "a/../b"} {
		r := rt.Ref(rt.Account, name)
		_, err := e.Service.StartUpload(ctx, root, r)
		if !errors.Is(err, registry.ErrNameInvalid) {
			t.Errorf("StartUpload(%q) err = %v, want ErrNameInvalid", name, err)
		}
		_, err = e.Service.PutManifest(ctx, root, r, "v1", "", []byte("{}"), nil)
		if !errors.Is(err, registry.ErrNameInvalid) {
			t.Errorf("PutManifest(%q) err = %v, want ErrNameInvalid", name, err)
		}
		// Even a principal of another account learns only that the name is bad.
		_, err = e.Service.GetManifest(ctx, rt.Root(rt.OtherAccount), r, "v1")
		if !errors.Is(err, registry.ErrNameInvalid) {
			t.Errorf("GetManifest(%q) err = %v, want ErrNameInvalid", name, err)
		}
	}
	if names := e.RepositoryNames(t, rt.Account); len(names) != 0 {
		t.Fatalf("repositories created: %v", names)
	}
	if f := e.UploadFiles(t); len(f) != 0 {
		t.Fatalf("uploads created: %v", f)
	}
}

// TestAccountAuthorizer checks the denial and its AWS message shape
// through the service, before any existence check.
func TestAccountAuthorizer(t *testing.T) {
	t.Parallel()
	e := rt.New(t, registry.Options{})
	e.CreateRepository(t, rt.OtherAccount, "xy")
	const msg = "User: arn:aws:iam::111111111111:root is not authorized to perform: ecr:BatchGetImage " +
		"on resource: arn:aws:ecr:us-east-1:222222222222:repository/%s " +
		"because no resource-based policy allows the ecr:BatchGetImage action"
	for _, name := range []string{"xy", "does-not-exist"} {
		_, err := e.Service.GetManifest(ctx, root, rt.Ref(rt.OtherAccount, name), "latest")
		wantKind(t, err, registry.ErrDenied)
		if want := fmt.Sprintf(msg, name); registry.Message(err) != want {
			t.Errorf("message =\n%s\nwant\n%s", registry.Message(err), want)
		}
	}
	user := auth.Principal{Type: auth.TypeIAMUser, AccountID: rt.Account, UserName: "ci"}
	tests := []struct {
		who     auth.Principal
		action  string
		account string
		want    string // "" allowed, else the message
	}{
		{root, registry.ActionBatchGetImage, rt.Account, ""},
		{user, registry.ActionPutImage, rt.Account, ""},
		{root, registry.ActionBatchGetImage, rt.OtherAccount, fmt.Sprintf(msg, "x")},
		{user, registry.ActionPutImage, rt.OtherAccount, "User: arn:aws:iam::111111111111:user/ci is not authorized to perform: ecr:PutImage " +
			"on resource: arn:aws:ecr:us-east-1:222222222222:repository/x because no resource-based policy allows the ecr:PutImage action"},
		{auth.Principal{Type: auth.TypeAnonymous, AccountID: rt.Account}, registry.ActionPutImage, rt.Account,
			"User: * is not authorized to perform: ecr:PutImage on resource: arn:aws:ecr:us-east-1:111111111111:repository/x " +
				"because no resource-based policy allows the ecr:PutImage action"},
	}
	for _, tc := range tests {
		req := registry.AccessRequest{Principal: tc.who, Action: tc.action,
			Resource: e.Service.ARN(rt.Ref(tc.account, "x")), ResourceAccount: tc.account}
		err := registry.AccountAuthorizer{}.Authorize(ctx, req)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v on %s: %v, want allowed", tc.who, tc.account, err)
		case tc.want != "" && (!errors.Is(err, registry.ErrDenied) || registry.Message(err) != tc.want):
			t.Errorf("%v on %s: %v, want %q", tc.who, tc.account, err, tc.want)
		}
	}
}
