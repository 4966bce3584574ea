package storetest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/metastore"
)

var lifecycleCases = []testCase{
	{"PolicyPutGetDelete", testLifecyclePolicy},
	{"PolicyList", testLifecyclePolicyList},
	{"ApplyExpire", testApplyExpire},
	{"ApplyArchive", testApplyArchive},
	{"ApplyRefusesChangedImage", testApplyRefusesChanged},
	{"Preview", testLifecyclePreview},
	{"PreviewResultsPaging", testLifecyclePreviewPaging},
	{"RepositoryDeleteRemovesAll", testLifecycleRepositoryDelete},
}

const lifecycleText = `{"rules":[{"rulePriority":1,"selection":{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}`

func testLifecyclePolicy(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "app")
	_, err := s.GetLifecyclePolicy(ctx, r.ID)
	wantErr(t, "GetLifecyclePolicy(none)", err, metastore.ErrNotFound)
	_, err = s.DeleteLifecyclePolicy(ctx, r.ID)
	wantErr(t, "DeleteLifecyclePolicy(none)", err, metastore.ErrNotFound)
	_, err = s.PutLifecyclePolicy(ctx, metastore.LifecyclePolicy{RepositoryID: 424242, Text: lifecycleText, PolicyID: "x"})
	wantErr(t, "PutLifecyclePolicy(missing repository)", err, metastore.ErrNotFound)

	p1, err := s.PutLifecyclePolicy(ctx, metastore.LifecyclePolicy{RepositoryID: r.ID, Text: lifecycleText, PolicyID: "id-1"})
	noErr(t, "PutLifecyclePolicy", err)
	if p1.Version != 1 || p1.PolicyID != "id-1" || p1.Text != lifecycleText || !p1.LastEvaluatedAt.IsZero() {
		t.Errorf("first put = %+v, want version 1, id-1, never evaluated", p1)
	}
	wantRecent(t, "UpdatedAt", p1.UpdatedAt)
	noErr(t, "MarkLifecycleEvaluated", s.MarkLifecycleEvaluated(ctx, r.ID, "id-1", time1))
	wantErr(t, "MarkLifecycleEvaluated(other policy)", s.MarkLifecycleEvaluated(ctx, r.ID, "id-0", time2), metastore.ErrNotFound)
	got, err := s.GetLifecyclePolicy(ctx, r.ID)
	noErr(t, "GetLifecyclePolicy", err)
	wantTime(t, "LastEvaluatedAt", got.LastEvaluatedAt, time1)

	text2 := lifecycleText + " "
	p2, err := s.PutLifecyclePolicy(ctx, metastore.LifecyclePolicy{RepositoryID: r.ID, Text: text2, PolicyID: "id-2"})
	noErr(t, "PutLifecyclePolicy(again)", err)
	if p2.Version != 2 || p2.PolicyID != "id-2" || p2.Text != text2 || !p2.LastEvaluatedAt.IsZero() {
		t.Errorf("second put = %+v, want version 2, id-2, the new text, never evaluated", p2)
	}
	del, err := s.DeleteLifecyclePolicy(ctx, r.ID)
	noErr(t, "DeleteLifecyclePolicy", err)
	if del.Text != text2 || del.Version != 2 {
		t.Errorf("deleted = %+v, want the second policy", del)
	}
	_, err = s.GetLifecyclePolicy(ctx, r.ID)
	wantErr(t, "GetLifecyclePolicy(deleted)", err, metastore.ErrNotFound)
}

func testLifecyclePolicyList(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	var ids []int64
	for i, acct := range []string{"111111111111", "222222222222", "111111111111"} {
		r := mustRepo(t, s, acct, fmt.Sprintf("repo%d", i))
		if i == 1 {
			continue // no policy
		}
		_, err := s.PutLifecyclePolicy(ctx, metastore.LifecyclePolicy{RepositoryID: r.ID, Text: lifecycleText, PolicyID: "p"})
		noErr(t, "PutLifecyclePolicy", err)
		ids = append(ids, r.ID)
	}
	var got []metastore.LifecyclePolicy
	var after int64
	for range 5 {
		page, err := s.ListLifecyclePolicies(ctx, after, 1)
		noErr(t, "ListLifecyclePolicies", err)
		if len(page) == 0 {
			break
		}
		got = append(got, page...)
		after = page[len(page)-1].RepositoryID
	}
	if len(got) != 2 || got[0].RepositoryID != ids[0] || got[1].RepositoryID != ids[1] {
		t.Fatalf("listed %+v, want repositories %v", got, ids)
	}
	if got[0].AccountID != "111111111111" || got[0].RepositoryName != "repo0" || got[1].RepositoryName != "repo2" {
		t.Errorf("listed %+v, want names and accounts", got)
	}
	if _, err := s.ListLifecyclePolicies(ctx, 0, 0); err == nil {
		t.Error("ListLifecyclePolicies(limit 0) succeeded, want an error")
	}
}

// candidate returns the image as LifecycleCandidates reports it.
func candidate(t *testing.T, s metastore.Store, repoID int64, d digest.Digest) metastore.LifecycleImage {
	t.Helper()
	all, err := s.LifecycleCandidates(ctxOf(t), repoID, metastore.Page{Limit: 1000})
	noErr(t, "LifecycleCandidates", err)
	for _, li := range all {
		if li.Digest == d {
			return li
		}
	}
	t.Fatalf("image %s is not a candidate", d)
	return metastore.LifecycleImage{}
}

func testApplyExpire(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "app")
	img := newImage(t, s, r.ID, "old", 1)
	mustPut(t, s, img, "v1", "v2")
	child := newImage(t, s, r.ID, "child", 0)
	mustPut(t, s, child)
	mustPut(t, s, newIndex(r.ID, "idx", child.m.Digest))
	evs, err := s.ListEvents(ctx, 0, 1000)
	noErr(t, "ListEvents", err)
	seq := int64(0)
	if len(evs) > 0 {
		seq = evs[len(evs)-1].Seq
	}

	_, err = s.ApplyLifecycleAction(ctx, r.ID, candidate(t, s, r.ID, img.m.Digest), metastore.LifecycleExpire)
	noErr(t, "ApplyLifecycleAction(expire)", err)
	if _, err := s.GetManifest(ctx, r.ID, img.m.Digest); err == nil {
		t.Error("the expired image is still stored")
	}
	evs, err = s.ListEvents(ctx, seq, 100)
	noErr(t, "ListEvents", err)
	var tags []string
	for _, e := range evs {
		if e.ActionType == metastore.ActionDelete && e.Digest == img.m.Digest {
			tags = append(tags, e.Tag)
		}
	}
	slices.Sort(tags)
	// A store without an outbox writes no events: the pushes above showed
	// which kind this is (seq > 0).
	if seq > 0 && !slices.Equal(tags, []string{"v1", "v2"}) {
		t.Errorf("DELETE events for tags %v, want v1 and v2", tags)
	}
	_, err = s.ApplyLifecycleAction(ctx, r.ID, candidate(t, s, r.ID, child.m.Digest), metastore.LifecycleExpire)
	wantErr(t, "ApplyLifecycleAction(index child)", err, metastore.ErrReferenced)
	gone := metastore.LifecycleImage{Image: metastore.Image{Digest: img.m.Digest}}
	_, err = s.ApplyLifecycleAction(ctx, r.ID, gone, metastore.LifecycleExpire)
	wantErr(t, "ApplyLifecycleAction(gone)", err, metastore.ErrNotFound)
}

func testApplyArchive(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "app")
	img := newImage(t, s, r.ID, "img", 0)
	mustPut(t, s, img, "v1")
	sig := newImage(t, s, r.ID, "sig", 0)
	sig.m.Subject = img.m.Digest
	mustPut(t, s, sig)
	changes, err := s.ApplyLifecycleAction(ctx, r.ID, candidate(t, s, r.ID, img.m.Digest), metastore.LifecycleArchive)
	noErr(t, "ApplyLifecycleAction(archive)", err)
	wantChanges(t, "archive", changes, r.ID, metastore.ImageActive, metastore.ImageArchived, img.m.Digest, sig.m.Digest)
	_, err = s.ApplyLifecycleAction(ctx, r.ID, candidate(t, s, r.ID, img.m.Digest), metastore.LifecycleArchive)
	wantErr(t, "ApplyLifecycleAction(archived)", err, metastore.ErrStorageClassUnsupported)
	// An archived image expires (sinceImageTransitioned).
	_, err = s.ApplyLifecycleAction(ctx, r.ID, candidate(t, s, r.ID, sig.m.Digest), metastore.LifecycleExpire)
	noErr(t, "ApplyLifecycleAction(expire archived)", err)
}

func testApplyRefusesChanged(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "app")
	img := newImage(t, s, r.ID, "img", 0)
	mustPut(t, s, img, "v1")
	seen := candidate(t, s, r.ID, img.m.Digest)

	mustPut(t, s, img, "v2") // re-tagged after the evaluation
	_, err := s.ApplyLifecycleAction(ctx, r.ID, seen, metastore.LifecycleExpire)
	wantErr(t, "ApplyLifecycleAction(re-tagged)", err, metastore.ErrConflict)

	seen = candidate(t, s, r.ID, img.m.Digest)
	_, err = s.RecordPullTimes(ctx, []metastore.PullTime{{RepositoryID: r.ID, Digest: img.m.Digest, At: time2}}, 0)
	noErr(t, "RecordPullTimes", err)
	_, err = s.ApplyLifecycleAction(ctx, r.ID, seen, metastore.LifecycleArchive)
	wantErr(t, "ApplyLifecycleAction(pulled)", err, metastore.ErrConflict)

	noErr(t, "DeleteTag", s.DeleteTag(ctx, r.ID, "v2"))
	seen = candidate(t, s, r.ID, img.m.Digest)
	mustPut(t, s, img, "v1") // the same tag pushed again: unchanged
	_, err = s.ApplyLifecycleAction(ctx, r.ID, seen, metastore.LifecycleExpire)
	noErr(t, "ApplyLifecycleAction(unchanged)", err)
	if _, err := s.GetManifest(ctx, r.ID, img.m.Digest); err == nil {
		t.Error("the image is still stored")
	}
}

func testLifecyclePreview(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "app")
	_, err := s.GetLifecyclePreview(ctx, r.ID)
	wantErr(t, "GetLifecyclePreview(none)", err, metastore.ErrNotFound)
	_, err = s.StartLifecyclePreview(ctx, 424242, lifecycleText)
	wantErr(t, "StartLifecyclePreview(missing repository)", err, metastore.ErrNotFound)

	p, err := s.StartLifecyclePreview(ctx, r.ID, lifecycleText)
	noErr(t, "StartLifecyclePreview", err)
	if p.Status != metastore.PreviewInProgress || p.PolicyText != lifecycleText || p.Generation != 1 {
		t.Errorf("started %+v", p)
	}
	wantRecent(t, "CreatedAt", p.CreatedAt)
	_, err = s.StartLifecyclePreview(ctx, r.ID, lifecycleText)
	wantErr(t, "StartLifecyclePreview(in progress)", err, metastore.ErrConflict)
	pending, err := s.PendingLifecyclePreviews(ctx, 10)
	noErr(t, "PendingLifecyclePreviews", err)
	if len(pending) != 1 || pending[0].RepositoryID != r.ID || pending[0].Generation != 1 {
		t.Fatalf("pending = %+v", pending)
	}
	done := p
	done.Status, done.ExpiringCount, done.TransitioningCount = metastore.PreviewComplete, 1, 1
	results := []metastore.LifecyclePreviewResult{
		{Digest: dg("a"), Tags: []string{"x", "y"}, PushedAt: time1, Action: "EXPIRE", RulePriority: 1, StorageClass: metastore.StorageStandard},
		{Digest: dg("b"), PushedAt: time2, Action: "TRANSITION", TargetStorageClass: "ARCHIVE", RulePriority: 2, StorageClass: metastore.StorageStandard},
	}
	noErr(t, "FinishLifecyclePreview", s.FinishLifecyclePreview(ctx, done, results))
	wantErr(t, "FinishLifecyclePreview(again)", s.FinishLifecyclePreview(ctx, done, results), metastore.ErrConflict)
	got, err := s.GetLifecyclePreview(ctx, r.ID)
	noErr(t, "GetLifecyclePreview", err)
	if got.Status != metastore.PreviewComplete || got.ExpiringCount != 1 || got.TransitioningCount != 1 {
		t.Errorf("finished = %+v", got)
	}
	wantRecent(t, "FinishedAt", got.FinishedAt)
	res, err := s.LifecyclePreviewResults(ctx, r.ID, metastore.PreviewResultFilter{}, 0, 10)
	noErr(t, "LifecyclePreviewResults", err)
	if len(res) != 2 || res[0].Position != 1 || res[0].Digest != dg("a") || !slices.Equal(res[0].Tags, []string{"x", "y"}) ||
		res[1].Tags != nil || res[1].TargetStorageClass != "ARCHIVE" || res[1].RulePriority != 2 {
		t.Fatalf("results = %+v", res)
	}
	wantTime(t, "PushedAt", res[0].PushedAt, time1)
	pending, err = s.PendingLifecyclePreviews(ctx, 10)
	noErr(t, "PendingLifecyclePreviews", err)
	if len(pending) != 0 {
		t.Errorf("pending after finish = %+v", pending)
	}

	// A new start replaces the finished preview and drops its results.
	p2, err := s.StartLifecyclePreview(ctx, r.ID, lifecycleText+" ")
	noErr(t, "StartLifecyclePreview(again)", err)
	if p2.Generation != 2 || p2.Status != metastore.PreviewInProgress {
		t.Errorf("restarted %+v", p2)
	}
	res, err = s.LifecyclePreviewResults(ctx, r.ID, metastore.PreviewResultFilter{}, 0, 10)
	noErr(t, "LifecyclePreviewResults", err)
	if len(res) != 0 {
		t.Errorf("a new preview kept %d old results", len(res))
	}
	wantErr(t, "FinishLifecyclePreview(stale generation)", s.FinishLifecyclePreview(ctx, done, nil), metastore.ErrConflict)
	failed := p2
	failed.Status, failed.Failure = metastore.PreviewFailed, "boom"
	noErr(t, "FinishLifecyclePreview(failed)", s.FinishLifecyclePreview(ctx, failed, nil))
	got, err = s.GetLifecyclePreview(ctx, r.ID)
	noErr(t, "GetLifecyclePreview", err)
	if got.Status != metastore.PreviewFailed || got.Failure != "boom" {
		t.Errorf("failed preview = %+v", got)
	}
}

func testLifecyclePreviewPaging(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "app")
	p, err := s.StartLifecyclePreview(ctx, r.ID, lifecycleText)
	noErr(t, "StartLifecyclePreview", err)
	var results []metastore.LifecyclePreviewResult
	for i := range 5500 { // results span six chunks of storage, more than one read takes
		res := metastore.LifecyclePreviewResult{Digest: dg(fmt.Sprint(i)), PushedAt: time1, Action: "EXPIRE",
			RulePriority: 1, StorageClass: metastore.StorageStandard}
		if i%3 == 0 {
			res.Tags = []string{fmt.Sprint("t", i)}
		}
		results = append(results, res)
	}
	p.Status, p.ExpiringCount = metastore.PreviewComplete, len(results)
	noErr(t, "FinishLifecyclePreview", s.FinishLifecyclePreview(ctx, p, results))
	var all []metastore.LifecyclePreviewResult
	var after int64
	for range 100 {
		page, err := s.LifecyclePreviewResults(ctx, r.ID, metastore.PreviewResultFilter{TagStatus: metastore.TagStatusTagged}, after, 70)
		noErr(t, "LifecyclePreviewResults", err)
		all = append(all, page...)
		if len(page) < 70 {
			break
		}
		after = page[len(page)-1].Position
	}
	if len(all) != 1834 {
		t.Fatalf("%d tagged results, want 1834", len(all))
	}
	for i, res := range all {
		if res.Digest != dg(fmt.Sprint(i*3)) || res.Position != int64(i*3+1) {
			t.Fatalf("tagged result %d = %+v, want image %d at position %d", i, res, i*3, i*3+1)
		}
	}
	untagged, err := s.LifecyclePreviewResults(ctx, r.ID, metastore.PreviewResultFilter{TagStatus: metastore.TagStatusUntagged}, 990, 2000)
	noErr(t, "LifecyclePreviewResults(untagged)", err)
	if len(untagged) != 2000 || untagged[0].Position != 992 || untagged[0].Digest != dg("991") {
		t.Errorf("%d untagged results after position 990 (first %+v), want 2000 (the limit) from position 992", len(untagged), untagged[0])
	}
	some, err := s.LifecyclePreviewResults(ctx, r.ID, metastore.PreviewResultFilter{Digests: []digest.Digest{dg("7"), dg("2499"), dg("5499"), dg("nope")}}, 0, 10)
	noErr(t, "LifecyclePreviewResults(digests)", err)
	if len(some) != 3 || some[0].Digest != dg("7") || some[1].Digest != dg("2499") || some[1].Position != 2500 ||
		some[2].Digest != dg("5499") || some[2].Position != 5500 {
		t.Errorf("by digest = %+v", some)
	}
	if _, err := s.LifecyclePreviewResults(ctx, r.ID, metastore.PreviewResultFilter{TagStatus: "BOTH"}, 0, 10); err == nil {
		t.Error("an unknown tag status was accepted")
	}
}

func testLifecycleRepositoryDelete(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	r := mustRepo(t, s, "111111111111", "app")
	_, err := s.PutLifecyclePolicy(ctx, metastore.LifecyclePolicy{RepositoryID: r.ID, Text: lifecycleText, PolicyID: "p"})
	noErr(t, "PutLifecyclePolicy", err)
	p, err := s.StartLifecyclePreview(ctx, r.ID, lifecycleText)
	noErr(t, "StartLifecyclePreview", err)
	p.Status = metastore.PreviewComplete
	noErr(t, "FinishLifecyclePreview", s.FinishLifecyclePreview(ctx, p, []metastore.LifecyclePreviewResult{
		{Digest: dg("a"), PushedAt: time1, Action: "EXPIRE", RulePriority: 1, StorageClass: metastore.StorageStandard}}))
	noErr(t, "DeleteRepository", s.DeleteRepository(ctx, r.ID, true))
	_, err = s.GetLifecyclePolicy(ctx, r.ID)
	wantErr(t, "GetLifecyclePolicy(after delete)", err, metastore.ErrNotFound)
	_, err = s.GetLifecyclePreview(ctx, r.ID)
	wantErr(t, "GetLifecyclePreview(after delete)", err, metastore.ErrNotFound)
	res, err := s.LifecyclePreviewResults(ctx, r.ID, metastore.PreviewResultFilter{}, 0, 10)
	noErr(t, "LifecyclePreviewResults", err)
	if len(res) != 0 {
		t.Errorf("%d results left after the repository was deleted", len(res))
	}
	list, err := s.ListLifecyclePolicies(ctx, 0, 10)
	noErr(t, "ListLifecyclePolicies", err)
	if len(list) != 0 {
		t.Errorf("policies left: %+v", list)
	}
}
