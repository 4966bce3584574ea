package e2e

import (
	"errors"
	"net/http"
	"os/exec"
	"regexp"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// TestAdminAccounts: an operator creates an account while the server
// runs; its root key works at once in its own registry and nowhere else;
// deleting the account ends it.
func TestAdminAccounts(t *testing.T) {
	t.Parallel()
	s := startBerth(t)
	ctx := testContext(t, 2*time.Minute)
	admin := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(berthBin, append([]string{"admin", "account"}, append(args, "--data-dir", s.dataDir)...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("berth admin account %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	out := admin("create", "--id", "222222222222")
	m := regexp.MustCompile(`aws_access_key_id\s+= (\S+)\naws_secret_access_key = (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no key in output:\n%s", out)
	}
	keyID, secret := m[1], m[2]
	if !regexp.MustCompile(`(?m)^222222222222\t`).MatchString(admin("list")) {
		t.Fatal("created account not listed")
	}
	if _, err := exec.Command(berthBin, "admin", "account", "create", "--id", "222222222222", "--data-dir", s.dataDir).CombinedOutput(); err == nil {
		t.Fatal("creating an existing account succeeded")
	}

	// The new account's root works in its own registry at once.
	c := s.ecr(withCredentials(keyID, secret))
	if _, err := c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("team/app")}); err != nil {
		t.Fatalf("CreateRepository as the new account: %v", err)
	}
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	key := remote.WithAuth(&authn.Basic{Username: keyID, Password: secret})
	if err := remote.Write(s.repo(t, "222222222222/team/app").Tag("v1"), img, remoteOpts(ctx, key)...); err != nil {
		t.Fatalf("push to own registry by account path: %v", err)
	}
	out2, err := c.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{})
	if err != nil || len(out2.Repositories) != 1 || aws.ToString(out2.Repositories[0].RegistryId) != "222222222222" {
		t.Fatalf("DescribeRepositories = %+v, %v", out2, err)
	}
	// ... and nowhere else: the default account's repositories are denied.
	if _, err := s.ecr().CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("default/app")}); err != nil {
		t.Fatal(err)
	}
	err = remote.Write(s.repo(t, "default/app").Tag("v1"), img, remoteOpts(ctx, key)...)
	var te *transport.Error
	if !errors.As(err, &te) || te.StatusCode != http.StatusForbidden {
		t.Fatalf("push into another account: %v, want 403 DENIED", err)
	}

	admin("delete", "--id", "222222222222")
	// Another process changed the key: the server trusts what it read for
	// at most --key-cache-ttl (1s by default).
	deadline := time.Now().Add(1500 * time.Millisecond)
	for {
		if _, err := c.DescribeRepositories(ctx, &ecr.DescribeRepositoriesInput{}); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the deleted account's key still works after the key cache TTL")
		}
		time.Sleep(50 * time.Millisecond)
	}
	_, err = remote.Image(s.repo(t, "222222222222/team/app").Tag("v1"), remoteOpts(ctx, key)...)
	if !errors.As(err, &te) || te.StatusCode != http.StatusUnauthorized {
		t.Fatalf("pull with the deleted account's key: %v, want 401", err)
	}
	if _, err := exec.Command(berthBin, "admin", "account", "delete", "--id", "000000000000", "--data-dir", s.dataDir).CombinedOutput(); err == nil {
		t.Fatal("deleting the default account succeeded")
	}
}
