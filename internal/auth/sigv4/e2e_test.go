package sigv4_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/berth-registry/berth/internal/auth/sigv4"
)

// authServer is a minimal ECR + STS endpoint that authenticates every call
// with sigv4, the way the front ends will: read the bounded body, Parse,
// Check, look the key up, Verify.
type authServer struct {
	v *sigv4.Verifier

	mu       sync.Mutex
	verified []*sigv4.Parsed
	failures []error
}

var errUnknownKey = errors.New("The security token included in the request is invalid.")

func (s *authServer) authenticate(r *http.Request) (*sigv4.Parsed, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	p, err := sigv4.Parse(r)
	if err != nil {
		return nil, err
	}
	if err := s.v.Check(r, p); err != nil {
		return nil, err
	}
	if p.AccessKeyID != accessKey {
		return nil, errUnknownKey
	}
	return p, s.v.Verify(r, p, secretKey, body)
}

func (s *authServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p, err := s.authenticate(r)
	s.mu.Lock()
	if err != nil {
		s.failures = append(s.failures, err)
	} else {
		s.verified = append(s.verified, p)
	}
	s.mu.Unlock()
	json := r.Header.Get("Content-Type") == "application/x-amz-json-1.1"
	switch {
	case err != nil && json:
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"__type":%q,"message":%q}`, exception(err, true), err.Error())
	case err != nil:
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>`+
			`<Code>%s</Code><Message>%s</Message></Error><RequestId>r1</RequestId></ErrorResponse>`, exception(err, false), err.Error())
	case json:
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		io.WriteString(w, `{"registryId":"123456789012","replicationConfiguration":{"rules":[]}}`)
	default:
		w.Header().Set("Content-Type", "text/xml")
		io.WriteString(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>`+
			`<Arn>arn:aws:iam::123456789012:user/alice</Arn><UserId>AIDAEXAMPLE</UserId><Account>123456789012</Account>`+
			`</GetCallerIdentityResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></GetCallerIdentityResponse>`)
	}
}

// exception is the table the front ends will hold (see the package doc).
func exception(err error, json bool) string {
	pick := func(j, q string) string {
		if json {
			return j
		}
		return q
	}
	switch {
	case errors.Is(err, sigv4.ErrMissingAuth):
		return pick("MissingAuthenticationTokenException", "MissingAuthenticationToken")
	case errors.Is(err, sigv4.ErrMalformed):
		return pick("IncompleteSignatureException", "IncompleteSignature")
	case errors.Is(err, sigv4.ErrInvalidSignature):
		return pick("InvalidSignatureException", "SignatureDoesNotMatch")
	case errors.Is(err, errUnknownKey):
		return pick("UnrecognizedClientException", "InvalidClientTokenId")
	}
	return pick("InternalFailure", "InternalFailure")
}

func (s *authServer) results() ([]*sigv4.Parsed, []error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.verified, s.failures
}

func startServer(t *testing.T, services ...string) (*authServer, string) {
	t.Helper()
	s := &authServer{v: &sigv4.Verifier{Region: "us-east-1", Services: services}}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return s, srv.URL
}

type apiError interface {
	ErrorCode() string
	ErrorMessage() string
}

func wantAPIError(t *testing.T, err error, code, msg string) {
	t.Helper()
	var ae apiError
	if !errors.As(err, &ae) || ae.ErrorCode() != code || ae.ErrorMessage() != msg {
		t.Fatalf("err = %v, want %s: %s", err, code, msg)
	}
}

func TestSDKClientsVerify(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	good := credentials.NewStaticCredentialsProvider(accessKey, secretKey, "")
	badSecret := credentials.NewStaticCredentialsProvider(accessKey, "not-the-secret", "")
	unknown := credentials.NewStaticCredentialsProvider("AKIAUNKNOWN000000000", secretKey, "")

	t.Run("sts", func(t *testing.T) {
		t.Parallel()
		s, endpoint := startServer(t, "sts")
		client := func(c aws.CredentialsProvider) *sts.Client {
			return sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), Credentials: c, RetryMaxAttempts: 1})
		}
		out, err := client(good).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil || aws.ToString(out.Account) != "123456789012" {
			t.Fatalf("GetCallerIdentity = %v, %v", out, err)
		}
		_, err = client(badSecret).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		wantAPIError(t, err, "SignatureDoesNotMatch", strings.TrimSpace(sigMismatch))
		_, err = client(unknown).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		wantAPIError(t, err, "InvalidClientTokenId", errUnknownKey.Error())

		// The presigned form, as EKS-style tokens use it.
		pr, err := sts.NewPresignClient(client(good)).PresignGetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequestWithContext(ctx, pr.Method, pr.URL, nil)
		for k, vs := range pr.SignedHeader {
			if !strings.EqualFold(k, "host") {
				req.Header[k] = vs
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("presigned GetCallerIdentity: %s", resp.Status)
		}
		verified, _ := s.results()
		if len(verified) != 2 || verified[0].Service != "sts" || verified[0].Presigned || !verified[1].Presigned {
			t.Fatalf("verified = %+v", verified)
		}
	})

	t.Run("ecr", func(t *testing.T) {
		t.Parallel()
		s, endpoint := startServer(t, "ecr")
		client := func(c aws.CredentialsProvider) *ecr.Client {
			return ecr.New(ecr.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), Credentials: c, RetryMaxAttempts: 1})
		}
		out, err := client(good).DescribeRegistry(ctx, &ecr.DescribeRegistryInput{})
		if err != nil || aws.ToString(out.RegistryId) != "123456789012" {
			t.Fatalf("DescribeRegistry = %v, %v", out, err)
		}
		_, err = client(badSecret).DescribeRegistry(ctx, &ecr.DescribeRegistryInput{})
		wantAPIError(t, err, "InvalidSignatureException", strings.TrimSpace(sigMismatch))
		_, err = client(unknown).DescribeRegistry(ctx, &ecr.DescribeRegistryInput{})
		wantAPIError(t, err, "UnrecognizedClientException", errUnknownKey.Error())
		other := ecr.New(ecr.Options{Region: "eu-west-1", BaseEndpoint: aws.String(endpoint), Credentials: good, RetryMaxAttempts: 1})
		_, err = other.DescribeRegistry(ctx, &ecr.DescribeRegistryInput{})
		wantAPIError(t, err, "InvalidSignatureException", "Credential should be scoped to a valid region, not 'eu-west-1'. ")
		verified, _ := s.results()
		if len(verified) != 1 || !containsAll(verified[0].SignedHeaders, "x-amz-target", "content-type", "content-length") {
			t.Fatalf("verified = %+v", verified)
		}
	})
}

const sigMismatch = "The request signature we calculated does not match the signature you provided. " +
	"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."

func containsAll(have []string, want ...string) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			found = found || h == w
		}
		if !found {
			return false
		}
	}
	return true
}

// TestAWSCLIVerifies runs botocore's signer (the AWS CLI) when installed.
func TestAWSCLIVerifies(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts the AWS CLI")
	}
	cli, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("aws CLI not installed")
	}
	s, endpoint := startServer(t, "sts", "ecr")
	home := t.TempDir()
	for _, args := range [][]string{{"sts", "get-caller-identity"}, {"ecr", "describe-registry"}} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		cmd := exec.CommandContext(ctx, cli, append(args, "--endpoint-url", endpoint, "--output", "json")...)
		cmd.Env = append(cleanEnv(), "HOME="+home, "AWS_CONFIG_FILE="+home+"/config", "AWS_SHARED_CREDENTIALS_FILE="+home+"/credentials",
			"AWS_ACCESS_KEY_ID="+accessKey, "AWS_SECRET_ACCESS_KEY="+secretKey, "AWS_DEFAULT_REGION=us-east-1", "AWS_PAGER=")
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			_, failures := s.results()
			t.Fatalf("aws %v: %v\n%s\nverifier failures: %v", args, err, out, failures)
		}
		var parsed map[string]any
		if err := json.Unmarshal(out, &parsed); err != nil {
			t.Fatalf("aws %v output: %v\n%s", args, err, out)
		}
	}
	if verified, _ := s.results(); len(verified) != 2 {
		t.Fatalf("verified %d CLI requests, want 2", len(verified))
	}
}

// cleanEnv is the environment without any AWS_ settings of the machine.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return env
}
