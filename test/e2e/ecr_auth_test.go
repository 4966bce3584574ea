package e2e

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestECRGetAuthorizationToken(t *testing.T) {
	t.Parallel()
	s := startBerth(t)
	ctx := testContext(t, 2*time.Minute)
	c := s.ecr()
	createRepo(t, ctx, c, "token/app")

	before := time.Now()
	out, err := c.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		t.Fatalf("GetAuthorizationToken: %v", err)
	}
	if len(out.AuthorizationData) != 1 {
		t.Fatalf("authorizationData has %d entries, want 1", len(out.AuthorizationData))
	}
	ad := out.AuthorizationData[0]
	token := aws.ToString(ad.AuthorizationToken)
	raw, err := base64.StdEncoding.DecodeString(token)
	if err != nil {
		t.Fatalf("authorizationToken %q is not base64: %v", token, err)
	}
	user, password, ok := strings.Cut(string(raw), ":")
	if !ok || user != "AWS" || password == "" {
		t.Fatalf("token decodes to %q, want AWS:<password>", raw)
	}
	if strings.Contains(password, ":") {
		t.Errorf("password %q contains ':'; the AWS CLI splits the token on it", password)
	}
	if strings.ContainsAny(token, " \t\r\n") {
		t.Errorf("authorizationToken contains whitespace (model pattern ^\\S+$)")
	}
	if ad.ExpiresAt == nil {
		t.Fatal("expiresAt missing")
	}
	if d := ad.ExpiresAt.Sub(before.Add(12 * time.Hour)); math.Abs(d.Seconds()) > 60 {
		t.Errorf("expiresAt %s is %s away from now+12h", ad.ExpiresAt.UTC(), d)
	}
	if got, want := aws.ToString(ad.ProxyEndpoint), "http://"+s.host; got != want {
		t.Errorf("proxyEndpoint %q, want %q", got, want)
	}

	// The password works for /v2 with username AWS, through a real client
	// and as the raw Basic header docker builds from it.
	awsAuth := remote.WithAuth(&authn.Basic{Username: "AWS", Password: password})
	img := randomImage(t, 512, 2)
	if err := remote.Write(s.repo(t, "token/app").Tag("v1"), img, remoteOpts(ctx, awsAuth)...); err != nil {
		t.Fatalf("push with the registry password: %v", err)
	}
	if tags, err := remote.List(s.repo(t, "token/app"), remoteOpts(ctx, awsAuth)...); err != nil || len(tags) != 1 || tags[0] != "v1" {
		t.Errorf("list with the registry password = %v, %v; want [v1]", tags, err)
	}
	req, _ := http.NewRequest(http.MethodGet, s.url("/v2/token/app/tags/list"), nil)
	req.Header.Set("Authorization", "Basic "+token)
	if r := send(t, req); r.Status != http.StatusOK {
		t.Errorf("GET tags/list with Authorization: Basic <authorizationToken>: status %d, body %s", r.Status, r.Body)
	}
	// A password with one character changed, or under another user name, is refused.
	// (A middle character: the last one of unpadded base64 carries padding bits.)
	mid := len(password) / 2
	tampered := password[:mid] + flipChar(password[mid]) + password[mid+1:]
	for _, bad := range []*authn.Basic{{Username: "AWS", Password: tampered}, {Username: "aws", Password: password}} {
		_, err := remote.List(s.repo(t, "token/app"), remoteOpts(ctx, remote.WithAuth(bad))...)
		wantTransportError(t, "list with user "+bad.Username+" and a bad password", err, http.StatusUnauthorized, "UNAUTHORIZED")
	}

	// One entry per requested registry id; ids must be 12 digits.
	two, err := c.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{RegistryIds: []string{defaultAccount, defaultAccount}})
	if err != nil {
		t.Fatalf("GetAuthorizationToken with registryIds: %v", err)
	}
	if len(two.AuthorizationData) != 2 {
		t.Errorf("GetAuthorizationToken with 2 registryIds: %d entries, want 2", len(two.AuthorizationData))
	}
	_, err = c.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{RegistryIds: []string{"12345"}})
	wantException[*types.InvalidParameterException](t, "GetAuthorizationToken registryIds [12345]", err)
}

func TestECRSigV4Failures(t *testing.T) {
	t.Parallel()
	s := startBerth(t)
	ctx := testContext(t, time.Minute)
	create := func(c *ecr.Client, name string) error {
		_, err := c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(name)})
		return err
	}

	err := create(s.ecr(withCredentials(rootKeyID, rootSecret+"x")), "sig/wrong-secret")
	wantErrorCode(t, "wrong secret", err, "InvalidSignatureException")

	err = create(s.ecr(withCredentials("AKIAE2EUNKNOWNKEY001", rootSecret)), "sig/unknown-key")
	wantErrorCode(t, "unknown access key", err, "UnrecognizedClientException")

	err = create(s.ecr(withClockSkew(-10*time.Minute)), "sig/slow-clock")
	if ae := wantErrorCode(t, "clock 10 minutes slow", err, "InvalidSignatureException"); ae != nil &&
		!strings.Contains(ae.ErrorMessage(), "Signature expired") {
		t.Errorf("clock 10 minutes slow: message %q does not say \"Signature expired\"", ae.ErrorMessage())
	}
	err = create(s.ecr(withClockSkew(10*time.Minute)), "sig/fast-clock")
	if ae := wantErrorCode(t, "clock 10 minutes fast", err, "InvalidSignatureException"); ae != nil &&
		!strings.Contains(ae.ErrorMessage(), "Signature not yet current") {
		t.Errorf("clock 10 minutes fast: message %q does not say \"Signature not yet current\"", ae.ErrorMessage())
	}
	// Within the 5-minute window the request is accepted.
	if err := create(s.ecr(withClockSkew(-3*time.Minute)), "sig/skewed-3m"); err != nil {
		t.Errorf("clock 3 minutes slow: %v", err)
	}

	// A request without any authentication, as raw HTTP.
	r := s.ecrRaw(t, "CreateRepository", `{"repositoryName":"sig/unsigned"}`, nil)
	if got := awsErrorType(t, r); got != "MissingAuthenticationTokenException" {
		t.Errorf("unsigned request: __type %q (status %d), want MissingAuthenticationTokenException", got, r.Status)
	}
	if r.Status < 400 || r.Status >= 500 {
		t.Errorf("unsigned request: status %d, want 4xx", r.Status)
	}
	// A signed body changed in flight fails the signature.
	r = s.ecrRaw(t, "CreateRepository", `{"repositoryName":"sig/signed"}`, func(req *http.Request, _ string) {
		signRoot(t)(req, sha256Digest([]byte(`{"repositoryName":"sig/other"}`))[len("sha256:"):])
	})
	if got := awsErrorType(t, r); got != "InvalidSignatureException" {
		t.Errorf("body that does not match the signed payload: __type %q, want InvalidSignatureException", got)
	}

	// None of the refused requests created anything.
	out, err := s.ecr().DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Repositories) != 1 || aws.ToString(out.Repositories[0].RepositoryName) != "sig/skewed-3m" {
		t.Errorf("repositories after refused requests: %d, want only sig/skewed-3m", len(out.Repositories))
	}
}

// awsErrorType decodes an AWS JSON 1.1 error body's __type and checks the
// envelope.
func awsErrorType(t testing.TB, r rawResponse) string {
	t.Helper()
	var body struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Errorf("error body is not JSON: %v: %.300s", err, r.Body)
		return ""
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		t.Errorf("error Content-Type %q, want application/x-amz-json-1.1", ct)
	}
	if body.Message == "" {
		t.Errorf("error %s has no message", body.Type)
	}
	if r.Header.Get("X-Amzn-Requestid") == "" {
		t.Errorf("error %s has no x-amzn-RequestId header", body.Type)
	}
	return body.Type
}

func TestECRUnknownAndUnimplementedOperations(t *testing.T) {
	t.Parallel()
	s := startBerth(t)
	ctx := testContext(t, time.Minute)
	c := s.ecr()

	r := s.ecrRaw(t, "NoSuchOperation", `{}`, signRoot(t))
	if got := awsErrorType(t, r); got != "UnknownOperationException" {
		t.Errorf("unknown operation: __type %q (status %d, body %s), want UnknownOperationException", got, r.Status, r.Body)
	}

	_, err := c.DescribeRepositoryCreationTemplates(ctx, &ecr.DescribeRepositoryCreationTemplatesInput{})
	if ae := wantErrorCode(t, "DescribeRepositoryCreationTemplates", err, "UnsupportedOperationException"); ae != nil &&
		!strings.Contains(ae.ErrorMessage(), "DescribeRepositoryCreationTemplates") {
		t.Errorf("DescribeRepositoryCreationTemplates: message %q does not name the operation", ae.ErrorMessage())
	}

	// A body that is not JSON is a SerializationException.
	r = s.ecrRaw(t, "DescribeRepositories", `{"maxResults":`, signRoot(t))
	if got := awsErrorType(t, r); got != "SerializationException" {
		t.Errorf("truncated JSON body: __type %q, want SerializationException", got)
	}
}
