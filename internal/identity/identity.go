// Package identity is the IAM and STS service layer: users, access keys,
// inline and managed policies, and the caller's identity. It validates input
// as IAM does (the service model's constraints, then IAM's own rules and
// quotas), authorizes every operation, and keeps secrets sealed at rest. It
// knows nothing of HTTP; internal/iamapi serves it.
package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/metastore"
)

// Store is what the service needs from the metadata store: the IAM records,
// and the accounts and access keys of the account store.
type Store interface {
	metastore.IAMStore
	GetAccount(ctx context.Context, id string) (metastore.Account, error)
	CreateAccessKey(ctx context.Context, k metastore.AccessKey) error
	GetAccessKey(ctx context.Context, id string) (metastore.AccessKey, error)
	ListAccessKeys(ctx context.Context, accountID, userName string) ([]metastore.AccessKey, error)
	SetAccessKeyActive(ctx context.Context, id string, active bool) error
	DeleteAccessKey(ctx context.Context, id string) error
}

// ManagedCatalog is the set of AWS-managed policies Berth knows, by ARN
// (arn:aws:iam::aws:policy/<Name>).
type ManagedCatalog interface {
	// Get returns the policy's name and document.
	Get(arn string) (name, document string, ok bool)
	// List returns the ARNs of every policy in the catalog.
	List() []string
}

// AuthorizeFunc decides whether who may perform action (e.g.
// "iam:CreateUser") on resource (an ARN) owned by account. It returns nil
// to allow, an error wrapping ErrAccessDenied to deny (see Denied), or any
// other error when it could not decide.
type AuthorizeFunc func(ctx context.Context, who auth.Principal, action, resource, account string) error

// Limits are IAM's quotas; zero fields take IAM's defaults.
type Limits struct {
	AccessKeysPerUser      int // 2
	ManagedPoliciesPerUser int // 10
	InlinePolicySize       int // 2,048 characters per user, all inline policies together
	ManagedPolicySize      int // 6,144 characters
	TagsPerUser            int // 50
}

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.AccessKeysPerUser, 2)
	def(&l.ManagedPoliciesPerUser, 10)
	def(&l.InlinePolicySize, 2048)
	def(&l.ManagedPolicySize, 6144)
	def(&l.TagsPerUser, 50)
	return l
}

// Options configures a Service. Store and Sealer are required.
type Options struct {
	Store  Store
	Sealer *auth.Sealer
	// Authorize decides for every principal but the account root acting in
	// its own account, which may do everything there. Nil denies them.
	Authorize AuthorizeFunc
	// ValidatePolicy parses an identity-policy document. An error wrapping
	// ErrLimitExceeded is a LimitExceeded; any other error is a
	// MalformedPolicyDocument carrying the error's text. Nil accepts any
	// JSON object with a Statement member.
	ValidatePolicy func(doc string) error
	// Managed is the AWS-managed policy catalog; nil means none.
	Managed ManagedCatalog
	// InvalidateKey forgets cached state of an access key after a change
	// (auth.CachedKeys.Invalidate), so the change applies at once.
	InvalidateKey func(id string)
	// OnPolicyChange tells a policy cache that a user's policies or tags
	// changed (registry.PolicyAuthorizer.InvalidateIdentity).
	OnPolicyChange func(account, user string)
	Limits         Limits
	Clock          func() time.Time
	Logger         *slog.Logger
	// Random supplies ids and secrets; nil means crypto/rand.
	Random io.Reader
}

// Service implements the IAM and STS operations.
type Service struct {
	store    Store
	sealer   *auth.Sealer
	authz    AuthorizeFunc
	validate func(string) error
	managed  ManagedCatalog
	forget   func(string)
	changed  func(account, user string)
	limits   Limits
	now      func() time.Time
	log      *slog.Logger
	random   io.Reader
}

// New builds a Service.
func New(o Options) (*Service, error) {
	if o.Store == nil || o.Sealer == nil {
		return nil, errors.New("identity: Store and Sealer are required")
	}
	s := &Service{store: o.Store, sealer: o.Sealer, authz: o.Authorize, validate: o.ValidatePolicy,
		managed: o.Managed, forget: o.InvalidateKey, changed: o.OnPolicyChange, limits: o.Limits.withDefaults(),
		now: o.Clock, log: o.Logger, random: o.Random}
	if s.validate == nil {
		s.validate = minimalPolicyCheck
	}
	if s.managed == nil {
		s.managed = emptyCatalog{}
	}
	if s.forget == nil {
		s.forget = func(string) {}
	}
	if s.changed == nil {
		s.changed = func(string, string) {}
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.random == nil {
		s.random = rand.Reader
	}
	return s, nil
}

type emptyCatalog struct{}

func (emptyCatalog) Get(string) (string, string, bool) { return "", "", false }
func (emptyCatalog) List() []string                    { return nil }

// authorize lets the account root do everything in its own account and
// asks Authorize about everyone else.
func (s *Service) authorize(ctx context.Context, who auth.Principal, action, resource, account string) error {
	if who.Type == auth.TypeRoot && who.AccountID == account {
		return nil
	}
	if who.Type != auth.TypeAnonymous && s.authz != nil {
		return s.authz(ctx, who, action, resource, account)
	}
	return Denied(fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s because no identity-based policy allows the %s action",
		who.ARN(), action, resource, action))
}

// idEncoding is the alphabet of AWS's unique ids (AIDA…, ANPA…, AKIA…).
var idEncoding = base32.NewEncoding("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567").WithPadding(base32.NoPadding)

// newID returns prefix followed by 16 random id characters.
func (s *Service) newID(prefix string) (string, error) {
	var b [10]byte
	if _, err := io.ReadFull(s.random, b[:]); err != nil {
		return "", fmt.Errorf("generate id: %w", err)
	}
	return prefix + idEncoding.EncodeToString(b[:]), nil
}

// stableID derives an id from a name, for entities Berth does not store
// (the AWS-managed policies), so it is the same on every node.
func stableID(prefix, name string) string {
	sum := sha256.Sum256([]byte(name))
	return prefix + idEncoding.EncodeToString(sum[:10])
}

// internal wraps a store failure with the operation it broke.
func internal(op string, err error) error {
	return fmt.Errorf("identity: %s: %w", op, err)
}

// ARN building. Berth serves the aws partition; IAM is global (no region).
const arnPrefix = "arn:aws:iam::"

func userARN(account, path, name string) string {
	return arnPrefix + account + ":user" + path + name
}

func rootARN(account string) string { return arnPrefix + account + ":root" }

func policyARN(account, path, name string) string {
	return arnPrefix + account + ":policy" + path + name
}

// awsAccount is the account part of AWS-managed policy ARNs.
const awsAccount = "aws"

// parsedARN is a policy ARN taken apart.
type parsedARN struct {
	account, path, name string
}

// parsePolicyARN accepts arn:aws:iam::<account|aws>:policy<path><name>.
func parsePolicyARN(arn string) (parsedARN, error) {
	rest, ok := strings.CutPrefix(arn, arnPrefix)
	if !ok {
		return parsedARN{}, invalidARN(arn)
	}
	account, resource, ok := strings.Cut(rest, ":")
	if !ok || !(account == awsAccount || isAccountID(account)) {
		return parsedARN{}, invalidARN(arn)
	}
	pathName, ok := strings.CutPrefix(resource, "policy/")
	if !ok {
		return parsedARN{}, invalidARN(arn)
	}
	i := strings.LastIndexByte(pathName, '/')
	p := parsedARN{account: account, path: "/" + pathName[:i+1], name: pathName[i+1:]}
	if !policyNameType.re.MatchString(p.name) || !policyPathType.re.MatchString(p.path) {
		return parsedARN{}, invalidARN(arn)
	}
	return p, nil
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
