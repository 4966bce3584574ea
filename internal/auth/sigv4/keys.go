package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"sync"
)

// deriveKey computes the signing key: an HMAC-SHA256 chain over the scope,
// starting from "AWS4" + secret.
func deriveKey(secret, date, region, service string) [sha256.Size]byte {
	k := hmacSum([]byte("AWS4"+secret), date)
	k = hmacSum(k, region)
	k = hmacSum(k, service)
	var key [sha256.Size]byte
	copy(key[:], hmacSum(k, terminator))
	return key
}

func hmacSum(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// keyCache keeps derived signing keys, a key per secret and scope; a key
// serves one day. Entries are indexed by a hash of secret and scope, so the
// cache holds no plaintext secret. When full, an arbitrary entry goes.
type keyCache struct {
	mu   sync.Mutex
	max  int
	keys map[[sha256.Size]byte][sha256.Size]byte
}

func newKeyCache(max int) *keyCache {
	return &keyCache{max: max, keys: make(map[[sha256.Size]byte][sha256.Size]byte, max)}
}

func (c *keyCache) key(secret, date, region, service string) [sha256.Size]byte {
	if c == nil {
		return deriveKey(secret, date, region, service)
	}
	h := sha256.New()
	for _, s := range []string{secret, date, region, service} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	var id [sha256.Size]byte
	h.Sum(id[:0])
	c.mu.Lock()
	key, ok := c.keys[id]
	c.mu.Unlock()
	if ok {
		return key
	}
	key = deriveKey(secret, date, region, service)
	c.mu.Lock()
	if len(c.keys) >= c.max {
		for k := range c.keys {
			delete(c.keys, k)
			break
		}
	}
	c.keys[id] = key
	c.mu.Unlock()
	return key
}
