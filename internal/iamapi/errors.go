package iamapi

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/berth-registry/berth/internal/audit"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/identity"
)

// Error codes: IAM's modeled errors, and the AWS common errors of the
// query protocol (authentication and request shape).
const (
	codeNoSuchEntity            = "NoSuchEntity"
	codeEntityAlreadyExists     = "EntityAlreadyExists"
	codeDeleteConflict          = "DeleteConflict"
	codeLimitExceeded           = "LimitExceeded"
	codeMalformedPolicyDocument = "MalformedPolicyDocument"
	codeInvalidInput            = "InvalidInput"
	codeValidation              = "ValidationError"
	codeAccessDenied            = "AccessDenied"
	codeServiceFailure          = "ServiceFailure"
	codeMissingAuthToken        = "MissingAuthenticationToken"
	codeIncompleteSignature     = "IncompleteSignature"
	codeSignatureDoesNotMatch   = "SignatureDoesNotMatch"
	codeInvalidClientTokenID    = "InvalidClientTokenId"
	codeInvalidAction           = "InvalidAction"
	codeMissingAction           = "MissingAction"
	codeMalformedQueryString    = "MalformedQueryString"
	codeRequestTooLarge         = "RequestEntityTooLarge"
	codeServiceUnavailable      = "ServiceUnavailable"
)

// statuses is the error table: each code's HTTP status, as IAM's model
// and AWS's common-error list give them.
var statuses = map[string]int{
	codeNoSuchEntity:            http.StatusNotFound,
	codeEntityAlreadyExists:     http.StatusConflict,
	codeDeleteConflict:          http.StatusConflict,
	codeLimitExceeded:           http.StatusConflict,
	codeMalformedPolicyDocument: http.StatusBadRequest,
	codeInvalidInput:            http.StatusBadRequest,
	codeValidation:              http.StatusBadRequest,
	codeAccessDenied:            http.StatusForbidden,
	codeServiceFailure:          http.StatusInternalServerError,
	codeMissingAuthToken:        http.StatusForbidden,
	codeIncompleteSignature:     http.StatusBadRequest,
	codeSignatureDoesNotMatch:   http.StatusForbidden,
	codeInvalidClientTokenID:    http.StatusForbidden,
	codeInvalidAction:           http.StatusBadRequest,
	codeMissingAction:           http.StatusBadRequest,
	codeMalformedQueryString:    http.StatusNotFound,
	codeRequestTooLarge:         http.StatusRequestEntityTooLarge,
	codeServiceUnavailable:      http.StatusServiceUnavailable,
}

// fixedMessageOf replaces the message of codes whose errors carry
// internals (a database address) that clients must not see.
var fixedMessageOf = map[string]string{
	codeServiceUnavailable: "The service cannot reach its database right now. Please try again.",
}

// apiError is an error to send.
type apiError struct {
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func wireError(code, msg string) *apiError { return &apiError{Code: code, Message: msg} }

// domainCodes maps the identity service's error kinds.
var domainCodes = []struct {
	kind error
	code string
}{
	{identity.ErrNoSuchEntity, codeNoSuchEntity},
	{identity.ErrEntityAlreadyExists, codeEntityAlreadyExists},
	{identity.ErrDeleteConflict, codeDeleteConflict},
	{identity.ErrLimitExceeded, codeLimitExceeded},
	{identity.ErrMalformedPolicyDocument, codeMalformedPolicyDocument},
	{identity.ErrInvalidInput, codeInvalidInput},
	{identity.ErrValidation, codeValidation},
	{identity.ErrAccessDenied, codeAccessDenied},
	{identity.ErrUnavailable, codeServiceUnavailable},
}

// authCodes maps authentication failures as IAM and STS name them.
var authCodes = []struct {
	kind error
	code string
}{
	{auth.ErrMissingAuthentication, codeMissingAuthToken},
	{auth.ErrIncompleteSignature, codeIncompleteSignature},
	{auth.ErrInvalidSignature, codeSignatureDoesNotMatch},
	{auth.ErrUnrecognizedClient, codeInvalidClientTokenID},
	{auth.ErrUnauthenticated, codeInvalidClientTokenID},
}

const msgInvalidToken = "The security token included in the request is invalid."

// toAPIError turns any error into the one to send. Unknown errors are
// internal: logged with detail, answered without it.
func (h *Handler) toAPIError(ctx context.Context, action string, err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	for _, m := range authCodes {
		if errors.Is(err, m.kind) {
			var e *auth.Error
			if errors.As(err, &e) {
				return wireError(m.code, e.Message)
			}
			if m.code == codeInvalidClientTokenID {
				return wireError(m.code, msgInvalidToken)
			}
			return wireError(m.code, err.Error())
		}
	}
	for _, m := range domainCodes {
		if !errors.Is(err, m.kind) {
			continue
		}
		if msg, ok := fixedMessageOf[m.code]; ok {
			h.log.WarnContext(ctx, "request failed", "action", action, "code", m.code, "err", err)
			return wireError(m.code, msg)
		}
		return wireError(m.code, identity.Message(err))
	}
	h.log.ErrorContext(ctx, "internal error", "action", action, "err", err)
	return wireError(codeServiceFailure, "We encountered an internal error. Please try again.")
}

type errorResponse struct {
	XMLName   xml.Name    `xml:"ErrorResponse"`
	Namespace string      `xml:"xmlns,attr"`
	Error     errorDetail `xml:"Error"`
	RequestID string      `xml:"RequestId"`
}

type errorDetail struct {
	Type    string `xml:"Type"`
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

// writeError sends an error in the query protocol's ErrorResponse.
func (h *Handler) writeError(ctx context.Context, w http.ResponseWriter, ns, rid, action string, err error) {
	e := h.toAPIError(ctx, action, err)
	audit.NoteFrom(ctx).Fail(e.Code, e.Message, e.Code == codeAccessDenied)
	status, ok := statuses[e.Code]
	if !ok {
		status = http.StatusBadRequest
	}
	fault := "Sender"
	if status >= 500 {
		fault = "Receiver"
	}
	b, merr := xml.Marshal(errorResponse{Namespace: ns, RequestID: rid,
		Error: errorDetail{Type: fault, Code: e.Code, Message: e.Message}})
	if merr != nil { // only strings: cannot happen
		b = []byte("<ErrorResponse/>")
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "text/xml")
	hdr.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeResult sends <Action>Response with the result and request id.
func (h *Handler) writeResult(ctx context.Context, w http.ResponseWriter, ns, action, rid string, result any) {
	var buf bytes.Buffer
	buf.WriteString("<" + action + `Response xmlns="` + ns + `">`)
	enc := xml.NewEncoder(&buf)
	if result != nil {
		if err := enc.EncodeElement(result, xml.StartElement{Name: xml.Name{Local: action + "Result"}}); err != nil {
			h.writeError(ctx, w, ns, rid, action, fmt.Errorf("encode %s result: %w", action, err))
			return
		}
	}
	_ = enc.EncodeElement(struct {
		RequestID string `xml:"RequestId"`
	}{rid}, xml.StartElement{Name: xml.Name{Local: "ResponseMetadata"}})
	_ = enc.Flush()
	buf.WriteString("</" + action + "Response>")
	audit.NoteFrom(ctx).Response(result)
	hdr := w.Header()
	hdr.Set("Content-Type", "text/xml")
	hdr.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}
