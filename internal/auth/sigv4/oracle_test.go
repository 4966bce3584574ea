package sigv4_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/berth-registry/berth/internal/auth/sigv4"
)

const (
	accessKey = "AKIAIOSFODNN7EXAMPLE"
	secretKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

// signedAt is when every oracle request is signed.
var signedAt = time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)

// request is one client request for the oracle to sign.
type request struct {
	name    string
	method  string
	url     string
	headers [][2]string // added in order, so repeated names give several values
	body    string
	service string
	// payload is what the client signs as the payload hash; "" means the
	// body's SHA-256, as the SDK's middleware computes it.
	payload string
	// sendQuery, when set, replaces the query on the wire after signing:
	// a client may send a non-canonical spelling of the same pairs.
	sendQuery string
	token     string // session token
}

func (c request) payloadHash() string {
	if c.payload != "" {
		return c.payload
	}
	sum := sha256.Sum256([]byte(c.body))
	return hex.EncodeToString(sum[:])
}

func (c request) client(t testing.TB) *http.Request {
	t.Helper()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	r, err := http.NewRequest(c.method, c.url, body)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range c.headers {
		r.Header.Add(h[0], h[1])
	}
	return r
}

func (c request) creds() aws.Credentials {
	return aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secretKey, SessionToken: c.token}
}

// sign signs the request with the SDK and returns it as a server receives it.
func (c request) sign(t testing.TB, region string) (*http.Request, []byte) {
	t.Helper()
	r := c.client(t)
	err := v4.NewSigner().SignHTTP(context.Background(), c.creds(), r, c.payloadHash(), c.service, region, signedAt)
	if err != nil {
		t.Fatal(err)
	}
	if c.sendQuery != "" {
		r.URL.RawQuery = c.sendQuery
	}
	return overWire(t, r)
}

// presign presigns the request with the SDK (X-Amz-Expires taken from the
// URL) and returns the GET a client then sends, as a server receives it.
func (c request) presign(t testing.TB, region string) (*http.Request, []byte) {
	t.Helper()
	r := c.client(t)
	signed, headers, err := v4.NewSigner().PresignHTTP(context.Background(), c.creds(), r, c.payloadHash(), c.service, region, signedAt)
	if err != nil {
		t.Fatal(err)
	}
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	out, err := http.NewRequest(c.method, signed, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range headers {
		if !strings.EqualFold(k, "host") {
			out.Header[k] = vs
		}
	}
	return overWire(t, out)
}

// overWire serializes a client request and reads it back the way
// net/http's server does, so Host, Content-Length and header folding are
// what a real handler sees.
func overWire(t testing.TB, r *http.Request) (*http.Request, []byte) {
	t.Helper()
	var wire bytes.Buffer
	if err := r.Write(&wire); err != nil {
		t.Fatal(err)
	}
	sr, err := http.ReadRequest(bufio.NewReader(&wire))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(sr.Body)
	if err != nil {
		t.Fatal(err)
	}
	return sr, body
}

func clockAt(t time.Time) func() time.Time { return func() time.Time { return t } }

func newVerifier(services ...string) *sigv4.Verifier {
	return &sigv4.Verifier{Region: "us-east-1", Services: services, Clock: clockAt(signedAt)}
}

func verify(v *sigv4.Verifier, r *http.Request, secret string, body []byte) (*sigv4.Parsed, error) {
	p, err := sigv4.Parse(r)
	if err != nil {
		return nil, err
	}
	return p, v.Verify(r, p, secret, body)
}

var headerCases = []request{
	{
		name: "ecr json", method: "POST", url: "https://api.ecr.us-east-1.amazonaws.com/", service: "ecr",
		headers: [][2]string{
			{"X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921.BatchCheckLayerAvailability"},
			{"Content-Type", "application/x-amz-json-1.1"},
		},
		body: `{"repositoryName":"demo/app","layerDigests":["sha256:1111"]}`,
	},
	{
		name: "ecr json empty object", method: "POST", url: "http://localhost:5000/", service: "ecr",
		headers: [][2]string{
			{"X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921.DescribeRegistry"},
			{"Content-Type", "application/x-amz-json-1.1"},
		},
		body: `{}`,
	},
	{
		name: "sts query protocol", method: "POST", url: "https://sts.amazonaws.com/", service: "sts",
		headers: [][2]string{{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}},
		body:    "Action=GetCallerIdentity&Version=2011-06-15",
	},
	{
		name: "iam query protocol with policy", method: "POST", url: "http://127.0.0.1:8080/", service: "iam",
		headers: [][2]string{{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}},
		body: "Action=CreatePolicy&Version=2010-05-08&PolicyName=pull%2Bpush&PolicyDocument=" +
			url.QueryEscape(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:*","Resource":"*"}]}`),
	},
	{
		name: "get with tricky query", method: "GET", service: "iam",
		url: "https://iam.amazonaws.com/?b=2&a=1&a=0&empty=&flag&sp=a%20b&plus=a+b&uni=%E2%9C%93%C3%BC" +
			"&res=%21%2A%27%28%29%3A%40%26%3D%2B%24%2C%2F%3F%23%5B%5D&tilde=~x&lower=%2f%2a&Z=last&a%2Fb=x&a-b=y",
	},
	{
		name: "query sent non-canonical", method: "GET", service: "iam",
		url:       "https://iam.amazonaws.com/?Version=2010-05-08&Action=ListUsers&Marker=a%20b%2Fc&x=%7e",
		sendQuery: "x=%7e&Marker=a+b%2fc&Action=ListUsers&&Version=2010-05-08",
	},
	{
		name: "odd whitespace and repeated headers", method: "POST", url: "https://api.ecr.us-east-1.amazonaws.com/", service: "ecr",
		headers: [][2]string{
			{"Content-Type", "application/x-amz-json-1.1"},
			{"X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921.ListImages"},
			{"X-Amz-Meta-Spaces", "  a   b    c  "},
			{"X-Multi", "one"},
			{"X-Multi", "  two   three "},
			{"X-Multi", "four,five"},
			{"X-CUSTOM-case", "Mixed\tTab"},
		},
		body: `{"repositoryName":"x"}`,
	},
	{
		name: "host with default http port", method: "POST", url: "http://registry.example:80/", service: "ecr",
		headers: [][2]string{{"X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921.DescribeRegistry"}},
		body:    `{}`,
	},
	{
		name: "host with default https port", method: "GET", url: "https://registry.example:443/?Action=ListUsers", service: "iam",
	},
	{
		name: "ipv6 host with port", method: "GET", url: "http://[::1]:8443/?Action=ListUsers", service: "iam",
	},
	{
		name: "path encoded twice", method: "GET", service: "ecr",
		url: "http://localhost:5000/v2/team%20a/r%C3%A9po/a~b/c%2Fd/",
	},
	{
		name: "path not normalized", method: "GET", url: "http://localhost:5000/a/./b/../c//d", service: "ecr",
	},
	{
		name: "signed x-amz-content-sha256", method: "POST", url: "https://api.ecr.us-east-1.amazonaws.com/", service: "ecr",
		headers: [][2]string{
			{"X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921.PutImage"},
			{"X-Amz-Content-Sha256", sha256Hex(`{"imageManifest":"{}"}`)},
		},
		body: `{"imageManifest":"{}"}`,
	},
	{
		name: "session token", method: "POST", url: "https://sts.amazonaws.com/", service: "sts",
		headers: [][2]string{{"Content-Type", "application/x-www-form-urlencoded"}},
		body:    "Action=GetCallerIdentity&Version=2011-06-15",
		token:   "FwoGZXIvYXdzEXAMPLETOKEN",
	},
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestVerifyAcceptsSDKSignedRequests(t *testing.T) {
	t.Parallel()
	for _, c := range headerCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r, body := c.sign(t, "us-east-1")
			p, err := verify(newVerifier(c.service), r, secretKey, body)
			if err != nil {
				t.Fatalf("verify: %v\n%s %s %v", err, r.Method, r.URL, r.Header)
			}
			if p.AccessKeyID != accessKey || p.Service != c.service || p.Region != "us-east-1" ||
				p.Date != "20240101" || !p.Time.Equal(signedAt) || p.Presigned || p.SecurityToken != c.token {
				t.Errorf("parsed = %+v", p)
			}
		})
	}
}

// mutation changes one part of a signed request; want is the error kind.
type mutation struct {
	name   string
	want   error
	change func(t *testing.T, m *mutated)
}

type mutated struct {
	r      *http.Request
	body   []byte
	secret string
	v      *sigv4.Verifier
}

var mutations = []mutation{
	{"method", sigv4.ErrSignatureMismatch, func(_ *testing.T, m *mutated) { m.r.Method = "PUT" }},
	{"path", sigv4.ErrSignatureMismatch, func(_ *testing.T, m *mutated) {
		m.r.URL.Path, m.r.URL.RawPath = m.r.URL.Path+"x", ""
	}},
	{"query added", sigv4.ErrSignatureMismatch, func(_ *testing.T, m *mutated) {
		m.r.URL.RawQuery = strings.TrimPrefix(m.r.URL.RawQuery+"&extra=1", "&")
	}},
	{"host", sigv4.ErrSignatureMismatch, func(_ *testing.T, m *mutated) { m.r.Host = "evil.example" }},
	{"header", sigv4.ErrSignatureMismatch, func(t *testing.T, m *mutated) {
		h := otherSignedHeader(t, m.r)
		m.r.Header.Set(h, strings.Join(m.r.Header.Values(h), ",")+"x")
	}},
	{"signed header removed", sigv4.ErrSignatureMismatch, func(t *testing.T, m *mutated) {
		m.r.Header.Del(otherSignedHeader(t, m.r))
	}},
	{"body", nil, func(_ *testing.T, m *mutated) { m.body = append(m.body, ' ') }},
	{"date same day", sigv4.ErrSignatureMismatch, func(_ *testing.T, m *mutated) {
		m.r.Header.Set("X-Amz-Date", "20240101T120001Z")
	}},
	{"date other day", sigv4.ErrScope, func(_ *testing.T, m *mutated) {
		m.r.Header.Set("X-Amz-Date", "20240102T000100Z")
		m.v.Clock = clockAt(time.Date(2024, 1, 2, 0, 1, 0, 0, time.UTC))
	}},
	{"region", sigv4.ErrScope, func(_ *testing.T, m *mutated) { m.v.Region = "eu-west-1" }},
	{"service", sigv4.ErrScope, func(_ *testing.T, m *mutated) { m.v.Services = []string{"ecr-public"} }},
	{"secret", sigv4.ErrSignatureMismatch, func(_ *testing.T, m *mutated) { m.secret = secretKey[:len(secretKey)-1] + "x" }},
	{"signature hex", sigv4.ErrSignatureMismatch, func(_ *testing.T, m *mutated) {
		a := m.r.Header.Get("Authorization")
		last := a[len(a)-1]
		flip := map[bool]string{true: "1", false: "0"}[last == '0']
		m.r.Header.Set("Authorization", a[:len(a)-1]+flip)
	}},
	{"host unsigned", sigv4.ErrInvalidSignature, func(_ *testing.T, m *mutated) {
		a := m.r.Header.Get("Authorization")
		a = strings.Replace(a, ";host;", ";", 1)
		a = strings.Replace(a, "SignedHeaders=host;", "SignedHeaders=", 1)
		m.r.Header.Set("Authorization", a)
	}},
}

// otherSignedHeader names a signed header besides host, date, length and
// payload hash, or skips the test when the request signs none.
func otherSignedHeader(t *testing.T, r *http.Request) string {
	t.Helper()
	p, err := sigv4.Parse(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range p.SignedHeaders {
		switch h {
		case "host", "x-amz-date", "content-length", "x-amz-content-sha256":
		default:
			return h
		}
	}
	t.Skip("no other signed header")
	return ""
}

func TestVerifyRejectsMutations(t *testing.T) {
	t.Parallel()
	for _, c := range headerCases {
		for _, mu := range mutations {
			t.Run(c.name+"/"+mu.name, func(t *testing.T) {
				t.Parallel()
				r, body := c.sign(t, "us-east-1")
				m := &mutated{r: r, body: body, secret: secretKey, v: newVerifier(c.service)}
				mu.change(t, m)
				want := mu.want
				if want == nil { // body: a claimed payload hash catches it first
					want = sigv4.ErrSignatureMismatch
					if r.Header.Get("X-Amz-Content-Sha256") != "" {
						want = sigv4.ErrPayloadHash
					}
				}
				_, err := verify(m.v, m.r, m.secret, m.body)
				if !errors.Is(err, want) {
					t.Fatalf("err = %v, want kind %v", err, want)
				}
				var e *sigv4.Error
				if !errors.As(err, &e) || e.Message == "" {
					t.Fatalf("err %T is not a *sigv4.Error with a message", err)
				}
				if !errors.Is(err, sigv4.ErrInvalidSignature) {
					t.Errorf("%v does not match ErrInvalidSignature", err)
				}
			})
		}
	}
}

func TestVerifyMessages(t *testing.T) {
	t.Parallel()
	c := headerCases[0]
	tests := []struct {
		name   string
		change func(m *mutated)
		want   string
	}{
		{"signature", func(m *mutated) { m.secret = "wrong" },
			"The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."},
		{"region", func(m *mutated) { m.v.Region = "eu-west-1" },
			"Credential should be scoped to a valid region, not 'us-east-1'. "},
		{"service", func(m *mutated) { m.v.Services = []string{"sts", "iam"} },
			"Credential should be scoped to correct service: 'sts'. "},
		{"date", func(m *mutated) {
			m.r.Header.Set("X-Amz-Date", "20240102T000100Z")
			m.v.Clock = clockAt(time.Date(2024, 1, 2, 0, 1, 0, 0, time.UTC))
		}, "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20240101' != '20240102', from '20240102T000100Z'."},
		{"all scope", func(m *mutated) {
			m.r.Header.Set("Authorization", strings.Replace(m.r.Header.Get("Authorization"),
				"/20240101/us-east-1/ecr/aws4_request", "/20240102/us-west-2/s3/aws5_request", 1))
		}, "Credential should be scoped to a valid region, not 'us-west-2'. Credential should be scoped to correct service: 'ecr'. " +
			"Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. " +
			"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20240102' != '20240101', from '20240101T120000Z'."},
		{"host unsigned", func(m *mutated) {
			m.r.Header.Set("Authorization", strings.Replace(m.r.Header.Get("Authorization"), "host;", "", 1))
		}, "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."},
		{"date unsigned", func(m *mutated) {
			m.r.Header.Set("Authorization", strings.Replace(m.r.Header.Get("Authorization"), ";x-amz-date", "", 1))
		}, "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization."},
		{"payload hash", func(m *mutated) {
			m.r.Header.Set("X-Amz-Content-Sha256", sha256Hex("other"))
		}, "The provided 'x-amz-content-sha256' header does not match what was computed."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, body := c.sign(t, "us-east-1")
			m := &mutated{r: r, body: body, secret: secretKey, v: newVerifier("ecr")}
			tt.change(m)
			_, err := verify(m.v, m.r, m.secret, m.body)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("err = %q\nwant  %q", err, tt.want)
			}
		})
	}
}

func TestVerifyClockSkew(t *testing.T) {
	t.Parallel()
	c := headerCases[0]
	tests := []struct {
		offset time.Duration
		skew   time.Duration
		want   string // "" means accepted
	}{
		{4*time.Minute + 59*time.Second, 0, ""},
		{-(4*time.Minute + 59*time.Second), 0, ""},
		{5 * time.Minute, 0, ""},
		{-5 * time.Minute, 0, ""},
		{5*time.Minute + time.Second, 0,
			"Signature expired: 20240101T120000Z is now earlier than 20240101T120001Z (20240101T120501Z - 5 min.)"},
		{-(5*time.Minute + time.Second), 0,
			"Signature not yet current: 20240101T120000Z is still later than 20240101T115959Z (20240101T115459Z + 5 min.)"},
		{14 * time.Minute, 15 * time.Minute, ""},
		{16 * time.Minute, 15 * time.Minute,
			"Signature expired: 20240101T120000Z is now earlier than 20240101T120100Z (20240101T121600Z - 15 min.)"},
	}
	for _, tt := range tests {
		t.Run(tt.offset.String(), func(t *testing.T) {
			t.Parallel()
			r, body := c.sign(t, "us-east-1")
			v := newVerifier("ecr")
			v.Clock, v.MaxSkew = clockAt(signedAt.Add(tt.offset)), tt.skew
			_, err := verify(v, r, secretKey, body)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("err = %v", err)
			case tt.want != "" && (!errors.Is(err, sigv4.ErrSkew) || err.Error() != tt.want):
				t.Fatalf("err = %v\nwant  %s", err, tt.want)
			}
		})
	}
}

func TestVerifyUnsignedPayload(t *testing.T) {
	t.Parallel()
	c := request{
		method: "PUT", url: "http://localhost:5000/blob", service: "ecr", body: "not hashed",
		headers: [][2]string{{"X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD"}}, payload: "UNSIGNED-PAYLOAD",
	}
	r, body := c.sign(t, "us-east-1")
	v := newVerifier("ecr")
	if _, err := verify(v, r, secretKey, body); !errors.Is(err, sigv4.ErrPayloadHash) {
		t.Fatalf("unsigned payload not allowed: err = %v", err)
	}
	v = newVerifier("ecr")
	v.AllowUnsignedPayload = true
	if _, err := verify(v, r, secretKey, []byte("anything")); err != nil {
		t.Fatalf("unsigned payload allowed: err = %v", err)
	}
}
