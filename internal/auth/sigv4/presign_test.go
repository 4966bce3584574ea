package sigv4_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/auth/sigv4"
)

var presignCases = []request{
	{
		name: "sts get caller identity", method: "GET", service: "sts",
		url: "https://sts.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Expires=300",
	},
	{
		name: "tricky query and port", method: "GET", service: "ecr",
		url: "http://localhost:5000/v2/a%20b/?X-Amz-Expires=300&sp=a%20b&uni=%E2%9C%93&empty=&r=%2F%3D%26&a=2&a=1",
	},
	{
		name: "hoisted header", method: "GET", service: "ecr",
		url:     "http://localhost:5000/?X-Amz-Expires=300",
		headers: [][2]string{{"X-Amz-Meta-Owner", "team a"}, {"X-Custom", "signed as header"}},
	},
	{
		name: "post with body", method: "POST", service: "sts",
		url:  "http://localhost:5000/?X-Amz-Expires=300",
		body: "Action=GetCallerIdentity&Version=2011-06-15",
		headers: [][2]string{
			{"Content-Type", "application/x-www-form-urlencoded"},
		},
	},
}

func TestVerifyAcceptsSDKPresignedURLs(t *testing.T) {
	t.Parallel()
	for _, c := range presignCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r, body := c.presign(t, "us-east-1")
			p, err := verify(newVerifier(c.service), r, secretKey, body)
			if err != nil {
				t.Fatalf("verify: %v\n%s", err, r.URL)
			}
			if !p.Presigned || p.Expires != 300*time.Second || p.AccessKeyID != accessKey {
				t.Errorf("parsed = %+v", p)
			}
		})
	}
}

func TestVerifyRejectsPresignedMutations(t *testing.T) {
	t.Parallel()
	muts := []struct {
		name   string
		want   error
		change func(m *mutated)
	}{
		{"query value", sigv4.ErrSignatureMismatch, func(m *mutated) {
			m.r.URL.RawQuery = strings.Replace(m.r.URL.RawQuery, "X-Amz-Expires=300", "X-Amz-Expires=301", 1)
		}},
		{"query added", sigv4.ErrSignatureMismatch, func(m *mutated) { m.r.URL.RawQuery += "&x=1" }},
		{"signature", sigv4.ErrSignatureMismatch, func(m *mutated) {
			q := m.r.URL.RawQuery
			i := strings.Index(q, "X-Amz-Signature=") + len("X-Amz-Signature=")
			m.r.URL.RawQuery = q[:i] + map[bool]string{true: "1", false: "0"}[q[i] == '0'] + q[i+1:]
		}},
		{"method", sigv4.ErrSignatureMismatch, func(m *mutated) { m.r.Method = "DELETE" }},
		{"path", sigv4.ErrSignatureMismatch, func(m *mutated) { m.r.URL.Path, m.r.URL.RawPath = "/other", "" }},
		{"host", sigv4.ErrSignatureMismatch, func(m *mutated) { m.r.Host = "localhost:5001" }},
		{"body", sigv4.ErrSignatureMismatch, func(m *mutated) { m.body = append(m.body, 'x') }},
		{"secret", sigv4.ErrSignatureMismatch, func(m *mutated) { m.secret = "x" }},
		{"region", sigv4.ErrScope, func(m *mutated) { m.v.Region = "us-west-2" }},
		{"both auth forms", sigv4.ErrInvalidSignature, func(m *mutated) { m.r.Header.Set("Authorization", "AWS4-HMAC-SHA256 x") }},
		{"expired", sigv4.ErrExpired, func(m *mutated) { m.v.Clock = clockAt(signedAt.Add(301 * time.Second)) }},
		{"not yet current", sigv4.ErrSkew, func(m *mutated) { m.v.Clock = clockAt(signedAt.Add(-5*time.Minute - time.Second)) }},
	}
	for _, c := range presignCases {
		for _, mu := range muts {
			t.Run(c.name+"/"+mu.name, func(t *testing.T) {
				t.Parallel()
				r, body := c.presign(t, "us-east-1")
				m := &mutated{r: r, body: body, secret: secretKey, v: newVerifier(c.service)}
				mu.change(m)
				if _, err := verify(m.v, m.r, m.secret, m.body); !errors.Is(err, mu.want) {
					t.Fatalf("err = %v, want kind %v", err, mu.want)
				}
			})
		}
	}
}

func TestVerifyPresignedWindow(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url    string
		offset time.Duration
		want   error
	}{
		{"http://h/?X-Amz-Expires=300", 300 * time.Second, nil},
		{"http://h/?X-Amz-Expires=300", -(4*time.Minute + 59*time.Second), nil},
		{"http://h/?X-Amz-Expires=300", 301 * time.Second, sigv4.ErrExpired},
		{"http://h/?X-Amz-Expires=604800", 604800 * time.Second, nil},
		{"http://h/?X-Amz-Expires=604800", -5*time.Minute - time.Second, sigv4.ErrSkew},
		{"http://h/?X-Amz-Expires=0", 0, nil},
		{"http://h/?X-Amz-Expires=0", time.Second, sigv4.ErrExpired},
		// Without X-Amz-Expires (as the SDK's STS presigner sends) the skew bounds the URL.
		{"http://h/?Action=GetCallerIdentity", 5 * time.Minute, nil},
		{"http://h/?Action=GetCallerIdentity", 5*time.Minute + time.Second, sigv4.ErrSkew},
	}
	for _, tt := range tests {
		t.Run(tt.url+"@"+tt.offset.String(), func(t *testing.T) {
			t.Parallel()
			r, body := request{method: "GET", url: tt.url, service: "sts"}.presign(t, "us-east-1")
			v := newVerifier("sts")
			v.Clock = clockAt(signedAt.Add(tt.offset))
			_, err := verify(v, r, secretKey, body)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestVerifyPresignedPayload(t *testing.T) {
	t.Parallel()
	unsigned := request{method: "GET", url: "http://h/?X-Amz-Expires=60", service: "ecr", payload: "UNSIGNED-PAYLOAD"}
	r, body := unsigned.presign(t, "us-east-1")
	if _, err := verify(newVerifier("ecr"), r, secretKey, body); !errors.Is(err, sigv4.ErrSignatureMismatch) {
		t.Fatalf("unsigned payload not allowed: err = %v", err)
	}
	v := newVerifier("ecr")
	v.AllowUnsignedPayload = true
	if _, err := verify(v, r, secretKey, body); err != nil {
		t.Fatalf("unsigned payload allowed: err = %v", err)
	}

	// X-Amz-Content-Sha256 in the query is the claim, checked against the body.
	claimed := request{method: "PUT", url: "http://h/?X-Amz-Expires=60&X-Amz-Content-Sha256=" + sha256Hex("blob"),
		service: "ecr", body: "blob"}
	r, body = claimed.presign(t, "us-east-1")
	if _, err := verify(newVerifier("ecr"), r, secretKey, body); err != nil {
		t.Fatalf("claimed payload hash: err = %v", err)
	}
	if _, err := verify(newVerifier("ecr"), r, secretKey, []byte("blub")); !errors.Is(err, sigv4.ErrPayloadHash) {
		t.Fatalf("claimed payload hash, other body: err = %v", err)
	}
}
