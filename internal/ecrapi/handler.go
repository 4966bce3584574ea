// Package ecrapi serves Amazon ECR's control-plane API (AWS JSON 1.1,
// X-Amz-Target AmazonEC2ContainerRegistry_V20150921.<Op>) so the AWS CLI,
// SDKs and Terraform work against Berth unchanged. Every request is
// SigV4-verified, validated against the embedded service model, and served
// by the registry service; errors come from one exception table.
package ecrapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/audit"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/httpserver"
	"github.com/berth-registry/berth/internal/registry"
)

const (
	targetPrefix = "AmazonEC2ContainerRegistry_V20150921."
	contentType  = "application/x-amz-json-1.1"
	// maxBody bounds a request: UploadLayerPart carries up to 20 MiB of
	// base64 (about 27 MiB) plus a little JSON.
	maxBody = 28 << 20
	// maxSmallBody bounds every other operation (PutImage's 4 MiB
	// manifest may double when JSON-escaped).
	maxSmallBody = 10 << 20
)

// Options configures the ECR API handler.
type Options struct {
	Service *registry.Service
	Auth    auth.RequestAuthenticator
	// Tokens mints registry passwords for GetAuthorizationToken.
	Tokens TokenMinter
	// Signer signs pagination tokens and layer download URLs.
	Signer Signer
	// RegistryURL is scheme://host of the /v2 endpoint (proxyEndpoint).
	RegistryURL string
	// RegistryHost is host[:port] used in repositoryUri.
	RegistryHost string
	// DefaultAccount is the registry whose repositories have URIs without
	// an account prefix.
	DefaultAccount string
	Region         string
	Logger         *slog.Logger
	Clock          func() time.Time
}

// TokenMinter mints registry passwords.
type TokenMinter interface {
	Mint(ctx context.Context, p auth.Principal) (string, time.Time, error)
}

// Handler serves the ECR API.
type Handler struct {
	svc   *registry.Service
	opts  Options
	log   *slog.Logger
	model *model
	ops   map[string]opFunc
}

// opFunc serves one operation from its raw JSON body.
type opFunc func(ctx context.Context, who auth.Principal, body []byte) (any, error)

// New builds the handler; it fails only if the embedded model is broken.
func New(o Options) (*Handler, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	m, err := loadModel()
	if err != nil {
		return nil, err
	}
	h := &Handler{svc: o.Service, opts: o, log: o.Logger, model: m}
	h.ops = h.operations()
	for name := range h.ops {
		if m.ops[name] == nil {
			return nil, fmt.Errorf("ecrapi: operation %s is not in the ECR model", name)
		}
	}
	return h, nil
}

// IsECRRequest reports whether r is addressed to this API.
func IsECRRequest(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Amzn-Requestid", requestID(w))
	opName := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	if h.model.ops[opName] != nil {
		httpserver.SetRoute(r.Context(), opName) // a name from the service model: a fixed set
	} else {
		httpserver.SetRoute(r.Context(), "unknown")
	}
	note := audit.NoteFrom(r.Context())
	note.Call(audit.SourceECR, opName, isReadOnly(opName))
	fail := func(e *apiError) {
		note.Fail(e.Type, e.Message, e.Type == excAccessDenied)
		writeError(w, e)
	}
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		fail(exception(excUnknownOperation, "the ECR API is served by POST /"))
		return
	}
	limit := int64(maxSmallBody)
	if opName == "UploadLayerPart" {
		limit = maxBody
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		fail(exception(excSerialization, "could not read the request body"))
		return
	}
	if int64(len(body)) > limit {
		fail(exception(excInvalidParameter, fmt.Sprintf("request body exceeds %d bytes", limit)))
		return
	}
	note.RequestJSON(body)
	who, err := h.opts.Auth.AuthenticateRequest(r, body)
	if err != nil {
		note.AuthFailed(r.Header.Get("Authorization"))
		fail(h.toAPIError(r.Context(), opName, err))
		return
	}
	httpserver.SetPrincipal(r.Context(), who.ARN())
	note.Principal(who)
	h.noteResource(note, who)
	fn, ok := h.ops[opName]
	if !ok {
		if h.model.ops[opName] != nil {
			fail(exception(excUnsupportedOperation, "Berth does not implement the ECR operation "+opName+" yet"))
		} else {
			fail(exception(excUnknownOperation, "unknown operation "+strconv.Quote(opName)))
		}
		return
	}
	out, err := fn(r.Context(), who, body)
	if err != nil {
		fail(h.toAPIError(r.Context(), opName, err))
		return
	}
	b, err := json.Marshal(out)
	if err != nil {
		fail(h.toAPIError(r.Context(), opName, fmt.Errorf("encode response: %w", err)))
		return
	}
	note.ResponseJSON(b)
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// isReadOnly tells CloudTrail's readOnly from the operation's name.
func isReadOnly(op string) bool {
	for _, p := range []string{"Describe", "List", "Get", "BatchGet", "BatchCheck"} {
		if strings.HasPrefix(op, p) {
			return true
		}
	}
	return false
}

// noteResource names the repository a call concerns, from its
// repositoryName and registryId parameters, as the record's resource.
func (h *Handler) noteResource(note *audit.Note, who auth.Principal) {
	name := note.StringParam("repositoryName")
	if name == "" {
		return
	}
	account := note.StringParam("registryId")
	if account == "" {
		account = who.AccountID
	}
	note.Resource(h.svc.ARN(registry.RepoRef{AccountID: account, Name: name}), account, audit.ResourceTypeRepository)
}

// requestID reuses the id the middleware set, so logs and clients agree.
func requestID(w http.ResponseWriter) string {
	return w.Header().Get("X-Request-Id")
}

// op adapts a typed operation: decode, validate against the model's input
// shape, call.
func op[In any, Out any](h *Handler, name string, fn func(ctx context.Context, who auth.Principal, in *In) (*Out, error)) opFunc {
	return func(ctx context.Context, who auth.Principal, body []byte) (any, error) {
		in := new(In)
		if len(body) > 0 {
			if err := json.Unmarshal(body, in); err != nil {
				return nil, decodeError(err)
			}
		}
		if err := h.model.validate(h.model.ops[name].Input, reflect.ValueOf(in), ""); err != nil {
			return nil, exception(excInvalidParameter, err.Error())
		}
		out, err := fn(ctx, who, in)
		if err != nil {
			return nil, err
		}
		return out, nil
	}
}

func decodeError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return exception(excInvalidParameter, fmt.Sprintf(
			"Invalid parameter at '%s' failed to satisfy constraint: 'expected %s, got JSON %s'", te.Field, te.Type, te.Value))
	}
	return exception(excSerialization, "the request body is not valid JSON")
}

// Time encodes as AWS JSON 1.1 timestamps: epoch seconds with fractions.
type Time struct{ time.Time }

// MarshalJSON implements json.Marshaler.
func (t Time) MarshalJSON() ([]byte, error) {
	ms := t.UnixMilli()
	return []byte(strconv.FormatFloat(float64(ms)/1000, 'f', 3, 64)), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (t *Time) UnmarshalJSON(b []byte) error {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("timestamp: %w", err)
	}
	sec := int64(f)
	t.Time = time.Unix(sec, int64((f-float64(sec))*1e9)).UTC()
	return nil
}

func timePtr(t time.Time) *Time {
	if t.IsZero() {
		return nil
	}
	return &Time{t}
}
