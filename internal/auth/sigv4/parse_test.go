package sigv4_test

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/auth/sigv4"
)

const validAuth = "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/ecr/aws4_request, " +
	"SignedHeaders=host;x-amz-date, Signature=abc123"

func newRequest(auth, amzDate, rawQuery string) *http.Request {
	r := &http.Request{Method: "POST", URL: &url.URL{Path: "/", RawQuery: rawQuery}, Host: "h", Header: http.Header{}}
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	if amzDate != "" {
		r.Header.Set("X-Amz-Date", amzDate)
	}
	return r
}

func TestParseHeaderForm(t *testing.T) {
	t.Parallel()
	r := newRequest("  AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/ecr/aws4_request,SignedHeaders=Host;X-Amz-Date,Signature=abc123 ",
		"20240101T120000Z", "")
	r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	r.Header.Set("X-Amz-Security-Token", "tok")
	p, err := sigv4.Parse(r)
	if err != nil {
		t.Fatal(err)
	}
	want := sigv4.Parsed{AccessKeyID: "AKID", Date: "20240101", Region: "us-east-1", Service: "ecr", Terminator: "aws4_request",
		SignedHeaders: []string{"host", "x-amz-date"}, Signature: "abc123", Time: time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC),
		PayloadHash: "UNSIGNED-PAYLOAD", SecurityToken: "tok"}
	if p.AccessKeyID != want.AccessKeyID || p.Date != want.Date || p.Region != want.Region || p.Service != want.Service ||
		p.Terminator != want.Terminator || !slices.Equal(p.SignedHeaders, want.SignedHeaders) || p.Signature != want.Signature ||
		!p.Time.Equal(want.Time) || p.Presigned || p.PayloadHash != want.PayloadHash || p.SecurityToken != want.SecurityToken {
		t.Errorf("parsed %+v\nwant   %+v", p, want)
	}
}

func TestParseDateHeader(t *testing.T) {
	t.Parallel()
	r := newRequest(validAuth, "", "")
	r.Header.Set("Date", "Mon, 01 Jan 2024 12:00:00 GMT")
	p, err := sigv4.Parse(r)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Time.Equal(time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("time = %v", p.Time)
	}
	// The date came from Date, so Date must be signed; the header lists x-amz-date.
	v := &sigv4.Verifier{Services: []string{"ecr"}, Clock: clockAt(p.Time)}
	err = v.Check(r, p)
	if want := "'Date' must be a 'SignedHeader' in the AWS Authorization."; err == nil || err.Error() != want {
		t.Errorf("check = %v, want %q", err, want)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	const date = "20240101T120000Z"
	tests := []struct {
		name, auth, date, query string
		kind                    error
		msg                     string
	}{
		{"nothing", "", date, "", sigv4.ErrMissingAuth, "Request is missing Authentication Token"},
		{"other scheme", "Bearer abc", date, "", sigv4.ErrMissingAuth, "Request is missing Authentication Token"},
		{"signature in query without algorithm", "", "", "X-Amz-Signature=abc", sigv4.ErrMissingAuth,
			"Request is missing Authentication Token"},
		{"bare algorithm", "AWS4-HMAC-SHA256", date, "", sigv4.ErrMalformed,
			"Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. " +
				"Authorization header requires 'SignedHeaders' parameter. Authorization=AWS4-HMAC-SHA256"},
		{"no date", validAuth, "", "", sigv4.ErrMalformed,
			"Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=" + validAuth},
		{"empty signature", "AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=host, Signature=", date, "", sigv4.ErrMalformed,
			"Authorization header requires 'Signature' parameter. Authorization=AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=host, Signature="},
		{"missing equal sign", "AWS4-HMAC-SHA256 Credential, SignedHeaders=host, Signature=a", date, "", sigv4.ErrMalformed,
			"'Credential' not a valid key=value pair (missing equal-sign) in Authorization header: " +
				"'AWS4-HMAC-SHA256 Credential, SignedHeaders=host, Signature=a'."},
		{"algorithm", "AWS4-HMAC-SHA512 Credential=a/b/c/d/e, SignedHeaders=host, Signature=a", date, "", sigv4.ErrMalformed,
			"Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512' (only AWS4-HMAC-SHA256 for now). "},
		{"credential parts", "AWS4-HMAC-SHA256 Credential=a/b/c/d, SignedHeaders=host, Signature=a", date, "", sigv4.ErrMalformed,
			"Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got 'a/b/c/d'"},
		{"date format", validAuth, "2024-01-01T12:00:00Z", "", sigv4.ErrMalformed,
			"Date must be in ISO-8601 'basic format'. Got '2024-01-01T12:00:00Z'. See http://en.wikipedia.org/wiki/ISO_8601"},
		{"short date", validAuth, "20240101T1200Z", "", sigv4.ErrMalformed,
			"Date must be in ISO-8601 'basic format'. Got '20240101T1200Z'. See http://en.wikipedia.org/wiki/ISO_8601"},
		{"both forms", validAuth, date, "X-Amz-Algorithm=AWS4-HMAC-SHA256", sigv4.ErrInvalidSignature,
			"Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header."},
		{"presigned missing", "", "", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a%2Fb%2Fc%2Fd%2Fe", sigv4.ErrMalformed,
			"AWS query-string parameters must include 'X-Amz-Signature'. AWS query-string parameters must include 'X-Amz-SignedHeaders'. " +
				"AWS query-string parameters must include 'X-Amz-Date'. Re-examine the query-string parameters."},
		{"presigned algorithm", "", "", presignedQuery("AWS4-ECDSA-P256-SHA256", "60"), sigv4.ErrMalformed,
			"Unsupported AWS 'algorithm': 'AWS4-ECDSA-P256-SHA256' (only AWS4-HMAC-SHA256 for now). "},
		{"expires not a number", "", "", presignedQuery("AWS4-HMAC-SHA256", "1h"), sigv4.ErrMalformed,
			"X-Amz-Expires should be a number"},
		{"expires negative", "", "", presignedQuery("AWS4-HMAC-SHA256", "-1"), sigv4.ErrMalformed,
			"X-Amz-Expires must be non-negative"},
		{"expires over a week", "", "", presignedQuery("AWS4-HMAC-SHA256", "604801"), sigv4.ErrMalformed,
			"X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds"},
		{"expires overflow", "", "", presignedQuery("AWS4-HMAC-SHA256", "99999999999999999999999"), sigv4.ErrMalformed,
			"X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := sigv4.Parse(newRequest(tt.auth, tt.date, tt.query))
			if !errors.Is(err, tt.kind) || err.Error() != tt.msg {
				t.Fatalf("err = %q (%v)\nwant  %q (%v)", err, kindOf(err), tt.msg, tt.kind)
			}
		})
	}
}

func presignedQuery(alg, expires string) string {
	return url.Values{
		"X-Amz-Algorithm": {alg}, "X-Amz-Credential": {"AKID/20240101/us-east-1/sts/aws4_request"},
		"X-Amz-Date": {"20240101T120000Z"}, "X-Amz-SignedHeaders": {"host"}, "X-Amz-Signature": {"00"},
		"X-Amz-Expires": {expires},
	}.Encode()
}

var kinds = []error{sigv4.ErrMissingAuth, sigv4.ErrMalformed, sigv4.ErrScope, sigv4.ErrSkew, sigv4.ErrExpired,
	sigv4.ErrPayloadHash, sigv4.ErrSignatureMismatch, sigv4.ErrInvalidSignature}

func kindOf(err error) error {
	for _, k := range kinds {
		if errors.Is(err, k) {
			return k
		}
	}
	return nil
}

func FuzzParse(f *testing.F) {
	f.Add(validAuth, "20240101T120000Z", "", "")
	f.Add("", "", presignedQuery("AWS4-HMAC-SHA256", "60"), "")
	f.Add("AWS4-HMAC-SHA256 Credential=/////, SignedHeaders=;;, Signature==", "20241301T250000Z", "a=%zz&&=&%", "x")
	f.Add("AWS4-", "", "X-Amz-Algorithm", "UNSIGNED-PAYLOAD")
	f.Fuzz(func(t *testing.T, auth, amzDate, rawQuery, payload string) {
		r := newRequest(auth, amzDate, rawQuery)
		r.Header.Set("X-Amz-Content-Sha256", payload)
		p, err := sigv4.Parse(r)
		if err != nil {
			checkTyped(t, err)
			return
		}
		v := &sigv4.Verifier{Services: []string{"ecr"}, Clock: clockAt(p.Time), AllowUnsignedPayload: len(payload)%2 == 0}
		if err := v.Verify(r, p, "secret", []byte(payload)); err != nil {
			checkTyped(t, err)
		}
	})
}

func checkTyped(t *testing.T, err error) {
	t.Helper()
	var e *sigv4.Error
	if !errors.As(err, &e) || e.Message == "" || kindOf(err) == nil {
		t.Fatalf("untyped error %T %v", err, err)
	}
}

func TestCheckRejectsUnparsed(t *testing.T) {
	t.Parallel()
	v := &sigv4.Verifier{Services: []string{"ecr"}}
	r := newRequest(validAuth, "20240101T120000Z", "")
	for _, p := range []*sigv4.Parsed{nil, {}, {AccessKeyID: "AKID", Date: "20240101"}} {
		if err := v.Verify(r, p, "secret", nil); !errors.Is(err, sigv4.ErrMalformed) {
			t.Errorf("Verify(%+v) = %v, want ErrMalformed", p, err)
		}
	}
}
