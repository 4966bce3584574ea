package registry_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/metastore"
	"github.com/berth-registry/berth/internal/registry"
	rt "github.com/berth-registry/berth/internal/registry/registrytest"
)

func lastPulled(t *testing.T, e *rt.Env, d digest.Digest) time.Time {
	t.Helper()
	imgs, _, err := e.Service.DescribeImageIDs(ctx, root, repo, []registry.ImageID{{Digest: d.String()}})
	if err != nil || len(imgs) != 1 {
		t.Fatalf("DescribeImageIDs(%s) = %v, %v", d, imgs, err)
	}
	return imgs[0].LastPulledAt
}

func flush(t *testing.T, e *rt.Env) {
	t.Helper()
	if err := e.PullTimes.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

func iamUser(account, name string) auth.Principal {
	return auth.Principal{Type: auth.TypeIAMUser, AccountID: account, UserName: name}
}

// TestPullTimesRecorded: pulls by tag, by digest, HEAD-or-GET (the same
// service call) and BatchGetImage record the time; nothing is written
// before a flush; a flush moves the time only forward, by more than the
// flush interval.
func TestPullTimesRecorded(t *testing.T) {
	t.Parallel()
	e := newEnv(t, registry.Options{})
	_, d := e.Push(t, root, repo, "v1", image)
	_, other := e.Push(t, root, repo, "v2", rt.Image{Config: []byte(`{"n":2}`), Layers: [][]byte{[]byte("x")}})
	if _, err := e.Service.GetManifest(ctx, root, repo, "v1"); err != nil {
		t.Fatal(err)
	}
	first := e.Clock.Now()
	if got := lastPulled(t, e, d); !got.IsZero() {
		t.Fatalf("LastPulledAt %v before any flush: a pull wrote to the database", got)
	}
	flush(t, e)
	if got := lastPulled(t, e, d); !got.Equal(first) {
		t.Fatalf("LastPulledAt %v after a flush, want the pull's time %v", got, first)
	}
	if got := lastPulled(t, e, other); !got.IsZero() {
		t.Errorf("an image never pulled has LastPulledAt %v", got)
	}

	// Within the flush interval (the precision) the stored time stays.
	e.Clock.Advance(registry.DefaultPullTimeFlush / 2)
	if _, err := e.Service.GetManifest(ctx, root, repo, d.String()); err != nil {
		t.Fatal(err)
	}
	flush(t, e)
	if got := lastPulled(t, e, d); !got.Equal(first) {
		t.Errorf("LastPulledAt %v after a pull within the flush interval, want it kept at %v", got, first)
	}
	e.Clock.Advance(registry.DefaultPullTimeFlush)
	if _, _, _, err := e.Service.BatchGetImage(ctx, root, repo, []registry.ImageID{{Tag: "v1"}, {Tag: "v2"}}, nil); err != nil {
		t.Fatal(err)
	}
	flush(t, e)
	now := e.Clock.Now()
	if got := lastPulled(t, e, d); !got.Equal(now) {
		t.Errorf("LastPulledAt %v after BatchGetImage, want %v", got, now)
	}
	if got := lastPulled(t, e, other); !got.Equal(now) {
		t.Errorf("LastPulledAt of the other image %v, want %v", got, now)
	}
	// Failed pulls and listings are not pulls.
	e.Clock.Advance(time.Hour)
	_, _ = e.Service.GetManifest(ctx, root, repo, "missing")
	if _, _, err := e.Service.DescribeImageIDs(ctx, root, repo, []registry.ImageID{{Tag: "v1"}}); err != nil {
		t.Fatal(err)
	}
	flush(t, e)
	if got := lastPulled(t, e, d); !got.Equal(now) {
		t.Errorf("LastPulledAt %v moved without a pull", got)
	}
}

// TestPullTimeExclusions: pulls by an excluded IAM user never count, even
// when they are the latest; other principals' pulls do; exclusions are the
// registry's (the repository's account), by user name whatever the path.
func TestPullTimeExclusions(t *testing.T) {
	t.Parallel()
	allowAll := rt.AuthorizerFunc(func(context.Context, registry.AccessRequest) error { return nil })
	e := newEnv(t, registry.Options{Authorizer: allowAll}) // cross-account pulls allowed
	_, d := e.Push(t, root, repo, "v1", image)
	if _, err := e.Service.RegisterPullTimeExclusion(ctx, root, rt.Account,
		"arn:aws:iam::"+rt.OtherAccount+":user/security/Scanner"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Service.RegisterPullTimeExclusion(ctx, root, rt.Account, "arn:aws:iam::"+rt.Account+":role/dev"); err != nil {
		t.Fatal(err)
	}
	pull := func(who auth.Principal) {
		t.Helper()
		if _, err := e.Service.GetManifest(ctx, who, repo, "v1"); err != nil {
			t.Fatal(err)
		}
	}
	dev := iamUser(rt.Account, "dev")
	pull(dev)
	devAt := e.Clock.Now()
	e.Clock.Advance(time.Hour)
	pull(iamUser(rt.OtherAccount, "scanner")) // excluded (user names are case-insensitive)
	flush(t, e)
	if got := lastPulled(t, e, d); !got.Equal(devAt) {
		t.Errorf("LastPulledAt %v, want %v: the later pull was by an excluded user", got, devAt)
	}
	e.Clock.Advance(time.Hour)
	pull(iamUser(rt.Account, "scanner")) // same name, another account: not excluded
	flush(t, e)
	if got := lastPulled(t, e, d); !got.Equal(e.Clock.Now()) {
		t.Errorf("LastPulledAt %v, want %v: a user of the same name in another account is not excluded", got, e.Clock.Now())
	}
	// Deregistered: the scanner counts again.
	if err := e.Service.DeregisterPullTimeExclusion(ctx, root, rt.Account, "arn:aws:iam::"+rt.OtherAccount+":user/security/Scanner"); err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(time.Hour)
	pull(iamUser(rt.OtherAccount, "SCANNER"))
	flush(t, e)
	if got := lastPulled(t, e, d); !got.Equal(e.Clock.Now()) {
		t.Errorf("LastPulledAt %v after deregistering, want %v", got, e.Clock.Now())
	}
}

func repoID(t *testing.T, e *rt.Env) int64 {
	t.Helper()
	r, err := e.Meta.GetRepository(ctx, repo.AccountID, repo.Name)
	if err != nil {
		t.Fatal(err)
	}
	return r.ID
}

// flakyStore fails RecordPullTimes while fail is set.
type flakyStore struct {
	metastore.PullTimeStore
	fail  atomic.Bool
	calls atomic.Int32
}

func (f *flakyStore) RecordPullTimes(ctx context.Context, p []metastore.PullTime, min time.Duration) (int, error) {
	f.calls.Add(1)
	if f.fail.Load() {
		return 0, errors.New("database unavailable")
	}
	return f.PullTimeStore.RecordPullTimes(ctx, p, min)
}

// counter reads a counter from reg; label is the value of its one label,
// "" for a counter without labels.
func counter(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label == "" || (len(m.GetLabel()) == 1 && m.GetLabel()[0].GetValue() == label) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// TestPullTimeFlushRetries: a failed flush keeps the pulls for the next.
func TestPullTimeFlushRetries(t *testing.T) {
	t.Parallel()
	e := newEnv(t, registry.Options{})
	_, d := e.Push(t, root, repo, "v1", image)
	store := &flakyStore{PullTimeStore: e.Meta}
	store.fail.Store(true)
	reg := prometheus.NewRegistry()
	m, err := registry.NewPullTimeMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := registry.NewPullTimes(registry.PullTimeOptions{Store: store, Clock: e.Clock.Now, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	pt.Record(rt.Account, repoID(t, e), d, root, e.Clock.Now())
	if err := pt.Flush(ctx); err == nil {
		t.Fatal("Flush over a failing store succeeded")
	}
	store.fail.Store(false)
	if err := pt.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := lastPulled(t, e, d); !got.Equal(e.Clock.Now()) {
		t.Errorf("LastPulledAt %v after a failed then a good flush, want %v", got, e.Clock.Now())
	}
	if got := counter(t, reg, "berth_pull_time_flushes_total", "error"); got != 1 {
		t.Errorf("failed flushes = %v, want 1", got)
	}
	calls := store.calls.Load()
	if err := pt.Flush(ctx); err != nil || store.calls.Load() != calls {
		t.Errorf("an empty flush wrote (%d calls, then %d), %v", calls, store.calls.Load(), err)
	}
}

// TestPullTimeBufferBound: a full buffer drops new (image, puller) pairs
// (counted), keeps updating held ones, and wakes Run to flush at once.
func TestPullTimeBufferBound(t *testing.T) {
	t.Parallel()
	e := newEnv(t, registry.Options{})
	reg := prometheus.NewRegistry()
	m, err := registry.NewPullTimeMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := registry.NewPullTimes(registry.PullTimeOptions{Store: e.Meta, Clock: e.Clock.Now, Metrics: m,
		MaxPending: 16, Flush: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var ds []digest.Digest
	for i := range 40 {
		_, d := e.Push(t, root, repo, "", rt.Image{Config: []byte{'{', '}', byte(' ' + i%10)}, Layers: [][]byte{{byte(i)}}})
		ds = append(ds, d)
	}
	id := repoID(t, e)
	for _, d := range ds {
		pt.Record(rt.Account, id, d, root, e.Clock.Now())
	}
	dropped := counter(t, reg, "berth_pull_time_dropped_total", "")
	if dropped == 0 || dropped >= 40 {
		t.Fatalf("dropped %v of 40 pulls into a buffer of 16", dropped)
	}
	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { pt.Run(runCtx) })
	defer func() { cancel(); wg.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for counter(t, reg, "berth_pull_time_images_written_total", "") != 40-dropped {
		if time.Now().After(deadline) {
			t.Fatalf("a full buffer was not flushed at once (Flush is an hour): %v written", counter(t, reg, "berth_pull_time_images_written_total", ""))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestPullTimesTwoNodes: nodes flushing in either order leave the latest.
func TestPullTimesTwoNodes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, registry.Options{})
	_, d := e.Push(t, root, repo, "v1", image)
	other, err := registry.NewPullTimes(registry.PullTimeOptions{Store: e.Meta, Clock: e.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	node2 := e.NodeWith(t, func(o *registry.Options) { o.PullTimes = other })
	if _, err := node2.GetManifest(ctx, root, repo, "v1"); err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(time.Minute)
	if _, err := e.Service.GetManifest(ctx, root, repo, "v1"); err != nil {
		t.Fatal(err)
	}
	flush(t, e) // the later pull first
	if err := other.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := lastPulled(t, e, d); !got.Equal(e.Clock.Now()) {
		t.Errorf("LastPulledAt %v, want the later pull %v", got, e.Clock.Now())
	}
}

// BenchmarkPullTimesRecord is the cost tracking adds to each pull.
func BenchmarkPullTimesRecord(b *testing.B) {
	e := rt.New(b, registry.Options{})
	pt, err := registry.NewPullTimes(registry.PullTimeOptions{Store: e.Meta})
	if err != nil {
		b.Fatal(err)
	}
	ds := make([]digest.Digest, 1000)
	for i := range ds {
		ds[i] = digest.FromBytes([]byte{byte(i), byte(i >> 8)})
	}
	users := []auth.Principal{root, iamUser(rt.Account, "ci"), iamUser(rt.Account, "node")}
	now := time.Now()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			pt.Record(rt.Account, 1, ds[i%len(ds)], users[i%len(users)], now)
			i++
		}
	})
}
