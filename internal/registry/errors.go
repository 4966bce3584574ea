package registry

import (
	"errors"
	"fmt"

	"github.com/berth-registry/berth/internal/metastore"
)

// Domain error kinds. Front ends map them to wire codes (OCI error codes,
// ECR exceptions) with errors.Is; the service never knows an HTTP status.
var (
	ErrNameInvalid         = errors.New("repository name invalid")
	ErrNameUnknown         = errors.New("repository not found")
	ErrBlobUnknown         = errors.New("blob not found")
	ErrUploadUnknown       = errors.New("upload not found")
	ErrUploadInvalid       = errors.New("upload invalid")
	ErrRangeInvalid        = errors.New("upload range invalid")
	ErrDigestInvalid       = errors.New("digest invalid")
	ErrSizeInvalid         = errors.New("size invalid")
	ErrManifestInvalid     = errors.New("manifest invalid")
	ErrManifestUnknown     = errors.New("manifest not found")
	ErrManifestBlobUnknown = errors.New("manifest references unknown blob")
	// ErrManifestChildUnknown is an index child that is not in the
	// repository; it is also an ErrManifestBlobUnknown.
	ErrManifestChildUnknown = fmt.Errorf("%w: unknown child manifest", ErrManifestBlobUnknown)
	ErrManifestReferenced   = errors.New("manifest referenced by an index")
	ErrTagInvalid           = errors.New("tag invalid")
	ErrUnsupported          = errors.New("unsupported")
	ErrDenied               = errors.New("access denied")
	ErrPaginationInvalid    = errors.New("pagination invalid")

	ErrRepositoryExists         = errors.New("repository already exists")
	ErrRepositoryNotEmpty       = errors.New("repository not empty")
	ErrRepositoryPolicyNotFound = errors.New("repository policy not found")
	ErrRegistryPolicyNotFound   = errors.New("registry policy not found")
	ErrImageExists              = errors.New("image already exists")
	ErrTagImmutable             = errors.New("tag is immutable")
	ErrInvalidParameter         = errors.New("invalid parameter")
	ErrInvalidTagParameter      = errors.New("invalid resource tag")
	ErrTooManyTags              = errors.New("too many resource tags")
	ErrLimitExceeded            = errors.New("limit exceeded")
	ErrEmptyUpload              = errors.New("upload is empty")
	ErrLayerExists              = errors.New("layer already exists")
	ErrLayerPartTooSmall        = errors.New("layer part too small")

	// ErrUnavailable is a dependency that cannot serve now (the metadata
	// database is down or restarting): nothing was done, or the outcome of
	// a write cut off at commit is unknown, and the request may be retried
	// later. It is metastore.ErrUnavailable itself, so a store failure that
	// any path of the service wraps with %w has this kind, with no
	// translation at each call. Its text names internals (a database
	// address): front ends answer it with a fixed message.
	ErrUnavailable = metastore.ErrUnavailable

	// ErrImageArchived is a pull of an image that is archived or being
	// restored; it is also an ErrManifestUnknown (ECR answers 404).
	ErrImageArchived           = fmt.Errorf("%w: image archived", ErrManifestUnknown)
	ErrStorageClassUnsupported = errors.New("storage class change not supported")
	ErrExclusionExists         = errors.New("pull time update exclusion already exists")
	ErrExclusionNotFound       = errors.New("pull time update exclusion not found")
)

// Error is a domain error with a message meant for the user and optional
// structured detail. errors.Is(err, Kind) holds.
type Error struct {
	Kind    error
	Message string
	Detail  any
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.Kind }

func errorf(kind error, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// Message returns the user-facing message of err: the Error's own message,
// or the kind's text for other errors.
func Message(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}

// HasMessage reports whether err carries a message written for clients
// (an *Error); other errors' text may name internals.
func HasMessage(err error) bool {
	var e *Error
	return errors.As(err, &e)
}

// Detail returns the structured detail of err, if any.
func Detail(err error) any {
	var e *Error
	if errors.As(err, &e) {
		return e.Detail
	}
	return nil
}
