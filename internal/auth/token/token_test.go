package token_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/auth/token"
	"github.com/berth-registry/berth/internal/metastore"
	"github.com/berth-registry/berth/internal/metastore/sqlstore"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type env struct {
	store  *sqlstore.Store
	sealer *auth.Sealer
	clock  *clock
	user   auth.Principal
}

func newEnv(t *testing.T) *env {
	t.Helper()
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "m.db"), sqlstore.Options{Clock: c.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	sealer, err := auth.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := st.CreateAccount(ctx, metastore.Account{ID: "111111111111"}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateUser(ctx, metastore.User{AccountID: "111111111111", Name: "alice", ID: "AIDAALICE00000000001", Path: "/ci/"}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateAccessKey(ctx, metastore.AccessKey{ID: "AKIAUSER000000000001", AccountID: "111111111111",
		UserName: "alice", SecretCiphertext: []byte("x"), Active: true}); err != nil {
		t.Fatal(err)
	}
	return &env{store: st, sealer: sealer, clock: c, user: auth.Principal{Type: auth.TypeIAMUser,
		AccountID: "111111111111", UserName: "alice", UserID: "AIDAALICE00000000001", UserPath: "/ci/", AccessKeyID: "AKIAUSER000000000001"}}
}

func (e *env) minter() *token.Minter {
	return token.New(token.Options{Store: e.store, Sealer: e.sealer, Clock: e.clock.now})
}

func TestMintAndVerify(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	m := e.minter()
	pw, exp, err := m.Mint(ctx, e.user)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(pw, ":") {
		t.Fatalf("password contains ':' (the AWS CLI splits the token on it): %q", pw)
	}
	if want := e.clock.now().Add(12 * time.Hour); !exp.Equal(want) {
		t.Fatalf("expires %v, want %v", exp, want)
	}
	got, err := m.VerifyPassword(ctx, pw)
	if err != nil || got != e.user {
		t.Fatalf("VerifyPassword = %+v, %v; want %+v", got, err, e.user)
	}
	// Another node sharing the database verifies it too.
	if got, err := e.minter().VerifyPassword(ctx, pw); err != nil || got != e.user {
		t.Fatalf("second node: %+v, %v", got, err)
	}
}

func TestRejectedPasswords(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	m := e.minter()
	pw, _, err := m.Mint(ctx, e.user)
	if err != nil {
		t.Fatal(err)
	}
	payload, sig, _ := strings.Cut(pw, ".")
	forged := base64.RawURLEncoding.EncodeToString([]byte(`{"v":1,"k":"x","t":"Root","a":"111111111111","i":"AKIAUSER000000000001","e":9999999999}`))
	for name, bad := range map[string]string{
		"empty":             "",
		"no separator":      payload,
		"flipped signature": payload + "." + flip(sig),
		"other payload":     forged + "." + sig,
		"garbage":           "!!!.???",
		"huge":              strings.Repeat("a", 5000),
	} {
		if _, err := m.VerifyPassword(ctx, bad); !errors.Is(err, auth.ErrUnauthenticated) {
			t.Errorf("%s: err = %v, want ErrUnauthenticated", name, err)
		}
	}
}

func flip(s string) string {
	b := []byte(s)
	if b[0] == 'A' {
		b[0] = 'B'
	} else {
		b[0] = 'A'
	}
	return string(b)
}

func TestExpiryAndRevocation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	m := e.minter()
	pw, _, err := m.Mint(ctx, e.user)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.add(12*time.Hour - time.Second)
	if _, err := m.VerifyPassword(ctx, pw); err != nil {
		t.Fatalf("just before expiry: %v", err)
	}
	e.clock.add(time.Second)
	if _, err := m.VerifyPassword(ctx, pw); !errors.Is(err, auth.ErrExpired) {
		t.Fatalf("at expiry: %v, want ErrExpired", err)
	}
	// Deactivating or deleting the access key revokes its passwords at once.
	pw2, _, err := m.Mint(ctx, e.user)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.SetAccessKeyActive(ctx, e.user.AccessKeyID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := m.VerifyPassword(ctx, pw2); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("deactivated key: %v", err)
	}
	if err := e.store.DeleteAccessKey(ctx, e.user.AccessKeyID); err != nil {
		t.Fatal(err)
	}
	if _, err := m.VerifyPassword(ctx, pw2); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("deleted key: %v", err)
	}
}

// TestRotation: a signing key signs for a day; passwords it signed stay
// valid until they expire, and keys no password can need are pruned.
func TestRotation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	m := e.minter()
	old, _, err := m.Mint(ctx, e.user)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.add(23 * time.Hour)
	same, _, _ := m.Mint(ctx, e.user)
	if keyOf(old) != keyOf(same) {
		t.Fatal("key rotated before a day passed")
	}
	e.clock.add(2 * time.Hour) // the first key is now 25 hours old
	fresh, _, err := m.Mint(ctx, e.user)
	if err != nil {
		t.Fatal(err)
	}
	if keyOf(fresh) == keyOf(old) {
		t.Fatal("key not rotated after a day")
	}
	// A password signed 2 hours ago by the old key still verifies.
	if _, err := e.minter().VerifyPassword(ctx, same); err != nil {
		t.Fatalf("password from the previous key: %v", err)
	}
	keys, err := e.store.ListSigningKeys(ctx)
	if err != nil || len(keys) != 2 {
		t.Fatalf("signing keys = %d, %v; want 2", len(keys), err)
	}
	e.clock.add(48 * time.Hour)
	if _, _, err := m.Mint(ctx, e.user); err != nil {
		t.Fatal(err)
	}
	keys, _ = e.store.ListSigningKeys(ctx)
	if len(keys) != 1 {
		t.Fatalf("after 3 days %d signing keys remain, want the fresh one only", len(keys))
	}
}

func keyOf(pw string) string {
	payload, _, _ := strings.Cut(pw, ".")
	b, _ := base64.RawURLEncoding.DecodeString(payload)
	_, rest, _ := strings.Cut(string(b), `"k":"`)
	k, _, _ := strings.Cut(rest, `"`)
	return k
}

func TestSignAndCheck(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	m := e.minter()
	kid, sig, err := m.Sign(ctx, []byte("data"))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.minter().Check(ctx, kid, []byte("data"), sig); err != nil {
		t.Fatalf("Check on another node: %v", err)
	}
	if err := m.Check(ctx, kid, []byte("datA"), sig); err == nil {
		t.Fatal("changed data verified")
	}
	if err := m.Check(ctx, "nokey", []byte("data"), sig); err == nil {
		t.Fatal("unknown key verified")
	}
}
