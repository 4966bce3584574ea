package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/metastore"
)

func TestGenerateAccessKeyShape(t *testing.T) {
	t.Parallel()
	idRE := regexp.MustCompile(`^AKIA[A-Z2-7]{16}$`)
	secretRE := regexp.MustCompile(`^[A-Za-z0-9+/]{40}$`)
	seen := map[string]bool{}
	for range 200 {
		id, secret, err := GenerateAccessKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if !idRE.MatchString(id) || !secretRE.MatchString(secret) {
			t.Fatalf("bad shape: %q %q", id, secret)
		}
		if !ValidAccessKeyID(id) {
			t.Fatalf("generated id %q not valid", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
	}
	if _, _, err := GenerateAccessKey(bytes.NewReader(make([]byte, 5))); err == nil {
		t.Fatal("short randomness accepted")
	}
}

func TestValidAccessKeyID(t *testing.T) {
	t.Parallel()
	for id, want := range map[string]bool{
		"AKIAABCDEFGHIJKLMNOP": true, "ASIA0123456789ABCDEF": true,
		"akiaabcdefghijklmnop": false, "AKIA": false, "AKIA-BCDEFGHIJKLMNOP": false,
		"AKIAABCDEFGHIJKLMN:P": false, "": false,
	} {
		if got := ValidAccessKeyID(id); got != want {
			t.Errorf("ValidAccessKeyID(%q) = %v", id, got)
		}
	}
}

func TestSealerRoundTripAndBinding(t *testing.T) {
	t.Parallel()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	s, err := NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := s.Seal([]byte("secret"), []byte("AKIA1"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("secret")) {
		t.Fatal("plaintext visible in ciphertext")
	}
	if got, err := s.Open(sealed, []byte("AKIA1")); err != nil || string(got) != "secret" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := s.Open(sealed, []byte("AKIA2")); err == nil {
		t.Fatal("ciphertext opened under another key id")
	}
	other, _ := NewSealer(make([]byte, 32))
	if _, err := other.Open(sealed, []byte("AKIA1")); err == nil {
		t.Fatal("ciphertext opened with another key")
	}
	if _, err := s.Open(sealed[:5], nil); err == nil {
		t.Fatal("truncated ciphertext opened")
	}
	if _, err := NewSealer(make([]byte, 16)); err == nil {
		t.Fatal("16-byte key accepted")
	}
}

func TestLoadOrCreateKeyIsStable(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "secrets.key")
	k1, err := LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := LoadOrCreateKey(path)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("second load differs: %v", err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, %v", st.Mode(), err)
	}
	if err := os.WriteFile(path, []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKey(path); err == nil {
		t.Fatal("corrupt key accepted")
	}
}

func TestParseKeyAndReadKeyFile(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{0xfb, 0x01, 0x7e}, 11)[:32]
	for _, text := range []string{
		base64.StdEncoding.EncodeToString(key), base64.RawStdEncoding.EncodeToString(key),
		base64.URLEncoding.EncodeToString(key) + "\n", "  " + base64.RawURLEncoding.EncodeToString(key) + "\r\n",
	} {
		got, err := ParseKey(text)
		if err != nil || !bytes.Equal(got, key) {
			t.Errorf("ParseKey(%q) = %x, %v", text, got, err)
		}
	}
	for _, bad := range []string{"", "not base64!", base64.StdEncoding.EncodeToString(key[:31]), base64.StdEncoding.EncodeToString(append(key, 1))} {
		_, err := ParseKey(bad)
		if err == nil {
			t.Errorf("ParseKey(%q) accepted", bad)
		} else if bad != "" && strings.Contains(err.Error(), bad) {
			t.Errorf("ParseKey's error quotes the key: %v", err)
		}
	}
	dir := t.TempDir()
	raw, text := filepath.Join(dir, "raw"), filepath.Join(dir, "text")
	_ = os.WriteFile(raw, key, 0o600)
	_ = os.WriteFile(text, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600)
	for _, path := range []string{raw, text} {
		if got, err := ReadKeyFile(path); err != nil || !bytes.Equal(got, key) {
			t.Errorf("ReadKeyFile(%s) = %x, %v", path, got, err)
		}
	}
	if _, err := ReadKeyFile(filepath.Join(dir, "missing")); err == nil {
		t.Error("ReadKeyFile of a missing file: no error")
	}
	_ = os.WriteFile(text, []byte("short"), 0o600)
	if _, err := ReadKeyFile(text); err == nil {
		t.Error("ReadKeyFile accepted a short key")
	}
}

// keyMap is a KeyStore over a map.
type keyMap map[string]metastore.AccessKey

func (m keyMap) GetAccessKey(_ context.Context, id string) (metastore.AccessKey, error) {
	k, ok := m[id]
	if !ok {
		return metastore.AccessKey{}, metastore.ErrNotFound
	}
	return k, nil
}

type fixedTokens struct{ p Principal }

func (f fixedTokens) VerifyPassword(context.Context, string) (Principal, error) { return f.p, nil }

func TestKeyAuthenticator(t *testing.T) {
	t.Parallel()
	s, _ := NewSealer(make([]byte, 32))
	seal := func(id, secret string) []byte {
		b, err := s.Seal([]byte(secret), []byte(id))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	keys := keyMap{
		"AKIAROOT000000000000": {ID: "AKIAROOT000000000000", AccountID: "111111111111", SecretCiphertext: seal("AKIAROOT000000000000", "rootsecret"), Active: true},
		"AKIAUSER000000000000": {ID: "AKIAUSER000000000000", AccountID: "111111111111", UserName: "alice", UserID: "AIDAALICE00000000001", UserPath: "/ci/", SecretCiphertext: seal("AKIAUSER000000000000", "alicesecret"), Active: true},
		"AKIAOFF0000000000000": {ID: "AKIAOFF0000000000000", AccountID: "111111111111", SecretCiphertext: seal("AKIAOFF0000000000000", "offsecret"), Active: false},
		// a secret sealed for another key id must not verify
		"AKIASWAP000000000000": {ID: "AKIASWAP000000000000", AccountID: "111111111111", SecretCiphertext: seal("AKIAROOT000000000000", "rootsecret"), Active: true},
	}
	a := &KeyAuthenticator{Keys: keys, Sealer: s}
	ctx := context.Background()
	cases := []struct {
		user, pass string
		want       Principal
		err        error
	}{
		{"AKIAROOT000000000000", "rootsecret", Principal{Type: TypeRoot, AccountID: "111111111111", AccessKeyID: "AKIAROOT000000000000"}, nil},
		{"AKIAUSER000000000000", "alicesecret", Principal{Type: TypeIAMUser, AccountID: "111111111111", UserName: "alice", UserID: "AIDAALICE00000000001", UserPath: "/ci/", AccessKeyID: "AKIAUSER000000000000"}, nil},
		{"AKIAROOT000000000000", "wrong", Principal{}, ErrUnauthenticated},
		{"AKIAROOT000000000000", "", Principal{}, ErrUnauthenticated},
		{"AKIANONE000000000000", "x", Principal{}, ErrUnauthenticated},
		{"AKIAOFF0000000000000", "offsecret", Principal{}, ErrUnauthenticated},
		{"not a key", "x", Principal{}, ErrUnauthenticated},
	}
	for _, c := range cases {
		got, err := a.AuthenticateBasic(ctx, c.user, c.pass)
		if !errors.Is(err, c.err) || got != c.want {
			t.Errorf("AuthenticateBasic(%q, %q) = %+v, %v; want %+v, %v", c.user, c.pass, got, err, c.want, c.err)
		}
	}
	// A secret sealed for another key id is corrupt data, not a login failure.
	if _, err := a.AuthenticateBasic(ctx, "AKIASWAP000000000000", "rootsecret"); err == nil || errors.Is(err, ErrUnauthenticated) {
		t.Errorf("swapped ciphertext: err = %v, want an internal error", err)
	}
	if p := (Principal{Type: TypeIAMUser, AccountID: "111111111111", UserName: "alice"}); p.ARN() != "arn:aws:iam::111111111111:user/alice" {
		t.Errorf("user ARN %s", p.ARN())
	}
	if p := (Principal{Type: TypeIAMUser, AccountID: "111111111111", UserName: "alice", UserPath: "/ci/team/"}); p.ARN() != "arn:aws:iam::111111111111:user/ci/team/alice" {
		t.Errorf("ARN of a user with a path: %s", p.ARN())
	}
	if p := (Principal{Type: TypeRoot, AccountID: "111111111111"}); p.ARN() != "arn:aws:iam::111111111111:root" {
		t.Errorf("root ARN %s", p.ARN())
	}
	// Username AWS goes to the token verifier when one is configured.
	tok := Principal{Type: TypeRoot, AccountID: "222222222222"}
	a.Tokens = fixedTokens{tok}
	if got, err := a.AuthenticateBasic(ctx, "AWS", "anything"); err != nil || got != tok {
		t.Errorf("token path: %+v, %v", got, err)
	}
}
