package storetest

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/metastore"
)

var clusterCases = []testCase{
	{"InitValueOnce", testInitClusterValueOnce},
	{"FirstRootKeyOnce", testFirstRootKeyOnce},
	{"JobRunHistory", testJobRunHistory},
}

// Nodes starting at once each offer a value; all get the first one back.
func testInitClusterValueOnce(t *testing.T, s metastore.Store) {
	const nodes = 8
	got := make([][]byte, nodes)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Go(func() {
			v, err := s.InitClusterValue(ctxOf(t), "secrets-key-check", []byte(fmt.Sprintf("node-%d", i)))
			if err != nil {
				t.Errorf("InitClusterValue(node-%d): %v", i, err)
			}
			got[i] = v
		})
	}
	wg.Wait()
	for i := range got {
		if !bytes.Equal(got[i], got[0]) || !bytes.HasPrefix(got[0], []byte("node-")) {
			t.Fatalf("nodes got different stored values: %q", got)
		}
	}
	v, err := s.InitClusterValue(ctxOf(t), "secrets-key-check", []byte("later"))
	noErr(t, "InitClusterValue(later)", err)
	if !bytes.Equal(v, got[0]) {
		t.Errorf("a later value replaced the first: %q, want %q", v, got[0])
	}
	v, err = s.InitClusterValue(ctxOf(t), "other", []byte{0, 1, 255})
	noErr(t, "InitClusterValue(other)", err)
	if !bytes.Equal(v, []byte{0, 1, 255}) {
		t.Errorf("another name got %q", v)
	}
}

// Of nodes bootstrapping one account at once, exactly one creates its
// root key; a user's key does not count as a root key.
func testFirstRootKeyOnce(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	mustAccount(t, s, "111111111111")
	_, err := s.CreateFirstRootKey(ctx, metastore.AccessKey{ID: "AKIANOACCOUNT0000000", AccountID: "999999999999", Active: true})
	wantErr(t, "CreateFirstRootKey(no account)", err, metastore.ErrNotFound)
	const nodes = 6
	var mu sync.Mutex
	var winners []string
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Go(func() {
			id := fmt.Sprintf("AKIAROOTRACE%08d", i)
			ok, err := s.CreateFirstRootKey(ctxOf(t), metastore.AccessKey{ID: id, AccountID: "111111111111",
				SecretCiphertext: []byte("sealed"), Active: true})
			if err != nil {
				t.Errorf("CreateFirstRootKey(%s): %v", id, err)
			}
			if ok {
				mu.Lock()
				winners = append(winners, id)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	keys, err := s.ListAccessKeys(ctx, "111111111111", "")
	noErr(t, "ListAccessKeys", err)
	if len(winners) != 1 || len(keys) != 1 || keys[0].ID != winners[0] {
		t.Fatalf("winners %v, root keys %+v; want exactly one", winners, keys)
	}
	wantRecent(t, "CreatedAt", keys[0].CreatedAt)
}

func testJobRunHistory(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	_, err := s.ListJobRuns(ctx, "gc", 0)
	if err == nil {
		t.Error("ListJobRuns with limit 0: no error")
	}
	runs, err := s.ListJobRuns(ctx, "gc", 10)
	noErr(t, "ListJobRuns(none)", err)
	if len(runs) != 0 {
		t.Fatalf("runs of a job never run: %+v", runs)
	}
	for i := range metastore.MaxJobRuns + 5 {
		holder := fmt.Sprintf("node-%d", i%3)
		mustClaim(t, s, "gc", holder, time.Hour, true)
		started := time.Unix(0, int64(i)*1e9).UTC()
		msg := ""
		if i == metastore.MaxJobRuns+4 {
			msg = "boom"
		}
		noErr(t, "FinishJob", s.FinishJob(ctx, "gc", holder, started, msg, time.Now()))
	}
	runs, err = s.ListJobRuns(ctx, "gc", metastore.MaxJobRuns)
	noErr(t, "ListJobRuns", err)
	if len(runs) != metastore.MaxJobRuns {
		t.Fatalf("kept %d runs, want the newest %d", len(runs), metastore.MaxJobRuns)
	}
	newest := runs[0]
	if newest.Name != "gc" || newest.Error != "boom" || newest.Holder != fmt.Sprintf("node-%d", (metastore.MaxJobRuns+4)%3) {
		t.Errorf("newest run: %+v", newest)
	}
	wantTime(t, "newest StartedAt", newest.StartedAt, time.Unix(0, int64(metastore.MaxJobRuns+4)*1e9))
	wantRecent(t, "newest FinishedAt", newest.FinishedAt)
	wantTime(t, "oldest kept StartedAt", runs[len(runs)-1].StartedAt, time.Unix(5, 0))
	if two, _ := s.ListJobRuns(ctx, "gc", 2); len(two) != 2 || !two[1].StartedAt.Equal(runs[1].StartedAt) {
		t.Errorf("ListJobRuns(2) = %+v", two)
	}

	// A run whose claim lapsed is recorded as such, and reported.
	mustClaim(t, s, "expiry", "node-a", time.Millisecond, true)
	time.Sleep(20 * time.Millisecond)
	mustClaim(t, s, "expiry", "node-b", time.Hour, true)
	wantErr(t, "FinishJob(lapsed)", s.FinishJob(ctx, "expiry", "node-a", time.Now(), "", time.Now()), metastore.ErrConflict)
	runs, err = s.ListJobRuns(ctx, "expiry", 10)
	noErr(t, "ListJobRuns(expiry)", err)
	if len(runs) != 1 || runs[0].Holder != "node-a" || runs[0].Error == "" {
		t.Errorf("lapsed run recorded as %+v, want node-a's with an error", runs)
	}
	if runs, _ := s.ListJobRuns(ctx, "gc", 1); len(runs) != 1 || runs[0].Name != "gc" {
		t.Errorf("another job's runs mixed in: %+v", runs)
	}
}
