package audit

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

func TestRedactJSON(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, in, want string
	}{
		{"ecr token", `{"authorizationData":[{"authorizationToken":"QVdTOnNlY3JldA==","proxyEndpoint":"https://r"}]}`,
			`{"authorizationData":[{"authorizationToken":"HIDDEN_DUE_TO_SECURITY_REASONS","proxyEndpoint":"https://r"}]}`},
		{"iam access key", `{"accessKey":{"accessKeyId":"AKIA1","secretAccessKey":"s3cr3t","status":"Active"}}`,
			`{"accessKey":{"accessKeyId":"AKIA1","secretAccessKey":"HIDDEN_DUE_TO_SECURITY_REASONS","status":"Active"}}`},
		{"sts credentials", `{"credentials":{"AccessKeyId":"ASIA1","SecretAccessKey":"x","SessionToken":"y"}}`,
			`{"credentials":{"AccessKeyId":"ASIA1","SecretAccessKey":"HIDDEN_DUE_TO_SECURITY_REASONS","SessionToken":"HIDDEN_DUE_TO_SECURITY_REASONS"}}`},
		{"passwords", `{"userName":"bob","password":"p","oldPassword":"o","newPassword":"n"}`,
			`{"newPassword":"HIDDEN_DUE_TO_SECURITY_REASONS","oldPassword":"HIDDEN_DUE_TO_SECURITY_REASONS","password":"HIDDEN_DUE_TO_SECURITY_REASONS","userName":"bob"}`},
		{"authorization header", `{"headers":{"Authorization":"Basic QVdTOng="}}`,
			`{"headers":{"Authorization":"HIDDEN_DUE_TO_SECURITY_REASONS"}}`},
		{"webhook secret", `{"sink":{"url":"https://h","secret":"hmac-key"}}`,
			`{"sink":{"secret":"HIDDEN_DUE_TO_SECURITY_REASONS","url":"https://h"}}`},
		{"registry password", `{"registryPassword":"pw","registry":"r"}`,
			`{"registry":"r","registryPassword":"HIDDEN_DUE_TO_SECURITY_REASONS"}`},
		{"layer part is measured", `{"repositoryName":"r","layerPartBlob":"QUJDRA=="}`,
			`{"layerPartBlob":"\u003c10 bytes omitted\u003e","repositoryName":"r"}`},
		{"plain parameters kept", `{"repositoryName":"r","imageIds":[{"imageTag":"v1"}]}`,
			`{"imageIds":[{"imageTag":"v1"}],"repositoryName":"r"}`},
		{"null", `null`, ``},
		{"not json", `{"a":`, `{"unparsed":"request body is not JSON"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := string(redactJSON([]byte(tc.in))); got != tc.want {
				t.Errorf("redactJSON(%s)\n got %s\nwant %s", tc.in, got, tc.want)
			}
		})
	}
}

func TestRedactLongString(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", maxString) // 2 bytes each: the cut must not split one
	got := redactJSON([]byte(`{"imageManifest":"` + long + `"}`))
	var m map[string]string
	if err := json.Unmarshal(got, &m); err != nil {
		t.Fatal(err)
	}
	if s := m["imageManifest"]; len(s) > maxString+40 || !strings.HasSuffix(s, "bytes omitted>") || strings.ContainsRune(s, '\uFFFD') {
		t.Errorf("long string kept as %d bytes ending %q", len(s), s[len(s)-30:])
	}
}

func TestQueryParams(t *testing.T) {
	t.Parallel()
	form := url.Values{"Action": {"CreateLoginProfile"}, "Version": {"2010-05-08"}, "UserName": {"bob"},
		"Password": {"hunter2"}, "Tags.member.1.Key": {"team"}}
	got := string(queryParams(form))
	want := `{"password":"HIDDEN_DUE_TO_SECURITY_REASONS","tags.member.1.key":"team","userName":"bob"}`
	if got != want {
		t.Errorf("queryParams\n got %s\nwant %s", got, want)
	}
	if queryParams(url.Values{"Action": {"ListUsers"}, "Version": {"2010-05-08"}}) != nil {
		t.Error("a form with only Action and Version has parameters")
	}
}

func TestLowerFirst(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"UserName": "userName", "ARN": "arn", "AccessKeyId": "accessKeyId",
		"userName": "userName", "": "", "Arn": "arn", "IAMUser": "iamUser"} {
		if got := lowerFirst(in); got != want {
			t.Errorf("lowerFirst(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNoteResponseRedacted(t *testing.T) {
	t.Parallel()
	n := &Note{}
	n.Call(SourceIAM, "CreateAccessKey", false)
	n.Response(struct {
		AccessKey struct{ AccessKeyID, SecretAccessKey, UserName string }
	}{AccessKey: struct{ AccessKeyID, SecretAccessKey, UserName string }{"AKIA1", "topsecret", "bob"}})
	got := string(n.response)
	if strings.Contains(got, "topsecret") || !strings.Contains(got, `"secretAccessKey":"HIDDEN_DUE_TO_SECURITY_REASONS"`) ||
		!strings.Contains(got, `"accessKeyId":"AKIA1"`) {
		t.Errorf("response elements %s", got)
	}
	ro := &Note{}
	ro.Call(SourceECR, "DescribeImages", true)
	ro.ResponseJSON([]byte(`{"imageDetails":[]}`))
	if ro.response != nil {
		t.Errorf("a read-only call kept response elements %s", ro.response)
	}
}

func TestAuthFailedKeepsOnlyKeyID(t *testing.T) {
	t.Parallel()
	n := &Note{}
	n.AuthFailed("AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20261206/us-east-1/ecr/aws4_request, SignedHeaders=host, Signature=abc")
	if n.accessKeyID != "AKIAEXAMPLE" || !n.denied {
		t.Errorf("AuthFailed: key %q denied %v", n.accessKeyID, n.denied)
	}
	var nilNote *Note
	nilNote.AuthFailed("x") // auditing off: no panic
	nilNote.Call(SourceECR, "X", false)
}
