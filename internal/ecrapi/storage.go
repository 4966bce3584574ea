package ecrapi

import (
	"context"
	"errors"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/registry"
)

type updateImageStorageClassInput struct {
	RegistryID         *string          `json:"registryId"`
	RepositoryName     string           `json:"repositoryName"`
	ImageID            *imageIdentifier `json:"imageId"`
	TargetStorageClass string           `json:"targetStorageClass"`
}

type updateImageStorageClassOutput struct {
	RegistryID     string          `json:"registryId"`
	RepositoryName string          `json:"repositoryName"`
	ImageID        imageIdentifier `json:"imageId"`
	ImageStatus    string          `json:"imageStatus"`
}

// updateImageStorageClass archives an image (ARCHIVE: ARCHIVED at once) or
// starts its restore (STANDARD: ACTIVATING, ACTIVE within seconds).
func (h *Handler) updateImageStorageClass(ctx context.Context, who auth.Principal, in *updateImageStorageClassInput) (*updateImageStorageClassOutput, error) {
	ref := registry.RepoRef{AccountID: registryOf(who, in.RegistryID), Name: in.RepositoryName}
	// The model requires imageId: it is not nil here.
	id, status, err := h.svc.UpdateImageStorageClass(ctx, who, ref, in.ImageID.toID(), registry.StorageClass(in.TargetStorageClass))
	if errors.Is(err, registry.ErrStorageClassUnsupported) {
		return nil, exception(excImageStorageClassUpdateNotSupported, registry.Message(err))
	}
	if err != nil {
		return nil, err
	}
	return &updateImageStorageClassOutput{RegistryID: ref.AccountID, RepositoryName: ref.Name,
		ImageID: identifier(id), ImageStatus: string(status)}, nil
}

type pullTimeExclusionInput struct {
	PrincipalARN string `json:"principalArn"`
}

type registerPullTimeUpdateExclusionOutput struct {
	PrincipalARN string `json:"principalArn"`
	CreatedAt    *Time  `json:"createdAt"`
}

// exclusionError picks the exclusion operations' own exceptions.
func exclusionError(err error) error {
	switch {
	case errors.Is(err, registry.ErrExclusionExists):
		return exception(excExclusionAlreadyExists, registry.Message(err))
	case errors.Is(err, registry.ErrExclusionNotFound):
		return exception(excExclusionNotFound, registry.Message(err))
	}
	return err
}

// Exclusions belong to the caller's own registry: the operations take no
// registryId.
func (h *Handler) registerPullTimeUpdateExclusion(ctx context.Context, who auth.Principal, in *pullTimeExclusionInput) (*registerPullTimeUpdateExclusionOutput, error) {
	e, err := h.svc.RegisterPullTimeExclusion(ctx, who, who.AccountID, in.PrincipalARN)
	if err != nil {
		return nil, exclusionError(err)
	}
	return &registerPullTimeUpdateExclusionOutput{PrincipalARN: e.PrincipalARN, CreatedAt: timePtr(e.CreatedAt)}, nil
}

type deregisterPullTimeUpdateExclusionOutput struct {
	PrincipalARN string `json:"principalArn"`
}

func (h *Handler) deregisterPullTimeUpdateExclusion(ctx context.Context, who auth.Principal, in *pullTimeExclusionInput) (*deregisterPullTimeUpdateExclusionOutput, error) {
	if err := h.svc.DeregisterPullTimeExclusion(ctx, who, who.AccountID, in.PrincipalARN); err != nil {
		return nil, exclusionError(err)
	}
	return &deregisterPullTimeUpdateExclusionOutput{PrincipalARN: in.PrincipalARN}, nil
}

type listPullTimeUpdateExclusionsInput struct {
	NextToken  *string `json:"nextToken"`
	MaxResults *int32  `json:"maxResults"`
}

type listPullTimeUpdateExclusionsOutput struct {
	PullTimeUpdateExclusions []string `json:"pullTimeUpdateExclusions"`
	NextToken                *string  `json:"nextToken,omitempty"`
}

func (h *Handler) listPullTimeUpdateExclusions(ctx context.Context, who auth.Principal, in *listPullTimeUpdateExclusionsInput) (*listPullTimeUpdateExclusionsOutput, error) {
	want := cursor{Op: "ListPullTimeUpdateExclusions", Account: who.AccountID}
	last, err := h.decodeToken(ctx, in.NextToken, want)
	if err != nil {
		return nil, err
	}
	list, more, err := h.svc.ListPullTimeExclusions(ctx, who, who.AccountID, last, pageSize(in.MaxResults, 100))
	if err != nil {
		return nil, err
	}
	out := &listPullTimeUpdateExclusionsOutput{PullTimeUpdateExclusions: []string{}}
	for _, e := range list {
		out.PullTimeUpdateExclusions = append(out.PullTimeUpdateExclusions, e.PrincipalARN)
	}
	if more && len(list) > 0 {
		want.Last = list[len(list)-1].PrincipalARN
		out.NextToken, err = h.encodeToken(ctx, want)
	}
	return out, err
}
