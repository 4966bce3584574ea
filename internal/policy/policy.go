// Package policy parses and evaluates the IAM policy language as Berth uses it: identity
// policies attached to IAM users, repository policies and the registry policy.
//
// It is a leaf package: it imports only the standard library, does no I/O and holds no mutable
// state. Policies are parsed once (Parse validates them as IAM and ECR do on write) into an
// immutable, precompiled form; Evaluate is then a pure function of a Request (which carries the
// clock reading as CurrentTime) and the policies that apply, cheap enough to run on every
// registry request. Front ends map the Error sentinels to their wire errors
// (MalformedPolicyDocument, LimitExceeded, InvalidParameterException).
package policy

import (
	"errors"
	"fmt"
)

// Kind says where a policy is attached, which decides what it may contain.
type Kind uint8

const (
	// Identity is a policy attached to an IAM user (inline or managed): no Principal, Resource required.
	Identity Kind = iota + 1
	// Resource is a repository policy: Principal or NotPrincipal required, Resource optional
	// (the repository is implied).
	Resource
	// Registry is a registry policy: Principal or NotPrincipal required, Resource required.
	Registry
)

func (k Kind) String() string {
	switch k {
	case Identity:
		return "identity"
	case Resource:
		return "repository"
	case Registry:
		return "registry"
	default:
		return fmt.Sprintf("Kind(%d)", uint8(k))
	}
}

// Size limits applied by Parse. ParseWithLimit takes another.
const (
	// MaxIdentitySize is IAM's managed-policy limit, counted without whitespace.
	MaxIdentitySize = 6144
	// MaxResourceSize is the RepositoryPolicyText and RegistryPolicyText limit of the ECR model.
	MaxResourceSize = 10240
)

// Policy versions. Policy variables are substituted only under Version2012.
const (
	Version2012 = "2012-10-17"
	Version2008 = "2008-10-17"
)

// Sentinel errors. Match them with errors.Is; an *Error carries AWS's message.
var (
	// ErrMalformed: the document is not a valid policy of its Kind (IAM MalformedPolicyDocument).
	ErrMalformed = errors.New("policy: malformed policy document")
	// ErrTooLarge: the document exceeds its size limit (IAM LimitExceeded).
	ErrTooLarge = errors.New("policy: policy document too large")
)

// Error is a validation failure. Message is the text AWS sends for it, so front ends can put it
// on the wire unchanged; Detail, when set, says more precisely what was wrong where AWS's
// message is generic ("Syntax errors in policy.").
type Error struct {
	Kind    error
	Message string
	Detail  string
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return e.Message
	}
	return e.Message + " (" + e.Detail + ")"
}

func (e *Error) Unwrap() error { return e.Kind }

// AWS's MalformedPolicyDocument texts.
const (
	msgSyntax           = "Syntax errors in policy."
	msgNoPrincipal      = "Policy document should not specify a principal."
	msgMissingPrincipal = "Missing required field Principal"
	msgMissingEffect    = "Missing required field Effect"
	msgNoActions        = "Policy statement must contain actions."
	msgNoResources      = "Policy statement must contain resources."
	msgVendor           = "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
	msgDuplicateSid     = "Statement IDs (SID) in a single policy must be unique."
	msgSidAlnum         = "Statement IDs (SID) must be alpha-numeric. " +
		"Check that your input satisfies the regular expression [0-9A-Za-z]*"
)

func malformed(msg string) *Error { return &Error{Kind: ErrMalformed, Message: msg} }

func syntaxError(format string, args ...any) *Error {
	return &Error{Kind: ErrMalformed, Message: msgSyntax, Detail: fmt.Sprintf(format, args...)}
}

// Policy is a parsed, validated and precompiled policy document. It is immutable and safe for
// concurrent use.
type Policy struct {
	text       string
	kind       Kind
	version    string
	statements []statement
}

// Text is the document exactly as it was parsed, for Get*Policy responses.
func (p *Policy) Text() string { return p.text }

// Kind is the kind the policy was parsed as.
func (p *Policy) Kind() Kind { return p.kind }

// Version is the document's Version element ("" when absent, which IAM treats as 2008-10-17).
func (p *Policy) Version() string { return p.version }

// Len is the number of statements.
func (p *Policy) Len() int { return len(p.statements) }

// Sids lists the statement ids in document order ("" for statements without one).
func (p *Policy) Sids() []string {
	out := make([]string, len(p.statements))
	for i := range p.statements {
		out[i] = p.statements[i].sid
	}
	return out
}

// statement is one compiled Statement element.
type statement struct {
	sid  string
	deny bool

	actions   []pattern // lower-cased, matched case-insensitively
	notAction bool

	resources    []arnPattern
	notResource  bool
	resourceVars bool // some resource pattern holds a policy variable
	anyResource  bool // no Resource element: the statement covers the resource it is attached to

	principals   principals
	notPrincipal bool

	conditions []condition
}
