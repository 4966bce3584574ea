package registry

import (
	"sync"
	"time"

	"github.com/berth-registry/berth/internal/metastore"
)

// repoCache remembers repositories for read paths (pulls, listings) for a
// short TTL, so a manifest or blob read costs one query instead of two.
// It is safe because repository ids are never reused: a cached entry for a
// repository deleted since finds no manifests, tags or blobs. Writes never
// use it, and this node's own changes invalidate it at once.
type repoCache struct {
	ttl time.Duration
	now func() time.Time
	max int

	mu sync.Mutex
	m  map[RepoRef]cachedRepo
}

type cachedRepo struct {
	repo    metastore.Repository
	expires time.Time
}

func (c *repoCache) get(r RepoRef) (metastore.Repository, bool) {
	if c.ttl <= 0 {
		return metastore.Repository{}, false
	}
	c.mu.Lock()
	e, ok := c.m[r]
	c.mu.Unlock()
	if !ok || !c.now().Before(e.expires) {
		return metastore.Repository{}, false
	}
	return e.repo, true
}

func (c *repoCache) put(r RepoRef, repo metastore.Repository) {
	if c.ttl <= 0 {
		return
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= c.max {
		c.m = make(map[RepoRef]cachedRepo) // bounded: start over
	}
	c.m[r] = cachedRepo{repo: repo, expires: c.now().Add(c.ttl)}
	c.mu.Unlock()
}

func (c *repoCache) invalidate(r RepoRef) {
	c.mu.Lock()
	delete(c.m, r)
	c.mu.Unlock()
}

// readActions may be served from the repository cache.
var readActions = map[string]bool{
	ActionBatchGetImage:               true,
	ActionGetDownloadURLForLayer:      true,
	ActionBatchCheckLayerAvailability: true,
	ActionListImages:                  true,
	ActionDescribeImages:              true,
}
