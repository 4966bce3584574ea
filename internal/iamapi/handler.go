// Package iamapi serves the IAM and STS subset Berth implements over the
// AWS query protocol (POST / with a form body: Action=<Op>&Version=…), so
// `aws iam …`, `aws sts get-caller-identity` and the SDKs work against
// Berth unchanged. Every request is SigV4-verified; answers and errors are
// XML as IAM and STS send them. The identity service does the work.
package iamapi

import (
	"context"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/uuid"

	"github.com/berth-registry/berth/internal/audit"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/httpserver"
	"github.com/berth-registry/berth/internal/identity"
)

// API versions and their XML namespaces.
const (
	iamVersion   = "2010-05-08"
	stsVersion   = "2011-06-15"
	iamNamespace = "https://iam.amazonaws.com/doc/2010-05-08/"
	stsNamespace = "https://sts.amazonaws.com/doc/2011-06-15/"
	// maxBody bounds a request. The largest is a 131,072-character policy
	// document, URL-encoded.
	maxBody  = 1 << 20
	formType = "application/x-www-form-urlencoded"
)

// Options configures the handler. Service and Auth are required.
type Options struct {
	Service *identity.Service
	// Auth verifies SigV4 signatures for the signing names "iam" and "sts".
	Auth   auth.RequestAuthenticator
	Logger *slog.Logger
}

// Handler serves the IAM and STS query APIs.
type Handler struct {
	svc  *identity.Service
	auth auth.RequestAuthenticator
	log  *slog.Logger
	iam  map[string]opFunc
	sts  map[string]opFunc
}

// opFunc serves one action: it returns the <Action>Result element's
// content, or nil for actions without a result.
type opFunc func(ctx context.Context, who auth.Principal, p params) (any, error)

// New builds the handler.
func New(o Options) *Handler {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{svc: o.Service, auth: o.Auth, log: o.Logger}
	h.iam = h.iamOperations()
	h.sts = map[string]opFunc{"GetCallerIdentity": h.getCallerIdentity}
	return h
}

// IsQueryRequest reports whether r is a query-protocol call: POST / with a
// form body and no X-Amz-Target (which marks the JSON APIs).
func IsQueryRequest(r *http.Request) bool {
	if r.Method != http.MethodPost || r.URL.Path != "/" || r.Header.Get("X-Amz-Target") != "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == formType
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rid := requestID(w)
	w.Header().Set("X-Amzn-Requestid", rid)
	ctx := r.Context()
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		h.writeError(ctx, w, iamNamespace, rid, "", wireError(codeInvalidAction, "The IAM and STS APIs are served by POST /."))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		h.writeError(ctx, w, iamNamespace, rid, "", wireError(codeMalformedQueryString, "The request body could not be read."))
		return
	}
	if len(body) > maxBody {
		h.writeError(ctx, w, iamNamespace, rid, "", wireError(codeRequestTooLarge, "The request body exceeds 1048576 bytes."))
		return
	}
	// Parsed before authentication only to choose the error namespace; a
	// parse failure is reported after authentication.
	form, parseErr := url.ParseQuery(string(body))
	action, version := form.Get("Action"), form.Get("Version")
	ns := iamNamespace
	if version == stsVersion {
		ns = stsNamespace
	}
	if h.known(action, version) {
		httpserver.SetRoute(ctx, action) // an implemented action: a fixed set
	} else {
		httpserver.SetRoute(ctx, "unknown")
	}
	note := audit.NoteFrom(ctx)
	source := audit.SourceIAM
	if version == stsVersion {
		source = audit.SourceSTS
	}
	note.Call(source, action, isReadOnly(action))
	if parseErr == nil {
		note.RequestForm(form)
	}
	who, err := h.auth.AuthenticateRequest(r, body)
	if err != nil {
		note.AuthFailed(r.Header.Get("Authorization"))
		h.writeError(ctx, w, ns, rid, action, err)
		return
	}
	httpserver.SetPrincipal(ctx, who.ARN())
	note.Principal(who)
	if parseErr != nil {
		h.writeError(ctx, w, ns, rid, action, wireError(codeMalformedQueryString, "The request body is not a valid form."))
		return
	}
	fn, err := h.operation(action, version)
	if err != nil {
		h.writeError(ctx, w, ns, rid, action, err)
		return
	}
	result, err := fn(ctx, who, params(form))
	if err != nil {
		h.writeError(ctx, w, ns, rid, action, err)
		return
	}
	h.writeResult(ctx, w, ns, action, rid, result)
}

// known reports whether the API version has the action.
func (h *Handler) known(action, version string) bool {
	_, err := h.operation(action, version)
	return err == nil
}

// isReadOnly tells CloudTrail's readOnly from the action's name.
func isReadOnly(action string) bool {
	return strings.HasPrefix(action, "Get") || strings.HasPrefix(action, "List")
}

// operation finds the action of the API version.
func (h *Handler) operation(action, version string) (opFunc, error) {
	if action == "" {
		return nil, wireError(codeMissingAction, "The request must contain the parameter Action.")
	}
	var fn opFunc
	switch version {
	case iamVersion:
		fn = h.iam[action]
	case stsVersion:
		fn = h.sts[action]
	}
	if fn == nil {
		return nil, wireError(codeInvalidAction, "Could not find operation "+action+" for version "+version)
	}
	return fn, nil
}

// requestID reuses the id the middleware set, so logs and clients agree.
func requestID(w http.ResponseWriter) string {
	if id := w.Header().Get("X-Request-Id"); id != "" {
		return id
	}
	return uuid.NewString()
}

// getCallerIdentity serves STS GetCallerIdentity.
func (h *Handler) getCallerIdentity(ctx context.Context, who auth.Principal, _ params) (any, error) {
	id, err := h.svc.CallerIdentity(ctx, who)
	if err != nil {
		return nil, err
	}
	return callerIdentityResult{Arn: id.ARN, UserID: id.UserID, Account: id.Account}, nil
}

type callerIdentityResult struct {
	Arn     string `xml:"Arn"`
	UserID  string `xml:"UserId"`
	Account string `xml:"Account"`
}
