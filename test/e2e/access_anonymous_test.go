package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// publicPull lets anyone, anonymous callers included, pull.
const publicPull = `{
  "Version": "2012-10-17",
  "Statement": [{
    "Sid": "PublicPull",
    "Effect": "Allow",
    "Principal": "*",
    "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
  }]
}`

// TestAccessAnonymousPull: with --anonymous-pull, an unauthenticated
// client pulls exactly what a repository policy grants to "*"; without
// the flag it pulls nothing whatever the policy says.
func TestAccessAnonymousPull(t *testing.T) {
	t.Parallel()
	t.Run("enabled", func(t *testing.T) {
		t.Parallel()
		s := startBerth(t, withFlags("--anonymous-pull"))
		anonymousPull(t, s, true)
	})
	t.Run("disabled", func(t *testing.T) {
		t.Parallel()
		anonymousPull(t, startBerth(t), false)
	})
}

func anonymousPull(t *testing.T, s *server, enabled bool) {
	ctx := testContext(t, time.Minute)
	root := s.ecr()
	const repo = "public/app"
	createRepo(t, ctx, root, repo)
	createRepo(t, ctx, root, "private/app")
	img := randomImage(t, 1024, 2)
	dgst := s.pushImage(t, ctx, repo, "v1", img)
	s.pushImage(t, ctx, "private/app", "v1", img)
	anonymous := remote.WithAuth(authn.Anonymous)
	ref := s.repo(t, repo).Tag("v1")
	challenge := `Basic realm="http://` + s.host + `/",service="ecr.amazonaws.com"`
	wantChallenge := func(what, path string) {
		t.Helper()
		r := s.rawAs(t, http.MethodGet, path, "", "", "", manifestAccept)
		if r.Status != http.StatusUnauthorized {
			t.Errorf("%s: anonymous GET %s: status %d, want 401: %.300s", what, path, r.Status, r.Body)
		}
		if got := r.Header.Get("WWW-Authenticate"); got != challenge {
			t.Errorf("%s: anonymous GET %s: WWW-Authenticate %q, want %q", what, path, got, challenge)
		}
	}

	wantChallenge("no policy", "/v2/"+repo+"/manifests/v1")
	_, err := remote.Image(ref, remoteOpts(ctx, anonymous)...)
	wantUnauthorized(t, "anonymous pull without a policy", err)

	if _, err := root.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: aws.String(repo),
		PolicyText: aws.String(publicPull)}); err != nil {
		t.Fatalf("SetRepositoryPolicy: %v", err)
	}
	layer := blobDigests(t, img)[1]
	if enabled {
		pullAs(t, ctx, "anonymous pull with a public policy", ref, img, anonymous)
		r := s.rawAs(t, http.MethodHead, "/v2/"+repo+"/manifests/v1", "", "", "", manifestAccept)
		if r.Status != http.StatusOK || r.Header.Get("Docker-Content-Digest") != dgst {
			t.Errorf("anonymous HEAD manifest: status %d, digest %q, want 200 and %s", r.Status, r.Header.Get("Docker-Content-Digest"), dgst)
		}
		r = s.rawAs(t, http.MethodGet, "/v2/"+repo+"/blobs/"+layer, "", "", "", nil)
		if r.Status != http.StatusOK || sha256Digest(r.Body) != layer {
			t.Errorf("anonymous GET blob: status %d, digest %s, want 200 and %s", r.Status, sha256Digest(r.Body), layer)
		}
	} else {
		wantChallenge("public policy, anonymous pull off", "/v2/"+repo+"/manifests/v1")
		wantChallenge("public policy, anonymous pull off", "/v2/"+repo+"/blobs/"+layer)
		_, err := remote.Image(ref, remoteOpts(ctx, anonymous)...)
		wantUnauthorized(t, "anonymous pull with a public policy, anonymous pull off", err)
	}
	// Whatever the flag, the policy grants nothing else: not the other
	// repository, not a missing one, not the listing actions, not a push.
	wantChallenge("a repository without the policy", "/v2/private/app/manifests/v1")
	wantChallenge("a missing repository", "/v2/missing/app/manifests/v1")
	wantChallenge("tags/list (ecr:ListImages is not granted)", "/v2/"+repo+"/tags/list")
	wantChallenge("the /v2/ ping", "/v2/")
	pushed := randomImage(t, 1024, 1)
	err = remote.Write(s.repo(t, repo).Tag("anonymous"), pushed, remoteOpts(ctx, anonymous)...)
	wantUnauthorized(t, "anonymous push", err)
	r := s.rawAs(t, http.MethodPost, "/v2/"+repo+"/blobs/uploads/", "", "", "", nil)
	if r.Status != http.StatusUnauthorized || r.Header.Get("WWW-Authenticate") != challenge {
		t.Errorf("anonymous upload start: status %d, WWW-Authenticate %q, want 401 with the challenge", r.Status, r.Header.Get("WWW-Authenticate"))
	}
	r = s.rawAs(t, http.MethodDelete, "/v2/"+repo+"/manifests/"+dgst, "", "", "", nil)
	if r.Status != http.StatusUnauthorized {
		t.Errorf("anonymous manifest DELETE: status %d, want 401", r.Status)
	}
	wantNoTrace(t, ctx, s, repo, pushed, 1)
}
