package storetest

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/berth-registry/berth/internal/metastore"
)

var immutableCases = []testCase{
	{"ImmutableTagRefused", testImmutableTagRefused},
	{"ImmutableTagOneWinner", testImmutableTagOneWinner},
}

// releaseOnly treats tags starting with "release-" as immutable.
var releaseOnly = metastore.PutOptions{Immutable: func(tag string) bool { return strings.HasPrefix(tag, "release-") }}

func testImmutableTagRefused(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "app")
	a, b := newImage(t, s, r.ID, "a", 1), newImage(t, s, r.ID, "b", 1)
	if err := s.PutManifest(ctx, a.m, a.refs, []string{"release-1", "latest"}, releaseOnly); err != nil {
		t.Fatal(err)
	}
	// Moving an immutable tag is refused, and so is re-pushing the same
	// manifest to it; a refusal changes nothing, mutable tags included.
	for _, img := range []image{b, a} {
		err := s.PutManifest(ctx, img.m, img.refs, []string{"latest", "release-1"}, releaseOnly)
		var te *metastore.TagExistsError
		if !errors.As(err, &te) || !errors.Is(err, metastore.ErrTagExists) || te.Tag != "release-1" || te.Digest != a.m.Digest {
			t.Fatalf("push %s to release-1: %v, want *TagExistsError for release-1 at %s", img.m.Digest, err, a.m.Digest)
		}
	}
	if d, err := s.ResolveTag(ctx, r.ID, "latest"); err != nil || d != a.m.Digest {
		t.Fatalf("latest = %s, %v; a refused push moved it", d, err)
	}
	if _, err := s.GetManifest(ctx, r.ID, b.m.Digest); !errors.Is(err, metastore.ErrNotFound) {
		t.Fatalf("refused manifest stored: %v", err)
	}
	// Mutable tags still move, and without options every tag is mutable.
	if err := s.PutManifest(ctx, b.m, b.refs, []string{"latest"}, releaseOnly); err != nil {
		t.Fatal(err)
	}
	if err := s.PutManifest(ctx, b.m, b.refs, []string{"release-1"}, metastore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
}

// testImmutableTagOneWinner: of many concurrent pushes to one new
// immutable tag, exactly one succeeds and the tag names its manifest.
func testImmutableTagOneWinner(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "app")
	const n = 50
	imgs := make([]image, n)
	for i := range imgs {
		imgs[i] = newImage(t, s, r.ID, fmt.Sprintf("racer-%d", i), 1)
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range imgs {
		wg.Go(func() { errs[i] = s.PutManifest(ctx, imgs[i].m, imgs[i].refs, []string{"release-9"}, releaseOnly) })
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("pushes %d and %d both took immutable tag release-9", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, metastore.ErrTagExists):
			t.Fatalf("push %d: %v", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no push took release-9")
	}
	if d, err := s.ResolveTag(ctx, r.ID, "release-9"); err != nil || d != imgs[winner].m.Digest {
		t.Fatalf("release-9 = %s, %v; want the winner %s", d, err, imgs[winner].m.Digest)
	}
}
