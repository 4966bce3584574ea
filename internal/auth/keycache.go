package auth

import (
	"context"
	"sync"
	"time"

	"github.com/berth-registry/berth/internal/metastore"
)

// CachedKeys is a KeyStore that remembers access-key rows for a short TTL,
// so a request authenticates without a database read (it is the largest
// cost of a manifest HEAD). A key changed through this node (Invalidate)
// takes effect at once; a key changed on another node takes effect within
// TTL. Only found keys are cached: an unknown id always reaches the store.
type CachedKeys struct {
	Keys  KeyStore
	TTL   time.Duration // zero disables caching
	Clock func() time.Time
	Max   int // entries kept; zero means 10,000

	mu sync.Mutex
	m  map[string]cachedKey
}

type cachedKey struct {
	key     metastore.AccessKey
	expires time.Time
}

// GetAccessKey implements KeyStore.
func (c *CachedKeys) GetAccessKey(ctx context.Context, id string) (metastore.AccessKey, error) {
	if c.TTL <= 0 {
		return c.Keys.GetAccessKey(ctx, id)
	}
	now := c.Clock()
	c.mu.Lock()
	e, ok := c.m[id]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.key, nil
	}
	k, err := c.Keys.GetAccessKey(ctx, id)
	if err != nil {
		return k, err
	}
	c.mu.Lock()
	max := c.Max
	if max <= 0 {
		max = 10000
	}
	if c.m == nil || len(c.m) >= max {
		c.m = make(map[string]cachedKey) // bounded: start over rather than track recency
	}
	c.m[id] = cachedKey{key: k, expires: now.Add(c.TTL)}
	c.mu.Unlock()
	return k, nil
}

// Invalidate forgets a key so a change to it applies to the next request.
func (c *CachedKeys) Invalidate(id string) {
	c.mu.Lock()
	delete(c.m, id)
	c.mu.Unlock()
}
