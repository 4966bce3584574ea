package ecrapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/registry"
)

// Exception names (the model's shape names, plus AWS common errors).
const (
	excRepositoryNotFound         = "RepositoryNotFoundException"
	excRepositoryAlreadyExists    = "RepositoryAlreadyExistsException"
	excRepositoryNotEmpty         = "RepositoryNotEmptyException"
	excRepositoryPolicyNotFound   = "RepositoryPolicyNotFoundException"
	excRegistryPolicyNotFound     = "RegistryPolicyNotFoundException"
	excImageNotFound              = "ImageNotFoundException"
	excImageAlreadyExists         = "ImageAlreadyExistsException"
	excImageTagAlreadyExists      = "ImageTagAlreadyExistsException"
	excImageDigestDoesNotMatch    = "ImageDigestDoesNotMatchException"
	excLayersNotFound             = "LayersNotFoundException"
	excLayerAlreadyExists         = "LayerAlreadyExistsException"
	excLayerPartTooSmall          = "LayerPartTooSmallException"
	excInvalidLayer               = "InvalidLayerException"
	excInvalidLayerPart           = "InvalidLayerPartException"
	excEmptyUpload                = "EmptyUploadException"
	excUploadNotFound             = "UploadNotFoundException"
	excReferencedImagesNotFound   = "ReferencedImagesNotFoundException"
	excInvalidParameter           = "InvalidParameterException"
	excInvalidTagParameter        = "InvalidTagParameterException"
	excTooManyTags                = "TooManyTagsException"
	excLimitExceeded              = "LimitExceededException"
	excValidation                 = "ValidationException"
	excServer                     = "ServerException"
	excAccessDenied               = "AccessDeniedException"
	excUnknownOperation           = "UnknownOperationException"
	excUnsupportedOperation       = "UnsupportedOperationException"
	excMissingAuthenticationToken = "MissingAuthenticationTokenException"
	excIncompleteSignature        = "IncompleteSignatureException"
	excInvalidSignature           = "InvalidSignatureException"
	excUnrecognizedClient         = "UnrecognizedClientException"
	excSerialization              = "SerializationException"
	excServiceUnavailable         = "ServiceUnavailableException"

	excImageStorageClassUpdateNotSupported = "ImageStorageClassUpdateNotSupportedException"
	excExclusionAlreadyExists              = "ExclusionAlreadyExistsException"
	excExclusionNotFound                   = "ExclusionNotFoundException"

	excLifecyclePolicyNotFound          = "LifecyclePolicyNotFoundException"
	excLifecyclePolicyPreviewInProgress = "LifecyclePolicyPreviewInProgressException"
	excLifecyclePolicyPreviewNotFound   = "LifecyclePolicyPreviewNotFoundException"
)

// fixedMessageOf replaces the message of exceptions whose errors, unless
// the service wrote them for clients, carry internals (a database address)
// that clients must not see.
var fixedMessageOf = map[string]string{
	excServiceUnavailable: "The service cannot reach its database right now. Retry the request.",
}

// statusOf is the exception table: every modeled client exception is 400,
// ServerException 500 (spec §12.1). Common errors follow AWS's list;
// ServiceUnavailable (503) is a temporary condition every AWS SDK retries.
func statusOf(exc string) int {
	switch exc {
	case excServer:
		return http.StatusInternalServerError
	case excServiceUnavailable:
		return http.StatusServiceUnavailable
	case excMissingAuthenticationToken:
		return http.StatusForbidden
	case excUnsupportedOperation:
		return http.StatusNotImplemented
	}
	return http.StatusBadRequest
}

// apiError is an exception to send, with optional modeled extra members.
type apiError struct {
	Type    string
	Message string
	Extra   map[string]any
}

func (e *apiError) Error() string { return e.Type + ": " + e.Message }

func exception(typ, msg string) *apiError { return &apiError{Type: typ, Message: msg} }

// defaultMapping maps domain errors to exceptions when an operation has no
// more specific choice.
var defaultMapping = []struct {
	kind error
	exc  string
}{
	{registry.ErrDenied, excAccessDenied},
	{registry.ErrNameUnknown, excRepositoryNotFound},
	{registry.ErrNameInvalid, excInvalidParameter},
	{registry.ErrRepositoryExists, excRepositoryAlreadyExists},
	{registry.ErrRepositoryNotEmpty, excRepositoryNotEmpty},
	{registry.ErrRepositoryPolicyNotFound, excRepositoryPolicyNotFound},
	{registry.ErrRegistryPolicyNotFound, excRegistryPolicyNotFound},
	{registry.ErrManifestUnknown, excImageNotFound},
	{registry.ErrImageExists, excImageAlreadyExists},
	{registry.ErrTagImmutable, excImageTagAlreadyExists},
	{registry.ErrBlobUnknown, excLayersNotFound},
	{registry.ErrManifestBlobUnknown, excLayersNotFound},
	{registry.ErrUploadUnknown, excUploadNotFound},
	{registry.ErrRangeInvalid, excInvalidLayerPart},
	{registry.ErrDigestInvalid, excInvalidParameter},
	{registry.ErrManifestInvalid, excInvalidParameter},
	{registry.ErrTagInvalid, excInvalidParameter},
	{registry.ErrSizeInvalid, excInvalidParameter},
	{registry.ErrPaginationInvalid, excInvalidParameter},
	{registry.ErrInvalidParameter, excInvalidParameter},
	{registry.ErrInvalidTagParameter, excInvalidTagParameter},
	{registry.ErrTooManyTags, excTooManyTags},
	{registry.ErrLimitExceeded, excLimitExceeded},
	{registry.ErrLayerPartTooSmall, excLayerPartTooSmall},
	{registry.ErrEmptyUpload, excEmptyUpload},
	{registry.ErrLayerExists, excLayerAlreadyExists},
	{registry.ErrManifestReferenced, excInvalidParameter},
	{registry.ErrUnavailable, excServiceUnavailable},
	{registry.ErrLifecyclePolicyNotFound, excLifecyclePolicyNotFound},
	{registry.ErrLifecyclePreviewInProgress, excLifecyclePolicyPreviewInProgress},
	{registry.ErrLifecyclePreviewNotFound, excLifecyclePolicyPreviewNotFound},
}

// authMapping maps authentication failures.
var authMapping = []struct {
	kind error
	exc  string
}{
	{auth.ErrMissingAuthentication, excMissingAuthenticationToken},
	{auth.ErrIncompleteSignature, excIncompleteSignature},
	{auth.ErrInvalidSignature, excInvalidSignature},
	{auth.ErrUnrecognizedClient, excUnrecognizedClient},
	{auth.ErrUnauthenticated, excUnrecognizedClient},
}

// toAPIError turns any error into the exception to send. Unknown errors
// are internal: logged with detail, answered without it.
func (h *Handler) toAPIError(ctx context.Context, op string, err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	for _, m := range authMapping {
		if errors.Is(err, m.kind) {
			return exception(m.exc, authMessage(err, m.exc))
		}
	}
	for _, m := range defaultMapping {
		if !errors.Is(err, m.kind) {
			continue
		}
		if msg, ok := fixedMessageOf[m.exc]; ok && !registry.HasMessage(err) {
			h.log.WarnContext(ctx, "request failed", "operation", op, "exception", m.exc, "err", err)
			return exception(m.exc, msg)
		}
		return exception(m.exc, registry.Message(err))
	}
	if errors.Is(err, context.Canceled) {
		return exception(excServer, "request canceled")
	}
	h.log.ErrorContext(ctx, "internal error", "operation", op, "err", err)
	return exception(excServer, "internal error; the x-amzn-RequestId header identifies it in the server log")
}

func authMessage(err error, exc string) string {
	var e *auth.Error
	if errors.As(err, &e) {
		return e.Message
	}
	switch exc {
	case excUnrecognizedClient:
		return "The security token included in the request is invalid."
	case excMissingAuthenticationToken:
		return "Missing Authentication Token"
	}
	return err.Error()
}

// writeError sends an exception in the AWS JSON 1.1 envelope.
func writeError(w http.ResponseWriter, e *apiError) {
	body := map[string]any{"__type": e.Type, "message": e.Message}
	for k, v := range e.Extra {
		body[k] = v
	}
	b, _ := json.Marshal(body)
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("X-Amzn-Errortype", e.Type)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(statusOf(e.Type))
	_, _ = w.Write(b)
}
