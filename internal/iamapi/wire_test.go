package iamapi_test

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/iamapi"
	"github.com/berth-registry/berth/internal/identity"
	"github.com/berth-registry/berth/internal/metastore"
	"github.com/berth-registry/berth/internal/metastore/sqlstore"
)

func TestIsQueryRequest(t *testing.T) {
	t.Parallel()
	cases := []struct {
		method, path, contentType, target string
		want                              bool
	}{
		{"POST", "/", "application/x-www-form-urlencoded", "", true},
		{"POST", "/", "application/x-www-form-urlencoded; charset=utf-8", "", true},
		{"POST", "/", "Application/X-WWW-Form-Urlencoded", "", true},
		{"POST", "/", "application/x-amz-json-1.1", "", false},
		{"POST", "/", "application/x-www-form-urlencoded", "AmazonEC2ContainerRegistry_V20150921.ListImages", false},
		{"GET", "/", "application/x-www-form-urlencoded", "", false},
		{"POST", "/v2/", "application/x-www-form-urlencoded", "", false},
		{"POST", "/", "", "", false},
	}
	for _, tc := range cases {
		r := httptest.NewRequest(tc.method, tc.path, nil)
		if tc.contentType != "" {
			r.Header.Set("Content-Type", tc.contentType)
		}
		if tc.target != "" {
			r.Header.Set("X-Amz-Target", tc.target)
		}
		if got := iamapi.IsQueryRequest(r); got != tc.want {
			t.Errorf("%+v: %v", tc, got)
		}
	}
}

// fixedAuth authenticates every request as one principal.
type fixedAuth struct{ who auth.Principal }

func (a fixedAuth) AuthenticateRequest(*http.Request, []byte) (auth.Principal, error) {
	return a.who, nil
}

// zeros makes ids deterministic: AIDA + 16 'A's.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestWireFormat pins the exact bytes of answers and errors.
func TestWireFormat(t *testing.T) {
	t.Parallel()
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "berth.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.CreateAccount(ctx, metastore.Account{ID: acct}); err != nil {
		t.Fatal(err)
	}
	sealer, _ := auth.NewSealer(make([]byte, 32))
	svc, err := identity.New(identity.Options{Store: st, Sealer: sealer, Random: zeros{},
		Clock: func() time.Time { return time.Date(2025, 3, 4, 5, 6, 7, 890, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	h := iamapi.New(iamapi.Options{Service: svc, Auth: fixedAuth{auth.Principal{Type: auth.TypeRoot, AccountID: acct}}})
	const (
		iamNS = `xmlns="https://iam.amazonaws.com/doc/2010-05-08/"`
		stsNS = `xmlns="https://sts.amazonaws.com/doc/2011-06-15/"`
		meta  = `<ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata>`
	)
	cases := []struct {
		body   string
		status int
		want   string
	}{
		{"Action=CreateUser&Version=2010-05-08&UserName=alice&Tags.member.1.Key=team&Tags.member.1.Value=a%20b", 200,
			`<CreateUserResponse ` + iamNS + `><CreateUserResult><User><Path>/</Path><UserName>alice</UserName>` +
				`<UserId>AIDAAAAAAAAAAAAAAAAA</UserId><Arn>arn:aws:iam::123456789012:user/alice</Arn>` +
				`<CreateDate>2025-03-04T05:06:07Z</CreateDate><Tags><member><Key>team</Key><Value>a b</Value></member></Tags>` +
				`</User></CreateUserResult>` + meta + `</CreateUserResponse>`},
		{"Action=ListUserPolicies&Version=2010-05-08&UserName=alice", 200,
			`<ListUserPoliciesResponse ` + iamNS + `><ListUserPoliciesResult><PolicyNames></PolicyNames>` +
				`<IsTruncated>false</IsTruncated></ListUserPoliciesResult>` + meta + `</ListUserPoliciesResponse>`},
		{"Action=PutUserPolicy&Version=2010-05-08&UserName=alice&PolicyName=p&PolicyDocument=" +
			"%7B%22Statement%22%3A%20%5B%5D%2C%22Sid%22%3A%22a%2Bb*%22%7D", 200,
			`<PutUserPolicyResponse ` + iamNS + `>` + meta + `</PutUserPolicyResponse>`},
		{"Action=GetUserPolicy&Version=2010-05-08&UserName=alice&PolicyName=p", 200,
			`<GetUserPolicyResponse ` + iamNS + `><GetUserPolicyResult><UserName>alice</UserName><PolicyName>p</PolicyName>` +
				`<PolicyDocument>%7B%22Statement%22%3A%20%5B%5D%2C%22Sid%22%3A%22a%2Bb%2A%22%7D</PolicyDocument>` +
				`</GetUserPolicyResult>` + meta + `</GetUserPolicyResponse>`},
		{"Action=GetCallerIdentity&Version=2011-06-15", 200,
			`<GetCallerIdentityResponse ` + stsNS + `><GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:root</Arn>` +
				`<UserId>123456789012</UserId><Account>123456789012</Account></GetCallerIdentityResult>` + meta +
				`</GetCallerIdentityResponse>`},
		{"Action=GetUser&Version=2010-05-08&UserName=bob", 404,
			`<ErrorResponse ` + iamNS + `><Error><Type>Sender</Type><Code>NoSuchEntity</Code>` +
				`<Message>The user with name bob cannot be found.</Message></Error><RequestId>req-1</RequestId></ErrorResponse>`},
		{"Action=CreateUser&Version=2010-05-08&UserName=a%3Cb", 400,
			`<ErrorResponse ` + iamNS + `><Error><Type>Sender</Type><Code>ValidationError</Code>` +
				`<Message>1 validation error detected: Value &#39;a&lt;b&#39; at &#39;userName&#39; failed to satisfy constraint: ` +
				`Member must satisfy regular expression pattern: [\w+=,.@-]+</Message></Error><RequestId>req-1</RequestId></ErrorResponse>`},
		{"Action=AssumeRole&Version=2011-06-15", 400,
			`<ErrorResponse ` + stsNS + `><Error><Type>Sender</Type><Code>InvalidAction</Code>` +
				`<Message>Could not find operation AssumeRole for version 2011-06-15</Message></Error>` +
				`<RequestId>req-1</RequestId></ErrorResponse>`},
	}
	for _, tc := range cases {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		w.Header().Set("X-Request-Id", "req-1")
		h.ServeHTTP(w, r)
		if w.Code != tc.status || w.Body.String() != tc.want {
			t.Errorf("%s:\n got %d %s\nwant %d %s", tc.body, w.Code, w.Body, tc.status, tc.want)
		}
		if ct, rid := w.Header().Get("Content-Type"), w.Header().Get("X-Amzn-Requestid"); ct != "text/xml" || rid != "req-1" {
			t.Errorf("%s: Content-Type %q, x-amzn-RequestId %q", tc.body, ct, rid)
		}
	}
}

type errorXML struct {
	XMLName xml.Name `xml:"ErrorResponse"`
	NS      string   `xml:"xmlns,attr"`
	Type    string   `xml:"Error>Type"`
	Code    string   `xml:"Error>Code"`
	Message string   `xml:"Error>Message"`
	ID      string   `xml:"RequestId"`
}

func readError(t *testing.T, resp *http.Response) errorXML {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var e errorXML
	if err := xml.Unmarshal(b, &e); err != nil {
		t.Fatalf("error body %q: %v", b, err)
	}
	if e.ID == "" || e.ID != resp.Header.Get("X-Amzn-Requestid") {
		t.Errorf("request id %q, header %q", e.ID, resp.Header.Get("X-Amzn-Requestid"))
	}
	return e
}

func TestProtocolErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cases := []struct {
		name, body string
		signed     bool
		modify     func(*http.Request)
		status     int
		code, msg  string
		ns         string
	}{
		{"unsigned", "Action=ListUsers&Version=2010-05-08", false, nil, 403, "MissingAuthenticationToken", "Request is missing Authentication Token", "iam"},
		{"unsigned sts", "Action=GetCallerIdentity&Version=2011-06-15", false, nil, 403, "MissingAuthenticationToken", "", "sts"},
		{"incomplete", "Action=ListUsers&Version=2010-05-08", false, func(r *http.Request) {
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE")
		}, 400, "IncompleteSignature", "", "iam"},
		{"tampered", "Action=ListUsers&Version=2010-05-08", true, func(r *http.Request) {
			a := r.Header.Get("Authorization")
			flipped := byte('0')
			if a[len(a)-1] == '0' {
				flipped = '1'
			}
			r.Header.Set("Authorization", a[:len(a)-1]+string(flipped))
		}, 403, "SignatureDoesNotMatch", "The request signature we calculated does not match", "iam"},
		{"unknown action", "Action=CreateRole&Version=2010-05-08", true, nil, 400, "InvalidAction",
			"Could not find operation CreateRole for version 2010-05-08", "iam"},
		{"wrong version", "Action=CreateUser&Version=2011-06-15", true, nil, 400, "InvalidAction",
			"Could not find operation CreateUser for version 2011-06-15", "sts"},
		{"no action", "Version=2010-05-08", true, nil, 400, "MissingAction", "Action", "iam"},
		{"bad form", "Action=ListUsers&Version=2010-05-08&x=%zz", true, nil, 404, "MalformedQueryString", "", "iam"},
		{"too large", "Action=ListUsers&Version=2010-05-08&x=" + strings.Repeat("a", 1<<20), false, nil, 413, "RequestEntityTooLarge", "1048576", "iam"},
		{"bad integer", "Action=ListUsers&Version=2010-05-08&MaxItems=ten", true, nil, 400, "ValidationError", "'maxItems'", "iam"},
		{"bad boolean", "Action=ListPolicies&Version=2010-05-08&OnlyAttached=maybe", true, nil, 400, "ValidationError", "'onlyAttached'", "iam"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id, secret := "", ""
			if tc.signed {
				id, secret = e.rootID, e.rootSecret
			}
			resp := e.post(t, tc.body, id, secret, func(r *http.Request) {
				if tc.modify != nil {
					tc.modify(r)
				}
			})
			got := readError(t, resp)
			if resp.StatusCode != tc.status || got.Code != tc.code || !strings.Contains(got.Message, tc.msg) || got.Type != "Sender" {
				t.Fatalf("got %d %+v, want %d %s %q", resp.StatusCode, got, tc.status, tc.code, tc.msg)
			}
			if want := "https://" + tc.ns + ".amazonaws.com/doc/"; !strings.HasPrefix(got.NS, want) {
				t.Fatalf("namespace %s, want %s…", got.NS, want)
			}
		})
	}
}

func TestCredentialErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, err := e.iam(e.rootID, "wrong-secret-wrong-secret-wrong-secret00").ListUsers(ctx, &iam.ListUsersInput{})
	wantAPIError(t, err, "SignatureDoesNotMatch", http.StatusForbidden)
	_, err = e.iam("AKIAIOSFODNN7EXAMPLE", "secret").ListUsers(ctx, &iam.ListUsersInput{})
	wantAPIError(t, err, "InvalidClientTokenId", http.StatusForbidden)
	_, err = e.sts("AKIAIOSFODNN7EXAMPLE", "secret").GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantAPIError(t, err, "InvalidClientTokenId", http.StatusForbidden)
}

// failingStore breaks one read, as a lost database connection would.
type failingStore struct{ *sqlstore.Store }

func (failingStore) ListUsers(context.Context, string, metastore.Page) ([]metastore.User, error) {
	return nil, errors.New("disk on fire")
}

func TestServiceFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *identity.Options, e *env) { o.Store = failingStore{e.store} })
	_, err := e.root().ListUsers(ctx, &iam.ListUsersInput{})
	wantAPIError(t, err, "ServiceFailure", http.StatusInternalServerError)
	wantType[*types.ServiceFailureException](t, err)
	if strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("internal detail leaked: %v", err)
	}
	resp := e.post(t, "Action=ListUsers&Version=2010-05-08", e.rootID, e.rootSecret)
	if got := readError(t, resp); got.Type != "Receiver" || got.Code != "ServiceFailure" {
		t.Fatalf("got %+v", got)
	}
}
