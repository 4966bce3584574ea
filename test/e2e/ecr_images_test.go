package e2e

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestECRImagesFromRegistryPush: what a registry client pushes over /v2
// is what the API describes and returns.
func TestECRImagesFromRegistryPush(t *testing.T) {
	t.Parallel()
	s := startBerth(t)
	ctx := testContext(t, 2*time.Minute)
	c := s.ecr()
	const repo = "img/app"
	createRepo(t, ctx, c, repo)

	before := time.Now().Add(-time.Second)
	img := randomImage(t, 2048, 3)
	dgst := s.pushImage(t, ctx, repo, "v1", img)
	if err := remote.Tag(s.repo(t, repo).Tag("latest"), img, remoteOpts(ctx)...); err != nil {
		t.Fatal(err)
	}
	raw, mt := manifestBody(t, img)

	out, err := c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String(repo)})
	if err != nil {
		t.Fatalf("DescribeImages: %v", err)
	}
	if len(out.ImageDetails) != 1 {
		t.Fatalf("DescribeImages: %d images, want 1", len(out.ImageDetails))
	}
	checkDetail(t, "DescribeImages", out.ImageDetails[0], repo, dgst, []string{"latest", "v1"}, imageSize(t, img), mt, before)

	// BatchGetImage by tag and by digest returns the exact bytes pushed.
	got, err := c.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String(repo),
		ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("v1")}, {ImageDigest: aws.String(dgst)}, {ImageTag: aws.String("missing")}}})
	if err != nil {
		t.Fatalf("BatchGetImage: %v", err)
	}
	if len(got.Images) != 2 {
		t.Fatalf("BatchGetImage: %d images, want 2", len(got.Images))
	}
	for i, im := range got.Images {
		if aws.ToString(im.ImageManifest) != string(raw) {
			t.Errorf("BatchGetImage image %d: manifest differs from the pushed bytes:\n got %s\nwant %s", i, aws.ToString(im.ImageManifest), raw)
		}
		if aws.ToString(im.ImageManifestMediaType) != mt || aws.ToString(im.ImageId.ImageDigest) != dgst ||
			aws.ToString(im.RepositoryName) != repo || aws.ToString(im.RegistryId) != defaultAccount {
			t.Errorf("BatchGetImage image %d: %+v / %+v", i, im, im.ImageId)
		}
	}
	if aws.ToString(got.Images[0].ImageId.ImageTag) != "v1" {
		t.Errorf("BatchGetImage by tag: imageId tag %q, want v1", aws.ToString(got.Images[0].ImageId.ImageTag))
	}
	if len(got.Failures) != 1 || got.Failures[0].FailureCode != types.ImageFailureCodeImageNotFound ||
		aws.ToString(got.Failures[0].ImageId.ImageTag) != "missing" {
		t.Errorf("BatchGetImage failures = %+v, want ImageNotFound for tag missing", got.Failures)
	}

	// An untagged image, and the tag-status filters.
	untagged := ociImage(t, 1024, 2)
	if err := remote.Write(s.repo(t, repo).Digest(mustDigest(t, untagged).String()), untagged, remoteOpts(ctx)...); err != nil {
		t.Fatal(err)
	}
	ids := listImageIDs(t, c, &ecr.ListImagesInput{RepositoryName: aws.String(repo)})
	want := []string{dgst + " latest", dgst + " v1", mustDigest(t, untagged).String() + " "}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Errorf("ListImages = %q, want %q", ids, want)
	}
	ids = listImageIDs(t, c, &ecr.ListImagesInput{RepositoryName: aws.String(repo), Filter: &types.ListImagesFilter{TagStatus: types.TagStatusUntagged}})
	if !slices.Equal(ids, []string{mustDigest(t, untagged).String() + " "}) {
		t.Errorf("ListImages UNTAGGED = %q", ids)
	}
	for status, wantDigest := range map[types.TagStatus]string{types.TagStatusTagged: dgst, types.TagStatusUntagged: mustDigest(t, untagged).String()} {
		out, err := c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String(repo), Filter: &types.DescribeImagesFilter{TagStatus: status}})
		if err != nil || len(out.ImageDetails) != 1 || aws.ToString(out.ImageDetails[0].ImageDigest) != wantDigest {
			t.Errorf("DescribeImages %s = %+v, %v; want only %s", status, out, err, wantDigest)
		}
	}
	_, err = c.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String(repo), Filter: &types.ListImagesFilter{TagStatus: "SOME"}})
	wantException[*types.InvalidParameterException](t, "ListImages tagStatus SOME", err)

	// DescribeImages by id; a missing id fails the call.
	byID, err := c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String(repo),
		ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("latest")}, {ImageDigest: aws.String(mustDigest(t, untagged).String())}}})
	if err != nil || len(byID.ImageDetails) != 2 {
		t.Fatalf("DescribeImages by id = %+v, %v; want 2 images", byID, err)
	}
	checkDetail(t, "DescribeImages by tag", byID.ImageDetails[0], repo, dgst, []string{"latest", "v1"}, imageSize(t, img), mt, before)
	checkDetail(t, "DescribeImages of the untagged OCI image", byID.ImageDetails[1], repo, mustDigest(t, untagged).String(), nil,
		imageSize(t, untagged), "application/vnd.oci.image.manifest.v1+json", before)
	_, err = c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String(repo),
		ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("v1")}, {ImageTag: aws.String("nope")}}})
	if e := wantException[*types.ImageNotFoundException](t, "DescribeImages with a missing tag", err); e != nil &&
		!strings.Contains(e.ErrorMessage(), "nope") {
		t.Errorf("ImageNotFoundException message %q does not name the image", e.ErrorMessage())
	}
	_, err = c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String(repo),
		ImageIds: []types.ImageIdentifier{{ImageDigest: aws.String("sha256:" + strings.Repeat("0", 64))}}})
	wantException[*types.ImageNotFoundException](t, "DescribeImages with a missing digest", err)
	_, err = c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String(repo),
		ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("v1")}}, MaxResults: aws.Int32(1)})
	wantException[*types.InvalidParameterException](t, "DescribeImages imageIds with maxResults", err)

	// An index is as large as its largest image.
	idx, err := random.Index(3000, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(s.repo(t, repo).Tag("multi"), idx, remoteOpts(ctx)...); err != nil {
		t.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	var largest int64
	for _, d := range im.Manifests {
		child, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		largest = max(largest, imageSize(t, child))
	}
	idxOut, err := c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String(repo),
		ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("multi")}}})
	if err != nil || len(idxOut.ImageDetails) != 1 {
		t.Fatalf("DescribeImages of the index = %+v, %v", idxOut, err)
	}
	if got := aws.ToInt64(idxOut.ImageDetails[0].ImageSizeInBytes); got != largest {
		t.Errorf("index imageSizeInBytes = %d, want %d (its largest image)", got, largest)
	}

	for what, call := range map[string]func() error{
		"ListImages": func() error {
			_, err := c.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String("img/none")})
			return err
		},
		"DescribeImages": func() error {
			_, err := c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("img/none")})
			return err
		},
		"BatchGetImage": func() error {
			_, err := c.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String("img/none"),
				ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("v1")}}})
			return err
		},
	} {
		wantException[*types.RepositoryNotFoundException](t, what+" of a missing repository", call())
	}
}

// checkDetail compares an ImageDetail with what was pushed.
func checkDetail(t testing.TB, what string, d types.ImageDetail, repo, dgst string, tags []string, size int64, mediaType string, pushedAfter time.Time) {
	t.Helper()
	if aws.ToString(d.ImageDigest) != dgst || aws.ToString(d.RepositoryName) != repo || aws.ToString(d.RegistryId) != defaultAccount {
		t.Errorf("%s: digest %s in %s/%s, want %s in %s/%s", what, aws.ToString(d.ImageDigest), aws.ToString(d.RegistryId),
			aws.ToString(d.RepositoryName), dgst, defaultAccount, repo)
	}
	if !slices.Equal(d.ImageTags, tags) {
		t.Errorf("%s: imageTags %q, want %q", what, d.ImageTags, tags)
	}
	if got := aws.ToInt64(d.ImageSizeInBytes); got != size {
		t.Errorf("%s: imageSizeInBytes %d, want %d (config + layers)", what, got, size)
	}
	if got := aws.ToString(d.ImageManifestMediaType); got != mediaType {
		t.Errorf("%s: imageManifestMediaType %q, want %q", what, got, mediaType)
	}
	if d.ImagePushedAt == nil || d.ImagePushedAt.Before(pushedAfter) || d.ImagePushedAt.After(time.Now().Add(time.Second)) {
		t.Errorf("%s: imagePushedAt %v, want between %v and now", what, d.ImagePushedAt, pushedAfter)
	}
	if d.ImageStatus != types.ImageStatusActive {
		t.Errorf("%s: imageStatus %q, want ACTIVE", what, d.ImageStatus)
	}
}

// listImageIDs walks ListImages and returns "digest tag" strings, sorted.
func listImageIDs(t testing.TB, c *ecr.Client, in *ecr.ListImagesInput) []string {
	t.Helper()
	var out []string
	p := ecr.NewListImagesPaginator(c, in)
	for p.HasMorePages() {
		page, err := p.NextPage(testContext(t, time.Minute))
		if err != nil {
			t.Fatalf("ListImages: %v", err)
		}
		for _, id := range page.ImageIds {
			out = append(out, aws.ToString(id.ImageDigest)+" "+aws.ToString(id.ImageTag))
		}
	}
	slices.Sort(out)
	return out
}

func TestECRPutImage(t *testing.T) {
	t.Parallel()
	s := startBerth(t)
	ctx := testContext(t, 2*time.Minute)
	c := s.ecr()
	const repo = "put/app"
	createRepo(t, ctx, c, repo)
	img := randomImage(t, 1024, 2)
	dgst := s.pushImage(t, ctx, repo, "pushed", img)
	raw, mt := manifestBody(t, img)
	put := func(manifest, mediaType, tag, digest string) (*ecr.PutImageOutput, error) {
		in := &ecr.PutImageInput{RepositoryName: aws.String(repo), ImageManifest: aws.String(manifest)}
		if mediaType != "" {
			in.ImageManifestMediaType = aws.String(mediaType)
		}
		if tag != "" {
			in.ImageTag = aws.String(tag)
		}
		if digest != "" {
			in.ImageDigest = aws.String(digest)
		}
		return c.PutImage(ctx, in)
	}

	out, err := put(string(raw), mt, "api", "")
	if err != nil {
		t.Fatalf("PutImage with a new tag: %v", err)
	}
	if im := out.Image; im == nil || aws.ToString(im.ImageManifest) != string(raw) || aws.ToString(im.ImageId.ImageDigest) != dgst ||
		aws.ToString(im.ImageId.ImageTag) != "api" || aws.ToString(im.ImageManifestMediaType) != mt || aws.ToString(im.RepositoryName) != repo {
		t.Errorf("PutImage output = %+v", out.Image)
	}
	if d, err := remote.Head(s.repo(t, repo).Tag("api"), remoteOpts(ctx)...); err != nil || d.Digest.String() != dgst {
		t.Errorf("HEAD api over /v2 = %v, %v; want %s", d, err, dgst)
	}
	_, err = put(string(raw), mt, "api", "")
	wantException[*types.ImageAlreadyExistsException](t, "PutImage of the same manifest and tag", err)
	if _, err := put(string(raw), mt, "with-digest", dgst); err != nil {
		t.Errorf("PutImage with the right imageDigest: %v", err)
	}
	_, err = put(string(raw), mt, "wrong-digest", "sha256:"+strings.Repeat("1", 64))
	wantException[*types.ImageDigestDoesNotMatchException](t, "PutImage with another imageDigest", err)

	// A manifest without mediaType needs imageManifestMediaType.
	other := randomImage(t, 512, 1)
	s.pushImage(t, ctx, repo, "other", other)
	bare := strings.Replace(string(mustRaw(t, other)), `"mediaType":"application/vnd.docker.distribution.manifest.v2+json",`, "", 1)
	if bare == string(mustRaw(t, other)) {
		t.Fatalf("test bug: no top-level mediaType in %s", mustRaw(t, other))
	}
	if _, err := put(bare, "application/vnd.docker.distribution.manifest.v2+json", "bare", ""); err != nil {
		t.Errorf("PutImage of a manifest without mediaType, with imageManifestMediaType: %v", err)
	}

	// Broken references and bodies.
	missingLayer := randomImage(t, 512, 1)
	missingRaw, missingMT := manifestBody(t, missingLayer)
	_, err = put(string(missingRaw), missingMT, "no-layers", "")
	wantException[*types.LayersNotFoundException](t, "PutImage of a manifest whose blobs were never pushed", err)
	idx, err := random.Index(256, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	idxRaw, _ := idx.RawManifest()
	idxMT, _ := idx.MediaType()
	_, err = put(string(idxRaw), string(idxMT), "no-children", "")
	wantException[*types.ReferencedImagesNotFoundException](t, "PutImage of an index whose images are missing", err)
	_, err = put(`{"schemaVersion":2,`, mt, "broken", "")
	wantException[*types.InvalidParameterException](t, "PutImage of truncated JSON", err)
	_, err = put(string(raw), mt, "bad tag!", "")
	wantException[*types.InvalidParameterException](t, "PutImage with tag 'bad tag!'", err)
	_, err = c.PutImage(ctx, &ecr.PutImageInput{RepositoryName: aws.String("put/none"), ImageManifest: aws.String(string(raw)), ImageTag: aws.String("x")})
	wantException[*types.RepositoryNotFoundException](t, "PutImage into a missing repository", err)

	// Moving a tag in a mutable repository; refused in an immutable one.
	if _, err := put(string(mustRaw(t, other)), "", "api", ""); err != nil {
		t.Errorf("PutImage moving tag api to another image: %v", err)
	}
	if _, err := c.PutImageTagMutability(ctx, &ecr.PutImageTagMutabilityInput{RepositoryName: aws.String(repo),
		ImageTagMutability: types.ImageTagMutabilityImmutable}); err != nil {
		t.Fatal(err)
	}
	_, err = put(string(raw), mt, "api", "")
	wantException[*types.ImageTagAlreadyExistsException](t, "PutImage moving a tag in an immutable repository", err)
	if d, err := remote.Head(s.repo(t, repo).Tag("api"), remoteOpts(ctx)...); err != nil || d.Digest != mustDigest(t, other) {
		t.Errorf("tag api after the refused move = %v, %v; want %s", d, err, mustDigest(t, other))
	}
	// The setting holds for registry clients too.
	err = remote.Write(s.repo(t, repo).Tag("api"), img, remoteOpts(ctx)...)
	wantTransportError(t, "push over /v2 moving a tag in an immutable repository", err, http.StatusBadRequest, "")
	if d, err := remote.Head(s.repo(t, repo).Tag("api"), remoteOpts(ctx)...); err != nil || d.Digest != mustDigest(t, other) {
		t.Errorf("tag api after the refused /v2 push = %v, %v; want %s", d, err, mustDigest(t, other))
	}
	if _, err := put(string(raw), mt, "fresh-tag", ""); err != nil {
		t.Errorf("PutImage with a new tag in an immutable repository: %v", err)
	}
}

func mustRaw(t testing.TB, img v1.Image) []byte {
	t.Helper()
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestECRBatchDeleteImage(t *testing.T) {
	t.Parallel()
	s := startBerth(t)
	ctx := testContext(t, 2*time.Minute)
	c := s.ecr()
	const repo = "bdi/app"
	createRepo(t, ctx, c, repo)
	a, b, cc := randomImage(t, 256, 1), randomImage(t, 256, 1), randomImage(t, 256, 1)
	da := s.pushImage(t, ctx, repo, "a1", a)
	if err := remote.Tag(s.repo(t, repo).Tag("a2"), a, remoteOpts(ctx)...); err != nil {
		t.Fatal(err)
	}
	db := s.pushImage(t, ctx, repo, "b1", b)
	dc := s.pushImage(t, ctx, repo, "c1", cc)

	out, err := c.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: aws.String(repo), ImageIds: []types.ImageIdentifier{
		{ImageTag: aws.String("a1")},
		{ImageTag: aws.String("nope")},
		{},
		{ImageDigest: aws.String("sha256:zz")},
		{ImageDigest: aws.String(dc), ImageTag: aws.String("b1")},
		{ImageDigest: aws.String(db)},
	}})
	if err != nil {
		t.Fatalf("BatchDeleteImage with per-image failures must answer 200: %v", err)
	}
	deleted := map[string]bool{}
	for _, id := range out.ImageIds {
		deleted[aws.ToString(id.ImageDigest)+" "+aws.ToString(id.ImageTag)] = true
	}
	if len(deleted) != 2 || !deleted[da+" a1"] || !deleted[db+" "] {
		t.Errorf("deleted = %v, want {%s a1} and {%s}", deleted, da, db)
	}
	wantFailures := []struct {
		code types.ImageFailureCode
		id   string
	}{
		{types.ImageFailureCodeImageNotFound, " nope"},
		{types.ImageFailureCodeMissingDigestAndTag, " "},
		{types.ImageFailureCodeInvalidImageDigest, "sha256:zz "},
		{types.ImageFailureCodeImageTagDoesNotMatchDigest, dc + " b1"},
	}
	if len(out.Failures) != len(wantFailures) {
		t.Errorf("failures = %+v, want %d", out.Failures, len(wantFailures))
	}
	for i, f := range out.Failures {
		if i >= len(wantFailures) {
			break
		}
		w := wantFailures[i]
		id := aws.ToString(f.ImageId.ImageDigest) + " " + aws.ToString(f.ImageId.ImageTag)
		if f.FailureCode != w.code || id != w.id || aws.ToString(f.FailureReason) == "" {
			t.Errorf("failure %d = %s {%s} %q, want %s {%s} with a reason", i, f.FailureCode, id, aws.ToString(f.FailureReason), w.code, w.id)
		}
	}

	// a keeps its other tag; b is gone with its tag; c is untouched.
	ids := listImageIDs(t, c, &ecr.ListImagesInput{RepositoryName: aws.String(repo)})
	if want := sortedStrings(da+" a2", dc+" c1"); !slices.Equal(ids, want) {
		t.Errorf("images after the batch = %q, want %q", ids, want)
	}
	_, err = remote.Get(s.repo(t, repo).Digest(db), remoteOpts(ctx)...)
	wantTransportError(t, "GET the deleted image b over /v2", err, http.StatusNotFound, "MANIFEST_UNKNOWN")

	// Removing an image's last tag removes the image.
	out, err = c.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: aws.String(repo),
		ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("a2")}, {ImageDigest: aws.String(dc), ImageTag: aws.String("c1")}}})
	if err != nil || len(out.ImageIds) != 2 || len(out.Failures) != 0 {
		t.Errorf("BatchDeleteImage a2 and c = %+v, %v", out, err)
	}
	if ids := listImageIDs(t, c, &ecr.ListImagesInput{RepositoryName: aws.String(repo)}); len(ids) != 0 {
		t.Errorf("images left = %q, want none", ids)
	}
	// An image an index lists cannot be deleted before the index.
	idx, err := random.Index(256, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(s.repo(t, repo).Tag("multi"), idx, remoteOpts(ctx)...); err != nil {
		t.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	child := im.Manifests[0].Digest.String()
	out, err = c.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: aws.String(repo),
		ImageIds: []types.ImageIdentifier{{ImageDigest: aws.String(child)}}})
	if err != nil || len(out.ImageIds) != 0 || len(out.Failures) != 1 ||
		out.Failures[0].FailureCode != types.ImageFailureCodeImageReferencedByManifestList {
		t.Errorf("BatchDeleteImage of an index's image = %+v, %v; want failure ImageReferencedByManifestList", out, err)
	}
	out, err = c.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: aws.String(repo),
		ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("multi")}, {ImageDigest: aws.String(child)}}})
	if err != nil || len(out.ImageIds) != 2 || len(out.Failures) != 0 {
		t.Errorf("BatchDeleteImage of the index, then its image = %+v, %v; want both deleted", out, err)
	}

	_, err = c.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: aws.String("bdi/none"),
		ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("x")}}})
	wantException[*types.RepositoryNotFoundException](t, "BatchDeleteImage in a missing repository", err)
	_, err = c.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: aws.String(repo), ImageIds: []types.ImageIdentifier{}})
	wantException[*types.InvalidParameterException](t, "BatchDeleteImage with no imageIds", err)
}

func sortedStrings(s ...string) []string {
	slices.Sort(s)
	return s
}

func TestECRImagePagination(t *testing.T) {
	t.Parallel()
	s := startBerth(t)
	ctx := testContext(t, 2*time.Minute)
	c := s.ecr()
	createRepo(t, ctx, c, "pg/a")
	createRepo(t, ctx, c, "pg/b")
	var digests []string
	for i := range 5 {
		digests = append(digests, s.pushImage(t, ctx, "pg/a", fmt.Sprintf("t%d", i), randomImage(t, 128, 1)))
		s.pushImage(t, ctx, "pg/b", fmt.Sprintf("t%d", i), randomImage(t, 128, 1))
	}
	slices.Sort(digests)

	var listed []string
	pages := 0
	lp := ecr.NewListImagesPaginator(c, &ecr.ListImagesInput{RepositoryName: aws.String("pg/a"), MaxResults: aws.Int32(2)})
	for lp.HasMorePages() {
		page, err := lp.NextPage(ctx)
		if err != nil {
			t.Fatalf("ListImages page %d: %v", pages+1, err)
		}
		pages++
		if len(page.ImageIds) > 2 {
			t.Errorf("ListImages page %d: %d ids, maxResults 2", pages, len(page.ImageIds))
		}
		for _, id := range page.ImageIds {
			listed = append(listed, aws.ToString(id.ImageDigest))
		}
	}
	slices.Sort(listed)
	if !slices.Equal(listed, digests) || pages != 3 {
		t.Errorf("ListImages paginator: %d pages, %q; want 3 pages, %q", pages, listed, digests)
	}

	var described []string
	pages = 0
	dp := ecr.NewDescribeImagesPaginator(c, &ecr.DescribeImagesInput{RepositoryName: aws.String("pg/a"), MaxResults: aws.Int32(2)})
	for dp.HasMorePages() {
		page, err := dp.NextPage(ctx)
		if err != nil {
			t.Fatalf("DescribeImages page %d: %v", pages+1, err)
		}
		pages++
		if len(page.ImageDetails) > 2 {
			t.Errorf("DescribeImages page %d: %d images, maxResults 2", pages, len(page.ImageDetails))
		}
		for _, d := range page.ImageDetails {
			described = append(described, aws.ToString(d.ImageDigest))
		}
	}
	slices.Sort(described)
	if !slices.Equal(described, digests) || pages != 3 {
		t.Errorf("DescribeImages paginator: %d pages, %q; want 3 pages, %q", pages, described, digests)
	}

	// A token belongs to its repository and its operation.
	lfirst, err := c.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String("pg/a"), MaxResults: aws.Int32(2)})
	if err != nil || lfirst.NextToken == nil {
		t.Fatalf("ListImages first page: %+v, %v", lfirst, err)
	}
	dfirst, err := c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("pg/a"), MaxResults: aws.Int32(2)})
	if err != nil || dfirst.NextToken == nil {
		t.Fatalf("DescribeImages first page: %+v, %v", dfirst, err)
	}
	_, err = c.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String("pg/b"), NextToken: lfirst.NextToken})
	wantException[*types.InvalidParameterException](t, "ListImages on pg/b with a token from pg/a", err)
	_, err = c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("pg/b"), NextToken: dfirst.NextToken})
	wantException[*types.InvalidParameterException](t, "DescribeImages on pg/b with a token from pg/a", err)
	_, err = c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("pg/a"), NextToken: lfirst.NextToken})
	wantException[*types.InvalidParameterException](t, "DescribeImages with a ListImages token", err)
	_, err = c.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String("pg/a"), NextToken: aws.String("x.y.z")})
	wantException[*types.InvalidParameterException](t, "ListImages with a forged token", err)
	for _, n := range []int32{0, 1001} {
		_, err = c.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String("pg/a"), MaxResults: aws.Int32(n)})
		wantException[*types.InvalidParameterException](t, fmt.Sprintf("ListImages maxResults %d", n), err)
	}
	// The token still works on its own listing.
	if next, err := c.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String("pg/a"), NextToken: lfirst.NextToken,
		MaxResults: aws.Int32(2)}); err != nil || len(next.ImageIds) != 2 {
		t.Errorf("ListImages second page = %+v, %v", next, err)
	}
}

// TestECRListImagesCountsImageIDs: maxResults bounds the imageIds of a
// ListImages page, and an image with several tags is one id per tag.
func TestECRListImagesCountsImageIDs(t *testing.T) {
	t.Parallel()
	s := startBerth(t)
	ctx := testContext(t, time.Minute)
	c := s.ecr()
	createRepo(t, ctx, c, "ids/app")
	img := randomImage(t, 128, 1)
	d := s.pushImage(t, ctx, "ids/app", "x1", img)
	for _, tag := range []string{"x2", "x3"} {
		if err := remote.Tag(s.repo(t, "ids/app").Tag(tag), img, remoteOpts(ctx)...); err != nil {
			t.Fatal(err)
		}
	}
	var all []string
	lp := ecr.NewListImagesPaginator(c, &ecr.ListImagesInput{RepositoryName: aws.String("ids/app"), MaxResults: aws.Int32(1)})
	for page := 1; lp.HasMorePages(); page++ {
		out, err := lp.NextPage(ctx)
		if err != nil {
			t.Fatalf("ListImages page %d: %v", page, err)
		}
		if len(out.ImageIds) > 1 {
			t.Errorf("ListImages maxResults 1, page %d: %d imageIds", page, len(out.ImageIds))
		}
		for _, id := range out.ImageIds {
			all = append(all, aws.ToString(id.ImageDigest)+" "+aws.ToString(id.ImageTag))
		}
	}
	if want := []string{d + " x1", d + " x2", d + " x3"}; !slices.Equal(sortedStrings(all...), want) {
		t.Errorf("ListImages ids = %q, want %q", all, want)
	}
}

func TestECRListImageReferrers(t *testing.T) {
	t.Parallel()
	s := startBerth(t)
	ctx := testContext(t, time.Minute)
	c := s.ecr()
	const repo = "refs/app"
	createRepo(t, ctx, c, repo)
	subject := randomImage(t, 512, 1)
	subjDigest := s.pushImage(t, ctx, repo, "v1", subject)
	subjDesc, err := remote.Head(s.repo(t, repo).Tag("v1"), remoteOpts(ctx)...)
	if err != nil {
		t.Fatal(err)
	}
	const sbomType, sigType = "application/vnd.example.sbom.v1", "application/vnd.example.signature.v1"
	sbom, sig := artifact(t, *subjDesc, sbomType, "sbom"), artifact(t, *subjDesc, sigType, "signature")
	for _, a := range []v1.Image{sbom, sig} {
		if err := remote.Write(s.repo(t, repo).Digest(mustDigest(t, a).String()), a, remoteOpts(ctx)...); err != nil {
			t.Fatal(err)
		}
	}
	list := func(in *ecr.ListImageReferrersInput) *ecr.ListImageReferrersOutput {
		t.Helper()
		in.RepositoryName, in.SubjectId = aws.String(repo), &types.SubjectIdentifier{ImageDigest: aws.String(subjDigest)}
		out, err := c.ListImageReferrers(ctx, in)
		if err != nil {
			t.Fatalf("ListImageReferrers: %v", err)
		}
		return out
	}
	all := list(&ecr.ListImageReferrersInput{})
	if len(all.Referrers) != 2 || all.NextToken != nil {
		t.Fatalf("ListImageReferrers = %+v, want 2 referrers and no token", all)
	}
	for _, r := range all.Referrers {
		var a v1.Image
		var typ string
		switch aws.ToString(r.Digest) {
		case mustDigest(t, sbom).String():
			a, typ = sbom, sbomType
		case mustDigest(t, sig).String():
			a, typ = sig, sigType
		default:
			t.Errorf("unexpected referrer %s", aws.ToString(r.Digest))
			continue
		}
		size, _ := a.Size()
		if aws.ToString(r.ArtifactType) != typ || aws.ToString(r.MediaType) != "application/vnd.oci.image.manifest.v1+json" ||
			aws.ToInt64(r.Size) != size || r.Annotations["org.example.payload"] == "" || r.ArtifactStatus != types.ArtifactStatusActive {
			t.Errorf("referrer %s = type %q, media type %q, size %d, annotations %v, status %q; want %s, OCI manifest, %d, the payload annotation, ACTIVE",
				aws.ToString(r.Digest), aws.ToString(r.ArtifactType), aws.ToString(r.MediaType), aws.ToInt64(r.Size), r.Annotations, r.ArtifactStatus, typ, size)
		}
	}
	only := list(&ecr.ListImageReferrersInput{Filter: &types.ListImageReferrersFilter{ArtifactTypes: []string{sigType}}})
	if len(only.Referrers) != 1 || aws.ToString(only.Referrers[0].Digest) != mustDigest(t, sig).String() {
		t.Errorf("ListImageReferrers filtered by %s = %+v", sigType, only.Referrers)
	}
	p1 := list(&ecr.ListImageReferrersInput{MaxResults: aws.Int32(1)})
	if len(p1.Referrers) != 1 || p1.NextToken == nil {
		t.Fatalf("ListImageReferrers maxResults 1 = %+v, want one referrer and a token", p1)
	}
	p2 := list(&ecr.ListImageReferrersInput{MaxResults: aws.Int32(1), NextToken: p1.NextToken})
	if len(p2.Referrers) != 1 || p2.NextToken != nil || aws.ToString(p2.Referrers[0].Digest) == aws.ToString(p1.Referrers[0].Digest) {
		t.Errorf("ListImageReferrers page 2 = %+v, want the other referrer and no token", p2)
	}
	_, err = c.ListImageReferrers(ctx, &ecr.ListImageReferrersInput{RepositoryName: aws.String(repo),
		SubjectId: &types.SubjectIdentifier{ImageDigest: aws.String(mustDigest(t, sbom).String())}, NextToken: p1.NextToken})
	wantException[*types.InvalidParameterException](t, "ListImageReferrers with another subject's token", err)
	_, err = c.ListImageReferrers(ctx, &ecr.ListImageReferrersInput{RepositoryName: aws.String("refs/none"),
		SubjectId: &types.SubjectIdentifier{ImageDigest: aws.String(subjDigest)}})
	wantException[*types.RepositoryNotFoundException](t, "ListImageReferrers in a missing repository", err)

	// DescribeImages shows the artifact's subject and type.
	d, err := c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String(repo),
		ImageIds: []types.ImageIdentifier{{ImageDigest: aws.String(mustDigest(t, sbom).String())}}})
	if err != nil || len(d.ImageDetails) != 1 {
		t.Fatalf("DescribeImages of the sbom = %+v, %v", d, err)
	}
	if got := d.ImageDetails[0]; aws.ToString(got.SubjectManifestDigest) != subjDigest || aws.ToString(got.ArtifactMediaType) != sbomType {
		t.Errorf("sbom detail: subjectManifestDigest %q, artifactMediaType %q; want %s, %s",
			aws.ToString(got.SubjectManifestDigest), aws.ToString(got.ArtifactMediaType), subjDigest, sbomType)
	}
}

// TestECRStatusFilters: Berth has no archived images, so filtering on
// ARCHIVED must find nothing (spec §10.7).
func TestECRStatusFilters(t *testing.T) {
	t.Parallel()
	s := startBerth(t)
	ctx := testContext(t, time.Minute)
	c := s.ecr()
	createRepo(t, ctx, c, "status/app")
	subject := randomImage(t, 256, 1)
	d := s.pushImage(t, ctx, "status/app", "v1", subject)
	desc, err := remote.Head(s.repo(t, "status/app").Tag("v1"), remoteOpts(ctx)...)
	if err != nil {
		t.Fatal(err)
	}
	a := artifact(t, *desc, "application/vnd.example.sbom.v1", "sbom")
	if err := remote.Write(s.repo(t, "status/app").Digest(mustDigest(t, a).String()), a, remoteOpts(ctx)...); err != nil {
		t.Fatal(err)
	}
	li, err := c.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String("status/app"),
		Filter: &types.ListImagesFilter{ImageStatus: types.ImageStatusFilterArchived}})
	if err != nil || len(li.ImageIds) != 0 {
		t.Errorf("ListImages imageStatus ARCHIVED = %d ids, %v; want none", len(li.ImageIds), err)
	}
	di, err := c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("status/app"),
		Filter: &types.DescribeImagesFilter{ImageStatus: types.ImageStatusFilterArchived}})
	if err != nil || len(di.ImageDetails) != 0 {
		t.Errorf("DescribeImages imageStatus ARCHIVED = %d images, %v; want none", len(di.ImageDetails), err)
	}
	lr, err := c.ListImageReferrers(ctx, &ecr.ListImageReferrersInput{RepositoryName: aws.String("status/app"),
		SubjectId: &types.SubjectIdentifier{ImageDigest: aws.String(d)},
		Filter:    &types.ListImageReferrersFilter{ArtifactStatus: types.ArtifactStatusFilterArchived}})
	if err != nil || len(lr.Referrers) != 0 {
		t.Errorf("ListImageReferrers artifactStatus ARCHIVED = %d referrers, %v; want none", len(lr.Referrers), err)
	}
	for _, st := range []types.ImageStatusFilter{types.ImageStatusFilterActive, types.ImageStatusFilterAny} {
		di, err := c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("status/app"),
			Filter: &types.DescribeImagesFilter{ImageStatus: st}})
		if err != nil || len(di.ImageDetails) != 2 {
			t.Errorf("DescribeImages imageStatus %s = %d images, %v; want 2", st, len(di.ImageDetails), err)
		}
	}
}
