package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/berth-registry/berth/internal/testenv"
)

// describeOne returns the ImageDetail of one image, whatever its status.
func describeOne(t testing.TB, ctx context.Context, c *ecr.Client, repo string, id types.ImageIdentifier) types.ImageDetail {
	t.Helper()
	out, err := c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String(repo), ImageIds: []types.ImageIdentifier{id}})
	if err != nil || len(out.ImageDetails) != 1 {
		t.Fatalf("DescribeImages %+v = %+v, %v", id, out, err)
	}
	return out.ImageDetails[0]
}

// describeDigests lists the digests DescribeImages returns for a status filter.
func describeDigests(t testing.TB, ctx context.Context, c *ecr.Client, repo string, status types.ImageStatusFilter) []string {
	t.Helper()
	var out []string
	in := &ecr.DescribeImagesInput{RepositoryName: aws.String(repo), MaxResults: aws.Int32(2)}
	if status != "" {
		in.Filter = &types.DescribeImagesFilter{ImageStatus: status}
	}
	for p := ecr.NewDescribeImagesPaginator(c, in); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("DescribeImages %s: %v", status, err)
		}
		for _, d := range page.ImageDetails {
			out = append(out, aws.ToString(d.ImageDigest))
		}
	}
	slices.Sort(out)
	return out
}

func storageClass(t testing.TB, ctx context.Context, c *ecr.Client, repo string, id types.ImageIdentifier, target types.TargetStorageClass) types.ImageStatus {
	t.Helper()
	out, err := c.UpdateImageStorageClass(ctx, &ecr.UpdateImageStorageClassInput{RepositoryName: aws.String(repo),
		ImageId: &id, TargetStorageClass: target})
	if err != nil {
		t.Fatalf("UpdateImageStorageClass %+v %s: %v", id, target, err)
	}
	if aws.ToString(out.RepositoryName) != repo || aws.ToString(out.RegistryId) != defaultAccount || out.ImageId == nil ||
		!strings.HasPrefix(aws.ToString(out.ImageId.ImageDigest), "sha256:") {
		t.Errorf("UpdateImageStorageClass answered %+v", out)
	}
	return out.ImageStatus
}

// waitActive polls until the image is ACTIVE (the image-restore job the
// restore request triggered ran) and returns its detail.
func waitActive(t testing.TB, ctx context.Context, c *ecr.Client, repo string, id types.ImageIdentifier) types.ImageDetail {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		d := describeOne(t, ctx, c, repo, id)
		if d.ImageStatus == types.ImageStatusActive {
			return d
		}
		if d.ImageStatus != types.ImageStatusActivating {
			t.Fatalf("restoring image is %s, want ACTIVATING then ACTIVE", d.ImageStatus)
		}
		if time.Now().After(deadline) {
			t.Fatalf("image still ACTIVATING after 30s")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func wantPullRefused(t testing.TB, ctx context.Context, ref name.Reference, says string) {
	t.Helper()
	_, err := remote.Image(ref, remoteOpts(ctx)...)
	te := wantTransportError(t, "pull "+ref.String(), err, http.StatusNotFound, "MANIFEST_UNKNOWN")
	if te != nil && !slices.ContainsFunc(te.Errors, func(d transport.Diagnostic) bool { return strings.Contains(d.Message, says) }) {
		t.Errorf("pull %s: errors %+v do not say %q", ref, te.Errors, says)
	}
	if _, err := remote.Head(ref, remoteOpts(ctx)...); err == nil {
		t.Errorf("HEAD %s of an image that is not ACTIVE succeeded", ref)
	}
}

// TestECRArchiveRestore: archive with the API, see it listed as ARCHIVED
// and refused to go-containerregistry, restore through ACTIVATING to
// ACTIVE, pull it again; a re-push restores at once; an index takes its
// images along.
func TestECRArchiveRestore(t *testing.T) {
	t.Parallel()
	archiveRestore(t, startBerth(t))
}

// TestECRArchiveRestorePostgres: the same on PostgreSQL, and a pull time
// recorded there.
func TestECRArchiveRestorePostgres(t *testing.T) {
	t.Parallel()
	s := startBerth(t, withFlags("--database", testenv.PostgresDatabase(t), "--pull-time-flush", "1s"))
	archiveRestore(t, s)
	ctx := testContext(t, time.Minute)
	before := time.Now().Add(-time.Second)
	pullManifest(t, ctx, s.repo(t, "arch/app").Tag("keep"))
	got := lastPull(t, ctx, s.ecr(), "arch/app", "keep", 10*time.Second, func(p *time.Time) bool { return p != nil })
	if got == nil || got.Before(before) {
		t.Errorf("lastRecordedPullTime on PostgreSQL = %v, want after %v", got, before)
	}
}

func archiveRestore(t *testing.T, s *server) {
	ctx := testContext(t, 3*time.Minute)
	c := s.ecr()
	const repo = "arch/app"
	createRepo(t, ctx, c, repo)
	img := randomImage(t, 1024, 2)
	dgst := s.pushImage(t, ctx, repo, "v1", img)
	keep := s.pushImage(t, ctx, repo, "keep", randomImage(t, 512, 1))
	v1Tag := types.ImageIdentifier{ImageTag: aws.String("v1")}

	before := time.Now().Add(-time.Second)
	if st := storageClass(t, ctx, c, repo, v1Tag, types.TargetStorageClassArchive); st != types.ImageStatusArchived {
		t.Fatalf("archive: imageStatus %s, want ARCHIVED", st)
	}
	if got := describeDigests(t, ctx, c, repo, ""); !slices.Equal(got, []string{keep}) {
		t.Errorf("DescribeImages (default: ACTIVE) = %v, want only %s", got, keep)
	}
	if got := describeDigests(t, ctx, c, repo, types.ImageStatusFilterArchived); !slices.Equal(got, []string{dgst}) {
		t.Errorf("DescribeImages ARCHIVED = %v, want %s", got, dgst)
	}
	if got := describeDigests(t, ctx, c, repo, types.ImageStatusFilterAny); len(got) != 2 {
		t.Errorf("DescribeImages ANY = %v, want both images", got)
	}
	d := describeOne(t, ctx, c, repo, v1Tag)
	if d.ImageStatus != types.ImageStatusArchived || d.LastArchivedAt == nil || d.LastArchivedAt.Before(before) ||
		d.LastActivatedAt != nil || !slices.Equal(d.ImageTags, []string{"v1"}) {
		t.Errorf("archived image detail: status %s, archived %v, activated %v, tags %v", d.ImageStatus, d.LastArchivedAt,
			d.LastActivatedAt, d.ImageTags)
	}
	ids := listImageIDs(t, c, &ecr.ListImagesInput{RepositoryName: aws.String(repo),
		Filter: &types.ListImagesFilter{ImageStatus: types.ImageStatusFilterArchived}})
	if !slices.Equal(ids, []string{dgst + " v1"}) {
		t.Errorf("ListImages ARCHIVED = %q", ids)
	}

	// Refused to registry clients and to BatchGetImage; its layers show ARCHIVED.
	wantPullRefused(t, ctx, s.repo(t, repo).Tag("v1"), "update-image-storage-class")
	wantPullRefused(t, ctx, s.repo(t, repo).Digest(dgst), "archived")
	got, err := c.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String(repo), ImageIds: []types.ImageIdentifier{v1Tag}})
	if err != nil || len(got.Images) != 0 || len(got.Failures) != 1 || got.Failures[0].FailureCode != types.ImageFailureCodeImageInaccessible {
		t.Errorf("BatchGetImage of an archived image = %+v, %v; want an ImageInaccessible failure", got, err)
	}
	layers, _ := img.Layers()
	ld := mustDigest(t, layers[0]).String()
	avail, err := c.BatchCheckLayerAvailability(ctx, &ecr.BatchCheckLayerAvailabilityInput{RepositoryName: aws.String(repo),
		LayerDigests: []string{ld}})
	if err != nil || len(avail.Layers) != 1 || avail.Layers[0].LayerAvailability != types.LayerAvailabilityArchived {
		t.Errorf("BatchCheckLayerAvailability of an archived image's layer = %+v, %v; want ARCHIVED", avail, err)
	}
	_, err = c.UpdateImageStorageClass(ctx, &ecr.UpdateImageStorageClassInput{RepositoryName: aws.String(repo), ImageId: &v1Tag,
		TargetStorageClass: types.TargetStorageClassArchive})
	wantException[*types.ImageStorageClassUpdateNotSupportedException](t, "archive an archived image", err)
	_, err = c.UpdateImageStorageClass(ctx, &ecr.UpdateImageStorageClassInput{RepositoryName: aws.String(repo),
		ImageId: &types.ImageIdentifier{ImageTag: aws.String("nope")}, TargetStorageClass: types.TargetStorageClassArchive})
	wantException[*types.ImageNotFoundException](t, "archive a missing image", err)

	// Restore: ACTIVATING, then ACTIVE within seconds, then pullable.
	restoreAt := time.Now().Add(-time.Second)
	if st := storageClass(t, ctx, c, repo, v1Tag, types.TargetStorageClassStandard); st != types.ImageStatusActivating {
		t.Fatalf("restore: imageStatus %s, want ACTIVATING", st)
	}
	// The request triggers the image-restore job, which may already have
	// made it ACTIVE (pulls while ACTIVATING: internal/registry's tests).
	d = waitActive(t, ctx, c, repo, v1Tag)
	if d.LastActivatedAt == nil || d.LastActivatedAt.Before(restoreAt) || d.LastArchivedAt == nil {
		t.Errorf("restored image: activated %v, archived %v", d.LastActivatedAt, d.LastArchivedAt)
	}
	verifyImage(t, ctx, s.repo(t, repo).Tag("v1"), img)

	// A re-push restores at once.
	storageClass(t, ctx, c, repo, v1Tag, types.TargetStorageClassArchive)
	s.pushImage(t, ctx, repo, "v1", img)
	if d := describeOne(t, ctx, c, repo, v1Tag); d.ImageStatus != types.ImageStatusActive {
		t.Errorf("after a re-push the image is %s, want ACTIVE at once", d.ImageStatus)
	}
	verifyImage(t, ctx, s.repo(t, repo).Digest(dgst), img)

	archiveIndex(t, ctx, s, c)
}

// archiveIndex: archiving an index archives its images; restoring it
// restores them; both pull again.
func archiveIndex(t *testing.T, ctx context.Context, s *server, c *ecr.Client) {
	const repo = "arch/multi"
	createRepo(t, ctx, c, repo)
	idx, err := random.Index(512, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(s.repo(t, repo).Tag("multi"), idx, remoteOpts(ctx)...); err != nil {
		t.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	want := []string{mustDigest(t, idx).String()}
	for _, m := range im.Manifests {
		want = append(want, m.Digest.String())
	}
	slices.Sort(want)
	child := types.ImageIdentifier{ImageDigest: aws.String(im.Manifests[0].Digest.String())}
	_, err = c.UpdateImageStorageClass(ctx, &ecr.UpdateImageStorageClassInput{RepositoryName: aws.String(repo), ImageId: &child,
		TargetStorageClass: types.TargetStorageClassArchive})
	if e := wantException[*types.ImageStorageClassUpdateNotSupportedException](t, "archive a child of an active index", err); e != nil &&
		!strings.Contains(e.ErrorMessage(), "index") {
		t.Errorf("message %q does not name the index", e.ErrorMessage())
	}
	multi := types.ImageIdentifier{ImageTag: aws.String("multi")}
	storageClass(t, ctx, c, repo, multi, types.TargetStorageClassArchive)
	if got := describeDigests(t, ctx, c, repo, types.ImageStatusFilterArchived); !slices.Equal(got, want) {
		t.Errorf("archived after archiving the index: %v, want the index and its images %v", got, want)
	}
	wantPullRefused(t, ctx, s.repo(t, repo).Digest(im.Manifests[1].Digest.String()), "archived")
	storageClass(t, ctx, c, repo, multi, types.TargetStorageClassStandard)
	waitActive(t, ctx, c, repo, multi)
	waitActive(t, ctx, c, repo, child)
	verifyIndex(t, ctx, s.repo(t, repo), s.repo(t, repo).Tag("multi"), idx)
}

// TestDockerPullArchived: the Docker Engine shows why it cannot pull.
func TestDockerPullArchived(t *testing.T) {
	t.Parallel()
	ctx := testContext(t, 2*time.Minute)
	docker := dockerCLI{t: t, config: t.TempDir()}
	if out, err := docker.run(ctx, "", "info", "--format", "{{.ServerVersion}}"); err != nil {
		t.Fatalf("the Docker Engine is required for this test and `docker info` failed: %v\n%s", err, out)
	}
	s := startBerth(t)
	c := s.ecr()
	repo := "arch/docker-" + randomHex(t, 4)
	createRepo(t, ctx, c, repo)
	s.pushImage(t, ctx, repo, "v1", randomImage(t, 256, 1))
	storageClass(t, ctx, c, repo, types.ImageIdentifier{ImageTag: aws.String("v1")}, types.TargetStorageClassArchive)
	docker.must(ctx, rootSecret, "login", s.host, "-u", rootKeyID, "--password-stdin")
	out, err := docker.run(ctx, "", "pull", s.host+"/"+repo+":v1")
	if err == nil {
		_, _ = docker.run(ctx, "", "rmi", "-f", s.host+"/"+repo+":v1")
		t.Fatalf("docker pull of an archived image succeeded:\n%s", out)
	}
	if !strings.Contains(out, "is archived") || !strings.Contains(out, "update-image-storage-class") {
		t.Errorf("docker pull of an archived image says:\n%s\nwant the reason and how to restore it", out)
	}
	docker.must(ctx, "", "logout", s.host)
}

// lastPull polls DescribeImages until cond holds for lastRecordedPullTime.
func lastPull(t testing.TB, ctx context.Context, c *ecr.Client, repo, tag string, within time.Duration, cond func(*time.Time) bool) *time.Time {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		d := describeOne(t, ctx, c, repo, types.ImageIdentifier{ImageTag: aws.String(tag)})
		if cond(d.LastRecordedPullTime) || time.Now().After(deadline) {
			return d.LastRecordedPullTime
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func pullManifest(t testing.TB, ctx context.Context, ref name.Reference, opts ...remote.Option) {
	t.Helper()
	if _, err := remote.Get(ref, append(remoteOpts(ctx), opts...)...); err != nil {
		t.Fatalf("pull %s: %v", ref, err)
	}
}

// TestECRPullTimes: lastRecordedPullTime appears after pulls (written in
// batches every --pull-time-flush) and does not move for an excluded
// principal.
func TestECRPullTimes(t *testing.T) {
	t.Parallel()
	s := startBerth(t, withFlags("--pull-time-flush", "1s"))
	ctx := testContext(t, 2*time.Minute)
	c := s.ecr()
	const repo = "pull/app"
	createRepo(t, ctx, c, repo)
	s.pushImage(t, ctx, repo, "v1", randomImage(t, 256, 1))
	ref := s.repo(t, repo).Tag("v1")
	if d := describeOne(t, ctx, c, repo, types.ImageIdentifier{ImageTag: aws.String("v1")}); d.LastRecordedPullTime != nil {
		t.Fatalf("a never pulled image has lastRecordedPullTime %v", d.LastRecordedPullTime)
	}

	pulledAt := time.Now().Add(-time.Second)
	pullManifest(t, ctx, ref)
	first := lastPull(t, ctx, c, repo, "v1", 10*time.Second, func(p *time.Time) bool { return p != nil })
	if first == nil || first.Before(pulledAt) || first.After(time.Now()) {
		t.Fatalf("lastRecordedPullTime %v after a pull at %v", first, pulledAt)
	}

	scanner := s.createUser(t, ctx, userSpec{name: "scanner", managed: []string{readOnlyPolicy}})
	_, err := s.ecrAs(scanner).RegisterPullTimeUpdateExclusion(ctx, &ecr.RegisterPullTimeUpdateExclusionInput{
		PrincipalArn: aws.String(userARN("scanner"))})
	wantAccessDenied(t, "RegisterPullTimeUpdateExclusion without the permission", err, deniedMessage(userARN("scanner"),
		"ecr:RegisterPullTimeUpdateExclusion", "*", noIdentityPolicy("ecr:RegisterPullTimeUpdateExclusion")))
	reg, err := c.RegisterPullTimeUpdateExclusion(ctx, &ecr.RegisterPullTimeUpdateExclusionInput{PrincipalArn: aws.String(userARN("scanner"))})
	if err != nil || aws.ToString(reg.PrincipalArn) != userARN("scanner") || reg.CreatedAt == nil {
		t.Fatalf("RegisterPullTimeUpdateExclusion = %+v, %v", reg, err)
	}
	time.Sleep(2500 * time.Millisecond) // past the 1s precision of the first pull
	pullManifest(t, ctx, ref, scanner.basic())
	pullManifest(t, ctx, s.repo(t, repo).Digest(describeDigests(t, ctx, c, repo, "")[0]), scanner.basic())
	time.Sleep(3 * time.Second) // three flushes
	if after := lastPull(t, ctx, c, repo, "v1", 0, func(*time.Time) bool { return true }); after == nil || !after.Equal(*first) {
		t.Errorf("lastRecordedPullTime %v after the excluded scanner pulled, want it unchanged at %v", after, first)
	}
	pullManifest(t, ctx, ref)
	moved := lastPull(t, ctx, c, repo, "v1", 10*time.Second, func(p *time.Time) bool { return p != nil && p.After(*first) })
	if moved == nil || !moved.After(*first) {
		t.Errorf("lastRecordedPullTime %v after the root pulled again, want later than %v", moved, first)
	}

	exclusionLimits(t, ctx, c)
}

// exclusionLimits: errors, the 100-per-registry limit and pagination.
func exclusionLimits(t *testing.T, ctx context.Context, c *ecr.Client) {
	_, err := c.RegisterPullTimeUpdateExclusion(ctx, &ecr.RegisterPullTimeUpdateExclusionInput{PrincipalArn: aws.String(userARN("scanner"))})
	wantException[*types.ExclusionAlreadyExistsException](t, "register twice", err)
	_, err = c.RegisterPullTimeUpdateExclusion(ctx, &ecr.RegisterPullTimeUpdateExclusionInput{PrincipalArn: aws.String("arn:aws:iam::" + defaultAccount + ":root")})
	wantException[*types.InvalidParameterException](t, "register the root", err)
	_, err = c.DeregisterPullTimeUpdateExclusion(ctx, &ecr.DeregisterPullTimeUpdateExclusionInput{PrincipalArn: aws.String(userARN("nobody"))})
	wantException[*types.ExclusionNotFoundException](t, "deregister a missing exclusion", err)
	want := []string{userARN("scanner")}
	for i := 1; i < 100; i++ {
		arn := fmt.Sprintf("arn:aws:iam::444455556666:role/ci/runner-%02d", i)
		if _, err := c.RegisterPullTimeUpdateExclusion(ctx, &ecr.RegisterPullTimeUpdateExclusionInput{PrincipalArn: aws.String(arn)}); err != nil {
			t.Fatalf("register %s: %v", arn, err)
		}
		want = append(want, arn)
	}
	_, err = c.RegisterPullTimeUpdateExclusion(ctx, &ecr.RegisterPullTimeUpdateExclusionInput{PrincipalArn: aws.String(userARN("one-too-many"))})
	wantException[*types.LimitExceededException](t, "register a 101st exclusion", err)
	var got []string
	in := &ecr.ListPullTimeUpdateExclusionsInput{MaxResults: aws.Int32(30)}
	for pages := 0; ; pages++ { // the SDK has no paginator for it
		page, err := c.ListPullTimeUpdateExclusions(ctx, in)
		if err != nil || pages > 4 {
			t.Fatalf("ListPullTimeUpdateExclusions page %d: %v", pages, err)
		}
		if len(page.PullTimeUpdateExclusions) > 30 {
			t.Errorf("a page of %d, maxResults 30", len(page.PullTimeUpdateExclusions))
		}
		got = append(got, page.PullTimeUpdateExclusions...)
		if page.NextToken == nil {
			break
		}
		in.NextToken = page.NextToken
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("ListPullTimeUpdateExclusions walked %d exclusions, want the %d registered in byte order", len(got), len(want))
	}
	out, err := c.DeregisterPullTimeUpdateExclusion(ctx, &ecr.DeregisterPullTimeUpdateExclusionInput{PrincipalArn: aws.String(userARN("scanner"))})
	if err != nil || aws.ToString(out.PrincipalArn) != userARN("scanner") {
		t.Errorf("DeregisterPullTimeUpdateExclusion = %+v, %v", out, err)
	}
}
