package ociapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/berth-registry/berth/internal/audit"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/registry"
)

// code is an OCI distribution error code.
type code string

// The OCI error table: every code Berth sends on /v2, with its status.
const (
	codeBlobUnknown         code = "BLOB_UNKNOWN"
	codeBlobUploadInvalid   code = "BLOB_UPLOAD_INVALID"
	codeBlobUploadUnknown   code = "BLOB_UPLOAD_UNKNOWN"
	codeDigestInvalid       code = "DIGEST_INVALID"
	codeManifestBlobUnknown code = "MANIFEST_BLOB_UNKNOWN"
	codeManifestInvalid     code = "MANIFEST_INVALID"
	codeManifestUnknown     code = "MANIFEST_UNKNOWN"
	codeNameInvalid         code = "NAME_INVALID"
	codeNameUnknown         code = "NAME_UNKNOWN"
	codeSizeInvalid         code = "SIZE_INVALID"
	codeUnauthorized        code = "UNAUTHORIZED"
	codeDenied              code = "DENIED"
	codeUnsupported         code = "UNSUPPORTED"
	codeTooManyRequests     code = "TOOMANYREQUESTS"
	codeTagInvalid          code = "TAG_INVALID"
	codeRangeInvalid        code = "RANGE_INVALID"
	codePaginationInvalid   code = "PAGINATION_NUMBER_INVALID"
	codeNotFound            code = "NOT_FOUND"
	codeUnavailable         code = "UNAVAILABLE"
	codeUnknown             code = "UNKNOWN"
)

var statusOf = map[code]int{
	codeBlobUnknown:         http.StatusNotFound,
	codeBlobUploadInvalid:   http.StatusBadRequest,
	codeBlobUploadUnknown:   http.StatusNotFound,
	codeDigestInvalid:       http.StatusBadRequest,
	codeManifestBlobUnknown: http.StatusBadRequest,
	codeManifestInvalid:     http.StatusBadRequest,
	codeManifestUnknown:     http.StatusNotFound,
	codeNameInvalid:         http.StatusBadRequest,
	codeNameUnknown:         http.StatusNotFound,
	codeSizeInvalid:         http.StatusBadRequest,
	codeUnauthorized:        http.StatusUnauthorized,
	codeDenied:              http.StatusForbidden,
	codeUnsupported:         http.StatusMethodNotAllowed,
	codeTooManyRequests:     http.StatusTooManyRequests,
	codeTagInvalid:          http.StatusBadRequest,
	codeRangeInvalid:        http.StatusRequestedRangeNotSatisfiable,
	codePaginationInvalid:   http.StatusBadRequest,
	codeNotFound:            http.StatusNotFound,
	codeUnavailable:         http.StatusServiceUnavailable,
	codeUnknown:             http.StatusInternalServerError,
}

// retryAfterOf is the Retry-After header (seconds) sent with a code.
var retryAfterOf = map[code]string{
	codeUnavailable: "1",
}

// fixedMessageOf replaces the message of codes whose errors, unless the
// service wrote them for clients, carry internals (a database address)
// that clients must not see.
var fixedMessageOf = map[code]string{
	codeUnavailable: "the registry cannot reach its database right now; retry shortly",
}

// codeOf maps domain errors to wire codes; the first match wins.
var codeOf = []struct {
	kind error
	code code
}{
	{registry.ErrNameInvalid, codeNameInvalid},
	{registry.ErrNameUnknown, codeNameUnknown},
	{registry.ErrBlobUnknown, codeBlobUnknown},
	{registry.ErrUploadUnknown, codeBlobUploadUnknown},
	{registry.ErrUploadInvalid, codeBlobUploadInvalid},
	{registry.ErrRangeInvalid, codeRangeInvalid},
	{registry.ErrDigestInvalid, codeDigestInvalid},
	{registry.ErrSizeInvalid, codeSizeInvalid},
	{registry.ErrManifestInvalid, codeManifestInvalid},
	{registry.ErrManifestUnknown, codeManifestUnknown},
	{registry.ErrManifestBlobUnknown, codeManifestBlobUnknown},
	{registry.ErrManifestReferenced, codeDenied},
	{registry.ErrTagInvalid, codeTagInvalid},
	{registry.ErrTagImmutable, codeTagInvalid},
	{registry.ErrLimitExceeded, codeBlobUploadInvalid},
	{registry.ErrUnsupported, codeUnsupported},
	{registry.ErrDenied, codeDenied},
	{registry.ErrPaginationInvalid, codePaginationInvalid},
	{auth.ErrExpired, codeDenied},
	{registry.ErrUnavailable, codeUnavailable},
}

// apiError is one entry of the OCI error envelope.
type apiError struct {
	Code    code   `json:"code"`
	Message string `json:"message"`
	Detail  any    `json:"detail,omitempty"`
}

// writeError writes err in the OCI envelope. Errors without a domain kind
// are internal: logged in full, answered without detail.
func (h *Handler) writeError(ctx context.Context, w http.ResponseWriter, r *http.Request, err error) {
	e := apiError{Code: codeUnknown}
	for _, m := range codeOf {
		if errors.Is(err, m.kind) {
			e = apiError{Code: m.code, Message: registry.Message(err), Detail: registry.Detail(err)}
			break
		}
	}
	if errors.Is(err, auth.ErrExpired) {
		e.Message = "Your authorization token has expired. Reauthenticate and try again."
	}
	if msg, ok := fixedMessageOf[e.Code]; ok && !registry.HasMessage(err) {
		h.log.WarnContext(ctx, "request failed", "code", e.Code, "method", r.Method, "path", r.URL.Path, "err", err)
		e.Message, e.Detail = msg, nil
	}
	if e.Code == codeUnknown {
		if errors.Is(err, context.Canceled) {
			return // the client went away; nothing to answer
		}
		h.log.ErrorContext(ctx, "internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		e.Message = "internal error; the request id in the X-Request-Id header identifies it in the server log"
	}
	writeCode(w, r, e)
}

func writeCode(w http.ResponseWriter, r *http.Request, e apiError) {
	audit.NoteFrom(r.Context()).Fail(string(e.Code), e.Message, deniedCode(e.Code, r))
	body, _ := json.Marshal(struct {
		Errors []apiError `json:"errors"`
	}{[]apiError{e}})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Del("Content-Length")
	if after, ok := retryAfterOf[e.Code]; ok {
		w.Header().Set("Retry-After", after)
	}
	w.WriteHeader(statusOf[e.Code])
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}
