package registry

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/metastore"
	"github.com/berth-registry/berth/internal/policy"
)

// PolicyStore is what policy authorization reads.
type PolicyStore interface {
	GetRepository(ctx context.Context, accountID, name string) (metastore.Repository, error)
	GetRepositoryPolicy(ctx context.Context, repoID int64) (string, error)
	ListResourceTags(ctx context.Context, repoID int64) ([]metastore.ResourceTag, error)
	GetRegistryPolicy(ctx context.Context, accountID string) (string, error)
	GetAccountSetting(ctx context.Context, accountID, name string) (string, error)
	GetUser(ctx context.Context, accountID, name string) (metastore.User, error)
	IdentityPolicies(ctx context.Context, accountID, user string) ([]string, []string, error)
}

// PolicyAuthorizer decides with the IAM policy engine, over the caller's
// identity policies, the repository's policy and the registry policy. It
// keeps what it loaded for TTL (this node's own changes invalidate at
// once, through Invalidate*), so a decision costs an evaluation, not reads.
type PolicyAuthorizer struct {
	Store PolicyStore
	Clock func() time.Time
	TTL   time.Duration

	mu         sync.Mutex
	identities map[[2]string]cachedIdentity
	repos      map[[2]string]cachedRepoPolicy
	registries map[string]cachedRegistry
}

type cachedIdentity struct {
	policies []*policy.Policy
	arn      string // with the user's path: arn:aws:iam::<account>:user<path><name>
	userID   string
	tags     map[string]string
	expires  time.Time
}

type cachedRepoPolicy struct {
	policy  *policy.Policy // nil: none
	tags    map[string]string
	expires time.Time
}

type cachedRegistry struct {
	policy  *policy.Policy
	v1      bool
	expires time.Time
}

// Authorize implements Authorizer.
func (a *PolicyAuthorizer) Authorize(ctx context.Context, req AccessRequest) error {
	r := policy.Request{Action: req.Action, Resource: req.Resource, ResourceAccount: req.ResourceAccount,
		CurrentTime: a.Clock()}
	ri := auth.RequestInfoFrom(ctx)
	r.SecureTransport = ri.SecureTransport
	if ip, err := netip.ParseAddr(ri.SourceIP); err == nil {
		r.SourceIP = ip
	}
	var set policy.PolicySet
	var err error
	if r.Principal, set.Identity, err = a.principal(ctx, req.Principal); err != nil {
		return err
	}
	if name, ok := strings.CutPrefix(resourcePart(req.Resource), "repository/"); ok {
		rp, err := a.repoPolicy(ctx, req.ResourceAccount, name)
		if err != nil {
			return err
		}
		set.Repository, r.ResourceTags = rp.policy, rp.tags
	}
	reg, err := a.registry(ctx, req.ResourceAccount)
	if err != nil {
		return err
	}
	set.Registry, set.RegistryScopeV1 = reg.policy, reg.v1
	d := policy.Evaluate(r, set)
	if d.Allowed() {
		return nil
	}
	return &Error{Kind: ErrDenied, Message: d.Message(r)}
}

// resourcePart returns what follows the account in an ARN.
func resourcePart(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 {
		return ""
	}
	return parts[5]
}

func (a *PolicyAuthorizer) principal(ctx context.Context, p auth.Principal) (policy.Principal, []*policy.Policy, error) {
	switch p.Type {
	case auth.TypeRoot:
		return policy.RootPrincipal(p.AccountID), nil, nil
	case auth.TypeIAMUser:
		id, err := a.identity(ctx, p.AccountID, p.UserName)
		if err != nil {
			return policy.Principal{}, nil, err
		}
		pr := policy.UserPrincipal(p.AccountID, p.UserName, id.userID)
		pr.Tags = id.tags
		if id.arn != "" {
			pr.ARN = id.arn // IAM paths are part of the ARN policies name
		}
		return pr, id.policies, nil
	}
	return policy.Principal{Type: policy.Anonymous}, nil, nil
}

func (a *PolicyAuthorizer) identity(ctx context.Context, account, user string) (cachedIdentity, error) {
	key := [2]string{account, strings.ToLower(user)}
	now := a.Clock()
	a.mu.Lock()
	c, ok := a.identities[key]
	a.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c, nil
	}
	u, err := a.Store.GetUser(ctx, account, user)
	if errors.Is(err, metastore.ErrNotFound) {
		c = cachedIdentity{expires: now.Add(a.TTL)} // a deleted user: no policies, no grants
	} else if err != nil {
		return c, fmt.Errorf("load user: %w", err)
	} else {
		path := u.Path
		if path == "" {
			path = "/"
		}
		c = cachedIdentity{userID: u.ID, tags: tagMap(u.Tags), expires: now.Add(a.TTL),
			arn: "arn:aws:iam::" + account + ":user" + path + u.Name}
		docs, managed, err := a.Store.IdentityPolicies(ctx, account, user)
		if err != nil {
			return c, fmt.Errorf("load identity policies: %w", err)
		}
		for _, doc := range docs {
			if p, err := policy.Parse(doc, policy.Identity); err == nil {
				c.policies = append(c.policies, p)
			} // stored policies were validated on write; an unparsable one grants nothing
		}
		for _, arn := range managed {
			if p, ok := policy.Managed(arn); ok {
				c.policies = append(c.policies, p)
			}
		}
	}
	a.mu.Lock()
	if a.identities == nil || len(a.identities) > 10000 {
		a.identities = map[[2]string]cachedIdentity{}
	}
	a.identities[key] = c
	a.mu.Unlock()
	return c, nil
}

func (a *PolicyAuthorizer) repoPolicy(ctx context.Context, account, name string) (cachedRepoPolicy, error) {
	key := [2]string{account, name}
	now := a.Clock()
	a.mu.Lock()
	c, ok := a.repos[key]
	a.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c, nil
	}
	c = cachedRepoPolicy{expires: now.Add(a.TTL)}
	repo, err := a.Store.GetRepository(ctx, account, name)
	switch {
	case errors.Is(err, metastore.ErrNotFound): // nothing to load: identity decides
	case err != nil:
		return c, fmt.Errorf("load repository: %w", err)
	default:
		text, err := a.Store.GetRepositoryPolicy(ctx, repo.ID)
		if err != nil && !errors.Is(err, metastore.ErrNotFound) {
			return c, fmt.Errorf("load repository policy: %w", err)
		}
		if text != "" {
			c.policy, _ = policy.Parse(text, policy.Resource)
		}
		tags, err := a.Store.ListResourceTags(ctx, repo.ID)
		if err != nil && !errors.Is(err, metastore.ErrNotFound) {
			return c, fmt.Errorf("load repository tags: %w", err)
		}
		c.tags = tagMap(tags)
	}
	a.mu.Lock()
	if a.repos == nil || len(a.repos) > 10000 {
		a.repos = map[[2]string]cachedRepoPolicy{}
	}
	a.repos[key] = c
	a.mu.Unlock()
	return c, nil
}

func (a *PolicyAuthorizer) registry(ctx context.Context, account string) (cachedRegistry, error) {
	now := a.Clock()
	a.mu.Lock()
	c, ok := a.registries[account]
	a.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c, nil
	}
	c = cachedRegistry{expires: now.Add(a.TTL)}
	text, err := a.Store.GetRegistryPolicy(ctx, account)
	if err != nil && !errors.Is(err, metastore.ErrNotFound) {
		return c, fmt.Errorf("load registry policy: %w", err)
	}
	if text != "" {
		c.policy, _ = policy.Parse(text, policy.Registry)
		scope, err := a.Store.GetAccountSetting(ctx, account, "REGISTRY_POLICY_SCOPE")
		if err != nil && !errors.Is(err, metastore.ErrNotFound) {
			return c, fmt.Errorf("load registry policy scope: %w", err)
		}
		c.v1 = scope == "V1"
	}
	a.mu.Lock()
	if a.registries == nil || len(a.registries) > 10000 {
		a.registries = map[string]cachedRegistry{}
	}
	a.registries[account] = c
	a.mu.Unlock()
	return c, nil
}

// InvalidateRepository forgets a repository's policy and tags.
func (a *PolicyAuthorizer) InvalidateRepository(account, name string) {
	a.mu.Lock()
	delete(a.repos, [2]string{account, name})
	a.mu.Unlock()
}

// InvalidateRegistry forgets an account's registry policy and scope.
func (a *PolicyAuthorizer) InvalidateRegistry(account string) {
	a.mu.Lock()
	delete(a.registries, account)
	a.mu.Unlock()
}

// InvalidateIdentity forgets a user's policies.
func (a *PolicyAuthorizer) InvalidateIdentity(account, user string) {
	a.mu.Lock()
	delete(a.identities, [2]string{account, strings.ToLower(user)})
	a.mu.Unlock()
}

func tagMap(tags []metastore.ResourceTag) map[string]string {
	if len(tags) == 0 {
		return nil
	}
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[t.Key] = t.Value
	}
	return m
}
