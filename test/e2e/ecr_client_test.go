package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/smithy-go"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Helpers shared by the ECR control-plane tests (ecr_*_test.go): an SDK
// client for a server, typed-exception checks and raw signed requests.

const (
	ecrRegion = "us-east-1"
	ecrTarget = "AmazonEC2ContainerRegistry_V20150921."
)

// ecr returns an ECR client for s signed with the root key. Retries are
// off, so a failing server fails the test instead of being retried.
func (s *server) ecr(optFns ...func(*ecr.Options)) *ecr.Client {
	return ecr.New(ecr.Options{
		Region:       ecrRegion,
		BaseEndpoint: aws.String(s.url("")),
		Credentials:  credentials.NewStaticCredentialsProvider(rootKeyID, rootSecret, ""),
		Retryer:      aws.NopRetryer{},
		HTTPClient:   rawClient,
	}, optFns...)
}

// withCredentials signs with another key pair.
func withCredentials(id, secret string) func(*ecr.Options) {
	return func(o *ecr.Options) { o.Credentials = credentials.NewStaticCredentialsProvider(id, secret, "") }
}

// skewedSigner signs as if the client's clock were off by skew.
type skewedSigner struct {
	skew  time.Duration
	inner *v4.Signer
}

func (s skewedSigner) SignHTTP(ctx context.Context, creds aws.Credentials, r *http.Request, payloadHash, service, region string,
	at time.Time, optFns ...func(*v4.SignerOptions)) error {
	return s.inner.SignHTTP(ctx, creds, r, payloadHash, service, region, at.Add(s.skew), optFns...)
}

func withClockSkew(d time.Duration) func(*ecr.Options) {
	return func(o *ecr.Options) { o.HTTPSignerV4 = skewedSigner{skew: d, inner: v4.NewSigner()} }
}

// wantException checks that err is the SDK's typed exception E, sent with
// HTTP 400 as every modeled client exception is, and returns it.
func wantException[E error](t testing.TB, what string, err error) E {
	t.Helper()
	var e E
	if err == nil {
		t.Errorf("%s: succeeded, want %T", what, e)
		return e
	}
	if !errors.As(err, &e) {
		t.Errorf("%s: err = %v, want %T", what, err, e)
		return e
	}
	if st := httpStatus(err); st != http.StatusBadRequest {
		t.Errorf("%s: HTTP status %d, want 400", what, st)
	}
	return e
}

// wantErrorCode checks that err is an API error with the given code (for
// exceptions the ECR model does not declare) and returns it.
func wantErrorCode(t testing.TB, what string, err error, code string) smithy.APIError {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Errorf("%s: err = %v, want API error %s", what, err, code)
		return nil
	}
	if ae.ErrorCode() != code {
		t.Errorf("%s: error code %q (%s), want %q", what, ae.ErrorCode(), ae.ErrorMessage(), code)
	}
	return ae
}

// httpStatus is the HTTP status of a failed SDK call, or 0.
func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// ecrRaw sends one ECR request built by hand; sign (may be nil) signs it.
func (s *server) ecrRaw(t testing.TB, op, body string, sign func(*http.Request, string)) rawResponse {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.url("/"), bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", ecrTarget+op)
	sum := sha256.Sum256([]byte(body))
	if sign != nil {
		sign(req, hex.EncodeToString(sum[:]))
	}
	return send(t, req)
}

// signRoot signs a raw request with the root key, as the SDK does.
func signRoot(t testing.TB) func(*http.Request, string) {
	return func(req *http.Request, payloadHash string) {
		t.Helper()
		creds := aws.Credentials{AccessKeyID: rootKeyID, SecretAccessKey: rootSecret}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, payloadHash, "ecr", ecrRegion, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
}

// createRepo creates a repository through the API.
func createRepo(t testing.TB, ctx context.Context, c *ecr.Client, name string) {
	t.Helper()
	if _, err := c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(name)}); err != nil {
		t.Fatalf("CreateRepository %s: %v", name, err)
	}
}

// pushImage writes img under tag with go-containerregistry (root key) and
// returns its digest.
func (s *server) pushImage(t testing.TB, ctx context.Context, repository, tag string, img v1.Image) string {
	t.Helper()
	if err := remote.Write(s.repo(t, repository).Tag(tag), img, remoteOpts(ctx)...); err != nil {
		t.Fatalf("push %s:%s: %v", repository, tag, err)
	}
	return mustDigest(t, img).String()
}

// imageSize is ECR's imageSizeInBytes of img: config plus layers.
func imageSize(t testing.TB, img v1.Image) int64 {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	n := m.Config.Size
	for _, l := range m.Layers {
		n += l.Size
	}
	return n
}

// TestECRTestsCoverEveryOperation: every operation in the ECR dispatch
// table is called by name from these end-to-end tests.
func TestECRTestsCoverEveryOperation(t *testing.T) {
	t.Parallel()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	table, err := os.ReadFile(filepath.Join(root, "internal", "ecrapi", "operations.go"))
	if err != nil {
		t.Fatal(err)
	}
	ops := regexp.MustCompile(`(?m)^\s*"([A-Za-z]+)":\s*op\(`).FindAllSubmatch(table, -1)
	if len(ops) < 20 {
		t.Fatalf("found %d operations in operations.go; has its format changed?", len(ops))
	}
	files, err := filepath.Glob(filepath.Join(root, "test", "e2e", "ecr_*_test.go"))
	if err != nil {
		t.Fatal(err)
	}
	var src []byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src = append(src, b...)
	}
	for _, m := range ops {
		op := string(m[1])
		if !bytes.Contains(src, []byte("."+op+"(ctx")) && !bytes.Contains(src, []byte("New"+op+"Paginator(")) {
			t.Errorf("no end-to-end test calls %s", op)
		}
	}
}
