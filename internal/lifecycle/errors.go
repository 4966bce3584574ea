package lifecycle

import (
	"errors"
	"fmt"
	"strings"
)

// ErrInvalidPolicy is the kind of every Parse error: errors.Is(err,
// ErrInvalidPolicy) holds for them. Front ends answer InvalidParameterException.
var ErrInvalidPolicy = errors.New("invalid lifecycle policy")

// InvalidPolicyError is a policy Parse refused. Message is what ECR sends
// with InvalidParameterException; Detail says precisely what is wrong and
// where (a JSON path such as rules[1].selection.countNumber, 0-based in
// document order).
type InvalidPolicyError struct {
	// Detail is the specific problem, e.g.
	// `rules[0].selection.countNumber must be a positive integer (got 0)`.
	Detail string
	// Length is set when the text is outside MinTextLength..MaxTextLength;
	// Detail is then the model's constraint wording.
	Length bool
}

// Message is the error as ECR words it:
//
//	Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: <detail>'
//
// or, for the length bounds, the model's constraint
// ('Member must have length greater than or equal to 100').
func (e *InvalidPolicyError) Message() string {
	if e.Length {
		return "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: '" + e.Detail + "'"
	}
	return "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: " +
		"'Lifecycle policy validation failure: " + e.Detail + "'"
}

func (e *InvalidPolicyError) Error() string { return e.Message() }

// Unwrap makes errors.Is(err, ErrInvalidPolicy) hold.
func (e *InvalidPolicyError) Unwrap() error { return ErrInvalidPolicy }

func invalidf(format string, args ...any) *InvalidPolicyError {
	return &InvalidPolicyError{Detail: fmt.Sprintf(format, args...)}
}

// quote renders a user-supplied string for a message, clipped so that a
// hostile policy cannot make the message huge.
func quote(s string) string {
	const max = 64
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8Start(s[cut]) {
			cut--
		}
		return fmt.Sprintf("%q…", s[:cut])
	}
	return fmt.Sprintf("%q", s)
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// oneOf renders the allowed values of an enum for a message.
func oneOf(values ...string) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = fmt.Sprintf("%q", v)
	}
	if len(q) == 1 {
		return q[0]
	}
	return "one of " + strings.Join(q, ", ")
}
