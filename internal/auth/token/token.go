// Package token mints and verifies registry passwords, the secret half of
// ECR's GetAuthorizationToken (base64("AWS:" + password)).
//
// A password is base64url(payload) "." base64url(HMAC-SHA256(key, payload)):
// colon-free as the AWS CLI requires, opaque to clients, and verifiable on
// any node because the HMAC keys live (sealed) in the shared database. The
// payload names the principal and the access key it was minted from, never
// permissions: those are evaluated when the password is used, and a
// password stops working at once when its access key is deactivated or
// deleted.
package token

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/metastore"
)

// TTL is how long a registry password lives (ECR: 12 hours).
const TTL = 12 * time.Hour

// rotateAfter is how long one signing key signs new passwords; keys are
// kept until every password they signed has expired.
const rotateAfter = 24 * time.Hour

// Store is what the minter needs from the metadata store.
type Store interface {
	metastore.SigningKeyStore
	GetAccessKey(ctx context.Context, id string) (metastore.AccessKey, error)
}

// Options configures a Minter.
type Options struct {
	Store  Store
	Sealer *auth.Sealer
	Clock  func() time.Time
}

// Minter mints and verifies registry passwords. Safe for concurrent use.
type Minter struct {
	store  Store
	sealer *auth.Sealer
	now    func() time.Time

	mu   sync.Mutex
	keys map[string]key // by id
}

type key struct {
	id      string
	secret  []byte
	created time.Time
}

// New builds a Minter.
func New(o Options) *Minter {
	if o.Clock == nil {
		o.Clock = time.Now
	}
	return &Minter{store: o.Store, sealer: o.Sealer, now: o.Clock, keys: map[string]key{}}
}

// payload is the signed content of a password.
type payload struct {
	V         int    `json:"v"`
	KeyID     string `json:"k"`
	Type      string `json:"t"`
	Account   string `json:"a"`
	User      string `json:"u,omitempty"`
	AccessKey string `json:"i"`
	Expires   int64  `json:"e"`
}

// Mint returns a password for p and when it expires.
func (m *Minter) Mint(ctx context.Context, p auth.Principal) (string, time.Time, error) {
	k, err := m.currentKey(ctx)
	if err != nil {
		return "", time.Time{}, err
	}
	exp := m.now().Add(TTL)
	body, err := json.Marshal(payload{V: 1, KeyID: k.id, Type: string(p.Type), Account: p.AccountID,
		User: p.UserName, AccessKey: p.AccessKeyID, Expires: exp.Unix()})
	if err != nil {
		return "", time.Time{}, err
	}
	enc := base64.RawURLEncoding
	return enc.EncodeToString(body) + "." + enc.EncodeToString(sign(k.secret, body)), exp.Truncate(time.Second), nil
}

// VerifyPassword implements auth.TokenVerifier.
func (m *Minter) VerifyPassword(ctx context.Context, password string) (auth.Principal, error) {
	if len(password) > 4096 {
		return auth.Principal{}, auth.ErrUnauthenticated
	}
	b64, b64sig, ok := strings.Cut(password, ".")
	if !ok {
		return auth.Principal{}, auth.ErrUnauthenticated
	}
	enc := base64.RawURLEncoding
	body, err1 := enc.DecodeString(b64)
	sig, err2 := enc.DecodeString(b64sig)
	var p payload
	if err1 != nil || err2 != nil || json.Unmarshal(body, &p) != nil || p.V != 1 {
		return auth.Principal{}, auth.ErrUnauthenticated
	}
	k, err := m.keyByID(ctx, p.KeyID)
	if err != nil {
		return auth.Principal{}, err
	}
	if !hmac.Equal(sig, sign(k.secret, body)) {
		return auth.Principal{}, auth.ErrUnauthenticated
	}
	if m.now().Unix() >= p.Expires {
		return auth.Principal{}, auth.ErrExpired
	}
	ak, err := m.store.GetAccessKey(ctx, p.AccessKey)
	if errors.Is(err, metastore.ErrNotFound) {
		return auth.Principal{}, auth.ErrUnauthenticated
	}
	if err != nil {
		return auth.Principal{}, fmt.Errorf("look up access key: %w", err)
	}
	if !ak.Active || ak.AccountID != p.Account || ak.UserName != p.User {
		return auth.Principal{}, auth.ErrUnauthenticated
	}
	return auth.Principal{Type: auth.PrincipalType(p.Type), AccountID: p.Account, UserName: p.User,
		UserID: ak.UserID, UserPath: ak.UserPath, AccessKeyID: p.AccessKey}, nil
}

// Sign returns an HMAC of data under the current signing key and the key's
// id, for other short-lived server-signed values (layer download URLs).
func (m *Minter) Sign(ctx context.Context, data []byte) (keyID string, sig []byte, err error) {
	k, err := m.currentKey(ctx)
	if err != nil {
		return "", nil, err
	}
	return k.id, sign(k.secret, data), nil
}

// Check verifies a signature made by Sign.
func (m *Minter) Check(ctx context.Context, keyID string, data, sig []byte) error {
	k, err := m.keyByID(ctx, keyID)
	if err != nil {
		return err
	}
	if !hmac.Equal(sig, sign(k.secret, data)) {
		return auth.ErrUnauthenticated
	}
	return nil
}

func sign(secret, data []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write(data)
	return h.Sum(nil)
}

// currentKey returns the newest key if it is young enough to sign, else
// creates one and prunes keys no password can still need.
func (m *Minter) currentKey(ctx context.Context) (key, error) {
	now := m.now()
	m.mu.Lock()
	var newest key
	for _, k := range m.keys {
		if k.created.After(newest.created) {
			newest = k
		}
	}
	m.mu.Unlock()
	if newest.id != "" && now.Sub(newest.created) < rotateAfter {
		return newest, nil
	}
	if err := m.load(ctx); err != nil {
		return key{}, err
	}
	m.mu.Lock()
	for _, k := range m.keys {
		if k.created.After(newest.created) {
			newest = k
		}
	}
	m.mu.Unlock()
	if newest.id != "" && now.Sub(newest.created) < rotateAfter {
		return newest, nil
	}
	return m.create(ctx, now)
}

// create makes a new signing key. Two nodes may rotate at once; both keys
// are valid, so the race is harmless.
func (m *Minter) create(ctx context.Context, now time.Time) (key, error) {
	var idb [8]byte
	secret := make([]byte, 32)
	if _, err := rand.Read(idb[:]); err != nil {
		return key{}, err
	}
	if _, err := rand.Read(secret); err != nil {
		return key{}, err
	}
	k := key{id: hex.EncodeToString(idb[:]), secret: secret, created: now}
	sealed, err := m.sealer.Seal(secret, []byte("signing-key:"+k.id))
	if err != nil {
		return key{}, err
	}
	if err := m.store.CreateSigningKey(ctx, metastore.SigningKey{ID: k.id, SecretCiphertext: sealed, CreatedAt: now}); err != nil {
		return key{}, fmt.Errorf("store signing key: %w", err)
	}
	if err := m.store.DeleteSigningKeysBefore(ctx, now.Add(-rotateAfter-TTL-time.Hour)); err != nil {
		return key{}, fmt.Errorf("prune signing keys: %w", err)
	}
	m.mu.Lock()
	m.keys[k.id] = k
	m.mu.Unlock()
	return k, nil
}

// keyByID finds a key, loading from the database on a miss (another node
// may have created it).
func (m *Minter) keyByID(ctx context.Context, id string) (key, error) {
	m.mu.Lock()
	k, ok := m.keys[id]
	m.mu.Unlock()
	if ok {
		return k, nil
	}
	if err := m.load(ctx); err != nil {
		return key{}, err
	}
	m.mu.Lock()
	k, ok = m.keys[id]
	m.mu.Unlock()
	if !ok {
		return key{}, auth.ErrUnauthenticated
	}
	return k, nil
}

// load replaces the cache with the keys in the database.
func (m *Minter) load(ctx context.Context) error {
	stored, err := m.store.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("list signing keys: %w", err)
	}
	keys := make(map[string]key, len(stored))
	for _, s := range stored {
		secret, err := m.sealer.Open(s.SecretCiphertext, []byte("signing-key:"+s.ID))
		if err != nil {
			return fmt.Errorf("open signing key %s: %w", s.ID, err)
		}
		keys[s.ID] = key{id: s.ID, secret: secret, created: s.CreatedAt}
	}
	m.mu.Lock()
	m.keys = keys
	m.mu.Unlock()
	return nil
}
