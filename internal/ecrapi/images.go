package ecrapi

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/registry"
)

type imageIdentifier struct {
	ImageDigest *string `json:"imageDigest,omitempty"`
	ImageTag    *string `json:"imageTag,omitempty"`
}

func (id imageIdentifier) toID() registry.ImageID {
	var out registry.ImageID
	if id.ImageDigest != nil {
		out.Digest = *id.ImageDigest
	}
	if id.ImageTag != nil {
		out.Tag = *id.ImageTag
	}
	return out
}

func identifier(id registry.ImageID) imageIdentifier {
	var out imageIdentifier
	if id.Digest != "" {
		out.ImageDigest = &id.Digest
	}
	if id.Tag != "" {
		out.ImageTag = &id.Tag
	}
	return out
}

type imageFailure struct {
	ImageID       imageIdentifier `json:"imageId"`
	FailureCode   string          `json:"failureCode"`
	FailureReason string          `json:"failureReason"`
}

func failures(fs []registry.ImageFailure) []imageFailure {
	out := []imageFailure{}
	for _, f := range fs {
		out = append(out, imageFailure{identifier(f.ID), f.Code, f.Reason})
	}
	return out
}

type imagesFilter struct {
	TagStatus   *string `json:"tagStatus"`
	ImageStatus *string `json:"imageStatus"`
}

// filter is the listing filter: every tag status and only ACTIVE images
// unless the request says otherwise (ECR's defaults). The model validated
// both values.
func (f *imagesFilter) filter() registry.ImageFilter {
	out := registry.ImageFilter{TagStatus: registry.TagStatusAny, Status: registry.ImageActive}
	if f != nil && f.TagStatus != nil {
		out.TagStatus = registry.TagStatus(*f.TagStatus)
	}
	if f != nil && f.ImageStatus != nil {
		out.Status = registry.ImageStatus(*f.ImageStatus)
	}
	return out
}

// filterKey is the filter as a pagination cursor records it.
func filterKey(f registry.ImageFilter) string { return string(f.TagStatus) + "/" + string(f.Status) }

type listImagesInput struct {
	RegistryID     *string           `json:"registryId"`
	RepositoryName string            `json:"repositoryName"`
	NextToken      *string           `json:"nextToken"`
	MaxResults     *int32            `json:"maxResults"`
	Filter         *imagesFilter     `json:"filter"`
	ImageIDs       []imageIdentifier `json:"imageIds"`
}

type listImagesOutput struct {
	ImageIDs  []imageIdentifier `json:"imageIds"`
	NextToken *string           `json:"nextToken,omitempty"`
}

// pageImages runs one page of ListImages or DescribeImages.
func (h *Handler) pageImages(ctx context.Context, who auth.Principal, op, action string, in *listImagesInput) ([]registry.Image, *string, error) {
	ref := registry.RepoRef{AccountID: registryOf(who, in.RegistryID), Name: in.RepositoryName}
	f := in.Filter.filter()
	want := cursor{Op: op, Account: ref.AccountID, Repo: ref.Name, Filter: filterKey(f)}
	last, err := h.decodeToken(ctx, in.NextToken, want)
	if err != nil {
		return nil, nil, err
	}
	imgs, more, err := h.svc.ListImages(ctx, who, action, ref, f, last, pageSize(in.MaxResults, 100))
	if err != nil || !more || len(imgs) == 0 {
		return imgs, nil, err
	}
	want.Last = imgs[len(imgs)-1].Digest.String()
	tok, err := h.encodeToken(ctx, want)
	return imgs, tok, err
}

// listImages pages by image id (an image with three tags is three
// results, as ECR counts maxResults). The token remembers the digest before
// the image it stopped in and how many of that image's ids were sent.
func (h *Handler) listImages(ctx context.Context, who auth.Principal, in *listImagesInput) (*listImagesOutput, error) {
	out := &listImagesOutput{ImageIDs: []imageIdentifier{}}
	ref := registry.RepoRef{AccountID: registryOf(who, in.RegistryID), Name: in.RepositoryName}
	f := in.Filter.filter()
	want := cursor{Op: "ListImages", Account: ref.AccountID, Repo: ref.Name, Filter: filterKey(f)}
	pos, err := h.decodeToken(ctx, in.NextToken, want)
	if err != nil {
		return nil, err
	}
	prev, skip := splitPosition(pos)
	n := pageSize(in.MaxResults, 100)
	imgs, more, err := h.svc.ListImages(ctx, who, registry.ActionListImages, ref, f, prev, n)
	if err != nil {
		return nil, err
	}
	for i, im := range imgs {
		ids := imageIDs(im)
		if i == 0 {
			ids = ids[min(skip, len(ids)):]
		}
		for j, id := range ids {
			if len(out.ImageIDs) < n {
				out.ImageIDs = append(out.ImageIDs, id)
				continue
			}
			before, sent := prev, j // stopped inside image i
			if i == 0 {
				sent += skip
			} else {
				before = imgs[i-1].Digest.String()
			}
			want.Last = before + "|" + strconv.Itoa(sent)
			out.NextToken, err = h.encodeToken(ctx, want)
			return out, err
		}
	}
	if more && len(imgs) > 0 {
		want.Last = imgs[len(imgs)-1].Digest.String() + "|0"
		out.NextToken, err = h.encodeToken(ctx, want)
	}
	return out, err
}

// imageIDs lists an image's ids: one per tag, or the bare digest.
func imageIDs(im registry.Image) []imageIdentifier {
	d := im.Digest.String()
	if len(im.Tags) == 0 {
		return []imageIdentifier{{ImageDigest: &d}}
	}
	out := make([]imageIdentifier, 0, len(im.Tags))
	for _, t := range im.Tags {
		out = append(out, imageIdentifier{ImageDigest: &d, ImageTag: &t})
	}
	return out
}

func splitPosition(pos string) (string, int) {
	prev, skipStr, _ := strings.Cut(pos, "|")
	skip, _ := strconv.Atoi(skipStr)
	return prev, max(skip, 0)
}

type imageDetail struct {
	RegistryID             string   `json:"registryId"`
	RepositoryName         string   `json:"repositoryName"`
	ImageDigest            string   `json:"imageDigest"`
	ImageTags              []string `json:"imageTags,omitempty"`
	ImageSizeInBytes       int64    `json:"imageSizeInBytes"`
	ImagePushedAt          *Time    `json:"imagePushedAt,omitempty"`
	ImageManifestMediaType string   `json:"imageManifestMediaType,omitempty"`
	ArtifactMediaType      string   `json:"artifactMediaType,omitempty"`
	SubjectManifestDigest  string   `json:"subjectManifestDigest,omitempty"`
	ImageStatus            string   `json:"imageStatus"`
	LastRecordedPullTime   *Time    `json:"lastRecordedPullTime,omitempty"`
	LastArchivedAt         *Time    `json:"lastArchivedAt,omitempty"`
	LastActivatedAt        *Time    `json:"lastActivatedAt,omitempty"`
}

type describeImagesOutput struct {
	ImageDetails []imageDetail `json:"imageDetails"`
	NextToken    *string       `json:"nextToken,omitempty"`
}

func (h *Handler) describeImages(ctx context.Context, who auth.Principal, in *listImagesInput) (*describeImagesOutput, error) {
	ref := registry.RepoRef{AccountID: registryOf(who, in.RegistryID), Name: in.RepositoryName}
	var imgs []registry.Image
	var tok *string
	if len(in.ImageIDs) > 0 {
		if in.NextToken != nil || in.MaxResults != nil {
			return nil, exception(excInvalidParameter, "nextToken and maxResults cannot be used with imageIds")
		}
		found, fails, err := h.svc.DescribeImageIDs(ctx, who, ref, idsOf(in.ImageIDs))
		if err != nil {
			return nil, err
		}
		if len(fails) > 0 { // ECR fails the call on the first image it cannot find
			f := fails[0]
			return nil, exception(excImageNotFound, "The image with imageId "+describeID(f.ID)+
				" does not exist within the repository with name '"+ref.Name+"' in the registry with id '"+ref.AccountID+"'")
		}
		imgs = found
	} else {
		var err error
		if imgs, tok, err = h.pageImages(ctx, who, "DescribeImages", registry.ActionDescribeImages, in); err != nil {
			return nil, err
		}
	}
	out := &describeImagesOutput{ImageDetails: []imageDetail{}, NextToken: tok}
	for _, im := range imgs {
		out.ImageDetails = append(out.ImageDetails, imageDetail{
			RegistryID: ref.AccountID, RepositoryName: ref.Name, ImageDigest: im.Digest.String(),
			ImageTags: im.Tags, ImageSizeInBytes: im.ImageSize, ImagePushedAt: timePtr(im.PushedAt),
			ImageManifestMediaType: im.MediaType, ArtifactMediaType: im.ArtifactType,
			SubjectManifestDigest: im.Subject.String(), ImageStatus: string(im.Status),
			LastRecordedPullTime: timePtr(im.LastPulledAt), LastArchivedAt: timePtr(im.LastArchivedAt),
			LastActivatedAt: timePtr(im.LastActivatedAt),
		})
	}
	return out, nil
}

func describeID(id registry.ImageID) string {
	return "{imageDigest:'" + id.Digest + "', imageTag:'" + id.Tag + "'}"
}

func idsOf(in []imageIdentifier) []registry.ImageID {
	out := make([]registry.ImageID, 0, len(in))
	for _, id := range in {
		out = append(out, id.toID())
	}
	return out
}

type batchImageInput struct {
	RegistryID         *string           `json:"registryId"`
	RepositoryName     string            `json:"repositoryName"`
	ImageIDs           []imageIdentifier `json:"imageIds"`
	AcceptedMediaTypes []string          `json:"acceptedMediaTypes"`
}

type imageShape struct {
	RegistryID             string          `json:"registryId"`
	RepositoryName         string          `json:"repositoryName"`
	ImageID                imageIdentifier `json:"imageId"`
	ImageManifest          string          `json:"imageManifest"`
	ImageManifestMediaType string          `json:"imageManifestMediaType"`
}

type batchGetImageOutput struct {
	Images   []imageShape   `json:"images"`
	Failures []imageFailure `json:"failures"`
}

func (h *Handler) batchGetImage(ctx context.Context, who auth.Principal, in *batchImageInput) (*batchGetImageOutput, error) {
	ref := registry.RepoRef{AccountID: registryOf(who, in.RegistryID), Name: in.RepositoryName}
	ms, ids, fails, err := h.svc.BatchGetImage(ctx, who, ref, idsOf(in.ImageIDs), in.AcceptedMediaTypes)
	if err != nil {
		return nil, err
	}
	out := &batchGetImageOutput{Images: []imageShape{}, Failures: failures(fails)}
	for i, m := range ms {
		out.Images = append(out.Images, imageShape{RegistryID: ref.AccountID, RepositoryName: ref.Name,
			ImageID: identifier(ids[i]), ImageManifest: string(m.Body), ImageManifestMediaType: m.MediaType})
	}
	return out, nil
}

type batchDeleteImageOutput struct {
	ImageIDs []imageIdentifier `json:"imageIds"`
	Failures []imageFailure    `json:"failures"`
}

func (h *Handler) batchDeleteImage(ctx context.Context, who auth.Principal, in *batchImageInput) (*batchDeleteImageOutput, error) {
	ref := registry.RepoRef{AccountID: registryOf(who, in.RegistryID), Name: in.RepositoryName}
	deleted, fails, err := h.svc.BatchDeleteImage(ctx, who, ref, idsOf(in.ImageIDs))
	if err != nil {
		return nil, err
	}
	out := &batchDeleteImageOutput{ImageIDs: []imageIdentifier{}, Failures: failures(fails)}
	for _, id := range deleted {
		out.ImageIDs = append(out.ImageIDs, identifier(id))
	}
	return out, nil
}

type putImageInput struct {
	RegistryID             *string `json:"registryId"`
	RepositoryName         string  `json:"repositoryName"`
	ImageManifest          string  `json:"imageManifest"`
	ImageManifestMediaType *string `json:"imageManifestMediaType"`
	ImageTag               *string `json:"imageTag"`
	ImageDigest            *string `json:"imageDigest"`
}

type putImageOutput struct {
	Image imageShape `json:"image"`
}

func (h *Handler) putImage(ctx context.Context, who auth.Principal, in *putImageInput) (*putImageOutput, error) {
	ref := registry.RepoRef{AccountID: registryOf(who, in.RegistryID), Name: in.RepositoryName}
	id := identifier(registry.ImageID{Digest: deref(in.ImageDigest), Tag: deref(in.ImageTag)})
	res, err := h.svc.PutImage(ctx, who, ref, []byte(in.ImageManifest), deref(in.ImageManifestMediaType),
		deref(in.ImageTag), deref(in.ImageDigest))
	if err != nil {
		return nil, putImageError(err)
	}
	d := res.Digest.String()
	id.ImageDigest = &d
	return &putImageOutput{imageShape{RegistryID: ref.AccountID, RepositoryName: ref.Name, ImageID: id,
		ImageManifest: in.ImageManifest, ImageManifestMediaType: res.MediaType}}, nil
}

// putImageError picks PutImage's own exceptions for domain errors.
func putImageError(err error) error {
	switch {
	case errors.Is(err, registry.ErrManifestChildUnknown):
		return exception(excReferencedImagesNotFound, registry.Message(err))
	case errors.Is(err, registry.ErrManifestBlobUnknown):
		return exception(excLayersNotFound, registry.Message(err))
	case errors.Is(err, registry.ErrDigestInvalid) && registry.Detail(err) != nil:
		if d, ok := registry.Detail(err).(map[string]string); ok && d["computed"] != "" {
			return exception(excImageDigestDoesNotMatch, registry.Message(err))
		}
	}
	return err
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

type listImageReferrersInput struct {
	RegistryID     *string `json:"registryId"`
	RepositoryName string  `json:"repositoryName"`
	SubjectID      struct {
		ImageDigest string `json:"imageDigest"`
	} `json:"subjectId"`
	Filter *struct {
		ArtifactTypes  []string `json:"artifactTypes"`
		ArtifactStatus *string  `json:"artifactStatus"`
	} `json:"filter"`
	NextToken  *string `json:"nextToken"`
	MaxResults *int32  `json:"maxResults"`
}

type imageReferrer struct {
	Digest         string            `json:"digest"`
	MediaType      string            `json:"mediaType"`
	ArtifactType   string            `json:"artifactType,omitempty"`
	Size           int64             `json:"size"`
	Annotations    map[string]string `json:"annotations,omitempty"`
	ArtifactStatus string            `json:"artifactStatus"`
}

type listImageReferrersOutput struct {
	Referrers []imageReferrer `json:"referrers"`
	NextToken *string         `json:"nextToken,omitempty"`
}

func (h *Handler) listImageReferrers(ctx context.Context, who auth.Principal, in *listImageReferrersInput) (*listImageReferrersOutput, error) {
	ref := registry.RepoRef{AccountID: registryOf(who, in.RegistryID), Name: in.RepositoryName}
	var types []string
	status := registry.ImageActive // ECR's default: only ACTIVE artifacts
	if in.Filter != nil {
		types = in.Filter.ArtifactTypes
		if in.Filter.ArtifactStatus != nil {
			status = registry.ImageStatus(*in.Filter.ArtifactStatus)
		}
	}
	want := cursor{Op: "ListImageReferrers", Account: ref.AccountID, Repo: ref.Name,
		Filter: in.SubjectID.ImageDigest + "|" + joinSorted(types) + "|" + string(status)}
	last, err := h.decodeToken(ctx, in.NextToken, want)
	if err != nil {
		return nil, err
	}
	out := &listImageReferrersOutput{Referrers: []imageReferrer{}}
	single := ""
	if len(types) == 1 {
		single = types[0] // the store filters one type itself
	}
	n := pageSize(in.MaxResults, 20)
	// Collect one match more than the page holds: it tells whether a next
	// page exists. Several types are filtered here, page by page.
	pos := last
	for len(out.Referrers) <= n {
		ms, more, err := h.svc.ListReferrers(ctx, who, ref, in.SubjectID.ImageDigest, single, status, pos, 100)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			pos = m.Digest.String()
			if len(types) > 1 && !slices.Contains(types, m.ArtifactType) {
				continue
			}
			out.Referrers = append(out.Referrers, imageReferrer{Digest: m.Digest.String(), MediaType: m.MediaType,
				ArtifactType: m.ArtifactType, Size: m.Size, Annotations: m.Annotations, ArtifactStatus: string(m.Status)})
			if len(out.Referrers) > n {
				break
			}
		}
		if !more {
			break
		}
	}
	if len(out.Referrers) > n {
		out.Referrers = out.Referrers[:n]
		want.Last = out.Referrers[n-1].Digest
		out.NextToken, err = h.encodeToken(ctx, want)
	}
	return out, err
}

func joinSorted(s []string) string {
	c := slices.Clone(s)
	slices.Sort(c)
	out := ""
	for _, x := range c {
		out += x + ","
	}
	return out
}
