package ecrapi

import (
	"context"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/registry"
)

// Shapes (names and members as in the ECR model).

type repositoryShape struct {
	RepositoryArn                      string                   `json:"repositoryArn"`
	RegistryID                         string                   `json:"registryId"`
	RepositoryName                     string                   `json:"repositoryName"`
	RepositoryURI                      string                   `json:"repositoryUri"`
	CreatedAt                          *Time                    `json:"createdAt,omitempty"`
	ImageTagMutability                 string                   `json:"imageTagMutability"`
	ImageTagMutabilityExclusionFilters []exclusionFilter        `json:"imageTagMutabilityExclusionFilters,omitempty"`
	ImageScanningConfiguration         *scanningConfiguration   `json:"imageScanningConfiguration,omitempty"`
	EncryptionConfiguration            *encryptionConfiguration `json:"encryptionConfiguration,omitempty"`
}

// exclusionFilter is ECR's ImageTagMutabilityExclusionFilter.
type exclusionFilter struct {
	FilterType string `json:"filterType"`
	Filter     string `json:"filter"`
}

func exclusionFilters(in []exclusionFilter) []string {
	var out []string
	for _, f := range in {
		out = append(out, f.Filter)
	}
	return out
}

func filterShapes(filters []string) []exclusionFilter {
	var out []exclusionFilter
	for _, f := range filters {
		out = append(out, exclusionFilter{FilterType: "WILDCARD", Filter: f})
	}
	return out
}

type scanningConfiguration struct {
	ScanOnPush bool `json:"scanOnPush"`
}

type encryptionConfiguration struct {
	EncryptionType string  `json:"encryptionType"`
	KmsKey         *string `json:"kmsKey,omitempty"`
}

type tagShape struct {
	Key   *string `json:"Key"`
	Value *string `json:"Value"`
}

func (h *Handler) repositoryShape(r registry.Repository) repositoryShape {
	enc := &encryptionConfiguration{EncryptionType: r.EncryptionType}
	if r.KMSKey != "" {
		enc.KmsKey = &r.KMSKey
	}
	return repositoryShape{
		RepositoryArn: h.svc.ARN(registry.RepoRef{AccountID: r.AccountID, Name: r.Name}),
		RegistryID:    r.AccountID, RepositoryName: r.Name, RepositoryURI: h.repositoryURI(r.AccountID, r.Name),
		CreatedAt: timePtr(r.CreatedAt), ImageTagMutability: r.ImageTagMutability,
		ImageTagMutabilityExclusionFilters: filterShapes(r.TagMutabilityExclusions),
		ImageScanningConfiguration:         &scanningConfiguration{ScanOnPush: r.ScanOnPush},
		EncryptionConfiguration:            enc,
	}
}

// repositoryURI is where docker finds the repository.
func (h *Handler) repositoryURI(account, name string) string {
	if account == h.opts.DefaultAccount {
		return h.opts.RegistryHost + "/" + name
	}
	return h.opts.RegistryHost + "/" + account + "/" + name
}

// registry returns the account a request addresses: registryId, else the
// caller's own.
func registryOf(who auth.Principal, registryID *string) string {
	if registryID != nil && *registryID != "" {
		return *registryID
	}
	return who.AccountID
}

type createRepositoryInput struct {
	RegistryID                 *string                  `json:"registryId"`
	RepositoryName             string                   `json:"repositoryName"`
	Tags                       []tagShape               `json:"tags"`
	ImageTagMutability         *string                  `json:"imageTagMutability"`
	ExclusionFilters           []exclusionFilter        `json:"imageTagMutabilityExclusionFilters"`
	ImageScanningConfiguration *scanningConfiguration   `json:"imageScanningConfiguration"`
	EncryptionConfiguration    *encryptionConfiguration `json:"encryptionConfiguration"`
}

type repositoryOutput struct {
	Repository repositoryShape `json:"repository"`
}

func (h *Handler) createRepository(ctx context.Context, who auth.Principal, in *createRepositoryInput) (*repositoryOutput, error) {
	set := registry.RepositorySettings{Tags: resourceTags(in.Tags), TagMutabilityExclusions: exclusionFilters(in.ExclusionFilters)}
	if in.ImageTagMutability != nil {
		set.ImageTagMutability = *in.ImageTagMutability
	}
	if in.ImageScanningConfiguration != nil {
		set.ScanOnPush = in.ImageScanningConfiguration.ScanOnPush
	}
	if e := in.EncryptionConfiguration; e != nil {
		set.EncryptionType = e.EncryptionType
		if e.KmsKey != nil {
			set.KMSKey = *e.KmsKey
		}
		if e.EncryptionType == "AES256" && set.KMSKey != "" {
			return nil, exception(excInvalidParameter, "a KMS key may only be given with encryptionType KMS or KMS_DSSE")
		}
	}
	repo, err := h.svc.CreateRepository(ctx, who, registry.RepoRef{AccountID: registryOf(who, in.RegistryID), Name: in.RepositoryName}, set)
	if err != nil {
		return nil, err
	}
	return &repositoryOutput{h.repositoryShape(repo)}, nil
}

func resourceTags(in []tagShape) []registry.ResourceTag {
	out := make([]registry.ResourceTag, 0, len(in))
	for _, t := range in {
		var tag registry.ResourceTag
		if t.Key != nil {
			tag.Key = *t.Key
		}
		if t.Value != nil {
			tag.Value = *t.Value
		}
		out = append(out, tag)
	}
	return out
}

type describeRepositoriesInput struct {
	RegistryID      *string  `json:"registryId"`
	RepositoryNames []string `json:"repositoryNames"`
	NextToken       *string  `json:"nextToken"`
	MaxResults      *int32   `json:"maxResults"`
}

type describeRepositoriesOutput struct {
	Repositories []repositoryShape `json:"repositories"`
	NextToken    *string           `json:"nextToken,omitempty"`
}

func (h *Handler) describeRepositories(ctx context.Context, who auth.Principal, in *describeRepositoriesInput) (*describeRepositoriesOutput, error) {
	account := registryOf(who, in.RegistryID)
	out := &describeRepositoriesOutput{Repositories: []repositoryShape{}}
	if len(in.RepositoryNames) > 0 {
		if in.NextToken != nil || in.MaxResults != nil {
			return nil, exception(excInvalidParameter, "nextToken and maxResults cannot be used with repositoryNames")
		}
		for _, name := range in.RepositoryNames {
			repo, err := h.svc.GetRepository(ctx, who, registry.ActionDescribeRepositories, registry.RepoRef{AccountID: account, Name: name})
			if err != nil {
				return nil, err
			}
			out.Repositories = append(out.Repositories, h.repositoryShape(repo))
		}
		return out, nil
	}
	want := cursor{Op: "DescribeRepositories", Account: account}
	last, err := h.decodeToken(ctx, in.NextToken, want)
	if err != nil {
		return nil, err
	}
	repos, more, err := h.svc.DescribeRepositories(ctx, who, account, last, pageSize(in.MaxResults, 100))
	if err != nil {
		return nil, err
	}
	for _, r := range repos {
		out.Repositories = append(out.Repositories, h.repositoryShape(r))
	}
	if more && len(repos) > 0 {
		want.Last = repos[len(repos)-1].Name
		if out.NextToken, err = h.encodeToken(ctx, want); err != nil {
			return nil, err
		}
	}
	return out, nil
}

type deleteRepositoryInput struct {
	RegistryID     *string `json:"registryId"`
	RepositoryName string  `json:"repositoryName"`
	Force          bool    `json:"force"`
}

func (h *Handler) deleteRepository(ctx context.Context, who auth.Principal, in *deleteRepositoryInput) (*repositoryOutput, error) {
	repo, err := h.svc.DeleteRepository(ctx, who, registry.RepoRef{AccountID: registryOf(who, in.RegistryID), Name: in.RepositoryName}, in.Force)
	if err != nil {
		return nil, err
	}
	return &repositoryOutput{h.repositoryShape(repo)}, nil
}

type putImageTagMutabilityInput struct {
	RegistryID         *string           `json:"registryId"`
	RepositoryName     string            `json:"repositoryName"`
	ImageTagMutability string            `json:"imageTagMutability"`
	ExclusionFilters   []exclusionFilter `json:"imageTagMutabilityExclusionFilters"`
}

type putImageTagMutabilityOutput struct {
	RegistryID         string            `json:"registryId"`
	RepositoryName     string            `json:"repositoryName"`
	ImageTagMutability string            `json:"imageTagMutability"`
	ExclusionFilters   []exclusionFilter `json:"imageTagMutabilityExclusionFilters,omitempty"`
}

func (h *Handler) putImageTagMutability(ctx context.Context, who auth.Principal, in *putImageTagMutabilityInput) (*putImageTagMutabilityOutput, error) {
	ref := registry.RepoRef{AccountID: registryOf(who, in.RegistryID), Name: in.RepositoryName}
	filters := exclusionFilters(in.ExclusionFilters)
	if err := registry.CheckTagMutability(in.ImageTagMutability, filters); err != nil {
		return nil, err
	}
	repo, err := h.svc.UpdateRepository(ctx, who, registry.ActionPutImageTagMutability, ref, func(r *registry.Repository) {
		r.ImageTagMutability, r.TagMutabilityExclusions = in.ImageTagMutability, filters
	})
	if err != nil {
		return nil, err
	}
	return &putImageTagMutabilityOutput{repo.AccountID, repo.Name, repo.ImageTagMutability,
		filterShapes(repo.TagMutabilityExclusions)}, nil
}

type putImageScanningConfigurationInput struct {
	RegistryID                 *string               `json:"registryId"`
	RepositoryName             string                `json:"repositoryName"`
	ImageScanningConfiguration scanningConfiguration `json:"imageScanningConfiguration"`
}

type putImageScanningConfigurationOutput struct {
	RegistryID                 string                `json:"registryId"`
	RepositoryName             string                `json:"repositoryName"`
	ImageScanningConfiguration scanningConfiguration `json:"imageScanningConfiguration"`
}

func (h *Handler) putImageScanningConfiguration(ctx context.Context, who auth.Principal, in *putImageScanningConfigurationInput) (*putImageScanningConfigurationOutput, error) {
	ref := registry.RepoRef{AccountID: registryOf(who, in.RegistryID), Name: in.RepositoryName}
	repo, err := h.svc.UpdateRepository(ctx, who, registry.ActionPutImageScanningConfiguration, ref, func(r *registry.Repository) {
		r.ScanOnPush = in.ImageScanningConfiguration.ScanOnPush
	})
	if err != nil {
		return nil, err
	}
	return &putImageScanningConfigurationOutput{repo.AccountID, repo.Name, scanningConfiguration{repo.ScanOnPush}}, nil
}

type describeRegistryInput struct{}

type describeRegistryOutput struct {
	RegistryID               string `json:"registryId"`
	ReplicationConfiguration struct {
		Rules []struct{} `json:"rules"`
	} `json:"replicationConfiguration"`
}

func (h *Handler) describeRegistry(ctx context.Context, who auth.Principal, _ *describeRegistryInput) (*describeRegistryOutput, error) {
	if err := h.svc.AuthorizeRegistry(ctx, who, registry.ActionDescribeRegistry, who.AccountID); err != nil {
		return nil, err
	}
	out := &describeRegistryOutput{RegistryID: who.AccountID}
	out.ReplicationConfiguration.Rules = []struct{}{}
	return out, nil
}

type resourceInput struct {
	ResourceArn string     `json:"resourceArn"`
	Tags        []tagShape `json:"tags"`
	TagKeys     []string   `json:"tagKeys"`
}

type listTagsOutput struct {
	Tags []tagShape `json:"tags"`
}

type emptyOutput struct{}

func (h *Handler) listTagsForResource(ctx context.Context, who auth.Principal, in *resourceInput) (*listTagsOutput, error) {
	ref, err := h.svc.ParseRepositoryARN(in.ResourceArn)
	if err != nil {
		return nil, err
	}
	tags, err := h.svc.ListResourceTags(ctx, who, ref)
	if err != nil {
		return nil, err
	}
	out := &listTagsOutput{Tags: []tagShape{}}
	for _, t := range tags {
		out.Tags = append(out.Tags, tagShape{Key: &t.Key, Value: &t.Value})
	}
	return out, nil
}

func (h *Handler) tagResource(ctx context.Context, who auth.Principal, in *resourceInput) (*emptyOutput, error) {
	ref, err := h.svc.ParseRepositoryARN(in.ResourceArn)
	if err != nil {
		return nil, err
	}
	return &emptyOutput{}, h.svc.TagResource(ctx, who, ref, resourceTags(in.Tags))
}

func (h *Handler) untagResource(ctx context.Context, who auth.Principal, in *resourceInput) (*emptyOutput, error) {
	ref, err := h.svc.ParseRepositoryARN(in.ResourceArn)
	if err != nil {
		return nil, err
	}
	return &emptyOutput{}, h.svc.UntagResource(ctx, who, ref, in.TagKeys)
}
