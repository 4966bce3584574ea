package metastore

import (
	"context"
	"errors"
	"time"
)

// ErrDeleteConflict reports an IAM entity still in use (a user with keys
// or policies, a policy still attached), as IAM's DeleteConflict does.
var ErrDeleteConflict = errors.New("metastore: entity still in use")

// User is an IAM user of an account.
type User struct {
	AccountID string
	Name      string // unique per account, case-insensitively as in IAM
	ID        string // AIDA…, stable, never reused
	Path      string // "/" by default
	CreatedAt time.Time
	Tags      []ResourceTag // ordered by key
}

// ManagedPolicy is a customer-managed IAM policy (one version is kept: the
// default; Berth does not keep version history).
type ManagedPolicy struct {
	AccountID   string
	Name        string // unique per account
	ID          string // ANPA…
	Path        string
	Description string
	Document    string // the policy JSON as given
	CreatedAt   time.Time
	UpdatedAt   time.Time
	Attachments int // users it is attached to (filled by reads)
}

// ARN returns the policy's ARN, arn:aws:iam::<account>:policy<path><name>,
// by which users attach it. An empty Path is "/".
func (p ManagedPolicy) ARN() string {
	path := p.Path
	if path == "" {
		path = "/"
	}
	return "arn:aws:iam::" + p.AccountID + ":policy" + path + p.Name
}

// AWSManagedPolicyPrefix starts the ARN of every AWS-managed policy.
const AWSManagedPolicyPrefix = "arn:aws:iam::aws:policy/"

// InlinePolicy is a policy embedded in a user.
type InlinePolicy struct {
	Name     string
	Document string
}

// IAMStore persists IAM users and their policies. Access keys of users are
// AccessKeys with UserName set (AccountStore). Names are compared as IAM
// compares them: user and policy names case-insensitively.
//
// Methods naming a user, inline policy or managed policy return ErrNotFound
// when it does not exist (IdentityPolicies excepted: a missing user has no
// policies). Creates return ErrNotFound when the account does not exist and
// default a zero CreatedAt (and UpdatedAt) to the store's clock and an empty
// Path to "/". Policy ARNs are compared case-insensitively.
type IAMStore interface {
	// CreateUser: ErrAlreadyExists when the name is taken in the account.
	CreateUser(ctx context.Context, u User) error
	GetUser(ctx context.Context, accountID, name string) (User, error)
	// ListUsers returns users ordered by name after p.Last.
	ListUsers(ctx context.Context, accountID string, p Page) ([]User, error)
	// DeleteUser: ErrDeleteConflict while the user has access keys, inline
	// or attached policies.
	DeleteUser(ctx context.Context, accountID, name string) error
	// TagUser upserts tags (at most max in all, else ErrTooManyTags and no
	// change); UntagUser removes keys (absent keys ignored).
	TagUser(ctx context.Context, accountID, name string, tags []ResourceTag, max int) error
	UntagUser(ctx context.Context, accountID, name string, keys []string) error

	// PutUserPolicy creates or replaces an inline policy (a replaced
	// policy keeps the name as first put).
	PutUserPolicy(ctx context.Context, accountID, user string, p InlinePolicy) error
	GetUserPolicy(ctx context.Context, accountID, user, name string) (InlinePolicy, error)
	// ListUserPolicies returns inline policy names in byte order.
	ListUserPolicies(ctx context.Context, accountID, user string) ([]string, error)
	DeleteUserPolicy(ctx context.Context, accountID, user, name string) error

	// CreatePolicy: ErrAlreadyExists when the name is taken.
	CreatePolicy(ctx context.Context, p ManagedPolicy) error
	GetPolicy(ctx context.Context, accountID, name string) (ManagedPolicy, error)
	// ListPolicies returns customer-managed policies ordered by name after p.Last.
	ListPolicies(ctx context.Context, accountID string, p Page) ([]ManagedPolicy, error)
	// DeletePolicy: ErrDeleteConflict while attached.
	DeletePolicy(ctx context.Context, accountID, name string) error

	// AttachUserPolicy attaches a policy by ARN (customer-managed of the
	// same account, or an AWS-managed one; the caller checks it exists);
	// attaching twice is not an error. A customer-managed ARN of the
	// account naming no policy is ErrNotFound (checked in the transaction,
	// so an attachment never outlives its policy).
	AttachUserPolicy(ctx context.Context, accountID, user, policyARN string) error
	// DetachUserPolicy: ErrNotFound when not attached.
	DetachUserPolicy(ctx context.Context, accountID, user, policyARN string) error
	// ListAttachedUserPolicies returns attached policy ARNs (as first
	// attached) in byte order.
	ListAttachedUserPolicies(ctx context.Context, accountID, user string) ([]string, error)

	// IdentityPolicies returns, in one read, every policy document that
	// applies to a user: inline documents, customer-managed attached
	// documents, and the ARNs of attached AWS-managed policies (whose
	// documents the caller knows). It is on the authorization hot path.
	IdentityPolicies(ctx context.Context, accountID, user string) (docs []string, awsManaged []string, err error)

	// DeleteAccount removes an account and everything in it (repositories
	// with their content, keys, users, policies, settings); ErrNotFound when
	// it does not exist. Blobs, shared by all accounts, are left to GC.
	DeleteAccount(ctx context.Context, accountID string) error
}
