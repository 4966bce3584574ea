package e2e

import (
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// idPull allows pulling under id/.
const idPull = `{"Version":"2012-10-17","Statement":[{"Sid":"Pull","Effect":"Allow",` +
	`"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"],` +
	`"Resource":"arn:aws:ecr:us-east-1:000000000000:repository/id/*"}]}`

// idAll allows every ECR action under id/.
const idAll = `{"Version":"2012-10-17","Statement":[{"Sid":"All","Effect":"Allow","Action":"ecr:*",` +
	`"Resource":"arn:aws:ecr:us-east-1:000000000000:repository/id/*"}]}`

// noPutImage denies tagging images anywhere.
const noPutImage = `{"Version":"2012-10-17","Statement":[{"Sid":"NoPut","Effect":"Deny","Action":"ecr:PutImage","Resource":"*"}]}`

// TestAccessIdentityPolicyChanges: attaching, detaching, putting and
// deleting a user's policies changes what it may do on the very next
// request; an identity-based Deny beats any Allow.
func TestAccessIdentityPolicyChanges(t *testing.T) {
	t.Parallel()
	s := startBerth(t)
	ctx := testContext(t, time.Minute)
	const repo = "id/app"
	createRepo(t, ctx, s.ecr(), repo)
	img := randomImage(t, 1024, 1)
	s.pushImage(t, ctx, repo, "v1", img)
	ref := s.repo(t, repo).Tag("v1")
	k := s.createUser(t, ctx, userSpec{name: "changer"})
	c := s.iam(rootKey)
	user := aws.String("changer")
	pullDenied := func(what string) {
		t.Helper()
		_, err := remote.Image(ref, remoteOpts(ctx, k.basic())...)
		wantDenied(t, what, err, deniedMessage(userARN("changer"), "ecr:BatchGetImage", repoARN(defaultAccount, repo),
			noIdentityPolicy("ecr:BatchGetImage")))
	}
	pullDenied("pull without policies")

	if _, err := c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: user, PolicyArn: aws.String(pullOnlyPolicy)}); err != nil {
		t.Fatal(err)
	}
	pullAs(t, ctx, "pull right after attaching PullOnly", ref, img, k.basic())
	if _, err := c.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: user, PolicyArn: aws.String(pullOnlyPolicy)}); err != nil {
		t.Fatal(err)
	}
	pullDenied("pull right after detaching PullOnly")

	if _, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: user, PolicyName: aws.String("pull"),
		PolicyDocument: aws.String(idPull)}); err != nil {
		t.Fatal(err)
	}
	pullAs(t, ctx, "pull right after PutUserPolicy", ref, img, k.basic())
	got, err := c.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: user, PolicyName: aws.String("pull")})
	if err != nil {
		t.Fatalf("GetUserPolicy: %v", err)
	}
	// IAM returns policy documents URL-encoded (RFC 3986).
	if doc, err := url.QueryUnescape(aws.ToString(got.PolicyDocument)); err != nil || doc != idPull {
		t.Errorf("GetUserPolicy document %q decodes to %q (%v), want %q", aws.ToString(got.PolicyDocument), doc, err, idPull)
	}
	if _, err := c.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: user, PolicyName: aws.String("pull")}); err != nil {
		t.Fatal(err)
	}
	pullDenied("pull right after DeleteUserPolicy")

	// A customer-managed policy grants as an inline one does.
	cp, err := c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("id-all"), PolicyDocument: aws.String(idAll)})
	if err != nil {
		t.Fatalf("CreatePolicy: %v", err)
	}
	if _, err := c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: user, PolicyArn: cp.Policy.Arn}); err != nil {
		t.Fatal(err)
	}
	pushed := randomImage(t, 1024, 1)
	if err := remote.Write(s.repo(t, repo).Tag("v2"), pushed, remoteOpts(ctx, k.basic())...); err != nil {
		t.Fatalf("push with the customer-managed policy: %v", err)
	}
	if _, err := s.ecrAs(k).CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("id/new")}); err != nil {
		t.Errorf("CreateRepository id/new with ecr:* on id/*: %v", err)
	}
	_, err = s.ecrAs(k).CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("other/new")})
	wantAccessDenied(t, "CreateRepository outside id/", err, "")

	// An identity-based Deny wins over the Allow.
	if _, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: user, PolicyName: aws.String("no-put"),
		PolicyDocument: aws.String(noPutImage)}); err != nil {
		t.Fatal(err)
	}
	err = remote.Write(s.repo(t, repo).Tag("v3"), randomImage(t, 1024, 1), remoteOpts(ctx, k.basic())...)
	wantDenied(t, "push with an identity-based Deny of PutImage", err, deniedMessage(userARN("changer"), "ecr:PutImage",
		repoARN(defaultAccount, repo), "with an explicit deny in an identity-based policy"))
	pullAs(t, ctx, "pull with the Deny of PutImage only", s.repo(t, repo).Tag("v2"), pushed, k.basic())

	// ECR permissions grant nothing in IAM.
	_, err = s.iam(k).CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("intruder")})
	wantErrorCode(t, "CreateUser as a user with only ECR permissions", err, "AccessDenied")
	_, err = s.iam(k).AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: user, PolicyArn: aws.String(fullAccessPolicy)})
	wantErrorCode(t, "AttachUserPolicy to itself", err, "AccessDenied")
}
