package ecrapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/registry"
)

// lifecycleOperations are the lifecycle policy operations (spec §5.1).
func (h *Handler) lifecycleOperations() map[string]opFunc {
	return map[string]opFunc{
		"PutLifecyclePolicy":          op(h, "PutLifecyclePolicy", h.putLifecyclePolicy),
		"GetLifecyclePolicy":          op(h, "GetLifecyclePolicy", h.getLifecyclePolicy),
		"DeleteLifecyclePolicy":       op(h, "DeleteLifecyclePolicy", h.deleteLifecyclePolicy),
		"StartLifecyclePolicyPreview": op(h, "StartLifecyclePolicyPreview", h.startLifecyclePolicyPreview),
		"GetLifecyclePolicyPreview":   op(h, "GetLifecyclePolicyPreview", h.getLifecyclePolicyPreview),
	}
}

type lifecyclePolicyInput struct {
	RegistryID          *string `json:"registryId"`
	RepositoryName      string  `json:"repositoryName"`
	LifecyclePolicyText *string `json:"lifecyclePolicyText"`
}

type lifecyclePolicyOutput struct {
	RegistryID          string `json:"registryId"`
	RepositoryName      string `json:"repositoryName"`
	LifecyclePolicyText string `json:"lifecyclePolicyText"`
	// LastEvaluatedAt is epoch 0 for a policy that never ran, as ECR
	// answers; PutLifecyclePolicy omits it.
	LastEvaluatedAt *Time `json:"lastEvaluatedAt,omitempty"`
}

// evaluatedAt is lastEvaluatedAt as ECR sends it: epoch 0 when never.
func evaluatedAt(p registry.LifecyclePolicy) *Time {
	if p.LastEvaluatedAt.IsZero() {
		return &Time{time.Unix(0, 0).UTC()}
	}
	return &Time{p.LastEvaluatedAt}
}

func (h *Handler) putLifecyclePolicy(ctx context.Context, who auth.Principal, in *lifecyclePolicyInput) (*lifecyclePolicyOutput, error) {
	ref := registry.RepoRef{AccountID: registryOf(who, in.RegistryID), Name: in.RepositoryName}
	// The model requires the text: it is not nil here.
	p, err := h.svc.PutLifecyclePolicy(ctx, who, ref, *in.LifecyclePolicyText)
	if err != nil {
		return nil, err
	}
	return &lifecyclePolicyOutput{RegistryID: ref.AccountID, RepositoryName: ref.Name, LifecyclePolicyText: p.Text}, nil
}

func (h *Handler) getLifecyclePolicy(ctx context.Context, who auth.Principal, in *lifecyclePolicyInput) (*lifecyclePolicyOutput, error) {
	ref := registry.RepoRef{AccountID: registryOf(who, in.RegistryID), Name: in.RepositoryName}
	p, err := h.svc.GetLifecyclePolicy(ctx, who, ref)
	if err != nil {
		return nil, err
	}
	return &lifecyclePolicyOutput{ref.AccountID, ref.Name, p.Text, evaluatedAt(p)}, nil
}

func (h *Handler) deleteLifecyclePolicy(ctx context.Context, who auth.Principal, in *lifecyclePolicyInput) (*lifecyclePolicyOutput, error) {
	ref := registry.RepoRef{AccountID: registryOf(who, in.RegistryID), Name: in.RepositoryName}
	p, err := h.svc.DeleteLifecyclePolicy(ctx, who, ref)
	if err != nil {
		return nil, err
	}
	return &lifecyclePolicyOutput{ref.AccountID, ref.Name, p.Text, evaluatedAt(p)}, nil
}

type startLifecyclePolicyPreviewOutput struct {
	RegistryID          string `json:"registryId"`
	RepositoryName      string `json:"repositoryName"`
	LifecyclePolicyText string `json:"lifecyclePolicyText"`
	Status              string `json:"status"`
}

func (h *Handler) startLifecyclePolicyPreview(ctx context.Context, who auth.Principal, in *lifecyclePolicyInput) (*startLifecyclePolicyPreviewOutput, error) {
	ref := registry.RepoRef{AccountID: registryOf(who, in.RegistryID), Name: in.RepositoryName}
	pv, err := h.svc.StartLifecyclePolicyPreview(ctx, who, ref, in.LifecyclePolicyText)
	if err != nil {
		return nil, err
	}
	return &startLifecyclePolicyPreviewOutput{ref.AccountID, ref.Name, pv.PolicyText, pv.Status}, nil
}

type getLifecyclePolicyPreviewInput struct {
	RegistryID     *string           `json:"registryId"`
	RepositoryName string            `json:"repositoryName"`
	ImageIDs       []imageIdentifier `json:"imageIds"`
	NextToken      *string           `json:"nextToken"`
	MaxResults     *int32            `json:"maxResults"`
	Filter         *struct {
		TagStatus string `json:"tagStatus"`
	} `json:"filter"`
}

type previewAction struct {
	Type               string `json:"type"`
	TargetStorageClass string `json:"targetStorageClass,omitempty"`
}

type previewResult struct {
	ImageTags           []string      `json:"imageTags,omitempty"`
	ImageDigest         string        `json:"imageDigest"`
	ImagePushedAt       *Time         `json:"imagePushedAt,omitempty"`
	Action              previewAction `json:"action"`
	AppliedRulePriority int           `json:"appliedRulePriority"`
	StorageClass        string        `json:"storageClass"`
}

type transitioningCount struct {
	TargetStorageClass string `json:"targetStorageClass"`
	ImageTotalCount    int    `json:"imageTotalCount"`
}

type previewSummary struct {
	ExpiringImageTotalCount       int                  `json:"expiringImageTotalCount"`
	TransitioningImageTotalCounts []transitioningCount `json:"transitioningImageTotalCounts,omitempty"`
}

type getLifecyclePolicyPreviewOutput struct {
	RegistryID          string          `json:"registryId"`
	RepositoryName      string          `json:"repositoryName"`
	LifecyclePolicyText string          `json:"lifecyclePolicyText"`
	Status              string          `json:"status"`
	PreviewResults      []previewResult `json:"previewResults"`
	Summary             *previewSummary `json:"summary,omitempty"`
	NextToken           *string         `json:"nextToken,omitempty"`
}

// getLifecyclePolicyPreview answers the latest preview: its status, and
// once COMPLETE its summary and a page of results in decision order.
// nextToken names the preview it came from, so it cannot page another.
func (h *Handler) getLifecyclePolicyPreview(ctx context.Context, who auth.Principal, in *getLifecyclePolicyPreviewInput) (*getLifecyclePolicyPreviewOutput, error) {
	ref := registry.RepoRef{AccountID: registryOf(who, in.RegistryID), Name: in.RepositoryName}
	q := registry.PreviewQuery{Limit: pageSize(in.MaxResults, registry.MaxPreviewResults)}
	if in.Filter != nil {
		q.TagStatus = registry.TagStatus(in.Filter.TagStatus)
	}
	for _, id := range in.ImageIDs {
		q.IDs = append(q.IDs, id.toID())
	}
	want := cursor{Op: "GetLifecyclePolicyPreview", Account: ref.AccountID, Repo: ref.Name, Filter: previewFilterKey(q)}
	last, err := h.decodeToken(ctx, in.NextToken, want)
	if err != nil {
		return nil, err
	}
	if last != "" {
		gen, pos, ok := strings.Cut(last, ":")
		g, err1 := strconv.ParseInt(gen, 10, 64)
		p, err2 := strconv.ParseInt(pos, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			return nil, exception(excInvalidParameter, "Invalid parameter at 'nextToken' failed to satisfy constraint: 'the token is invalid'")
		}
		q.Generation, q.After = g, p
	}
	page, err := h.svc.GetLifecyclePolicyPreview(ctx, who, ref, q)
	if err != nil {
		return nil, err
	}
	pv := page.Preview
	out := &getLifecyclePolicyPreviewOutput{RegistryID: ref.AccountID, RepositoryName: ref.Name,
		LifecyclePolicyText: pv.PolicyText, Status: pv.Status, PreviewResults: []previewResult{}}
	if pv.Status == registry.PreviewComplete {
		out.Summary = &previewSummary{ExpiringImageTotalCount: pv.ExpiringCount}
		if pv.TransitioningCount > 0 {
			out.Summary.TransitioningImageTotalCounts = []transitioningCount{{"ARCHIVE", pv.TransitioningCount}}
		}
	}
	for _, r := range page.Results {
		out.PreviewResults = append(out.PreviewResults, previewResult{ImageTags: r.Tags, ImageDigest: r.Digest.String(),
			ImagePushedAt: timePtr(r.PushedAt), Action: previewAction{r.Action, r.TargetStorageClass},
			AppliedRulePriority: r.RulePriority, StorageClass: string(r.StorageClass)})
	}
	if page.More && len(page.Results) > 0 {
		want.Last = fmt.Sprintf("%d:%d", pv.Generation, page.Results[len(page.Results)-1].Position)
		out.NextToken, err = h.encodeToken(ctx, want)
	}
	return out, err
}

// previewFilterKey binds a nextToken to the filter and image ids it was
// issued for.
func previewFilterKey(q registry.PreviewQuery) string {
	sum := sha256.New()
	for _, id := range q.IDs {
		fmt.Fprintf(sum, "%q %q\n", id.Digest, id.Tag)
	}
	return string(q.TagStatus) + "/" + hex.EncodeToString(sum.Sum(nil))[:16]
}
