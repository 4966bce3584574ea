package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// scopedPolicy lets its user pull, push and list only under team-a/.
const scopedPolicy = `{
  "Version": "2012-10-17",
  "Statement": [{
    "Sid": "TeamA",
    "Effect": "Allow",
    "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability",
               "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage",
               "ecr:DescribeRepositories", "ecr:ListImages"],
    "Resource": "arn:aws:ecr:us-east-1:000000000000:repository/team-a/*"
  }]
}`

// wantAccessDenied checks that an ECR API error is AccessDeniedException
// (HTTP 400) with exactly message (when not empty).
func wantAccessDenied(t testing.TB, what string, err error, message string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: succeeded, want AccessDeniedException", what)
		return
	}
	ae := wantErrorCode(t, what, err, "AccessDeniedException")
	if st := httpStatus(err); st != http.StatusBadRequest {
		t.Errorf("%s: HTTP status %d, want 400", what, st)
	}
	if ae != nil && message != "" && ae.ErrorMessage() != message {
		t.Errorf("%s: message\n got %q\nwant %q", what, ae.ErrorMessage(), message)
	}
}

// catalogAs lists /v2/_catalog with Basic credentials.
func (s *server) catalogAs(t testing.TB, k accessKey) []string {
	t.Helper()
	r := s.rawAs(t, http.MethodGet, "/v2/_catalog", k.id, k.secret, "", nil)
	if r.Status != http.StatusOK {
		t.Errorf("_catalog as %s: status %d: %.300s", k.id, r.Status, r.Body)
		return nil
	}
	var body struct {
		Repositories []string `json:"repositories"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Errorf("_catalog as %s: %v: %.300s", k.id, err, r.Body)
	}
	return body.Repositories
}

// describeNames lists every repository c may describe.
func describeNames(t testing.TB, ctx context.Context, c *ecr.Client) ([]string, error) {
	t.Helper()
	var names []string
	p := ecr.NewDescribeRepositoriesPaginator(c, &ecr.DescribeRepositoriesInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return names, err
		}
		for _, r := range out.Repositories {
			names = append(names, aws.ToString(r.RepositoryName))
		}
	}
	return names, nil
}

// blobDigests are an image's config and layer digests.
func blobDigests(t testing.TB, img v1.Image) []string {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	out := []string{m.Config.Digest.String()}
	for _, l := range m.Layers {
		out = append(out, l.Digest.String())
	}
	return out
}

// wantNoTrace checks, as root, that nothing of img reached repo: no layer
// is available there and the repository holds only the images it held.
func wantNoTrace(t testing.TB, ctx context.Context, s *server, repo string, img v1.Image, images int) {
	t.Helper()
	root := s.ecr()
	digests := blobDigests(t, img)
	out, err := root.BatchCheckLayerAvailability(ctx, &ecr.BatchCheckLayerAvailabilityInput{
		RepositoryName: aws.String(repo), LayerDigests: digests})
	if err != nil {
		t.Fatalf("BatchCheckLayerAvailability %s: %v", repo, err)
	}
	for _, l := range out.Layers {
		if l.LayerAvailability == types.LayerAvailabilityAvailable {
			t.Errorf("%s: layer %s of the refused push is available", repo, aws.ToString(l.LayerDigest))
		}
	}
	if len(out.Failures) != len(digests) {
		t.Errorf("%s: BatchCheckLayerAvailability reported %d missing of %d refused blobs: %+v", repo, len(out.Failures), len(digests), out)
	}
	for _, f := range out.Failures {
		if f.FailureCode != types.LayerFailureCodeMissingLayerDigest {
			t.Errorf("%s: failure %s for %s, want MissingLayerDigest", repo, f.FailureCode, aws.ToString(f.LayerDigest))
		}
	}
	if ids := listImageIDs(t, root, &ecr.ListImagesInput{RepositoryName: aws.String(repo)}); len(ids) != images {
		t.Errorf("%s: ListImages after a refused push = %v, want %d images", repo, ids, images)
	}
}

// TestAccessUsersWithPolicies: IAM users made with the AWS SDK get
// exactly what their identity policies allow on /v2 and the ECR API.
func TestAccessUsersWithPolicies(t *testing.T) {
	t.Parallel()
	s := startBerth(t, withCreateOnPush())
	ctx := testContext(t, 2*time.Minute)
	root := s.ecr()
	all := []string{"app/empty", "app/main", "team-a/x", "team-a/y", "team-b/x"}
	for _, r := range all {
		createRepo(t, ctx, root, r)
	}
	base := randomImage(t, 1024, 2)
	for _, r := range []string{"app/main", "team-a/x", "team-b/x"} {
		s.pushImage(t, ctx, r, "v1", base)
	}
	secret := randomImage(t, 1024, 1) // only in team-b/x
	s.pushImage(t, ctx, "team-b/x", "secret", secret)
	reader := s.createUser(t, ctx, userSpec{name: "reader", managed: []string{readOnlyPolicy}})
	pusher := s.createUser(t, ctx, userSpec{name: "pusher", managed: []string{powerUserPolicy}})
	scoped := s.createUser(t, ctx, userSpec{name: "scoped", inline: map[string]string{"team-a": scopedPolicy}})
	nobody := s.createUser(t, ctx, userSpec{name: "nobody"})
	if got := s.catalogAs(t, rootKey); !slices.Equal(got, all) {
		t.Fatalf("root's _catalog = %v, want %v", got, all)
	}

	t.Run("reader", func(t *testing.T) {
		t.Parallel()
		ctx := testContext(t, 2*time.Minute) // from when this subtest runs, not when it was queued
		pullAs(t, ctx, "reader, key", s.repo(t, "app/main").Tag("v1"), base, reader.basic())
		pass := registryPassword(t, ctx, s.ecrAs(reader))
		token := remote.WithAuth(&authn.Basic{Username: "AWS", Password: pass})
		pullAs(t, ctx, "reader, registry password", s.repo(t, "app/main").Tag("v1"), base, token)

		denied := func(repo string) string {
			return deniedMessage(userARN("reader"), "ecr:InitiateLayerUpload", repoARN(defaultAccount, repo),
				noIdentityPolicy("ecr:InitiateLayerUpload"))
		}
		img := randomImage(t, 1024, 1)
		err := remote.Write(s.repo(t, "app/empty").Tag("v1"), img, remoteOpts(ctx, reader.basic())...)
		wantDenied(t, "push as reader with its key", err, denied("app/empty"))
		err = remote.Write(s.repo(t, "app/empty").Tag("v1"), img, remoteOpts(ctx, token)...)
		wantDenied(t, "push as reader with its registry password", err, denied("app/empty"))
		wantNoTrace(t, ctx, s, "app/empty", img, 0)

		// With --create-on-push, a refused push creates no repository.
		err = remote.Write(s.repo(t, "app/ghost").Tag("v1"), img, remoteOpts(ctx, reader.basic())...)
		wantDenied(t, "push as reader to a missing repository", err, denied("app/ghost"))
		_, err = root.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"app/ghost"}})
		wantException[*types.RepositoryNotFoundException](t, "the repository a refused push named", err)

		c := s.ecrAs(reader)
		if _, err := c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("app/main")}); err != nil {
			t.Errorf("DescribeImages as reader: %v", err)
		}
		_, err = c.InitiateLayerUpload(ctx, &ecr.InitiateLayerUploadInput{RepositoryName: aws.String("app/empty")})
		wantAccessDenied(t, "InitiateLayerUpload as reader", err, denied("app/empty"))
		_, err = c.PutImage(ctx, &ecr.PutImageInput{RepositoryName: aws.String("app/main"), ImageTag: aws.String("v9"),
			ImageManifest: aws.String(string(mustRaw(t, base)))})
		wantAccessDenied(t, "PutImage as reader", err, deniedMessage(userARN("reader"), "ecr:PutImage",
			repoARN(defaultAccount, "app/main"), noIdentityPolicy("ecr:PutImage")))
		_, err = c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("app/new")})
		wantAccessDenied(t, "CreateRepository as reader", err, deniedMessage(userARN("reader"), "ecr:CreateRepository",
			repoARN(defaultAccount, "app/new"), noIdentityPolicy("ecr:CreateRepository")))
		_, err = c.BatchDeleteImage(ctx, &ecr.BatchDeleteImageInput{RepositoryName: aws.String("app/main"),
			ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("v1")}}})
		wantAccessDenied(t, "BatchDeleteImage as reader", err, "")
		_, err = c.DeleteRepository(ctx, &ecr.DeleteRepositoryInput{RepositoryName: aws.String("app/empty")})
		wantAccessDenied(t, "DeleteRepository as reader", err, "")
		_, err = root.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("app/main"),
			ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("v9")}}})
		wantException[*types.ImageNotFoundException](t, "the tag reader's PutImage named", err)
		if _, err := root.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("app/main"),
			ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("v1")}}}); err != nil {
			t.Errorf("the tag reader's BatchDeleteImage named: %v", err)
		}
	})

	t.Run("pusher", func(t *testing.T) {
		t.Parallel()
		ctx := testContext(t, 2*time.Minute) // from when this subtest runs, not when it was queued
		img := randomImage(t, 1024, 2)
		ref := s.repo(t, "app/main").Tag("pusher")
		if err := remote.Write(ref, img, remoteOpts(ctx, pusher.basic())...); err != nil {
			t.Fatalf("push as pusher: %v", err)
		}
		pullAs(t, ctx, "pusher, key", ref, img, pusher.basic())
		pass := registryPassword(t, ctx, s.ecrAs(pusher))
		token := remote.WithAuth(&authn.Basic{Username: "AWS", Password: pass})
		img2 := randomImage(t, 1024, 1)
		ref2 := s.repo(t, "app/main").Tag("pusher-token")
		if err := remote.Write(ref2, img2, remoteOpts(ctx, token)...); err != nil {
			t.Fatalf("push as pusher with its registry password: %v", err)
		}
		pullAs(t, ctx, "pusher, registry password", ref2, img2, token)
		pullAs(t, ctx, "root reads what pusher pushed", ref2, img2)

		// PowerUser has no ecr:CreateRepository, so create-on-push refuses.
		err := remote.Write(s.repo(t, "app/new-by-pusher").Tag("v1"), img, remoteOpts(ctx, pusher.basic())...)
		wantDenied(t, "push as pusher to a missing repository", err, deniedMessage(userARN("pusher"),
			"ecr:CreateRepository", repoARN(defaultAccount, "app/new-by-pusher"), noIdentityPolicy("ecr:CreateRepository")))
		_, err = root.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"app/new-by-pusher"}})
		wantException[*types.RepositoryNotFoundException](t, "the repository pusher may not create", err)

		c := s.ecrAs(pusher)
		out, err := c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("app/main"),
			ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("pusher")}}})
		if err != nil || len(out.ImageDetails) != 1 || aws.ToString(out.ImageDetails[0].ImageDigest) != mustDigest(t, img).String() {
			t.Errorf("DescribeImages as pusher = %+v, %v", out, err)
		}
		_, err = c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("app/new")})
		wantAccessDenied(t, "CreateRepository as pusher", err, "")
		_, err = c.DeleteRepository(ctx, &ecr.DeleteRepositoryInput{RepositoryName: aws.String("app/empty")})
		wantAccessDenied(t, "DeleteRepository as pusher", err, "")
	})

	t.Run("scoped", func(t *testing.T) {
		t.Parallel()
		ctx := testContext(t, 2*time.Minute) // from when this subtest runs, not when it was queued
		img := randomImage(t, 1024, 1)
		ref := s.repo(t, "team-a/x").Tag("scoped")
		if err := remote.Write(ref, img, remoteOpts(ctx, scoped.basic())...); err != nil {
			t.Fatalf("push to team-a/x as scoped: %v", err)
		}
		pullAs(t, ctx, "scoped pulls its push", ref, img, scoped.basic())
		pullAs(t, ctx, "scoped pulls team-a/x", s.repo(t, "team-a/x").Tag("v1"), base, scoped.basic())

		_, err := remote.Image(s.repo(t, "team-b/x").Tag("v1"), remoteOpts(ctx, scoped.basic())...)
		wantDenied(t, "pull team-b/x as scoped", err, deniedMessage(userARN("scoped"), "ecr:BatchGetImage",
			repoARN(defaultAccount, "team-b/x"), noIdentityPolicy("ecr:BatchGetImage")))
		// The push is refused at its first request (a HEAD: no body, so
		// only the status), and a raw upload start says why.
		err = remote.Write(s.repo(t, "team-b/x").Tag("scoped"), img, remoteOpts(ctx, scoped.basic())...)
		wantTransportError(t, "push to team-b/x as scoped", err, http.StatusForbidden, "")
		r := s.rawAs(t, http.MethodPost, "/v2/team-b/x/blobs/uploads/", scoped.id, scoped.secret, "", nil)
		e := wantError(t, "upload start in team-b/x as scoped", r, http.StatusForbidden, "DENIED")
		if want := deniedMessage(userARN("scoped"), "ecr:InitiateLayerUpload", repoARN(defaultAccount, "team-b/x"),
			noIdentityPolicy("ecr:InitiateLayerUpload")); e.Message != want {
			t.Errorf("upload start in team-b/x as scoped: message\n got %q\nwant %q", e.Message, want)
		}
		wantNoTrace(t, ctx, s, "team-b/x", img, 2)

		// Nothing of team-b/x reaches team-a/x through a mount or a
		// manifest that names its blobs.
		secretLayer := blobDigests(t, secret)[1]
		for _, q := range []string{"?mount=" + secretLayer + "&from=team-b/x", "?mount=" + secretLayer} {
			r := s.rawAs(t, http.MethodPost, "/v2/team-a/x/blobs/uploads/"+q, scoped.id, scoped.secret, "", nil)
			if r.Status != http.StatusAccepted {
				t.Errorf("mount %s into team-a/x as scoped: status %d, want 202 (an upload, not a mount): %.300s", q, r.Status, r.Body)
			}
		}
		r = s.rawAs(t, http.MethodHead, "/v2/team-a/x/blobs/"+secretLayer, scoped.id, scoped.secret, "", nil)
		if r.Status != http.StatusNotFound {
			t.Errorf("HEAD team-b/x's layer in team-a/x as scoped: status %d, want 404", r.Status)
		}
		borrowed := mustRaw(t, secret)
		req, err := http.NewRequest(http.MethodPut, s.url("/v2/team-a/x/manifests/borrowed"), strings.NewReader(string(borrowed)))
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth(scoped.id, scoped.secret)
		mt, _ := secret.MediaType()
		req.Header.Set("Content-Type", string(mt))
		wantError(t, "PUT into team-a/x a manifest of team-b/x's blobs", send(t, req), http.StatusBadRequest, "MANIFEST_BLOB_UNKNOWN")
		r = s.rawAs(t, http.MethodGet, "/v2/team-b/x/tags/list", scoped.id, scoped.secret, "", nil)
		wantError(t, "tags/list of team-b/x as scoped", r, http.StatusForbidden, "DENIED")
		r = s.rawAs(t, http.MethodGet, "/v2/team-b/x/referrers/"+mustDigest(t, secret).String(), scoped.id, scoped.secret, "", nil)
		wantError(t, "referrers in team-b/x as scoped", r, http.StatusForbidden, "DENIED")
		r = s.rawAs(t, http.MethodGet, "/v2/team-b/x/blobs/"+secretLayer, scoped.id, scoped.secret, "", nil)
		wantError(t, "GET a team-b/x blob as scoped", r, http.StatusForbidden, "DENIED")
		r = s.rawAs(t, http.MethodDelete, "/v2/team-b/x/manifests/"+mustDigest(t, secret).String(), scoped.id, scoped.secret, "", nil)
		wantError(t, "DELETE a team-b/x manifest as scoped", r, http.StatusForbidden, "DENIED")

		if got, want := s.catalogAs(t, scoped), []string{"team-a/x", "team-a/y"}; !slices.Equal(got, want) {
			t.Errorf("_catalog as scoped = %v, want %v", got, want)
		}
		cat, err := remote.Catalog(ctx, s.registry(t), remoteOpts(ctx, scoped.basic())...)
		if err != nil || !slices.Equal(cat, []string{"team-a/x", "team-a/y"}) {
			t.Errorf("remote.Catalog as scoped = %v, %v", cat, err)
		}

		// Filtered listings page through the repositories it may see only.
		var paged []string
		for path, i := "/v2/_catalog?n=1", 0; path != ""; i++ {
			if i == 5 {
				t.Fatalf("_catalog?n=1 as scoped: still paging after %v", paged)
			}
			r := s.rawAs(t, http.MethodGet, path, scoped.id, scoped.secret, "", nil)
			var body struct {
				Repositories []string `json:"repositories"`
			}
			if r.Status != http.StatusOK || json.Unmarshal(r.Body, &body) != nil || len(body.Repositories) > 1 {
				t.Fatalf("GET %s as scoped: status %d: %.300s", path, r.Status, r.Body)
			}
			paged = append(paged, body.Repositories...)
			path = ""
			if m := regexp.MustCompile(`^<([^>]+)>; rel="next"$`).FindStringSubmatch(r.Header.Get("Link")); m != nil {
				path = strings.TrimPrefix(m[1], "http://"+s.host)
			}
		}
		if want := []string{"team-a/x", "team-a/y"}; !slices.Equal(paged, want) {
			t.Errorf("_catalog?n=1 pages as scoped = %v, want %v", paged, want)
		}

		c := s.ecrAs(scoped)
		if names, err := describeNames(t, ctx, c); err != nil || !slices.Equal(names, []string{"team-a/x", "team-a/y"}) {
			t.Errorf("DescribeRepositories as scoped = %v, %v; want team-a/x, team-a/y", names, err)
		}
		var pagedAPI []string
		p := ecr.NewDescribeRepositoriesPaginator(c, &ecr.DescribeRepositoriesInput{MaxResults: aws.Int32(1)})
		for i := 0; p.HasMorePages() && i < 5; i++ {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatalf("DescribeRepositories maxResults=1 as scoped: %v", err)
			}
			for _, r := range out.Repositories {
				pagedAPI = append(pagedAPI, aws.ToString(r.RepositoryName))
			}
		}
		if want := []string{"team-a/x", "team-a/y"}; !slices.Equal(pagedAPI, want) {
			t.Errorf("DescribeRepositories maxResults=1 pages as scoped = %v, want %v", pagedAPI, want)
		}
		if out, err := c.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"team-a/y"}}); err != nil || len(out.Repositories) != 1 {
			t.Errorf("DescribeRepositories team-a/y as scoped = %+v, %v", out, err)
		}
		_, err = c.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{RepositoryNames: []string{"team-b/x"}})
		wantAccessDenied(t, "DescribeRepositories team-b/x as scoped", err, deniedMessage(userARN("scoped"),
			"ecr:DescribeRepositories", repoARN(defaultAccount, "team-b/x"), noIdentityPolicy("ecr:DescribeRepositories")))
		get := func(repo string) error {
			_, err := c.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String(repo),
				ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("v1")}}})
			return err
		}
		if err := get("team-a/x"); err != nil {
			t.Errorf("BatchGetImage team-a/x as scoped: %v", err)
		}
		wantAccessDenied(t, "BatchGetImage team-b/x as scoped", get("team-b/x"), "")
		_, err = c.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: aws.String("team-b/x")})
		wantAccessDenied(t, "ListImages team-b/x as scoped", err, "")
		_, err = c.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
		wantAccessDenied(t, "GetAuthorizationToken as scoped", err, "")
	})

	t.Run("nobody", func(t *testing.T) {
		t.Parallel()
		ctx := testContext(t, 2*time.Minute) // from when this subtest runs, not when it was queued
		_, err := remote.Image(s.repo(t, "app/main").Tag("v1"), remoteOpts(ctx, nobody.basic())...)
		wantDenied(t, "pull as nobody", err, deniedMessage(userARN("nobody"), "ecr:BatchGetImage",
			repoARN(defaultAccount, "app/main"), noIdentityPolicy("ecr:BatchGetImage")))
		img := randomImage(t, 1024, 1)
		err = remote.Write(s.repo(t, "team-a/y").Tag("v1"), img, remoteOpts(ctx, nobody.basic())...)
		wantTransportError(t, "push as nobody", err, http.StatusForbidden, "")
		r := s.rawAs(t, http.MethodPost, "/v2/team-a/y/blobs/uploads/", nobody.id, nobody.secret, "", nil)
		wantError(t, "upload start as nobody", r, http.StatusForbidden, "DENIED")
		r = s.rawAs(t, http.MethodGet, "/v2/app/main/tags/list", nobody.id, nobody.secret, "", nil)
		wantError(t, "tags/list as nobody", r, http.StatusForbidden, "DENIED")
		wantNoTrace(t, ctx, s, "team-a/y", img, 0)
		if got := s.catalogAs(t, nobody); len(got) != 0 {
			t.Errorf("_catalog as nobody = %v, want nothing", got)
		}

		c := s.ecrAs(nobody)
		_, err = c.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
		wantAccessDenied(t, "GetAuthorizationToken as nobody", err, deniedMessage(userARN("nobody"),
			"ecr:GetAuthorizationToken", "*", noIdentityPolicy("ecr:GetAuthorizationToken")))
		// Listing repositories shows nothing, whether refused or empty.
		if names, err := describeNames(t, ctx, c); len(names) != 0 {
			t.Errorf("DescribeRepositories as nobody = %v (%v), want nothing", names, err)
		} else if err != nil {
			wantAccessDenied(t, "DescribeRepositories as nobody", err, "")
		}
		_, err = c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("app/main")})
		wantAccessDenied(t, "DescribeImages as nobody", err, deniedMessage(userARN("nobody"), "ecr:DescribeImages",
			repoARN(defaultAccount, "app/main"), noIdentityPolicy("ecr:DescribeImages")))
		_, err = c.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: aws.String("app/main"),
			ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("v1")}}})
		wantAccessDenied(t, "BatchGetImage as nobody", err, "")
		_, err = c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("nobody/new")})
		wantAccessDenied(t, "CreateRepository as nobody", err, "")
		_, err = c.GetDownloadUrlForLayer(ctx, &ecr.GetDownloadUrlForLayerInput{RepositoryName: aws.String("app/main"),
			LayerDigest: aws.String(blobDigests(t, base)[1])})
		wantAccessDenied(t, "GetDownloadUrlForLayer as nobody", err, "")
		_, err = c.DescribeRegistry(ctx, &ecr.DescribeRegistryInput{})
		wantAccessDenied(t, "DescribeRegistry as nobody", err, "")
	})
}
