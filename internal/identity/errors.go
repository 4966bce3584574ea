package identity

import (
	"errors"
	"fmt"

	"github.com/berth-registry/berth/internal/metastore"
)

// Domain error kinds, one per IAM error code the operations return. Front
// ends map them to wire codes with errors.Is; the service knows no status.
var (
	ErrNoSuchEntity            = errors.New("no such entity")
	ErrEntityAlreadyExists     = errors.New("entity already exists")
	ErrDeleteConflict          = errors.New("entity still in use")
	ErrLimitExceeded           = errors.New("limit exceeded")
	ErrMalformedPolicyDocument = errors.New("malformed policy document")
	ErrInvalidInput            = errors.New("invalid input")
	// ErrValidation is a request that breaks the service model's
	// constraints (IAM's ValidationError).
	ErrValidation   = errors.New("validation error")
	ErrAccessDenied = errors.New("access denied")
	// ErrUnavailable is the metadata database failing to serve now (see
	// registry.ErrUnavailable): metastore.ErrUnavailable itself, so every
	// wrapped store failure has this kind.
	ErrUnavailable = metastore.ErrUnavailable
)

// Error is a domain error with the message IAM sends for it.
// errors.Is(err, Kind) holds.
type Error struct {
	Kind    error
	Message string
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.Kind }

func errorf(kind error, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// Denied builds an access denial carrying msg, for Authorize functions.
func Denied(msg string) error { return &Error{Kind: ErrAccessDenied, Message: msg} }

// Message is the user-facing message of err: an Error's own message, or
// the text of err.
func Message(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}

func noSuchUser(name string) error {
	return errorf(ErrNoSuchEntity, "The user with name %s cannot be found.", name)
}

func noSuchKey(id string) error {
	return errorf(ErrNoSuchEntity, "The Access Key with id %s cannot be found.", id)
}

func noSuchPolicy(arn string) error {
	return errorf(ErrNoSuchEntity, "Policy %s was not found.", arn)
}

func invalidARN(arn string) error {
	return errorf(ErrInvalidInput, "ARN %s is not valid.", arn)
}
