package ociapi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/metastore"
	"github.com/berth-registry/berth/internal/ociapi"
	"github.com/berth-registry/berth/internal/registry"
	rt "github.com/berth-registry/berth/internal/registry/registrytest"
)

const registryHost = "registry.test"

var (
	ctx  = context.Background()
	root = rt.Root(rt.Account)
)

// Principals a request can act as.
const (
	asDefault  = ""          // root key of rt.Account
	asOther    = "other"     // root key of rt.OtherAccount
	asNobody   = "nobody"    // no Authorization header
	asInactive = "inactive"  // a deactivated key of rt.Account
	asWrong    = "wrong"     // a valid key id with the wrong secret
	asUnknown  = "unknown"   // a well-formed key id that does not exist
	asExpired  = "expired"   // AWS with an expired registry password
	asToken    = "token"     // AWS with a valid registry password
	asBadKeyID = "bad-keyid" // a key id of the wrong shape
)

// server is the /v2 handler over real stores behind a real listener.
type server struct {
	*rt.Env
	h    *ociapi.Handler
	url  string
	c    *http.Client
	keys map[string][2]string // principal → id, secret
}

type tokens func(ctx context.Context, password string) (auth.Principal, error)

func (f tokens) VerifyPassword(ctx context.Context, password string) (auth.Principal, error) {
	return f(ctx, password)
}

// newServer starts a server; repositories "app" (default account) and
// "app" (other account) exist.
func newServer(t *testing.T, opts registry.Options) *server {
	t.Helper()
	e := rt.New(t, opts)
	e.CreateRepository(t, rt.Account, "app")
	e.CreateRepository(t, rt.OtherAccount, "app")
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	sealer, err := auth.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	s := &server{Env: e, keys: map[string][2]string{}}
	for who, acct := range map[string]string{asDefault: rt.Account, asOther: rt.OtherAccount, asInactive: rt.Account} {
		id, secret, err := auth.GenerateAccessKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		sealed, err := sealer.Seal([]byte(secret), []byte(id))
		if err != nil {
			t.Fatal(err)
		}
		k := metastore.AccessKey{ID: id, AccountID: acct, SecretCiphertext: sealed, Active: who != asInactive}
		if err := e.Meta.CreateAccessKey(context.Background(), k); err != nil {
			t.Fatal(err)
		}
		s.keys[who] = [2]string{id, secret}
	}
	s.keys[asWrong] = [2]string{s.keys[asDefault][0], s.keys[asDefault][1] + "x"}
	s.keys[asUnknown] = [2]string{"AKIAAAAAAAAAAAAAAAAA", "secret"}
	s.keys[asBadKeyID] = [2]string{"akia-lowercase", "secret"}
	s.keys[asExpired] = [2]string{"AWS", "expired"}
	s.keys[asToken] = [2]string{"AWS", "good"}
	authn := &auth.KeyAuthenticator{Keys: e.Meta, Sealer: sealer, Tokens: tokens(func(_ context.Context, pw string) (auth.Principal, error) {
		switch pw {
		case "good":
			return rt.Root(rt.Account), nil
		case "expired":
			return auth.Principal{}, auth.ErrExpired
		}
		return auth.Principal{}, auth.ErrUnauthenticated
	})}
	srv := httptest.NewUnstartedServer(nil)
	s.url = "http://" + srv.Listener.Addr().String()
	s.h = ociapi.New(ociapi.Options{Service: e.Service, Auth: authn, DefaultAccount: rt.Account,
		RegistryHost: registryHost, RegistryURL: s.url})
	srv.Config.Handler = s.h
	srv.Start()
	t.Cleanup(srv.Close)
	s.c = srv.Client()
	return s
}

// req is one HTTP request to the server.
type req struct {
	method, path string
	body         []byte
	chunked      bool // send the body without Content-Length
	header       map[string]string
	as           string
	host         string
}

func (s *server) newRequest(t *testing.T, q req) *http.Request {
	t.Helper()
	var body io.Reader
	if q.body != nil {
		body = bytes.NewReader(q.body)
		if q.chunked {
			body = struct{ io.Reader }{body}
		}
	}
	r, err := http.NewRequest(q.method, s.url+q.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if q.as != asNobody {
		k, ok := s.keys[q.as]
		if !ok {
			t.Fatalf("no principal %q", q.as)
		}
		r.SetBasicAuth(k[0], k[1])
	}
	for k, v := range q.header {
		r.Header.Set(k, v)
	}
	if q.host != "" {
		r.Host = q.host
	}
	return r
}

// do sends q and returns the response with its body read. Every response,
// errors included, must carry the distribution API version header.
func (s *server) do(t *testing.T, q req) (*http.Response, []byte) {
	t.Helper()
	resp, err := s.c.Do(s.newRequest(t, q))
	if err != nil {
		t.Fatalf("%s %s: %v", q.method, q.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", q.method, q.path, err)
	}
	if v := resp.Header.Get("Docker-Distribution-Api-Version"); v != "registry/2.0" {
		t.Errorf("%s %s: Docker-Distribution-Api-Version = %q", q.method, q.path, v)
	}
	return resp, b
}

// record serves q in-process, so that a body written to a HEAD response
// shows (net/http would silently drop it on the wire).
func (s *server) record(t *testing.T, q req) *httptest.ResponseRecorder {
	t.Helper()
	r := s.newRequest(t, q)
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, r)
	return w
}

// wire is the OCI error envelope, decoded strictly.
type wire struct {
	Errors []struct {
		Code    string          `json:"code"`
		Message string          `json:"message"`
		Detail  json.RawMessage `json:"detail"`
	} `json:"errors"`
}

// wantError checks status, content type and an envelope of exactly one
// error with code and a message; it returns the message and detail.
func wantError(t *testing.T, resp *http.Response, body []byte, status int, code string) (string, json.RawMessage) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("%s %s: status = %d, want %d; body %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("error Content-Type = %q", ct)
	}
	var w wire
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	if len(w.Errors) != 1 || w.Errors[0].Code != code || w.Errors[0].Message == "" {
		t.Fatalf("%s %s: errors = %s, want one %s with a message", resp.Request.Method, resp.Request.URL.Path, body, code)
	}
	return w.Errors[0].Message, w.Errors[0].Detail
}

func wantStatus(t *testing.T, resp *http.Response, body []byte, status int) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("%s %s: status = %d, want %d; body %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, status, body)
	}
}

// wantHeaders checks exact header values; "" means absent.
func wantHeaders(t *testing.T, resp *http.Response, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got := resp.Header.Values(k); (v == "" && len(got) != 0) || (v != "" && !slices.Equal(got, []string{v})) {
			t.Errorf("%s %s: %s = %q, want %q", resp.Request.Method, resp.Request.URL.Path, k, got, v)
		}
	}
}

// startUpload opens an upload in path's repository and returns its
// Location.
func (s *server) startUpload(t *testing.T, name string, as string) string {
	t.Helper()
	resp, body := s.do(t, req{method: http.MethodPost, path: "/v2/" + name + "/blobs/uploads/", as: as})
	wantStatus(t, resp, body, http.StatusAccepted)
	return resp.Header.Get("Location")
}

// pushBlob uploads content monolithically into name.
func (s *server) pushBlob(t *testing.T, name string, content []byte) digest.Digest {
	t.Helper()
	d := digest.FromBytes(content)
	resp, body := s.do(t, req{method: http.MethodPost, path: "/v2/" + name + "/blobs/uploads/?digest=" + d.String(), body: content})
	wantStatus(t, resp, body, http.StatusCreated)
	return d
}

// pushImage pushes im's blobs and its manifest under tag into name.
func (s *server) pushImage(t *testing.T, name, tag string, im rt.Image) ([]byte, digest.Digest) {
	t.Helper()
	s.pushBlob(t, name, im.Config)
	for _, l := range im.Layers {
		s.pushBlob(t, name, l)
	}
	body := im.JSON()
	resp, b := s.do(t, req{method: http.MethodPut, path: "/v2/" + name + "/manifests/" + tag, body: body,
		header: map[string]string{"Content-Type": "application/vnd.oci.image.manifest.v1+json"}})
	wantStatus(t, resp, b, http.StatusCreated)
	return body, digest.FromBytes(body)
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	s := newServer(t, registry.Options{})
	challenge := `Basic realm="` + s.url + `/",service="ecr.amazonaws.com"`
	tests := []struct {
		as     string
		path   string
		status int
		code   string
	}{
		{asDefault, "/v2/", http.StatusOK, ""},
		{asToken, "/v2/", http.StatusOK, ""},
		{asNobody, "/v2/", http.StatusUnauthorized, "UNAUTHORIZED"},
		{asNobody, "/v2/app/tags/list", http.StatusUnauthorized, "UNAUTHORIZED"},
		{asNobody, "/not/v2", http.StatusUnauthorized, "UNAUTHORIZED"},
		{asWrong, "/v2/", http.StatusUnauthorized, "UNAUTHORIZED"},
		{asUnknown, "/v2/", http.StatusUnauthorized, "UNAUTHORIZED"},
		{asBadKeyID, "/v2/", http.StatusUnauthorized, "UNAUTHORIZED"},
		{asInactive, "/v2/", http.StatusUnauthorized, "UNAUTHORIZED"},
		{asExpired, "/v2/", http.StatusForbidden, "DENIED"},
	}
	for _, tc := range tests {
		t.Run(tc.as+tc.path, func(t *testing.T) {
			t.Parallel()
			resp, body := s.do(t, req{method: http.MethodGet, path: tc.path, as: tc.as})
			if tc.code == "" {
				wantStatus(t, resp, body, tc.status)
				wantHeaders(t, resp, map[string]string{"WWW-Authenticate": ""})
				return
			}
			msg, _ := wantError(t, resp, body, tc.status, tc.code)
			if tc.status == http.StatusUnauthorized {
				wantHeaders(t, resp, map[string]string{"WWW-Authenticate": challenge})
			}
			if tc.as == asExpired && msg != "Your authorization token has expired. Reauthenticate and try again." {
				t.Errorf("message = %q", msg)
			}
		})
	}
}

// TestChallengeRealm: the realm is the registry URL with one trailing slash.
func TestChallengeRealm(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"https://registry.example", "https://registry.example/"} {
		h := ociapi.New(ociapi.Options{RegistryURL: u})
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/v2/", nil))
		want := `Basic realm="https://registry.example/",service="ecr.amazonaws.com"`
		if got := w.Header().Get("WWW-Authenticate"); w.Code != http.StatusUnauthorized || got != want {
			t.Errorf("RegistryURL %q: %d, WWW-Authenticate %q; want 401, %q", u, w.Code, got, want)
		}
	}
}

func TestBase(t *testing.T) {
	t.Parallel()
	s := newServer(t, registry.Options{})
	for _, path := range []string{"/v2/", "/v2"} {
		resp, body := s.do(t, req{method: http.MethodGet, path: path})
		wantStatus(t, resp, body, http.StatusOK)
		wantHeaders(t, resp, map[string]string{"Content-Type": "application/json", "Content-Length": "2"})
		if string(body) != "{}" {
			t.Errorf("GET %s body = %q, want {}", path, body)
		}
	}
}

func TestRouting(t *testing.T) {
	t.Parallel()
	s := newServer(t, registry.Options{})
	const id = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
	dg := digest.FromString("x").String()
	tests := []struct {
		method, path string
		status       int
		code         string
	}{
		{http.MethodGet, "/v2/app/unknown", http.StatusNotFound, "NOT_FOUND"},
		{http.MethodGet, "/v2/app/manifests/", http.StatusNotFound, "NOT_FOUND"},
		{http.MethodGet, "/v3/", http.StatusNotFound, "NOT_FOUND"},
		{http.MethodGet, "/v2/_catalog/", http.StatusNotFound, "NOT_FOUND"},
		{http.MethodGet, "/v2/app", http.StatusNotFound, "NOT_FOUND"},
		{http.MethodPost, "/v2/", http.StatusMethodNotAllowed, "UNSUPPORTED"},
		{http.MethodDelete, "/v2/_catalog", http.StatusMethodNotAllowed, "UNSUPPORTED"},
		{http.MethodPut, "/v2/app/tags/list", http.StatusMethodNotAllowed, "UNSUPPORTED"},
		{http.MethodPost, "/v2/app/manifests/latest", http.StatusMethodNotAllowed, "UNSUPPORTED"},
		{http.MethodPatch, "/v2/app/manifests/latest", http.StatusMethodNotAllowed, "UNSUPPORTED"},
		{http.MethodPut, "/v2/app/blobs/" + dg, http.StatusMethodNotAllowed, "UNSUPPORTED"},
		{http.MethodPatch, "/v2/app/blobs/" + dg, http.StatusMethodNotAllowed, "UNSUPPORTED"},
		{http.MethodGet, "/v2/app/blobs/uploads/", http.StatusMethodNotAllowed, "UNSUPPORTED"},
		{http.MethodPost, "/v2/app/blobs/uploads/" + id, http.StatusMethodNotAllowed, "UNSUPPORTED"},
		{http.MethodDelete, "/v2/app/referrers/" + dg, http.StatusMethodNotAllowed, "UNSUPPORTED"},
	}
	for _, tc := range tests {
		resp, body := s.do(t, req{method: tc.method, path: tc.path})
		wantError(t, resp, body, tc.status, tc.code)
	}
}

// TestHeadHasNoBody serves HEAD requests in-process, where a body the
// handler writes would be visible.
func TestHeadHasNoBody(t *testing.T) {
	t.Parallel()
	s := newServer(t, registry.Options{})
	manifest, md := s.pushImage(t, "app", "v1", rt.Image{Config: []byte("{}"), Layers: [][]byte{[]byte("12345")}})
	ld := digest.FromString("12345")
	tests := []struct {
		name    string
		path    string
		as      string
		status  int
		headers map[string]string
	}{
		{"base", "/v2/", asDefault, http.StatusOK, map[string]string{"Content-Length": "2"}},
		{"manifest by tag", "/v2/app/manifests/v1", asDefault, http.StatusOK, map[string]string{
			"Content-Length": strconv.Itoa(len(manifest)), "Docker-Content-Digest": md.String(),
			"Content-Type": "application/vnd.oci.image.manifest.v1+json"}},
		{"manifest by digest", "/v2/app/manifests/" + md.String(), asDefault, http.StatusOK, map[string]string{
			"Docker-Content-Digest": md.String()}},
		{"blob", "/v2/app/blobs/" + ld.String(), asDefault, http.StatusOK, map[string]string{
			"Content-Length": "5", "Docker-Content-Digest": ld.String()}},
		{"missing manifest", "/v2/app/manifests/v2", asDefault, http.StatusNotFound, nil},
		{"missing blob", "/v2/app/blobs/" + digest.FromString("none").String(), asDefault, http.StatusNotFound, nil},
		{"unauthenticated", "/v2/app/manifests/v1", asNobody, http.StatusUnauthorized, nil},
		{"denied", "/v2/222222222222/app/manifests/v1", asDefault, http.StatusForbidden, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := s.record(t, req{method: http.MethodHead, path: tc.path, as: tc.as})
			if w.Code != tc.status || w.Body.Len() != 0 {
				t.Fatalf("HEAD %s = %d with %d body bytes %q; want %d and none", tc.path, w.Code, w.Body.Len(), w.Body, tc.status)
			}
			for k, v := range tc.headers {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if got := w.Header().Get("Docker-Distribution-Api-Version"); got != "registry/2.0" {
				t.Errorf("Docker-Distribution-Api-Version = %q", got)
			}
		})
	}
}

// TestInternalError: a failing store answers 500 UNKNOWN without leaking
// the cause, and a database failure during authentication is not a 401.
func TestInternalError(t *testing.T) {
	t.Parallel()
	s := newServer(t, registry.Options{})
	s.CloseMeta(t)
	for _, q := range []req{
		{method: http.MethodGet, path: "/v2/app/tags/list"},
		{method: http.MethodGet, path: "/v2/app/tags/list", as: asToken},
	} {
		resp, body := s.do(t, q)
		msg, detail := wantError(t, resp, body, http.StatusInternalServerError, "UNKNOWN")
		if strings.Contains(strings.ToLower(msg), "sql") || detail != nil {
			t.Errorf("internal error leaks its cause: %s", body)
		}
		wantHeaders(t, resp, map[string]string{"WWW-Authenticate": ""})
	}
}
