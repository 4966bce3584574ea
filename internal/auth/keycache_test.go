package auth

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/metastore"
)

type countingKeys struct {
	keys  keyMap
	reads atomic.Int32
}

func (c *countingKeys) GetAccessKey(ctx context.Context, id string) (metastore.AccessKey, error) {
	c.reads.Add(1)
	return c.keys.GetAccessKey(ctx, id)
}

func TestCachedKeys(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	store := &countingKeys{keys: keyMap{"AKIAAAAAAAAAAAAAAAAA": {ID: "AKIAAAAAAAAAAAAAAAAA", Active: true}}}
	c := &CachedKeys{Keys: store, TTL: time.Second, Clock: func() time.Time { return now }, Max: 2}
	ctx := context.Background()
	get := func() metastore.AccessKey {
		t.Helper()
		k, err := c.GetAccessKey(ctx, "AKIAAAAAAAAAAAAAAAAA")
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	get()
	get()
	if n := store.reads.Load(); n != 1 {
		t.Fatalf("%d store reads within TTL, want 1", n)
	}
	// A change through this node applies at once.
	store.keys["AKIAAAAAAAAAAAAAAAAA"] = metastore.AccessKey{ID: "AKIAAAAAAAAAAAAAAAAA", Active: false}
	c.Invalidate("AKIAAAAAAAAAAAAAAAAA")
	if get().Active {
		t.Fatal("invalidated key still served from cache")
	}
	// A change elsewhere applies once the TTL has passed.
	store.keys["AKIAAAAAAAAAAAAAAAAA"] = metastore.AccessKey{ID: "AKIAAAAAAAAAAAAAAAAA", Active: true}
	if get().Active {
		t.Fatal("cache bypassed within TTL")
	}
	now = now.Add(time.Second)
	if !get().Active {
		t.Fatal("stale entry served after TTL")
	}
	// Unknown keys are never cached.
	for range 3 {
		if _, err := c.GetAccessKey(ctx, "AKIAUNKNOWN000000000"); !errors.Is(err, metastore.ErrNotFound) {
			t.Fatalf("unknown key: %v", err)
		}
	}
	if n := store.reads.Load(); n != 6 {
		t.Fatalf("store reads = %d, want 6 (3 cached-key misses + 3 unknown)", n)
	}
	// Disabled cache always reads.
	off := &CachedKeys{Keys: store, Clock: time.Now}
	before := store.reads.Load()
	_, _ = off.GetAccessKey(ctx, "AKIAAAAAAAAAAAAAAAAA")
	_, _ = off.GetAccessKey(ctx, "AKIAAAAAAAAAAAAAAAAA")
	if store.reads.Load()-before != 2 {
		t.Fatal("TTL 0 cached")
	}
}
