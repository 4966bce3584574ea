// Package ociapi serves the OCI Distribution API (spec v1.1) under /v2. It
// parses paths and headers, authenticates every request, calls the
// registry service, and writes OCI errors from one table.
package ociapi

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/berth-registry/berth/internal/audit"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/httpserver"
	"github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/registry"
)

// Options configures the /v2 handler.
type Options struct {
	Service *registry.Service
	Auth    auth.BasicAuthenticator
	// DefaultAccount serves names without an account prefix.
	DefaultAccount string
	// RegistryHost is the host[:port] of the registry; a request Host of
	// <12 digits>.<RegistryHost> addresses that account.
	RegistryHost string
	// RegistryURL is scheme://host of the registry, for the Basic realm.
	RegistryURL string
	// AnonymousPull evaluates unauthenticated reads (GET and HEAD, except
	// the /v2/ ping) as the anonymous principal, which only policies
	// naming "Principal": "*" can allow.
	AnonymousPull bool
	Logger        *slog.Logger
}

// Handler serves /v2.
type Handler struct {
	svc       *registry.Service
	auth      auth.BasicAuthenticator
	opts      Options
	log       *slog.Logger
	challenge string
	table     map[routeKey]func(*request)
	bufs      sync.Pool // *[]byte of blobCopyBuffer bytes, for whole-blob GETs
}

// blobCopyBuffer is the copy buffer for whole-blob GETs.
const blobCopyBuffer = 1 << 20

// New builds the /v2 handler.
func New(o Options) *Handler {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{
		svc: o.Service, auth: o.Auth, opts: o, log: o.Logger,
		challenge: `Basic realm="` + strings.TrimSuffix(o.RegistryURL, "/") + `/",service="ecr.amazonaws.com"`,
	}
	h.table = h.routes()
	h.bufs.New = func() any { b := make([]byte, blobCopyBuffer); return &b }
	return h
}

// request carries what every endpoint handler needs.
type request struct {
	w     http.ResponseWriter
	r     *http.Request
	who   auth.Principal
	route route
	repo  registry.RepoRef
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Docker-Distribution-Api-Version", "registry/2.0")
	rt := parseRoute(r.URL.Path)
	httpserver.SetRoute(r.Context(), rt.ep.String())
	note := audit.NoteFrom(r.Context())
	if note != nil {
		h.noteCall(note, r, rt, h.account(r, rt))
	}
	who, ok := h.authenticate(w, r, rt)
	if !ok {
		return
	}
	httpserver.SetPrincipal(r.Context(), who.ARN())
	note.Principal(who)
	if rt.ep == epNone {
		writeCode(w, r, apiError{Code: codeNotFound, Message: "no such endpoint: " + r.URL.Path})
		return
	}
	req := &request{w: w, r: r, who: who, route: rt,
		repo: registry.RepoRef{AccountID: h.account(r, rt), Name: rt.repo}}
	if rt.account != "" && rt.repo != "" {
		// The name after an account prefix is a repository name of its own;
		// reject a second 12-digit segment here rather than as "unknown".
		if err := oci.ValidateRepositoryName(rt.repo); err != nil {
			writeCode(w, r, apiError{Code: codeNameInvalid, Message: err.Error()})
			return
		}
	}
	h.dispatch(req)
	noteResponse(note, req)
}

// account picks the account a request addresses: the path prefix, else a
// 12-digit first host label on the registry host, else the default.
func (h *Handler) account(r *http.Request, rt route) string {
	if rt.account != "" {
		return rt.account
	}
	if label, rest, ok := strings.Cut(r.Host, "."); ok && oci.IsAccountID(label) &&
		h.opts.RegistryHost != "" && strings.EqualFold(hostname(rest), hostname(h.opts.RegistryHost)) {
		return label
	}
	return h.opts.DefaultAccount
}

// hostname drops a port: clients reach the registry through proxies and
// default ports, so the host name alone identifies it.
func hostname(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

// authenticate requires Basic credentials on every request.
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request, rt route) (auth.Principal, bool) {
	user, pass, ok := r.BasicAuth()
	if !ok && r.Header.Get("Authorization") == "" && h.opts.AnonymousPull && rt.ep != epBase &&
		(r.Method == http.MethodGet || r.Method == http.MethodHead) {
		return auth.Principal{Type: auth.TypeAnonymous}, true
	}
	if !ok {
		h.unauthorized(w, r, "Not Authorized")
		return auth.Principal{}, false
	}
	who, err := h.auth.AuthenticateBasic(r.Context(), user, pass)
	switch {
	case err == nil:
		return who, true
	case errors.Is(err, auth.ErrUnauthenticated):
		audit.NoteFrom(r.Context()).AuthFailed("")
		h.unauthorized(w, r, "Not Authorized: invalid credentials")
	default:
		h.writeError(r.Context(), w, r, err)
	}
	return auth.Principal{}, false
}

func (h *Handler) unauthorized(w http.ResponseWriter, r *http.Request, msg string) {
	w.Header().Set("WWW-Authenticate", h.challenge)
	writeCode(w, r, apiError{Code: codeUnauthorized, Message: msg})
}

// routeKey selects an endpoint handler.
type routeKey struct {
	ep     endpoint
	method string
}

// routes is the /v2 method table, built once.
func (h *Handler) routes() map[routeKey]func(*request) {
	return map[routeKey]func(*request){
		{epBase, http.MethodGet}:        h.base,
		{epBase, http.MethodHead}:       h.base,
		{epCatalog, http.MethodGet}:     h.catalog,
		{epTags, http.MethodGet}:        h.tags,
		{epManifest, http.MethodGet}:    h.getManifest,
		{epManifest, http.MethodHead}:   h.getManifest,
		{epManifest, http.MethodPut}:    h.putManifest,
		{epManifest, http.MethodDelete}: h.deleteManifest,
		{epBlob, http.MethodGet}:        h.getBlob,
		{epBlob, http.MethodHead}:       h.headBlob,
		{epBlob, http.MethodDelete}:     h.deleteBlob,
		{epUploads, http.MethodPost}:    h.startUpload,
		{epUpload, http.MethodGet}:      h.uploadStatus,
		{epUpload, http.MethodPatch}:    h.patchUpload,
		{epUpload, http.MethodPut}:      h.completeUpload,
		{epUpload, http.MethodDelete}:   h.cancelUpload,
		{epReferrers, http.MethodGet}:   h.referrers,
	}
}

// dispatch routes by endpoint and method.
func (h *Handler) dispatch(q *request) {
	fn, ok := h.table[routeKey{q.route.ep, q.r.Method}]
	if !ok {
		writeCode(q.w, q.r, apiError{Code: codeUnsupported, Message: q.r.Method + " is not supported on " + q.r.URL.Path})
		return
	}
	fn(q)
}

func (h *Handler) fail(q *request, err error) {
	// An anonymous caller that is denied is asked to authenticate.
	if q.who.Type == auth.TypeAnonymous && (errors.Is(err, registry.ErrDenied) || errors.Is(err, registry.ErrNameUnknown)) {
		h.unauthorized(q.w, q.r, "Not Authorized")
		return
	}
	h.writeError(q.r.Context(), q.w, q.r, err)
}

func (h *Handler) base(q *request) {
	q.w.Header().Set("Content-Type", "application/json")
	q.w.Header().Set("Content-Length", "2")
	q.w.WriteHeader(http.StatusOK)
	if q.r.Method == http.MethodGet {
		_, _ = q.w.Write([]byte("{}"))
	}
}
