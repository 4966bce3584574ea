package iamapi_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestAWSCLI drives the front end with the real AWS CLI, which the build
// machines have: its absence is a failure, not a skip.
func TestAWSCLI(t *testing.T) {
	t.Parallel()
	bin, err := exec.LookPath("aws")
	if err != nil {
		t.Fatalf("the AWS CLI (aws) must be on PATH: %v", err)
	}
	e := newEnv(t)
	dir := t.TempDir()
	run := func(id, secret string, args ...string) (map[string]any, string, error) {
		t.Helper()
		cmd := exec.Command(bin, append(args, "--endpoint-url", e.url, "--output", "json")...)
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "AWS_") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		cmd.Env = append(cmd.Env, "AWS_ACCESS_KEY_ID="+id, "AWS_SECRET_ACCESS_KEY="+secret, "AWS_DEFAULT_REGION="+region,
			"AWS_CONFIG_FILE="+filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "credentials"),
			"AWS_EC2_METADATA_DISABLED=true", "AWS_MAX_ATTEMPTS=1")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, stderr.String(), err
		}
		var v map[string]any
		if len(strings.TrimSpace(string(out))) > 0 {
			if err := json.Unmarshal(out, &v); err != nil {
				t.Fatalf("aws %s: output %q: %v", strings.Join(args, " "), out, err)
			}
		}
		return v, stderr.String(), nil
	}
	mustRun := func(id, secret string, args ...string) map[string]any {
		t.Helper()
		v, stderr, err := run(id, secret, args...)
		if err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, stderr)
		}
		return v
	}
	field := func(v map[string]any, path ...string) string {
		t.Helper()
		var cur any = v
		for _, p := range path {
			m, _ := cur.(map[string]any)
			cur = m[p]
		}
		s, _ := cur.(string)
		return s
	}

	created := mustRun(e.rootID, e.rootSecret, "iam", "create-user", "--user-name", "x", "--path", "/cli/")
	if field(created, "User", "Arn") != "arn:aws:iam::123456789012:user/cli/x" {
		t.Fatalf("create-user: %v", created)
	}
	key := mustRun(e.rootID, e.rootSecret, "iam", "create-access-key", "--user-name", "x")
	id, secret := field(key, "AccessKey", "AccessKeyId"), field(key, "AccessKey", "SecretAccessKey")
	if len(id) != 20 || len(secret) != 40 || field(key, "AccessKey", "Status") != "Active" {
		t.Fatalf("create-access-key: %v", key)
	}
	me := mustRun(id, secret, "sts", "get-caller-identity")
	if field(me, "Arn") != "arn:aws:iam::123456789012:user/cli/x" || field(me, "Account") != acct ||
		field(me, "UserId") != field(created, "User", "UserId") {
		t.Fatalf("get-caller-identity: %v", me)
	}

	// The CLI decodes IAM's URL-encoded documents itself.
	mustRun(e.rootID, e.rootSecret, "iam", "put-user-policy", "--user-name", "x", "--policy-name", "pull",
		"--policy-document", pullPolicy)
	got := mustRun(e.rootID, e.rootSecret, "iam", "get-user-policy", "--user-name", "x", "--policy-name", "pull")
	doc, _ := got["PolicyDocument"].(map[string]any)
	stmts, _ := doc["Statement"].([]any)
	if doc["Version"] != "2012-10-17" || len(stmts) != 1 {
		t.Fatalf("get-user-policy document: %#v", got["PolicyDocument"])
	}
	policies := mustRun(e.rootID, e.rootSecret, "iam", "list-policies", "--scope", "AWS")
	if list, _ := policies["Policies"].([]any); len(list) != 4 {
		t.Fatalf("list-policies --scope AWS: %v", policies)
	}

	mustRun(e.rootID, e.rootSecret, "iam", "update-access-key", "--user-name", "x", "--access-key-id", id, "--status", "Inactive")
	if _, stderr, err := run(id, secret, "sts", "get-caller-identity"); err == nil || !strings.Contains(stderr, "InvalidClientTokenId") {
		t.Fatalf("inactive key: err %v, stderr %s", err, stderr)
	}
	if _, stderr, err := run(e.rootID, e.rootSecret, "iam", "get-user", "--user-name", "nobody"); err == nil ||
		!strings.Contains(stderr, "NoSuchEntity") || !strings.Contains(stderr, "The user with name nobody cannot be found.") {
		t.Fatalf("get-user of a missing user: err %v, stderr %s", err, stderr)
	}
}
