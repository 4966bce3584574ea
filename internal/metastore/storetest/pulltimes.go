package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/metastore"
	"github.com/opencontainers/go-digest"
)

var pullTimeCases = []testCase{
	{"RecordOnlyMovesForward", testRecordPullTimes},
	{"RecordManyInOneCall", testRecordManyPullTimes},
	{"ConcurrentRecordsKeepTheLatest", testConcurrentPullTimes},
	{"Exclusions", testPullTimeExclusions},
	{"ExclusionLimit", testPullTimeExclusionLimit},
	{"ExclusionPagination", testPullTimeExclusionPages},
}

func lastPulled(t *testing.T, s metastore.Store, repoID int64, d digest.Digest) time.Time {
	t.Helper()
	imgs, err := s.GetImages(ctxOf(t), repoID, []digest.Digest{d})
	noErr(t, "GetImages", err)
	if len(imgs) != 1 {
		t.Fatalf("GetImages(%s) = %d images", d, len(imgs))
	}
	return imgs[0].LastPulledAt
}

func testRecordPullTimes(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "app")
	other := mustRepo(t, s, "111111111111", "other")
	a := newImage(t, s, r.ID, "a", 0)
	mustPut(t, s, a, "v1")
	same := newImage(t, s, other.ID, "a", 0) // the same digest in another repository
	mustPut(t, s, same)
	if got := lastPulled(t, s, r.ID, a.m.Digest); !got.IsZero() {
		t.Fatalf("a never pulled image has LastPulledAt %v", got)
	}
	record := func(at time.Time, minAdvance time.Duration, pulls ...metastore.PullTime) int {
		t.Helper()
		n, err := s.RecordPullTimes(ctx, pulls, minAdvance)
		noErr(t, "RecordPullTimes", err)
		return n
	}
	pa := func(at time.Time) metastore.PullTime {
		return metastore.PullTime{RepositoryID: r.ID, Digest: a.m.Digest, At: at}
	}

	if n := record(time1, 0, pa(time1)); n != 1 {
		t.Errorf("first record updated %d images, want 1", n)
	}
	wantTime(t, "LastPulledAt", lastPulled(t, s, r.ID, a.m.Digest), time1)
	if got := lastPulled(t, s, other.ID, same.m.Digest); !got.IsZero() {
		t.Errorf("the same digest in another repository got LastPulledAt %v", got)
	}
	// Older times never move it back.
	if n := record(time1, 0, pa(time1.Add(-time.Hour))); n != 0 {
		t.Errorf("an older time updated %d images", n)
	}
	wantTime(t, "LastPulledAt after an older record", lastPulled(t, s, r.ID, a.m.Digest), time1)
	// Within minAdvance of the stored time: no write.
	if n := record(time1, time.Minute, pa(time1.Add(59*time.Second))); n != 0 {
		t.Errorf("a time 59s newer with minAdvance 1m updated %d images", n)
	}
	wantTime(t, "LastPulledAt within minAdvance", lastPulled(t, s, r.ID, a.m.Digest), time1)
	later := time1.Add(61 * time.Second)
	missing := metastore.PullTime{RepositoryID: r.ID, Digest: dg("gone"), At: later}
	if n := record(later, time.Minute, pa(later), missing); n != 1 {
		t.Errorf("a time 61s newer with minAdvance 1m (and a missing image) updated %d images, want 1", n)
	}
	wantTime(t, "LastPulledAt beyond minAdvance", lastPulled(t, s, r.ID, a.m.Digest), later)
	if n, err := s.RecordPullTimes(ctx, nil, 0); err != nil || n != 0 {
		t.Errorf("RecordPullTimes(nothing) = %d, %v", n, err)
	}

	// Pull times survive archive and restore (and are not pull-refused there).
	mustStorageClass(t, s, r.ID, a.m.Digest, metastore.StorageArchive)
	wantTime(t, "LastPulledAt of an archived image", lastPulled(t, s, r.ID, a.m.Digest), later)
}

// testRecordManyPullTimes records more images than one transaction holds.
func testRecordManyPullTimes(t *testing.T, s metastore.Store) {
	r := mustRepo(t, s, "111111111111", "app")
	pulls := make([]metastore.PullTime, 620) // more than one transaction holds
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64) // concurrent pushes share commits
	for i := range pulls {
		body := fmt.Appendf(nil, `{"schemaVersion":2,"n":%d}`, i)
		m := metastore.Manifest{RepositoryID: r.ID, Digest: digest.FromBytes(body), MediaType: "application/vnd.oci.image.manifest.v1+json",
			Size: int64(len(body)), Body: body}
		pulls[i] = metastore.PullTime{RepositoryID: r.ID, Digest: m.Digest, At: time1.Add(time.Duration(i) * time.Second)}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := s.PutManifest(ctxOf(t), m, nil, nil, metastore.PutOptions{}); err != nil {
				t.Errorf("PutManifest: %v", err)
			}
		})
	}
	wg.Wait()
	n, err := s.RecordPullTimes(ctxOf(t), pulls, 0)
	noErr(t, "RecordPullTimes", err)
	if n != len(pulls) {
		t.Errorf("RecordPullTimes updated %d of %d images", n, len(pulls))
	}
	for _, i := range []int{0, 499, 500, 619} {
		wantTime(t, fmt.Sprintf("image %d LastPulledAt", i), lastPulled(t, s, r.ID, pulls[i].Digest), pulls[i].At)
	}
}

// testConcurrentPullTimes: nodes flushing in any order leave the latest.
func testConcurrentPullTimes(t *testing.T, s metastore.Store) {
	r := mustRepo(t, s, "111111111111", "app")
	img := newImage(t, s, r.ID, "img", 0)
	mustPut(t, s, img)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			_, err := s.RecordPullTimes(ctxOf(t), []metastore.PullTime{{RepositoryID: r.ID, Digest: img.m.Digest,
				At: time1.Add(time.Duration(i) * time.Minute)}}, 0)
			if err != nil {
				t.Errorf("RecordPullTimes: %v", err)
			}
		})
	}
	wg.Wait()
	wantTime(t, "LastPulledAt", lastPulled(t, s, r.ID, img.m.Digest), time1.Add(19*time.Minute))
}

func testPullTimeExclusions(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	mustAccount(t, s, "111111111111")
	mustAccount(t, s, "222222222222")
	user := "arn:aws:iam::333333333333:user/ci/scanner"
	e, err := s.RegisterPullTimeExclusion(ctx, metastore.PullTimeExclusion{AccountID: "111111111111", PrincipalARN: user}, 100)
	noErr(t, "RegisterPullTimeExclusion", err)
	wantRecent(t, "CreatedAt", e.CreatedAt)
	if e.AccountID != "111111111111" || e.PrincipalARN != user {
		t.Errorf("registered %+v", e)
	}
	_, err = s.RegisterPullTimeExclusion(ctx, metastore.PullTimeExclusion{AccountID: "111111111111", PrincipalARN: user}, 100)
	wantErr(t, "RegisterPullTimeExclusion(duplicate)", err, metastore.ErrAlreadyExists)
	given, err := s.RegisterPullTimeExclusion(ctx, metastore.PullTimeExclusion{AccountID: "222222222222", PrincipalARN: user,
		CreatedAt: time1}, 100)
	noErr(t, "RegisterPullTimeExclusion(same ARN, other account)", err)
	wantTime(t, "given CreatedAt", given.CreatedAt, time1)
	upper := "arn:aws:iam::333333333333:user/ci/Scanner" // ARNs are case-sensitive strings
	_, err = s.RegisterPullTimeExclusion(ctx, metastore.PullTimeExclusion{AccountID: "111111111111", PrincipalARN: upper}, 100)
	noErr(t, "RegisterPullTimeExclusion(differs in case)", err)
	_, err = s.RegisterPullTimeExclusion(ctx, metastore.PullTimeExclusion{AccountID: "999999999999", PrincipalARN: user}, 100)
	wantErr(t, "RegisterPullTimeExclusion(missing account)", err, metastore.ErrNotFound)

	list, err := s.ListPullTimeExclusions(ctx, "111111111111", metastore.Page{Limit: 10})
	noErr(t, "ListPullTimeExclusions", err)
	if len(list) != 2 || list[0].PrincipalARN != upper || list[1].PrincipalARN != user {
		t.Fatalf("ListPullTimeExclusions = %+v, want [%s %s] in byte order", list, upper, user)
	}
	wantTime(t, "listed CreatedAt", list[1].CreatedAt, e.CreatedAt)

	noErr(t, "DeregisterPullTimeExclusion", s.DeregisterPullTimeExclusion(ctx, "111111111111", user))
	wantErr(t, "DeregisterPullTimeExclusion(again)", s.DeregisterPullTimeExclusion(ctx, "111111111111", user), metastore.ErrNotFound)
	wantErr(t, "DeregisterPullTimeExclusion(other account's)", s.DeregisterPullTimeExclusion(ctx, "999999999999", user), metastore.ErrNotFound)
	list, err = s.ListPullTimeExclusions(ctx, "222222222222", metastore.Page{Limit: 10})
	noErr(t, "ListPullTimeExclusions", err)
	if len(list) != 1 || list[0].PrincipalARN != user {
		t.Errorf("the other account's exclusions = %+v, want its own, untouched", list)
	}
	if _, err := s.ListPullTimeExclusions(ctx, "111111111111", metastore.Page{Limit: 0}); err == nil {
		t.Error("ListPullTimeExclusions(limit 0) succeeded, want an error")
	}
}

func testPullTimeExclusionLimit(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	mustAccount(t, s, "111111111111")
	mustAccount(t, s, "222222222222")
	arn := func(i int) string { return fmt.Sprintf("arn:aws:iam::333333333333:user/u%d", i) }
	for i := range 3 {
		_, err := s.RegisterPullTimeExclusion(ctx, metastore.PullTimeExclusion{AccountID: "111111111111", PrincipalARN: arn(i)}, 3)
		noErr(t, "RegisterPullTimeExclusion", err)
	}
	_, err := s.RegisterPullTimeExclusion(ctx, metastore.PullTimeExclusion{AccountID: "111111111111", PrincipalARN: arn(3)}, 3)
	wantErr(t, "RegisterPullTimeExclusion(over the limit)", err, metastore.ErrTooManyExclusions)
	_, err = s.RegisterPullTimeExclusion(ctx, metastore.PullTimeExclusion{AccountID: "111111111111", PrincipalARN: arn(0)}, 3)
	wantErr(t, "RegisterPullTimeExclusion(duplicate at the limit)", err, metastore.ErrAlreadyExists)
	list, err := s.ListPullTimeExclusions(ctx, "111111111111", metastore.Page{Limit: 10})
	noErr(t, "ListPullTimeExclusions", err)
	if len(list) != 3 {
		t.Errorf("%d exclusions after a refused one, want 3 (nothing added)", len(list))
	}
	_, err = s.RegisterPullTimeExclusion(ctx, metastore.PullTimeExclusion{AccountID: "222222222222", PrincipalARN: arn(3)}, 3)
	noErr(t, "RegisterPullTimeExclusion(another account, own limit)", err)
	noErr(t, "DeregisterPullTimeExclusion", s.DeregisterPullTimeExclusion(ctx, "111111111111", arn(1)))
	_, err = s.RegisterPullTimeExclusion(ctx, metastore.PullTimeExclusion{AccountID: "111111111111", PrincipalARN: arn(3)}, 3)
	noErr(t, "RegisterPullTimeExclusion(after making room)", err)
}

func testPullTimeExclusionPages(t *testing.T, s metastore.Store) {
	mustAccount(t, s, "111111111111")
	var want []string
	for i := range 13 {
		a := fmt.Sprintf("arn:aws:iam::333333333333:%s/p%02d", []string{"user", "role"}[i%2], i)
		_, err := s.RegisterPullTimeExclusion(ctxOf(t), metastore.PullTimeExclusion{AccountID: "111111111111", PrincipalARN: a}, 100)
		noErr(t, "RegisterPullTimeExclusion", err)
		want = append(want, a)
	}
	slices.Sort(want)
	checkPagination(t, want, func(p metastore.Page) []string {
		t.Helper()
		list, err := s.ListPullTimeExclusions(ctxOf(t), "111111111111", p)
		noErr(t, "ListPullTimeExclusions", err)
		out := make([]string, len(list))
		for i, e := range list {
			out[i] = e.PrincipalARN
		}
		return out
	})
}
