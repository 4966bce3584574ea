package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/metastore"
	"github.com/berth-registry/berth/internal/oci"
)

// More ECR actions, for the control-plane API.
const (
	ActionDeleteRepository              = "ecr:DeleteRepository"
	ActionPutImageTagMutability         = "ecr:PutImageTagMutability"
	ActionPutImageScanningConfiguration = "ecr:PutImageScanningConfiguration"
	ActionTagResource                   = "ecr:TagResource"
	ActionUntagResource                 = "ecr:UntagResource"
	ActionListTagsForResource           = "ecr:ListTagsForResource"
	ActionDescribeImages                = "ecr:DescribeImages"
	ActionDescribeRegistry              = "ecr:DescribeRegistry"
)

// MaxResourceTags is ECR's limit of tags on one repository.
const MaxResourceTags = 50

// Tag mutability settings (ECR's ImageTagMutability enum).
const (
	Mutable                = "MUTABLE"
	Immutable              = "IMMUTABLE"
	ImmutableWithExclusion = "IMMUTABLE_WITH_EXCLUSION"
	MutableWithExclusion   = "MUTABLE_WITH_EXCLUSION"
)

// CheckTagMutability validates a mutability mode with its exclusion
// filters: the *_WITH_EXCLUSION modes take 1 to 5 filters of
// [0-9a-zA-Z._*-]{1,128}, the others none (a filter there would be
// silently meaningless, so it is refused).
func CheckTagMutability(mode string, filters []string) error {
	switch mode {
	case "", Mutable, Immutable:
		if len(filters) > 0 {
			return errorf(ErrInvalidParameter, "Invalid parameter at 'imageTagMutabilityExclusionFilters' failed to satisfy "+
				"constraint: 'exclusion filters are only allowed with IMMUTABLE_WITH_EXCLUSION or MUTABLE_WITH_EXCLUSION'")
		}
		return nil
	case ImmutableWithExclusion, MutableWithExclusion:
		if len(filters) < 1 || len(filters) > 5 {
			return errorf(ErrInvalidParameter, "Invalid parameter at 'imageTagMutabilityExclusionFilters' failed to satisfy "+
				"constraint: '%s needs 1 to 5 exclusion filters'", mode)
		}
		for _, f := range filters {
			if !validTagFilter(f) {
				return errorf(ErrInvalidParameter, "Invalid parameter at 'imageTagMutabilityExclusionFilters' failed to satisfy "+
					"constraint: 'filter %q must match ^[0-9a-zA-Z._*-]{1,128}$'", f)
			}
		}
		return nil
	}
	return errorf(ErrInvalidParameter, "Invalid parameter at 'imageTagMutability' failed to satisfy constraint: "+
		"'Member must satisfy enum value set: [IMMUTABLE, IMMUTABLE_WITH_EXCLUSION, MUTABLE, MUTABLE_WITH_EXCLUSION]'")
}

func validTagFilter(f string) bool {
	if len(f) < 1 || len(f) > 128 {
		return false
	}
	for i := 0; i < len(f); i++ {
		c := f[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '.' || c == '_' || c == '*' || c == '-') {
			return false
		}
	}
	return true
}

// wildcardMatch reports whether tag matches pattern, where * matches any
// run of characters (none included) and everything else matches itself.
func wildcardMatch(pattern, tag string) bool {
	star, resume := -1, 0
	p, t := 0, 0
	for t < len(tag) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, resume = p, t
			p++
		case p < len(pattern) && pattern[p] == tag[t]:
			p++
			t++
		case star >= 0:
			p, resume = star+1, resume+1
			t = resume
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// tagImmutability is the repository's rule: whether a tag is immutable.
// nil means every tag is mutable.
func tagImmutability(repo metastore.Repository) func(string) bool {
	matches := func(tag string) bool {
		for _, f := range repo.TagMutabilityExclusions {
			if wildcardMatch(f, tag) {
				return true
			}
		}
		return false
	}
	switch repo.ImageTagMutability {
	case Immutable:
		return func(string) bool { return true }
	case ImmutableWithExclusion:
		return func(tag string) bool { return !matches(tag) }
	case MutableWithExclusion:
		return matches
	}
	return nil
}

// RepositorySettings are what CreateRepository may set.
type RepositorySettings struct {
	ImageTagMutability string // default MUTABLE
	// TagMutabilityExclusions are the filters of the *_WITH_EXCLUSION modes.
	TagMutabilityExclusions []string
	ScanOnPush              bool
	EncryptionType          string // default AES256
	KMSKey                  string
	Tags                    []metastore.ResourceTag
}

// CreateRepository creates a repository in r.AccountID.
func (s *Service) CreateRepository(ctx context.Context, who auth.Principal, r RepoRef, set RepositorySettings) (metastore.Repository, error) {
	if err := validateName(r); err != nil {
		return metastore.Repository{}, err
	}
	if err := s.authorize(ctx, who, ActionCreateRepository, r); err != nil {
		return metastore.Repository{}, err
	}
	if err := validateResourceTags(set.Tags); err != nil {
		return metastore.Repository{}, err
	}
	if err := CheckTagMutability(set.ImageTagMutability, set.TagMutabilityExclusions); err != nil {
		return metastore.Repository{}, err
	}
	if len(set.Tags) > MaxResourceTags {
		return metastore.Repository{}, tooManyTags()
	}
	repo := metastore.Repository{
		AccountID: r.AccountID, Name: r.Name, CreatedAt: s.now(),
		ImageTagMutability: cmpOr(set.ImageTagMutability, Mutable), ScanOnPush: set.ScanOnPush,
		TagMutabilityExclusions: set.TagMutabilityExclusions,
		EncryptionType:          cmpOr(set.EncryptionType, "AES256"), KMSKey: set.KMSKey,
	}
	err := s.meta.CreateRepository(ctx, &repo)
	switch {
	case errors.Is(err, metastore.ErrAlreadyExists):
		return metastore.Repository{}, errorf(ErrRepositoryExists,
			"The repository with name '%s' already exists in the registry with id '%s'", r.Name, r.AccountID)
	case errors.Is(err, metastore.ErrNotFound):
		return metastore.Repository{}, errorf(ErrInvalidParameter, "the registry with id '%s' does not exist", r.AccountID)
	case err != nil:
		return metastore.Repository{}, fmt.Errorf("create repository: %w", err)
	}
	if len(set.Tags) > 0 {
		if err := s.meta.TagResource(ctx, repo.ID, set.Tags, MaxResourceTags); err != nil {
			return repo, fmt.Errorf("tag new repository: %w", err)
		}
	}
	return repo, nil
}

func cmpOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// GetRepository returns a repository the caller may act on with action.
func (s *Service) GetRepository(ctx context.Context, who auth.Principal, action string, r RepoRef) (metastore.Repository, error) {
	return s.repository(ctx, who, action, r, false)
}

// DescribeRepositories lists repositories of an account after last that
// the caller may describe: up to n of them, and whether more may follow.
func (s *Service) DescribeRepositories(ctx context.Context, who auth.Principal, accountID, last string, n int) ([]metastore.Repository, bool, error) {
	if err := checkPage(n); err != nil {
		return nil, false, err
	}
	var out []metastore.Repository
	for {
		repos, err := s.meta.ListRepositories(ctx, accountID, metastore.Page{Last: last, Limit: n + 1})
		if err != nil {
			return nil, false, fmt.Errorf("list repositories: %w", err)
		}
		for _, repo := range repos {
			last = repo.Name
			if s.authorize(ctx, who, ActionDescribeRepositories, RepoRef{accountID, repo.Name}) != nil {
				continue
			}
			if len(out) == n {
				return out, true, nil
			}
			out = append(out, repo)
		}
		if len(repos) <= n {
			return out, false, nil
		}
	}
}

// DeleteRepository deletes a repository; without force it must hold no
// images.
func (s *Service) DeleteRepository(ctx context.Context, who auth.Principal, r RepoRef, force bool) (metastore.Repository, error) {
	repo, err := s.repository(ctx, who, ActionDeleteRepository, r, false)
	if err != nil {
		return repo, err
	}
	err = s.meta.DeleteRepository(ctx, repo.ID, force)
	s.repos.invalidate(r)
	s.invalidateRepository(r)
	switch {
	case errors.Is(err, metastore.ErrRepositoryNotEmpty):
		return repo, errorf(ErrRepositoryNotEmpty, "The repository with name '%s' in registry with id '%s' cannot be deleted "+
			"because it still contains images", r.Name, r.AccountID)
	case errors.Is(err, metastore.ErrNotFound):
		return repo, s.nameUnknown(r, false)
	case err != nil:
		return repo, fmt.Errorf("delete repository: %w", err)
	}
	return repo, nil
}

// UpdateRepository changes tag mutability or scan-on-push, as action.
func (s *Service) UpdateRepository(ctx context.Context, who auth.Principal, action string, r RepoRef, change func(*metastore.Repository)) (metastore.Repository, error) {
	repo, err := s.repository(ctx, who, action, r, false)
	if err != nil {
		return repo, err
	}
	change(&repo)
	defer s.repos.invalidate(r)
	if err := s.meta.UpdateRepositorySettings(ctx, repo); err != nil {
		if errors.Is(err, metastore.ErrNotFound) {
			return repo, s.nameUnknown(r, false)
		}
		return repo, fmt.Errorf("update repository: %w", err)
	}
	return repo, nil
}

// ParseRepositoryARN splits arn:<partition>:ecr:<region>:<account>:repository/<name>
// for this deployment's partition and region.
func (s *Service) ParseRepositoryARN(arn string) (RepoRef, error) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[1] != s.opts.Partition || parts[2] != "ecr" ||
		parts[3] != s.opts.Region || !oci.IsAccountID(parts[4]) || !strings.HasPrefix(parts[5], "repository/") {
		return RepoRef{}, errorf(ErrInvalidParameter, "Invalid parameter at 'resourceArn' failed to satisfy constraint: "+
			"'must be a repository ARN of the form arn:%s:ecr:%s:<account>:repository/<name>'", s.opts.Partition, s.opts.Region)
	}
	return RepoRef{AccountID: parts[4], Name: strings.TrimPrefix(parts[5], "repository/")}, nil
}

// ListResourceTags returns a repository's resource tags.
func (s *Service) ListResourceTags(ctx context.Context, who auth.Principal, r RepoRef) ([]metastore.ResourceTag, error) {
	repo, err := s.repository(ctx, who, ActionListTagsForResource, r, false)
	if err != nil {
		return nil, err
	}
	return s.meta.ListResourceTags(ctx, repo.ID)
}

// TagResource adds or replaces resource tags.
func (s *Service) TagResource(ctx context.Context, who auth.Principal, r RepoRef, tags []metastore.ResourceTag) error {
	if err := validateResourceTags(tags); err != nil {
		return err
	}
	repo, err := s.repository(ctx, who, ActionTagResource, r, false)
	if err != nil {
		return err
	}
	defer s.invalidateRepository(r)
	err = s.meta.TagResource(ctx, repo.ID, tags, MaxResourceTags)
	if errors.Is(err, metastore.ErrTooManyTags) {
		return tooManyTags()
	}
	return err
}

// UntagResource removes resource tags by key.
func (s *Service) UntagResource(ctx context.Context, who auth.Principal, r RepoRef, keys []string) error {
	for _, k := range keys {
		if err := validateTagKey(k); err != nil {
			return err
		}
	}
	repo, err := s.repository(ctx, who, ActionUntagResource, r, false)
	if err != nil {
		return err
	}
	defer s.invalidateRepository(r)
	return s.meta.UntagResource(ctx, repo.ID, keys)
}

func tooManyTags() error {
	return errorf(ErrTooManyTags, "a repository can have at most %d tags", MaxResourceTags)
}

// validateResourceTags applies AWS's tag rules: keys 1-128 and values
// 0-256 characters, no aws: prefix, no duplicate keys.
func validateResourceTags(tags []metastore.ResourceTag) error {
	seen := map[string]bool{}
	for _, t := range tags {
		if err := validateTagKey(t.Key); err != nil {
			return err
		}
		if len([]rune(t.Value)) > 256 {
			return errorf(ErrInvalidTagParameter, "tag value for key '%s' is longer than 256 characters", t.Key)
		}
		if seen[t.Key] {
			return errorf(ErrInvalidTagParameter, "duplicate tag key '%s'", t.Key)
		}
		seen[t.Key] = true
	}
	return nil
}

func validateTagKey(k string) error {
	if n := len([]rune(k)); n < 1 || n > 128 {
		return errorf(ErrInvalidTagParameter, "tag keys must be 1 to 128 characters long")
	}
	if strings.HasPrefix(strings.ToLower(k), "aws:") {
		return errorf(ErrInvalidTagParameter, "tag keys may not start with 'aws:'; that prefix is reserved")
	}
	return nil
}
