package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// TestAccessKeyLifecycle: deactivating or deleting a user's access key
// ends it at once on /v2 and the ECR API, registry passwords minted from
// it included; reactivating restores it.
func TestAccessKeyLifecycle(t *testing.T) {
	t.Parallel()
	s := startBerth(t)
	ctx := testContext(t, time.Minute)
	const repo = "keys/app"
	createRepo(t, ctx, s.ecr(), repo)
	img := randomImage(t, 1024, 1)
	s.pushImage(t, ctx, repo, "v1", img)
	pusher := s.createUser(t, ctx, userSpec{name: "pusher", managed: []string{powerUserPolicy}})
	ref := s.repo(t, repo).Tag("v1")
	path := "/v2/" + repo + "/manifests/v1"
	rootIAM := s.iam(rootKey)
	pusherECR := s.ecrAs(pusher)

	pullAs(t, ctx, "pusher's key before any change", ref, img, pusher.basic())
	pass := registryPassword(t, ctx, pusherECR)
	works := func(what string) {
		t.Helper()
		if r := s.rawAs(t, http.MethodGet, path, pusher.id, pusher.secret, "", manifestAccept); r.Status != http.StatusOK {
			t.Errorf("%s: GET manifest with the key: status %d: %.300s", what, r.Status, r.Body)
		}
		if _, err := pusherECR.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{}); err != nil {
			t.Errorf("%s: DescribeRepositories with the key: %v", what, err)
		}
	}
	refused := func(what string) {
		t.Helper()
		r := s.rawAs(t, http.MethodGet, path, pusher.id, pusher.secret, "", manifestAccept)
		wantError(t, what+": GET manifest with the key", r, http.StatusUnauthorized, "UNAUTHORIZED")
		if ch := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(ch, "Basic realm=") {
			t.Errorf("%s: GET manifest with the key: WWW-Authenticate %q, want a Basic challenge", what, ch)
		}
		_, err := pusherECR.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{})
		wantErrorCode(t, what+": DescribeRepositories with the key", err, "UnrecognizedClientException")
		r = s.rawAs(t, http.MethodGet, path, "AWS", pass, "", manifestAccept)
		wantError(t, what+": GET manifest with a registry password minted before", r, http.StatusUnauthorized, "UNAUTHORIZED")
		_, err = pusherECR.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
		wantErrorCode(t, what+": GetAuthorizationToken with the key", err, "UnrecognizedClientException")
	}
	works("before any change")
	if r := s.rawAs(t, http.MethodGet, path, "AWS", pass, "", manifestAccept); r.Status != http.StatusOK {
		t.Errorf("GET manifest with the registry password: status %d: %.300s", r.Status, r.Body)
	}

	setStatus := func(st iamtypes.StatusType) {
		t.Helper()
		if _, err := rootIAM.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("pusher"),
			AccessKeyId: aws.String(pusher.id), Status: st}); err != nil {
			t.Fatalf("UpdateAccessKey %s: %v", st, err)
		}
	}
	setStatus(iamtypes.StatusTypeInactive)
	refused("inactive")
	out, err := rootIAM.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("pusher")})
	if err != nil || len(out.AccessKeyMetadata) != 1 || out.AccessKeyMetadata[0].Status != iamtypes.StatusTypeInactive {
		t.Errorf("ListAccessKeys after deactivating = %+v, %v", out, err)
	}

	setStatus(iamtypes.StatusTypeActive)
	works("reactivated")
	pullAs(t, ctx, "pusher's key reactivated", ref, img, pusher.basic())

	if _, err := rootIAM.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("pusher"),
		AccessKeyId: aws.String(pusher.id)}); err != nil {
		t.Fatalf("DeleteAccessKey: %v", err)
	}
	refused("deleted")
	_, err = rootIAM.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("pusher"),
		AccessKeyId: aws.String(pusher.id), Status: iamtypes.StatusTypeActive})
	wantErrorCode(t, "UpdateAccessKey of the deleted key", err, "NoSuchEntity")
}
