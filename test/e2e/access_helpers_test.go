package e2e

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// Helpers shared by the access-control tests (access_*_test.go): IAM and
// STS clients, users with keys, pulls and pushes as a given identity.

// Managed ECR policies, by ARN.
const (
	readOnlyPolicy   = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"
	powerUserPolicy  = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPowerUser"
	pullOnlyPolicy   = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly"
	fullAccessPolicy = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryFullAccess"
)

// accessKey is an access key pair.
type accessKey struct{ id, secret string }

// basic is the key as registry Basic credentials (username = key id).
func (k accessKey) basic() remote.Option {
	return remote.WithAuth(&authn.Basic{Username: k.id, Password: k.secret})
}

// ecrAs is an ECR client signing with k.
func (s *server) ecrAs(k accessKey) *ecr.Client { return s.ecr(withCredentials(k.id, k.secret)) }

// iam returns an IAM client for s signed with k. Retries are off.
func (s *server) iam(k accessKey) *iam.Client {
	return iam.New(iam.Options{
		Region:       ecrRegion,
		BaseEndpoint: aws.String(s.url("")),
		Credentials:  credentials.NewStaticCredentialsProvider(k.id, k.secret, ""),
		Retryer:      aws.NopRetryer{},
		HTTPClient:   rawClient,
	})
}

// sts returns an STS client for s signed with k. Retries are off.
func (s *server) sts(k accessKey) *sts.Client {
	return sts.New(sts.Options{
		Region:       ecrRegion,
		BaseEndpoint: aws.String(s.url("")),
		Credentials:  credentials.NewStaticCredentialsProvider(k.id, k.secret, ""),
		Retryer:      aws.NopRetryer{},
		HTTPClient:   rawClient,
	})
}

var rootKey = accessKey{rootKeyID, rootSecret}

// userSpec describes an IAM user to create.
type userSpec struct {
	name    string
	managed []string          // policy ARNs to attach
	inline  map[string]string // policy name -> document
}

// createUser creates an IAM user in the default account as root, gives it
// its policies and an access key, and checks with STS that the key is the
// user's.
func (s *server) createUser(t testing.TB, ctx context.Context, u userSpec) accessKey {
	t.Helper()
	c := s.iam(rootKey)
	if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(u.name)}); err != nil {
		t.Fatalf("CreateUser %s: %v", u.name, err)
	}
	for _, arn := range u.managed {
		if _, err := c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String(u.name), PolicyArn: aws.String(arn)}); err != nil {
			t.Fatalf("AttachUserPolicy %s %s: %v", u.name, arn, err)
		}
	}
	for pname, doc := range u.inline {
		if _, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(u.name),
			PolicyName: aws.String(pname), PolicyDocument: aws.String(doc)}); err != nil {
			t.Fatalf("PutUserPolicy %s %s: %v", u.name, pname, err)
		}
	}
	out, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(u.name)})
	if err != nil {
		t.Fatalf("CreateAccessKey %s: %v", u.name, err)
	}
	k := accessKey{aws.ToString(out.AccessKey.AccessKeyId), aws.ToString(out.AccessKey.SecretAccessKey)}
	who, err := s.sts(k).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity as %s: %v", u.name, err)
	}
	if got, want := aws.ToString(who.Arn), userARN(u.name); got != want {
		t.Fatalf("GetCallerIdentity as %s: Arn %q, want %q", u.name, got, want)
	}
	return k
}

func userARN(name string) string { return "arn:aws:iam::" + defaultAccount + ":user/" + name }

func repoARN(account, repo string) string {
	return "arn:aws:ecr:" + ecrRegion + ":" + account + ":repository/" + repo
}

// deniedMessage is AWS's denial text.
func deniedMessage(principalARN, action, resource, because string) string {
	return fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s %s", principalARN, action, resource, because)
}

func noIdentityPolicy(action string) string {
	return "because no identity-based policy allows the " + action + " action"
}

func noResourcePolicy(action string) string {
	return "because no resource-based policy allows the " + action + " action"
}

// registryPassword calls GetAuthorizationToken with c and returns the
// password of the AWS:<password> token.
func registryPassword(t testing.TB, ctx context.Context, c *ecr.Client) string {
	t.Helper()
	out, err := c.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		t.Fatalf("GetAuthorizationToken: %v", err)
	}
	if len(out.AuthorizationData) != 1 {
		t.Fatalf("GetAuthorizationToken: %d authorization data, want 1", len(out.AuthorizationData))
	}
	raw, err := base64.StdEncoding.DecodeString(aws.ToString(out.AuthorizationData[0].AuthorizationToken))
	if err != nil {
		t.Fatalf("authorization token is not base64: %v", err)
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok || user != "AWS" || pass == "" {
		t.Fatalf("authorization token %q is not AWS:<password>", raw)
	}
	return pass
}

// pullAs pulls ref with opts and checks that it is want, reading every
// blob (so both BatchGetImage and GetDownloadUrlForLayer are exercised).
func pullAs(t testing.TB, ctx context.Context, what string, ref name.Reference, want v1.Image, opts ...remote.Option) {
	t.Helper()
	got, err := remote.Image(ref, remoteOpts(ctx, opts...)...)
	if err != nil {
		t.Errorf("%s: pull %s: %v", what, ref, err)
		return
	}
	if g, w := mustDigest(t, got), mustDigest(t, want); g != w {
		t.Errorf("%s: pull %s: digest %s, want %s", what, ref, g, w)
		return
	}
	if err := validate.Image(got); err != nil {
		t.Errorf("%s: pull %s: reading the image: %v", what, ref, err)
	}
}

// wantDenied checks that a registry-client error is 403 DENIED with
// exactly message (when not empty).
func wantDenied(t testing.TB, what string, err error, message string) {
	t.Helper()
	te := wantTransportError(t, what, err, http.StatusForbidden, "DENIED")
	if te == nil || message == "" {
		return
	}
	for _, d := range te.Errors {
		if string(d.Code) == "DENIED" {
			if d.Message != message {
				t.Errorf("%s: DENIED message\n got %q\nwant %q", what, d.Message, message)
			}
			return
		}
	}
}

// wantUnauthorized checks that a registry-client error is a 401.
func wantUnauthorized(t testing.TB, what string, err error) {
	t.Helper()
	var te *transport.Error
	if !errors.As(err, &te) || te.StatusCode != http.StatusUnauthorized {
		t.Errorf("%s: err = %v, want 401 Unauthorized", what, err)
	}
}

// rawAs sends a raw registry request with Basic credentials (none when
// user is empty) and, when host is not empty, that Host header.
func (s *server) rawAs(t testing.TB, method, path, user, pass, host string, header map[string]string) rawResponse {
	t.Helper()
	req, err := http.NewRequest(method, s.url(path), nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	if host != "" {
		req.Host = host
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return send(t, req)
}

// manifestAccept asks for the manifest types the tests push.
var manifestAccept = map[string]string{"Accept": "application/vnd.docker.distribution.manifest.v2+json, " +
	"application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, " +
	"application/vnd.docker.distribution.manifest.list.v2+json"}

// createAccount runs `berth admin account create` against the running
// server's data directory and returns the new account's root key.
func (s *server) createAccount(t testing.TB, id string) accessKey {
	t.Helper()
	out, err := exec.Command(berthBin, "admin", "account", "create", "--id", id, "--data-dir", s.dataDir).CombinedOutput()
	if err != nil {
		t.Fatalf("berth admin account create --id %s: %v\n%s", id, err, out)
	}
	m := regexp.MustCompile(`aws_access_key_id\s+= (\S+)\naws_secret_access_key = (\S+)`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("no key in the output of berth admin account create:\n%s", out)
	}
	return accessKey{m[1], m[2]}
}
