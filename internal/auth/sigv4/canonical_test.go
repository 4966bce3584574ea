package sigv4

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"
)

// TestSpecExample checks the worked example of AWS's SigV4 documentation
// (IAM ListUsers, 2015-08-30), independent of any SDK.
func TestSpecExample(t *testing.T) {
	t.Parallel()
	r := &http.Request{
		Method: "GET",
		URL:    &url.URL{Path: "/", RawQuery: "Action=ListUsers&Version=2010-05-08"},
		Host:   "iam.amazonaws.com",
		Header: http.Header{
			"Content-Type": {"application/x-www-form-urlencoded; charset=utf-8"},
			"X-Amz-Date":   {"20150830T123600Z"},
			"Authorization": {"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, " +
				"SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"},
		},
	}
	p, err := Parse(r)
	if err != nil {
		t.Fatal(err)
	}
	const canonical = "GET\n/\nAction=ListUsers&Version=2010-05-08\n" +
		"content-type:application/x-www-form-urlencoded; charset=utf-8\nhost:iam.amazonaws.com\nx-amz-date:20150830T123600Z\n\n" +
		"content-type;host;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	got := canonicalRequest(r, p, "/", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
	if string(got) != canonical {
		t.Fatalf("canonical request:\n%s\nwant:\n%s", got, canonical)
	}
	if sum := sha256.Sum256(got); hex.EncodeToString(sum[:]) != "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59" {
		t.Errorf("canonical request hash = %x", sum)
	}
	const secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	if key := deriveKey(secret, "20150830", "us-east-1", "iam"); hex.EncodeToString(key[:]) != "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9" {
		t.Errorf("signing key = %x", key)
	}
	v := &Verifier{Services: []string{"iam"}, Clock: func() time.Time { return p.Time }}
	if err := v.Verify(r, p, secret, nil); err != nil {
		t.Errorf("verify: %v", err)
	}
}

func TestNormalizePath(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"/":               "/",
		"":                "/",
		"//":              "/",
		"/a/./b/../c//d":  "/a/c/d",
		"/a/b/":           "/a/b/",
		"/../..":          "/",
		"/a/%2E/b":        "/a/%2E/b",
		"/documents/../x": "/x",
	} {
		if got := normalizePath(in); got != want {
			t.Errorf("normalizePath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEscapeAndTrim(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"AZaz09-_.~": "AZaz09-_.~",
		"a b+c/d":    "a%20b%2Bc%2Fd",
		"✓":          "%E2%9C%93",
		"%":          "%25",
	} {
		if got := escape(in); got != want {
			t.Errorf("escape(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"  a   b  ":  "a b",
		"\ta \t  b ": "a \t b",
		"":           "",
	} {
		if got := string(appendTrimmed(nil, in)); got != want {
			t.Errorf("appendTrimmed(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestHeaderValueFallbacks covers values net/http keeps outside Header.
func TestHeaderValueFallbacks(t *testing.T) {
	t.Parallel()
	r := &http.Request{URL: &url.URL{Host: "from-url:8080"}, Header: http.Header{"x_odd": {"v"}},
		ContentLength: 42, TransferEncoding: []string{"chunked"}}
	for name, want := range map[string]string{
		"host": "from-url:8080", "content-length": "42", "transfer-encoding": "chunked", "x_odd": "v", "absent": "",
	} {
		if got := string(appendHeaderValue(nil, r, name)); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

func TestKeyCache(t *testing.T) {
	t.Parallel()
	c := newKeyCache(8)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				secret := fmt.Sprintf("secret-%d", (g+i)%20)
				if got, want := c.key(secret, "20240101", "us-east-1", "ecr"), deriveKey(secret, "20240101", "us-east-1", "ecr"); got != want {
					t.Errorf("cached key for %s differs", secret)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := len(c.keys); n > 8 {
		t.Errorf("cache holds %d keys, bound is 8", n)
	}
	if c.key("s", "20240101", "us-east-1", "ecr") == c.key("s", "20240102", "us-east-1", "ecr") {
		t.Error("keys of different days collide")
	}
}
