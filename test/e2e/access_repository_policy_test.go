package e2e

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

const accountB = "222222222222"

// crossAccountPull lets account B's principals pull.
const crossAccountPull = `{
  "Version": "2012-10-17",
  "Statement": [{
    "Sid": "CrossAccountPull",
    "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::222222222222:root"},
    "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
  }]
}`

// crossAccountPullDenyPusher adds an explicit Deny for the user pusher.
const crossAccountPullDenyPusher = `{
  "Version": "2012-10-17",
  "Statement": [{
    "Sid": "CrossAccountPull",
    "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::222222222222:root"},
    "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
  }, {
    "Sid": "NotPusher",
    "Effect": "Deny",
    "Principal": {"AWS": "arn:aws:iam::000000000000:user/pusher"},
    "Action": "ecr:*"
  }]
}`

// TestAccessRepositoryPolicy: a repository policy grants another account
// pull access (by path, by host and on the API) and nothing more, and its
// explicit Deny overrides a user's identity policy.
func TestAccessRepositoryPolicy(t *testing.T) {
	t.Parallel()
	s := startBerth(t)
	ctx := testContext(t, 2*time.Minute)
	root := s.ecr()
	const repo = "shared/app"
	createRepo(t, ctx, root, repo)
	img := randomImage(t, 1024, 2)
	dgst := s.pushImage(t, ctx, repo, "v1", img)
	pusher := s.createUser(t, ctx, userSpec{name: "pusher", managed: []string{powerUserPolicy}})
	b := s.createAccount(t, accountB)
	bARN := "arn:aws:iam::" + accountB + ":root"
	bECR := s.ecrAs(b)
	bPass := registryPassword(t, ctx, bECR)
	bToken := remote.WithAuth(&authn.Basic{Username: "AWS", Password: bPass})
	// B's own registry, so a host naming B can be told from one naming A.
	createRepo(t, ctx, bECR, "own/app")
	if err := remote.Write(s.repo(t, accountB+"/own/app").Tag("v1"), img, remoteOpts(ctx, b.basic())...); err != nil {
		t.Fatalf("push to B's own registry: %v", err)
	}

	ref := s.repo(t, defaultAccount+"/"+repo).Tag("v1")
	hostA := defaultAccount + "." + s.host
	hostB := accountB + "." + s.host
	manifestPath := "/v2/" + repo + "/manifests/v1"
	batchGet := func() (*ecr.BatchGetImageOutput, error) {
		return bECR.BatchGetImage(ctx, &ecr.BatchGetImageInput{RegistryId: aws.String(defaultAccount),
			RepositoryName: aws.String(repo), ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("v1")}}})
	}
	describeImages := func() error {
		_, err := bECR.DescribeImages(ctx, &ecr.DescribeImagesInput{RegistryId: aws.String(defaultAccount),
			RepositoryName: aws.String(repo)})
		return err
	}
	noPolicy := deniedMessage(bARN, "ecr:BatchGetImage", repoARN(defaultAccount, repo), noResourcePolicy("ecr:BatchGetImage"))

	// Before any policy: B is refused everywhere.
	_, err := remote.Image(ref, remoteOpts(ctx, b.basic())...)
	wantDenied(t, "B pulls before the policy", err, noPolicy)
	_, err = remote.Image(ref, remoteOpts(ctx, bToken)...)
	wantDenied(t, "B pulls with its registry password before the policy", err, noPolicy)
	r := s.rawAs(t, http.MethodGet, manifestPath, b.id, b.secret, hostA, manifestAccept)
	wantError(t, "B gets the manifest by host "+hostA+" before the policy", r, http.StatusForbidden, "DENIED")
	_, err = batchGet()
	wantAccessDenied(t, "BatchGetImage as B before the policy", err, noPolicy)
	wantAccessDenied(t, "DescribeImages as B before the policy", describeImages(),
		deniedMessage(bARN, "ecr:DescribeImages", repoARN(defaultAccount, repo), noResourcePolicy("ecr:DescribeImages")))

	if _, err := root.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: aws.String(repo),
		PolicyText: aws.String(crossAccountPull)}); err != nil {
		t.Fatalf("SetRepositoryPolicy: %v", err)
	}

	// After it: B pulls, by path, with its password, by host and on the API.
	pullAs(t, ctx, "B pulls with its key", ref, img, b.basic())
	pullAs(t, ctx, "B pulls with its registry password", ref, img, bToken)
	r = s.rawAs(t, http.MethodGet, manifestPath, b.id, b.secret, hostA, manifestAccept)
	if r.Status != http.StatusOK || sha256Digest(r.Body) != dgst {
		t.Errorf("B gets the manifest by host %s: status %d, digest %s, want 200 and %s: %.300s", hostA, r.Status, sha256Digest(r.Body), dgst, r.Body)
	}
	layer := blobDigests(t, img)[1]
	r = s.rawAs(t, http.MethodGet, "/v2/"+repo+"/blobs/"+layer, b.id, b.secret, hostA, nil)
	if r.Status != http.StatusOK || sha256Digest(r.Body) != layer {
		t.Errorf("B gets a layer by host %s: status %d, digest %s, want 200 and %s", hostA, r.Status, sha256Digest(r.Body), layer)
	}
	// The host's account label decides: B's registry has no shared/app, and
	// A's root has no rights in B's registry.
	r = s.rawAs(t, http.MethodGet, manifestPath, b.id, b.secret, hostB, manifestAccept)
	wantError(t, "B gets shared/app by host "+hostB, r, http.StatusNotFound, "NAME_UNKNOWN")
	r = s.rawAs(t, http.MethodGet, "/v2/own/app/manifests/v1", b.id, b.secret, hostB, manifestAccept)
	if r.Status != http.StatusOK || sha256Digest(r.Body) != dgst {
		t.Errorf("B gets own/app by host %s: status %d: %.300s", hostB, r.Status, r.Body)
	}
	r = s.rawAs(t, http.MethodGet, "/v2/own/app/manifests/v1", rootKeyID, rootSecret, hostB, manifestAccept)
	e := wantError(t, "A's root gets B's own/app by host "+hostB, r, http.StatusForbidden, "DENIED")
	if want := deniedMessage("arn:aws:iam::"+defaultAccount+":root", "ecr:BatchGetImage", repoARN(accountB, "own/app"),
		noResourcePolicy("ecr:BatchGetImage")); e.Message != want {
		t.Errorf("A's root gets B's own/app by host: message\n got %q\nwant %q", e.Message, want)
	}
	out, err := batchGet()
	if err != nil || len(out.Images) != 1 || aws.ToString(out.Images[0].ImageId.ImageDigest) != dgst {
		t.Errorf("BatchGetImage as B after the policy = %+v, %v", out, err)
	}
	wantAccessDenied(t, "DescribeImages as B after the policy (not granted)", describeImages(), "")
	dl, err := bECR.GetDownloadUrlForLayer(ctx, &ecr.GetDownloadUrlForLayerInput{RegistryId: aws.String(defaultAccount),
		RepositoryName: aws.String(repo), LayerDigest: aws.String(layer)})
	if err != nil || aws.ToString(dl.LayerDigest) != layer {
		t.Errorf("GetDownloadUrlForLayer as B after the policy = %+v, %v", dl, err)
	}

	// A grant to B's account delegates to B's identity policies: B's user
	// needs an allow of its own (spec §2.3, cross-account).
	bIAM := s.iam(b)
	if _, err := bIAM.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("bob")}); err != nil {
		t.Fatalf("CreateUser bob in B: %v", err)
	}
	keyOut, err := bIAM.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("bob")})
	if err != nil {
		t.Fatalf("CreateAccessKey bob: %v", err)
	}
	bob := accessKey{aws.ToString(keyOut.AccessKey.AccessKeyId), aws.ToString(keyOut.AccessKey.SecretAccessKey)}
	_, err = remote.Image(ref, remoteOpts(ctx, bob.basic())...)
	wantDenied(t, "B's user without an identity policy pulls", err, deniedMessage("arn:aws:iam::"+accountB+":user/bob",
		"ecr:BatchGetImage", repoARN(defaultAccount, repo), noIdentityPolicy("ecr:BatchGetImage")))
	if _, err := bIAM.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("bob"),
		PolicyArn: aws.String(pullOnlyPolicy)}); err != nil {
		t.Fatalf("AttachUserPolicy bob: %v", err)
	}
	pullAs(t, ctx, "B's user with PullOnly pulls", ref, img, bob.basic())
	// ... but A's own user named nowhere in the policy and without
	// policies of its own gets nothing from the grant to B.
	nobody := s.createUser(t, ctx, userSpec{name: "nobody"})
	_, err = remote.Image(ref, remoteOpts(ctx, nobody.basic())...)
	wantDenied(t, "A's user without policies pulls", err, deniedMessage(userARN("nobody"), "ecr:BatchGetImage",
		repoARN(defaultAccount, repo), noIdentityPolicy("ecr:BatchGetImage")))

	// B may not push there: the policy grants no push action.
	pushed := randomImage(t, 1024, 1)
	err = remote.Write(s.repo(t, defaultAccount+"/"+repo).Tag("from-b"), pushed, remoteOpts(ctx, b.basic())...)
	wantDenied(t, "B pushes into A's repository", err, deniedMessage(bARN, "ecr:InitiateLayerUpload",
		repoARN(defaultAccount, repo), noResourcePolicy("ecr:InitiateLayerUpload")))
	_, err = bECR.PutImage(ctx, &ecr.PutImageInput{RegistryId: aws.String(defaultAccount), RepositoryName: aws.String(repo),
		ImageTag: aws.String("from-b"), ImageManifest: aws.String(string(mustRaw(t, img)))})
	wantAccessDenied(t, "PutImage as B", err, deniedMessage(bARN, "ecr:PutImage", repoARN(defaultAccount, repo),
		noResourcePolicy("ecr:PutImage")))
	wantNoTrace(t, ctx, s, repo, pushed, 1)

	// pusher (PowerUser) pushes and pulls until the policy denies it.
	pusherImg := randomImage(t, 1024, 1)
	if err := remote.Write(s.repo(t, repo).Tag("pusher"), pusherImg, remoteOpts(ctx, pusher.basic())...); err != nil {
		t.Fatalf("push as pusher before the deny: %v", err)
	}
	if _, err := root.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: aws.String(repo),
		PolicyText: aws.String(crossAccountPullDenyPusher)}); err != nil {
		t.Fatalf("SetRepositoryPolicy with a deny: %v", err)
	}
	explicit := func(action string) string {
		return deniedMessage(userARN("pusher"), action, repoARN(defaultAccount, repo), "with an explicit deny in a resource-based policy")
	}
	_, err = remote.Image(s.repo(t, repo).Tag("pusher"), remoteOpts(ctx, pusher.basic())...)
	wantDenied(t, "pusher pulls after the deny", err, explicit("ecr:BatchGetImage"))
	denied := randomImage(t, 1024, 1)
	err = remote.Write(s.repo(t, repo).Tag("denied"), denied, remoteOpts(ctx, pusher.basic())...)
	wantTransportError(t, "pusher pushes after the deny", err, http.StatusForbidden, "")
	r = s.rawAs(t, http.MethodPost, "/v2/"+repo+"/blobs/uploads/", pusher.id, pusher.secret, "", nil)
	if e := wantError(t, "pusher starts an upload after the deny", r, http.StatusForbidden, "DENIED"); e.Message != explicit("ecr:InitiateLayerUpload") {
		t.Errorf("pusher starts an upload after the deny: message\n got %q\nwant %q", e.Message, explicit("ecr:InitiateLayerUpload"))
	}
	_, err = s.ecrAs(pusher).DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String(repo)})
	wantAccessDenied(t, "DescribeImages as pusher after the deny", err, explicit("ecr:DescribeImages"))
	wantNoTrace(t, ctx, s, repo, denied, 2)
	// ... in this repository only; and B still pulls.
	createRepo(t, ctx, root, "shared/other")
	if err := remote.Write(s.repo(t, "shared/other").Tag("v1"), denied, remoteOpts(ctx, pusher.basic())...); err != nil {
		t.Errorf("push as pusher to a repository without the deny: %v", err)
	}
	pullAs(t, ctx, "B pulls after the deny for pusher", ref, img, b.basic())
	pullAs(t, ctx, "A's root pulls after the deny for pusher", s.repo(t, repo).Tag("pusher"), pusherImg)
}

// TestAccessRepositoryPolicyUserWithPath: a user's ARN includes its path
// (arn:aws:iam::<account>:user/<path>/<name>), as CreateUser and
// GetCallerIdentity report it; a repository policy naming that ARN grants
// to the user, and denials name the same ARN.
func TestAccessRepositoryPolicyUserWithPath(t *testing.T) {
	t.Parallel()
	s := startBerth(t)
	ctx := testContext(t, time.Minute)
	root := s.ecr()
	const repo = "paths/app"
	createRepo(t, ctx, root, repo)
	img := randomImage(t, 1024, 1)
	s.pushImage(t, ctx, repo, "v1", img)
	c := s.iam(rootKey)
	created, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("alice"), Path: aws.String("/team/")})
	if err != nil {
		t.Fatalf("CreateUser with a path: %v", err)
	}
	arn := aws.ToString(created.User.Arn)
	if want := "arn:aws:iam::" + defaultAccount + ":user/team/alice"; arn != want {
		t.Fatalf("CreateUser answered ARN %q, want %q", arn, want)
	}
	keyOut, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("alice")})
	if err != nil {
		t.Fatal(err)
	}
	alice := accessKey{aws.ToString(keyOut.AccessKey.AccessKeyId), aws.ToString(keyOut.AccessKey.SecretAccessKey)}
	who, err := s.sts(alice).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(who.Arn) != arn {
		t.Fatalf("GetCallerIdentity as alice = %v, %v; want %s", aws.ToString(who.Arn), err, arn)
	}
	ref := s.repo(t, repo).Tag("v1")

	_, err = remote.Image(ref, remoteOpts(ctx, alice.basic())...)
	wantDenied(t, "alice pulls without any grant", err, deniedMessage(arn, "ecr:BatchGetImage", repoARN(defaultAccount, repo),
		noIdentityPolicy("ecr:BatchGetImage")))

	policy := `{"Version":"2012-10-17","Statement":[{"Sid":"Alice","Effect":"Allow","Principal":{"AWS":"` + arn + `"},` +
		`"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"]}]}`
	if _, err := root.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: aws.String(repo),
		PolicyText: aws.String(policy)}); err != nil {
		t.Fatalf("SetRepositoryPolicy naming %s: %v", arn, err)
	}
	pullAs(t, ctx, "alice pulls with a repository policy naming her ARN", ref, img, alice.basic())

	// The audit trail names her by the same ARN and by her unique id.
	userID := aws.ToString(created.User.UserId)
	waitUntil(t, 10*time.Second, "alice's pull in the audit trail", func() bool {
		return slices.ContainsFunc(exportAudit(t, sqliteStorage(s)), func(r auditRecord) bool {
			return r.EventName == "BatchGetImage" && r.ErrorCode == "" && r.UserIdentity.ARN == arn &&
				r.UserIdentity.PrincipalID == userID && r.UserIdentity.AccessKeyID == alice.id
		})
	})
}

// TestAccessRepositoryPolicyConditions: conditions see the real request:
// aws:SourceIp is the client's address (not a header it sends), on /v2
// and the ECR API alike.
func TestAccessRepositoryPolicyConditions(t *testing.T) {
	t.Parallel()
	s := startBerth(t)
	ctx := testContext(t, time.Minute)
	root := s.ecr()
	const repo = "cond/app"
	createRepo(t, ctx, root, repo)
	img := randomImage(t, 1024, 1)
	s.pushImage(t, ctx, repo, "v1", img)
	b := s.createAccount(t, accountB)
	ref := s.repo(t, defaultAccount+"/"+repo).Tag("v1")
	setPolicy := func(cidr string) {
		t.Helper()
		p := `{"Version":"2012-10-17","Statement":[{"Sid":"FromNet","Effect":"Allow",` +
			`"Principal":{"AWS":"arn:aws:iam::222222222222:root"},"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"],` +
			`"Condition":{"IpAddress":{"aws:SourceIp":"` + cidr + `"}}}]}`
		if _, err := root.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: aws.String(repo),
			PolicyText: aws.String(p)}); err != nil {
			t.Fatalf("SetRepositoryPolicy %s: %v", cidr, err)
		}
	}
	batchGet := func() error {
		_, err := s.ecrAs(b).BatchGetImage(ctx, &ecr.BatchGetImageInput{RegistryId: aws.String(defaultAccount),
			RepositoryName: aws.String(repo), ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("v1")}}})
		return err
	}

	setPolicy("127.0.0.0/8")
	pullAs(t, ctx, "B pulls from an allowed source address", ref, img, b.basic())
	if err := batchGet(); err != nil {
		t.Errorf("BatchGetImage as B from an allowed source address: %v", err)
	}

	setPolicy("10.0.0.0/8")
	_, err := remote.Image(ref, remoteOpts(ctx, b.basic())...)
	wantDenied(t, "B pulls from another source address", err, deniedMessage("arn:aws:iam::"+accountB+":root",
		"ecr:BatchGetImage", repoARN(defaultAccount, repo), noResourcePolicy("ecr:BatchGetImage")))
	wantAccessDenied(t, "BatchGetImage as B from another source address", batchGet(), "")
	r := s.rawAs(t, http.MethodGet, "/v2/"+defaultAccount+"/"+repo+"/manifests/v1", b.id, b.secret, "",
		map[string]string{"Accept": manifestAccept["Accept"], "X-Forwarded-For": "10.1.2.3", "X-Real-Ip": "10.1.2.3",
			"Forwarded": "for=10.1.2.3"})
	wantError(t, "B claims an allowed address in forwarding headers", r, http.StatusForbidden, "DENIED")
}
