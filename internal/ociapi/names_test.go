package ociapi_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/registry"
	rt "github.com/berth-registry/berth/internal/registry/registrytest"
)

func TestAccountAddressing(t *testing.T) {
	t.Parallel()
	s := newServer(t, registry.Options{})
	other := "222222222222." + registryHost

	// Push into the other account by path prefix, as its root.
	loc := s.startUpload(t, "222222222222/app", asOther)
	if !strings.HasPrefix(loc, "/v2/222222222222/app/blobs/uploads/") {
		t.Fatalf("Location = %q, want the account prefix kept", loc)
	}
	d := digest.FromString("theirs")
	resp, body := s.do(t, req{method: http.MethodPut, path: loc + "?digest=" + d.String(), body: []byte("theirs"), as: asOther})
	wantStatus(t, resp, body, http.StatusCreated)
	wantHeaders(t, resp, map[string]string{"Location": "/v2/222222222222/app/blobs/" + d.String()})
	if _, _, err := s.Service.StatBlob(ctx, rt.Root(rt.OtherAccount), rt.Ref(rt.OtherAccount, "app"), d.String()); err != nil {
		t.Fatalf("blob not in the other account's repository: %v", err)
	}
	if _, _, err := s.Service.StatBlob(ctx, root, rt.Ref(rt.Account, "app"), d.String()); err == nil {
		t.Fatal("blob landed in the default account too")
	}

	blob := "/v2/app/blobs/" + d.String()
	tests := []struct {
		name   string
		path   string
		host   string
		as     string
		status int
	}{
		{"host label", blob, other, asOther, 200},
		{"host label, any case", blob, "222222222222.Registry.TEST", asOther, 200},
		{"path prefix", "/v2/222222222222/app/blobs/" + d.String(), "", asOther, 200},
		{"path prefix beats host", blob[:4] + "222222222222/" + blob[4:], "333333333333." + registryHost, asOther, 200},
		{"host of another registry", blob, "222222222222.elsewhere.test", asOther, 403},
		{"label not an account", blob, "22222222222." + registryHost, asOther, 403},
		{"bare registry host", blob, registryHost, asOther, 403},
		{"cross-account by host", blob, other, asDefault, 403},
		{"cross-account by path", "/v2/222222222222/app/blobs/" + d.String(), "", asDefault, 403},
		{"default account", blob, "", asDefault, 404},
	}
	for _, tc := range tests {
		resp, body := s.do(t, req{method: http.MethodGet, path: tc.path, host: tc.host, as: tc.as})
		if resp.StatusCode != tc.status {
			t.Errorf("%s: GET %s (Host %q) = %d, want %d; %s", tc.name, tc.path, tc.host, resp.StatusCode, tc.status, body)
		}
	}

	// The denial names the caller, the action and the other account's repository.
	resp, body = s.do(t, req{method: http.MethodGet, path: "/v2/222222222222/app/manifests/v1"})
	msg, _ := wantError(t, resp, body, http.StatusForbidden, "DENIED")
	want := "User: arn:aws:iam::111111111111:root is not authorized to perform: ecr:BatchGetImage on resource: " +
		"arn:aws:ecr:us-east-1:222222222222:repository/app because no resource-based policy allows the ecr:BatchGetImage action"
	if msg != want {
		t.Errorf("message =\n%s\nwant\n%s", msg, want)
	}
}

// TestHostileNames: malformed names are refused with NAME_INVALID before
// anything is created or stored.
// TestHostAddressingIgnoresPort: the account label is read from the host
// name; a port in the Host header must not silently send the request to
// the default account instead.
func TestHostAddressingIgnoresPort(t *testing.T) {
	t.Parallel()
	s := newServer(t, registry.Options{})
	s.PutBlob(t, rt.Root(rt.OtherAccount), rt.Ref(rt.OtherAccount, "app"), []byte("theirs"))
	path := "/v2/app/blobs/" + digest.FromString("theirs").String()
	for _, host := range []string{"222222222222." + registryHost, "222222222222." + registryHost + ":443"} {
		resp, body := s.do(t, req{method: http.MethodHead, path: path, host: host, as: asOther})
		if resp.StatusCode != http.StatusOK {
			t.Errorf("HEAD %s with Host %q = %d %s; want 200 from account 222222222222", path, host, resp.StatusCode, body)
		}
	}
}

func TestHostileNames(t *testing.T) {
	t.Parallel()
	s := newServer(t, registry.Options{CreateOnPush: true})
	content := []byte("payload")
	d := digest.FromBytes(content)
	names := []string{
		"..", "%2e%2e", "a/../b", "a%2F..%2Fb", "./a", "a//b", "a/", "UPPER", "Mixed/case", "-a", "a",
		strings.Repeat("a", 257), "a%00b", "a%20b", "a:b", "222222222222", "111111111111/UPPER",
		"111111111111/222222222222/x", "111111111111/..",
	}
	for _, name := range names {
		for _, q := range []req{
			{method: http.MethodPost, path: "/v2/" + name + "/blobs/uploads/"},
			{method: http.MethodPost, path: "/v2/" + name + "/blobs/uploads/?digest=" + d.String(), body: content},
			{method: http.MethodPost, path: "/v2/" + name + "/blobs/uploads/?mount=" + d.String() + "&from=app"},
			{method: http.MethodPut, path: "/v2/" + name + "/manifests/v1", body: rt.Image{Config: content}.JSON(),
				header: map[string]string{"Content-Type": ociManifest}},
			{method: http.MethodGet, path: "/v2/" + name + "/tags/list"},
		} {
			resp, body := s.do(t, q)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"NAME_INVALID"`) {
				t.Errorf("%s %s = %d %s; want 400 NAME_INVALID", q.method, q.path, resp.StatusCode, body)
			}
		}
	}
	for _, acct := range []string{rt.Account, rt.OtherAccount} {
		if got := s.RepositoryNames(t, acct); !slices.Equal(got, []string{"app"}) {
			t.Errorf("repositories of %s = %v, want only app", acct, got)
		}
	}
	if n := s.StoredBlobs(t); n != 0 {
		t.Errorf("%d blobs stored", n)
	}
	if f := s.UploadFiles(t); len(f) != 0 {
		t.Errorf("uploads started: %v", f)
	}
}

// TestNamesWithEndpointWords pushes and pulls repositories whose names
// contain the path elements the router matches on.
func TestNamesWithEndpointWords(t *testing.T) {
	t.Parallel()
	s := newServer(t, registry.Options{CreateOnPush: true})
	names := []string{"a/manifests/b", "a/blobs/b", "a/blobs/uploads/b", "t/tags/list", "r/referrers/s", "manifests", "blobs/uploads"}
	for _, name := range names {
		_, d := s.pushImage(t, name, "v1", image)
		loc := s.startUpload(t, name, asDefault)
		if !strings.HasPrefix(loc, "/v2/"+name+"/blobs/uploads/") {
			t.Errorf("%s: upload Location = %q", name, loc)
		}
		for _, path := range []string{"/manifests/v1", "/manifests/" + d.String(), "/blobs/" + digest.FromBytes(image.Config).String(),
			"/referrers/" + d.String(), "/tags/list", loc[len("/v2/"+name):]} {
			resp, body := s.do(t, req{method: http.MethodGet, path: "/v2/" + name + path})
			if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
				t.Errorf("GET /v2/%s%s = %d %s", name, path, resp.StatusCode, body)
			}
		}
	}
	want := append([]string{"app"}, names...)
	slices.Sort(want)
	if got := s.RepositoryNames(t, rt.Account); !slices.Equal(got, want) {
		t.Fatalf("repositories = %v, want %v", got, want)
	}
}

func TestCreateOnPushOff(t *testing.T) {
	t.Parallel()
	s := newServer(t, registry.Options{})
	for _, q := range []req{
		{method: http.MethodPost, path: "/v2/new/repo/blobs/uploads/"},
		{method: http.MethodPut, path: "/v2/new/repo/manifests/v1", body: image.JSON(), header: map[string]string{"Content-Type": ociManifest}},
	} {
		resp, body := s.do(t, q)
		msg, _ := wantError(t, resp, body, http.StatusNotFound, "NAME_UNKNOWN")
		if !strings.Contains(msg, "aws ecr create-repository --repository-name new/repo") {
			t.Errorf("%s %s: message %q does not say how to create the repository", q.method, q.path, msg)
		}
	}
	resp, body := s.do(t, req{method: http.MethodGet, path: "/v2/new/repo/manifests/v1"})
	msg, _ := wantError(t, resp, body, http.StatusNotFound, "NAME_UNKNOWN")
	if strings.Contains(msg, "create-repository") {
		t.Errorf("a pull is told to create the repository: %q", msg)
	}
	if got := s.RepositoryNames(t, rt.Account); !slices.Equal(got, []string{"app"}) {
		t.Fatalf("repositories = %v", got)
	}
}
