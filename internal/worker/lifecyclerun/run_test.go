package lifecyclerun_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/berth-registry/berth/internal/lifecycle"
	"github.com/berth-registry/berth/internal/metastore"
	"github.com/berth-registry/berth/internal/registry"
	"github.com/berth-registry/berth/internal/registry/registrytest"
	"github.com/berth-registry/berth/internal/worker/lifecyclerun"
)

const day = 24 * time.Hour

// recorder keeps every execution it is given.
type recorder struct {
	execs []lifecycle.Execution
	err   error
}

func (r *recorder) RecordPolicyExecution(_ context.Context, e lifecycle.Execution) error {
	r.execs = append(r.execs, e)
	return r.err
}

type fixture struct {
	env  *registrytest.Env
	repo metastore.Repository
	rec  *recorder
	reg  *prometheus.Registry
	run  *lifecyclerun.Runner
}

func newFixture(t *testing.T, store lifecyclerun.Store) *fixture {
	t.Helper()
	f := &fixture{env: registrytest.New(t, registry.Options{}), rec: &recorder{}, reg: prometheus.NewRegistry()}
	f.repo = f.env.CreateRepository(t, registrytest.Account, "life/app")
	if store == nil {
		store = f.env.Meta
	}
	m, err := lifecyclerun.NewMetrics(f.reg)
	if err != nil {
		t.Fatal(err)
	}
	f.run, err = lifecyclerun.New(lifecyclerun.Options{Store: store, Recorder: f.rec, Clock: f.env.Clock.Now, Metrics: m,
		Region: registrytest.Region})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// push pushes an image tagged tag ("" for none), then lets a day pass.
func (f *fixture) push(t *testing.T, name, tag string) digest.Digest {
	t.Helper()
	_, d := f.env.Push(t, registrytest.Root(registrytest.Account), registrytest.Ref(registrytest.Account, "life/app"), tag,
		registrytest.Image{Config: []byte(`{"n":"` + name + `"}`), Layers: [][]byte{[]byte(name)}})
	f.env.Clock.Advance(day)
	return d
}

func (f *fixture) putPolicy(t *testing.T, text string) metastore.LifecyclePolicy {
	t.Helper()
	if _, err := lifecycle.Parse(text); err != nil {
		t.Fatalf("test policy: %v", err)
	}
	p, err := f.env.Meta.PutLifecyclePolicy(context.Background(), metastore.LifecyclePolicy{RepositoryID: f.repo.ID, Text: text, PolicyID: "pid"})
	if err != nil {
		t.Fatal(err)
	}
	p.AccountID, p.RepositoryName = registrytest.Account, "life/app"
	return p
}

func (f *fixture) status(t *testing.T, d digest.Digest) metastore.ImageStatus {
	t.Helper()
	imgs, err := f.env.Meta.GetImages(context.Background(), f.repo.ID, []digest.Digest{d})
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) == 0 {
		return "DELETED"
	}
	return imgs[0].Status
}

const archiveThenExpire = `{"rules":[
 {"rulePriority":1,"description":"keep one v image","selection":{"tagStatus":"tagged","tagPrefixList":["v"],"countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}},
 {"rulePriority":2,"description":"archive images not pulled for 30 days","selection":{"tagStatus":"any","countType":"sinceImagePulled","countUnit":"days","countNumber":30},"action":{"type":"transition","targetStorageClass":"archive"}}]}`

const keepOneUntagged = `{"rules":[{"rulePriority":1,"description":"keep the newest untagged image","selection":{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}`

func TestRunArchivesAndExpires(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	stale := f.push(t, "stale", "")
	f.env.Clock.Advance(40 * day)
	v1, v2, v4 := f.push(t, "v1", "v1"), f.push(t, "v2", "v2"), f.push(t, "v4", "v4")
	p := f.putPolicy(t, archiveThenExpire)

	run, err := f.run.RunRepository(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	// Rule 1 keeps v4 and expires v2 and v1; rule 2 archives the untagged
	// image, 41 days old and never pulled.
	if run.Archived != 1 || run.Expired != 2 || run.Images != 4 {
		t.Errorf("run = %+v, want 2 expired and 1 archived of 4", run)
	}
	for d, want := range map[digest.Digest]metastore.ImageStatus{stale: "ARCHIVED", v1: "DELETED", v2: "DELETED", v4: "ACTIVE"} {
		if got := f.status(t, d); got != want {
			t.Errorf("%s: %s, want %s", d, got, want)
		}
	}
	if len(f.rec.execs) != 1 {
		t.Fatalf("%d executions recorded, want 1", len(f.rec.execs))
	}
	e := f.rec.execs[0]
	if e.RepositoryName != "life/app" || e.PolicyID != "pid" || e.PolicyVersion != 1 || !e.EvaluatedAt.Equal(f.env.Clock.Now()) ||
		e.Region != registrytest.Region || e.AccountID != registrytest.Account || len(e.Actions) != 3 {
		t.Fatalf("execution = %+v", e)
	}
	// In decision order: rule 1 newest first, then rule 2.
	if a := e.Actions[0]; a.Digest != v2 || a.Action.Type != lifecycle.Expire || a.RulePriority != 1 || len(a.Tags) != 1 ||
		a.Tags[0] != "v2" || !strings.Contains(a.Reason, "rule 1") {
		t.Errorf("first action = %+v", a)
	}
	if a := e.Actions[2]; a.Digest != stale || a.Action.Type != lifecycle.Transition || a.Action.TargetStorageClass != lifecycle.Archive ||
		a.RulePriority != 2 || len(a.Tags) != 0 || !strings.Contains(a.Reason, "sinceImagePulled") {
		t.Errorf("last action = %+v", a)
	}
	got, err := f.env.Meta.GetLifecyclePolicy(context.Background(), f.repo.ID)
	if err != nil || !got.LastEvaluatedAt.Equal(f.env.Clock.Now()) {
		t.Errorf("lastEvaluatedAt = %v (%v), want the run's instant", got.LastEvaluatedAt, err)
	}
	if n := testutil.ToFloat64(counter(t, f.reg, "berth_lifecycle_images_archived_total")); n != 1 {
		t.Errorf("archived metric %v, want 1", n)
	}
}

func TestRunPoliciesExpiresAcrossRepositories(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	u1, u2, u3 := f.push(t, "u1", ""), f.push(t, "u2", ""), f.push(t, "u3", "")
	f.putPolicy(t, keepOneUntagged)
	f.env.CreateRepository(t, registrytest.OtherAccount, "other") // a repository without a policy
	if err := f.run.RunPolicies(context.Background()); err != nil {
		t.Fatal(err)
	}
	for d, want := range map[digest.Digest]metastore.ImageStatus{u1: "DELETED", u2: "DELETED", u3: "ACTIVE"} {
		if got := f.status(t, d); got != want {
			t.Errorf("%s: %s, want %s", d, got, want)
		}
	}
	if n := testutil.ToFloat64(counter(t, f.reg, "berth_lifecycle_images_expired_total")); n != 2 {
		t.Errorf("expired metric %v, want 2", n)
	}
	// A second run finds nothing more and still records the run.
	if err := f.run.RunPolicies(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(f.rec.execs) != 2 || len(f.rec.execs[1].Actions) != 0 {
		t.Errorf("executions %+v, want a second, empty one", f.rec.execs)
	}
}

// racingStore moves a tag onto each image just before the run acts on it:
// a push that lands between the evaluation and the action.
type racingStore struct {
	lifecyclerun.Store
	race func(d digest.Digest)
}

func (s racingStore) ApplyLifecycleAction(ctx context.Context, repoID int64, want metastore.LifecycleImage, a metastore.LifecycleAction) ([]metastore.StorageChange, error) {
	s.race(want.Digest)
	return s.Store.ApplyLifecycleAction(ctx, repoID, want, a)
}

func TestRunSkipsImageChangedAfterEvaluation(t *testing.T) {
	t.Parallel()
	var f *fixture
	raced := 0
	store := racingStore{race: func(d digest.Digest) {
		raced++
		m, err := f.env.Meta.GetManifest(context.Background(), f.repo.ID, d)
		if err != nil {
			t.Fatal(err)
		}
		// Re-push the image with a new tag, as a client would.
		if err := f.env.Meta.PutManifest(context.Background(), m, nil, []string{fmt.Sprint("pushed-", raced)}, metastore.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}}
	f = newFixture(t, &store)
	store.Store = f.env.Meta
	u1, u2 := f.push(t, "u1", ""), f.push(t, "u2", "")
	p := f.putPolicy(t, keepOneUntagged)
	run, err := f.run.RunRepository(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if run.Expired != 0 || run.Skipped != 1 || raced != 1 {
		t.Errorf("run = %+v (raced %d), want the one decision skipped", run, raced)
	}
	if f.status(t, u1) != "ACTIVE" || f.status(t, u2) != "ACTIVE" {
		t.Error("an image tagged after the evaluation was expired")
	}
	if len(f.rec.execs) != 1 || len(f.rec.execs[0].Actions) != 0 {
		t.Errorf("executions %+v, want one without actions", f.rec.execs)
	}
}

func TestRecorderFailureIsReported(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	f.push(t, "u1", "")
	f.push(t, "u2", "")
	f.rec.err = errors.New("audit store down")
	p := f.putPolicy(t, keepOneUntagged)
	if _, err := f.run.RunRepository(context.Background(), p); err == nil || !strings.Contains(err.Error(), "audit store down") {
		t.Errorf("RunRepository = %v, want the recorder's error", err)
	}
	if len(f.rec.execs) != 1 || len(f.rec.execs[0].Actions) != 1 {
		t.Errorf("executions %+v, want the action recorded", f.rec.execs)
	}
}

func TestDefaultRecorderLogs(t *testing.T) {
	t.Parallel()
	env := registrytest.New(t, registry.Options{})
	var buf strings.Builder
	r, err := lifecyclerun.New(lifecyclerun.Options{Store: env.Meta, Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	repo := env.CreateRepository(t, registrytest.Account, "logged")
	for _, n := range []string{"a", "b"} {
		env.Push(t, registrytest.Root(registrytest.Account), registrytest.Ref(registrytest.Account, "logged"), "",
			registrytest.Image{Config: []byte(`{"n":"` + n + `"}`), Layers: [][]byte{[]byte(n)}})
		env.Clock.Advance(time.Hour)
	}
	_, err = env.Meta.PutLifecyclePolicy(context.Background(), metastore.LifecyclePolicy{RepositoryID: repo.ID, Text: keepOneUntagged, PolicyID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.RunPolicies(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"msg":"lifecycle policy executed"`) || !strings.Contains(buf.String(), `"expired":1`) {
		t.Errorf("log %s, want the run's summary", buf.String())
	}
}

func TestPreviewOfAnInvalidTextFails(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	// The API validates texts; the store takes any, so a preview of a text
	// a later parser refuses ends FAILED rather than staying IN_PROGRESS.
	if _, err := f.env.Meta.StartLifecyclePreview(context.Background(), f.repo.ID, `{"rules":[]}`); err != nil {
		t.Fatal(err)
	}
	if err := f.run.RunPreviews(context.Background()); err != nil {
		t.Fatal(err)
	}
	p, err := f.env.Meta.GetLifecyclePreview(context.Background(), f.repo.ID)
	if err != nil || p.Status != metastore.PreviewFailed || !strings.Contains(p.Failure, "100") {
		t.Errorf("preview = %+v (%v), want FAILED with the parser's message", p, err)
	}
}

func counter(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: "copy"}, func() float64 {
				return mf.GetMetric()[0].GetCounter().GetValue()
			})
		}
	}
	t.Fatalf("metric %s not registered", name)
	return nil
}

// TestCandidatesAcrossPages: with the store read in pages of two, the
// decisions still land on the right images (previews and runs).
func TestCandidatesAcrossPages(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	var us []digest.Digest
	for i := range 5 {
		us = append(us, f.push(t, fmt.Sprint("u", i), ""))
	}
	p := f.putPolicy(t, keepOneUntagged)
	run, err := lifecyclerun.New(lifecyclerun.Options{Store: f.env.Meta, Recorder: f.rec, Clock: f.env.Clock.Now, CandidatePage: 2})
	if err != nil {
		t.Fatal(err)
	}
	pv, err := f.env.Meta.StartLifecyclePreview(context.Background(), f.repo.ID, keepOneUntagged)
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Preview(context.Background(), pv); err != nil {
		t.Fatal(err)
	}
	res, err := f.env.Meta.LifecyclePreviewResults(context.Background(), f.repo.ID, metastore.PreviewResultFilter{}, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []digest.Digest
	for _, r := range res {
		got = append(got, r.Digest)
	}
	if want := []digest.Digest{us[3], us[2], us[1], us[0]}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("preview %v, want %v (newest first, all but the newest)", got, want)
	}
	if _, err := run.RunRepository(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	for i, d := range us {
		want := metastore.ImageStatus("DELETED")
		if i == 4 {
			want = metastore.ImageActive
		}
		if got := f.status(t, d); got != want {
			t.Errorf("u%d: %s, want %s", i, got, want)
		}
	}
}

// brokenRepoStore fails every candidate read of one repository.
type brokenRepoStore struct {
	lifecyclerun.Store
	broken int64
}

func (s brokenRepoStore) LifecycleCandidates(ctx context.Context, repoID int64, p metastore.Page) ([]metastore.LifecycleImage, error) {
	if repoID == s.broken {
		return nil, errors.New("statement timeout")
	}
	return s.Store.LifecycleCandidates(ctx, repoID, p)
}

// TestPreviewFailureHoldsUpNoOther: a preview whose store reads keep
// failing stays pending and the job reports it, but the previews after it
// (younger ones) are still computed.
func TestPreviewFailureHoldsUpNoOther(t *testing.T) {
	t.Parallel()
	store := &brokenRepoStore{}
	f := newFixture(t, store)
	store.Store = f.env.Meta
	other := f.env.CreateRepository(t, registrytest.Account, "life/other")
	store.broken = f.repo.ID
	ctx := context.Background()
	for _, id := range []int64{f.repo.ID, other.ID} { // the broken one is the oldest
		if _, err := f.env.Meta.StartLifecyclePreview(ctx, id, keepOneUntagged); err != nil {
			t.Fatal(err)
		}
		f.env.Clock.Advance(time.Second)
	}
	if err := f.run.RunPreviews(ctx); err == nil || !strings.Contains(err.Error(), "statement timeout") {
		t.Errorf("RunPreviews = %v, want the broken repository's error", err)
	}
	if p, err := f.env.Meta.GetLifecyclePreview(ctx, other.ID); err != nil || p.Status != metastore.PreviewComplete {
		t.Errorf("the other repository's preview = %+v, %v; want COMPLETE", p, err)
	}
	if p, err := f.env.Meta.GetLifecyclePreview(ctx, f.repo.ID); err != nil || p.Status != metastore.PreviewInProgress {
		t.Errorf("the broken repository's preview = %+v, %v; want still IN_PROGRESS", p, err)
	}
}

// TestTriggeredRunEvaluatesOnlyWhatChanged: with the job's interval known,
// a run right after another (what putting one policy triggers) evaluates
// only the policy never evaluated under its text; a run half an interval
// later evaluates them all.
func TestTriggeredRunEvaluatesOnlyWhatChanged(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	other := f.env.CreateRepository(t, registrytest.Account, "life/other")
	ctx := context.Background()
	put := func(repoID int64, id string) {
		t.Helper()
		if _, err := f.env.Meta.PutLifecyclePolicy(ctx, metastore.LifecyclePolicy{RepositoryID: repoID, Text: keepOneUntagged, PolicyID: id}); err != nil {
			t.Fatal(err)
		}
	}
	put(f.repo.ID, "a1")
	put(other.ID, "b1")
	run, err := lifecyclerun.New(lifecyclerun.Options{Store: f.env.Meta, Clock: f.env.Clock.Now, Region: registrytest.Region,
		Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	evaluated := func() map[int64]time.Time {
		t.Helper()
		out := map[int64]time.Time{}
		for _, id := range []int64{f.repo.ID, other.ID} {
			p, err := f.env.Meta.GetLifecyclePolicy(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			out[id] = p.LastEvaluatedAt
		}
		return out
	}
	if err := run.RunPolicies(ctx); err != nil {
		t.Fatal(err)
	}
	first := evaluated()
	f.env.Clock.Advance(time.Minute)
	put(f.repo.ID, "a2") // triggers a run
	if err := run.RunPolicies(ctx); err != nil {
		t.Fatal(err)
	}
	second := evaluated()
	if !second[f.repo.ID].After(first[f.repo.ID]) || !second[other.ID].Equal(first[other.ID]) {
		t.Errorf("after a put: evaluated at %v (before %v); want only the changed policy evaluated again", second, first)
	}
	f.env.Clock.Advance(31 * time.Minute)
	if err := run.RunPolicies(ctx); err != nil {
		t.Fatal(err)
	}
	if third := evaluated(); !third[other.ID].After(second[other.ID]) || !third[f.repo.ID].After(second[f.repo.ID]) {
		t.Errorf("half an interval later: evaluated at %v (before %v); want both evaluated", third, second)
	}
}
