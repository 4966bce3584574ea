package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/metastore"
	"github.com/opencontainers/go-digest"
)

var concurrencyCases = []testCase{
	{"PushesWithSharedTagsAndBlobs", testConcurrentPushes},
	{"PushesAndDeletes", testConcurrentPushDelete},
	{"CreateSameNames", testConcurrentCreateSameNames},
}

// testConcurrentPushes runs 50 pushers that link overlapping blobs and put
// manifests (and indexes over them) with overlapping tags, while readers
// pull by tag; then checks every tag resolves and every reference resolves.
func testConcurrentPushes(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "app")
	const pushers, sharedBlobs = 50, 7
	shared := func(i int) digest.Digest { return dg(fmt.Sprintf("shared/%d", i%sharedBlobs)) }

	results := make([]pushedImage, pushers)
	errs := make(chan error, 4*pushers)
	stop := make(chan struct{})
	var readers, wg sync.WaitGroup
	for range 2 {
		readers.Go(func() { pullLatest(t, s, r.ID, stop, errs) })
	}
	for i := range pushers {
		wg.Go(func() {
			p, err := pushOne(t, s, r.ID, i, shared)
			results[i] = p
			if err != nil {
				errs <- fmt.Errorf("pusher %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}

	// Every tag points at a stored manifest; every manifest's references resolve.
	tags, err := s.ListTags(ctx, r.ID, metastore.Page{Limit: 10 * pushers})
	noErr(t, "ListTags", err)
	if len(tags) != pushers+7 { // own-N, latest, multi, group-0..4
		t.Errorf("%d tags, want %d", len(tags), pushers+7)
	}
	for _, tag := range tags {
		m, err := s.GetManifestByTag(ctx, r.ID, tag.Name)
		if err != nil || m.Digest != tag.Digest {
			t.Errorf("tag %s -> %s does not resolve: %v", tag.Name, tag.Digest, err)
		}
	}
	for i, p := range results {
		if d, err := s.ResolveTag(ctx, r.ID, fmt.Sprintf("own-%d", i)); err != nil || d != p.img.m.Digest {
			t.Errorf("own-%d = %s, %v", i, d, err)
		}
		for _, img := range []image{p.img, p.idx} {
			checkStored(t, s, r.ID, img)
		}
	}
}

// pushedImage is what one pusher stored.
type pushedImage struct{ img, idx image }

// pushOne links two shared blobs and a private one, pushes an image tagged
// own-i, latest and group-(i%5), then an index over it tagged multi.
func pushOne(t *testing.T, s metastore.Store, repoID int64, i int, shared func(int) digest.Digest) (pushedImage, error) {
	ctx := ctxOf(t)
	body := []byte(fmt.Sprintf(`{"pusher":%d}`, i))
	img := image{m: metastore.Manifest{RepositoryID: repoID, Digest: digest.FromBytes(body),
		MediaType: "application/vnd.oci.image.manifest.v1+json", Size: int64(len(body)), Body: body}}
	for _, b := range []digest.Digest{shared(i), shared(i + 1), dg(fmt.Sprintf("private/%d", i))} {
		if err := s.LinkBlob(ctx, repoID, b, 1000, nil); err != nil {
			return pushedImage{}, err
		}
		img.refs = append(img.refs, metastore.Reference{Kind: metastore.RefBlob, Digest: b})
	}
	tags := []string{fmt.Sprintf("own-%d", i), "latest", fmt.Sprintf("group-%d", i%5)}
	if err := s.PutManifest(ctx, img.m, img.refs, tags, metastore.PutOptions{}); err != nil {
		return pushedImage{}, err
	}
	idx := newIndex(repoID, fmt.Sprint(i), img.m.Digest)
	if err := s.PutManifest(ctx, idx.m, idx.refs, []string{"multi"}, metastore.PutOptions{}); err != nil {
		return pushedImage{}, err
	}
	return pushedImage{img: img, idx: idx}, nil
}

// pullLatest reads by tag until stop: each read finds a whole manifest or
// (before the first push) nothing.
func pullLatest(t *testing.T, s metastore.Store, repoID int64, stop <-chan struct{}, errs chan<- error) {
	for {
		select {
		case <-stop:
			return
		case <-time.After(50 * time.Microsecond): // pressure without starving the pushers
		}
		m, err := s.GetManifestByTag(ctxOf(t), repoID, "latest")
		switch {
		case errors.Is(err, metastore.ErrNotFound):
		case err != nil:
			errs <- fmt.Errorf("pull latest: %w", err)
			return
		case m.Digest != digest.FromBytes(m.Body) || m.Size != int64(len(m.Body)):
			errs <- fmt.Errorf("pull latest: torn manifest %s", m.Digest)
			return
		}
	}
}

// checkStored checks img is stored and each of its references resolves.
func checkStored(t *testing.T, s metastore.Store, repoID int64, img image) {
	t.Helper()
	ctx := ctxOf(t)
	if _, err := s.GetManifest(ctx, repoID, img.m.Digest); err != nil {
		t.Errorf("manifest %s: %v", img.m.Digest, err)
	}
	for _, ref := range img.refs {
		var err error
		if ref.Kind == metastore.RefBlob {
			_, err = s.BlobSize(ctx, repoID, ref.Digest)
		} else {
			_, err = s.GetManifest(ctx, repoID, ref.Digest)
		}
		if err != nil {
			t.Errorf("manifest %s: %s %s does not resolve: %v", img.m.Digest, ref.Kind, ref.Digest, err)
		}
	}
}

// testConcurrentPushDelete races pushes of indexes against deletes of their
// children: a child is either deleted (and no index over it was stored) or
// kept because an index references it; never an index with a missing child.
func testConcurrentPushDelete(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "app")
	const n = 30
	children := make([]image, n)
	for i := range children {
		children[i] = newImage(t, s, r.ID, fmt.Sprintf("child-%d", i), 0)
		mustPut(t, s, children[i], fmt.Sprintf("c%d", i))
	}
	var wg sync.WaitGroup
	idxErrs := make([]error, n)
	delErrs := make([]error, n)
	for i := range n {
		idx := newIndex(r.ID, fmt.Sprint(i), children[i].m.Digest)
		wg.Go(func() {
			idxErrs[i] = s.PutManifest(ctx, idx.m, idx.refs, []string{fmt.Sprintf("i%d", i)}, metastore.PutOptions{})
		})
		wg.Go(func() { delErrs[i] = s.DeleteManifest(ctx, r.ID, children[i].m.Digest) })
	}
	wg.Wait()
	for i := range n {
		var missing *metastore.MissingReferenceError
		switch {
		case idxErrs[i] == nil && errors.Is(delErrs[i], metastore.ErrReferenced):
			checkStored(t, s, r.ID, newIndex(r.ID, fmt.Sprint(i), children[i].m.Digest))
		case delErrs[i] == nil && errors.As(idxErrs[i], &missing):
			wantErr(t, "ResolveTag(deleted child)", firstErr(s.ResolveTag(ctx, r.ID, fmt.Sprintf("c%d", i))), metastore.ErrNotFound)
			wantErr(t, "ResolveTag(refused index)", firstErr(s.ResolveTag(ctx, r.ID, fmt.Sprintf("i%d", i))), metastore.ErrNotFound)
		default:
			t.Errorf("pair %d: put index: %v; delete child: %v", i, idxErrs[i], delErrs[i])
		}
	}
}

// testConcurrentCreateSameNames races creators of one repository name and
// of one IAM user name in different cases: exactly one of each wins, every
// other gets ErrAlreadyExists, and one row exists.
func testConcurrentCreateSameNames(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	mustAccount(t, s, "111111111111")
	const n = 20
	repoErrs, userErrs := make([]error, n), make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			repoErrs[i] = s.CreateRepository(ctx, &metastore.Repository{AccountID: "111111111111", Name: "race"})
		})
		wg.Go(func() {
			name := []string{"alice", "Alice", "ALICE", "aLiCe"}[i%4]
			userErrs[i] = s.CreateUser(ctx, metastore.User{AccountID: "111111111111", Name: name, ID: fmt.Sprintf("AIDARACE%02d", i)})
		})
	}
	wg.Wait()
	for what, errs := range map[string][]error{"CreateRepository": repoErrs, "CreateUser": userErrs} {
		won := 0
		for i, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, metastore.ErrAlreadyExists):
				t.Errorf("%s #%d: %v, want nil or ErrAlreadyExists", what, i, err)
			}
		}
		if won != 1 {
			t.Errorf("%s: %d winners, want exactly 1", what, won)
		}
	}
	repos, err := s.ListRepositories(ctx, "111111111111", metastore.Page{Limit: 10})
	noErr(t, "ListRepositories", err)
	users, err := s.ListUsers(ctx, "111111111111", metastore.Page{Limit: 10})
	noErr(t, "ListUsers", err)
	if len(repos) != 1 || len(users) != 1 {
		t.Errorf("%d repositories and %d users stored, want 1 each", len(repos), len(users))
	}
}
