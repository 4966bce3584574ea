package iamapi_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/auth/sigv4"
	"github.com/berth-registry/berth/internal/iamapi"
	"github.com/berth-registry/berth/internal/identity"
	"github.com/berth-registry/berth/internal/metastore"
	"github.com/berth-registry/berth/internal/metastore/sqlstore"
	"github.com/berth-registry/berth/internal/policy"
)

const (
	acct   = "123456789012"
	region = "us-east-1"
)

var ctx = context.Background()

// policyCatalog is the adapter app.go uses: the policy engine's built-in
// AWS-managed policies as an identity.ManagedCatalog.
type policyCatalog struct{}

func (policyCatalog) Get(arn string) (string, string, bool) {
	name, ok := strings.CutPrefix(arn, policy.ManagedARNPrefix)
	if !ok {
		return "", "", false
	}
	p, ok := policy.Managed(name)
	if !ok {
		return "", "", false
	}
	return name, p.Text(), true
}

func (policyCatalog) List() []string {
	var out []string
	for _, name := range policy.ManagedNames() {
		out = append(out, policy.ManagedARN(name))
	}
	return out
}

// validatePolicy is the policy engine's parser as app.go injects it; the
// service applies IAM's size quotas itself.
func validatePolicy(doc string) error {
	_, err := policy.ParseWithLimit(doc, policy.Identity, 0)
	return err
}

const awsPolicyPrefix = policy.ManagedARNPrefix

// env is Berth's IAM/STS front end on a real listener, over a real SQLite
// store, verifying SigV4 as the app does. The key cache keeps keys an hour,
// so a key change observed at once proves the invalidation.
type env struct {
	url                string
	store              *sqlstore.Store
	keys               *auth.CachedKeys
	rootID, rootSecret string
}

type envOption func(*identity.Options, *env)

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "berth.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.CreateAccount(ctx, metastore.Account{ID: acct}); err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	sealer, err := auth.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{store: st, keys: &auth.CachedKeys{Keys: st, TTL: time.Hour, Clock: time.Now}}
	if e.rootID, e.rootSecret, err = auth.GenerateAccessKey(rand.Reader); err != nil {
		t.Fatal(err)
	}
	sealed, err := sealer.Seal([]byte(e.rootSecret), []byte(e.rootID))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateAccessKey(ctx, metastore.AccessKey{ID: e.rootID, AccountID: acct, SecretCiphertext: sealed, Active: true}); err != nil {
		t.Fatal(err)
	}
	o := identity.Options{Store: st, Sealer: sealer, Managed: policyCatalog{}, ValidatePolicy: validatePolicy,
		InvalidateKey: e.keys.Invalidate}
	for _, opt := range opts {
		opt(&o, e)
	}
	svc, err := identity.New(o)
	if err != nil {
		t.Fatal(err)
	}
	h := iamapi.New(iamapi.Options{Service: svc, Auth: &auth.SigV4Authenticator{Keys: e.keys, Sealer: sealer,
		Verifier: &sigv4.Verifier{Region: region, Services: []string{"iam", "sts"}}}})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

func (e *env) iam(id, secret string) *iam.Client {
	return iam.New(iam.Options{Region: region, BaseEndpoint: aws.String(e.url), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(id, secret, "")})
}

func (e *env) sts(id, secret string) *sts.Client {
	return sts.New(sts.Options{Region: region, BaseEndpoint: aws.String(e.url), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(id, secret, "")})
}

func (e *env) root() *iam.Client { return e.iam(e.rootID, e.rootSecret) }

// wantAPIError checks the code the SDK parsed and the HTTP status.
func wantAPIError(t *testing.T, err error, code string, status int) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error = %v, want API error %s", err, code)
	}
	if ae.ErrorCode() != code {
		t.Fatalf("code = %s (%s), want %s", ae.ErrorCode(), ae.ErrorMessage(), code)
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != status {
		t.Fatalf("%s: status = %v, want %d", code, err, status)
	}
}

// wantType checks the SDK decoded err as the modeled exception T.
func wantType[T error](t *testing.T, err error) {
	t.Helper()
	var target T
	if !errors.As(err, &target) {
		t.Fatalf("error %v is not a %T", err, target)
	}
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// post sends a raw query-protocol request, signed with the key when id is
// set.
func (e *env) post(t *testing.T, body, id, secret string, modify ...func(*http.Request)) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	if id != "" {
		sum := sha256.Sum256([]byte(body))
		err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: id, SecretAccessKey: secret}, req,
			hex.EncodeToString(sum[:]), "iam", region, time.Now())
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range modify {
		m(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}
