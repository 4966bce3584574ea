package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/metastore"
)

var auditCases = []testCase{
	{"AppendLinksChain", testAuditAppend},
	{"Lookup", testAuditLookup},
	{"Scan", testAuditScan},
	{"DeleteBefore", testAuditDeleteBefore},
	{"ConcurrentAppends", testAuditConcurrent},
	{"BadInput", testAuditBadInput},
}

// auditEntry makes an entry whose body names it.
func auditEntry(name string, at time.Time, principal, repo string) metastore.AuditEntry {
	return metastore.AuditEntry{Time: at, EventName: name, EventSource: "ecr.amazonaws.com",
		PrincipalARN: "arn:aws:iam::123456789012:user/" + principal, UserName: principal, AccessKeyID: "AKID" + principal,
		ResourceARN: "arn:aws:ecr:us-east-1:123456789012:repository/" + repo, Repository: repo,
		Body: []byte(fmt.Sprintf(`{"eventName":%q,"at":%d}`, name, at.UnixNano()))}
}

func mustAppend(t *testing.T, s metastore.Store, es ...metastore.AuditEntry) []metastore.AuditEntry {
	t.Helper()
	noErr(t, "AppendAudit", s.AppendAudit(ctxOf(t), es))
	return es
}

// wantLinked checks es are consecutive links of the chain after prev.
func wantLinked(t *testing.T, es []metastore.AuditEntry, seq int64, prev string) {
	t.Helper()
	for _, e := range es {
		seq++
		if e.Seq != seq || e.PrevHash != prev || e.Hash != metastore.AuditHash(prev, seq, e.Body) {
			t.Fatalf("entry %d (%s): seq %d prev %.8s hash %.8s, want seq %d prev %.8s hash %.8s", seq, e.EventName,
				e.Seq, e.PrevHash, e.Hash, seq, prev, metastore.AuditHash(prev, seq, e.Body))
		}
		prev = e.Hash
	}
}

func testAuditAppend(t *testing.T, s metastore.Store) {
	c, err := s.AuditChain(ctxOf(t))
	noErr(t, "AuditChain", err)
	if c != (metastore.AuditChain{AnchorHash: metastore.AuditGenesis, HeadHash: metastore.AuditGenesis}) {
		t.Fatalf("empty chain = %+v", c)
	}
	a := mustAppend(t, s, auditEntry("CreateRepository", time1, "alice", "r1"), auditEntry("PutImage", time1, "bob", "r1"))
	wantLinked(t, a, 0, metastore.AuditGenesis)
	b := mustAppend(t, s, auditEntry("BatchGetImage", time2, "bob", "r2"))
	wantLinked(t, b, 2, a[1].Hash)
	got, err := s.ScanAudit(ctxOf(t), metastore.AuditFilter{}, 0, 10)
	noErr(t, "ScanAudit", err)
	if len(got) != 3 {
		t.Fatalf("ScanAudit = %d entries, want 3", len(got))
	}
	wantLinked(t, got, 0, metastore.AuditGenesis)
	want := append(a, b...)
	for i, g := range got {
		w := want[i]
		wantTime(t, "Time", g.Time, w.Time)
		g.Time, w.Time = time.Time{}, time.Time{}
		if fmt.Sprint(g) != fmt.Sprint(w) {
			t.Errorf("stored entry %d\n got %+v\nwant %+v", i, g, w)
		}
	}
	c, err = s.AuditChain(ctxOf(t))
	noErr(t, "AuditChain", err)
	if c.HeadSeq != 3 || c.HeadHash != b[0].Hash || c.AnchorSeq != 0 || c.AnchorHash != metastore.AuditGenesis {
		t.Errorf("chain after appends = %+v", c)
	}
}

func seqsOf(es []metastore.AuditEntry) []int64 {
	out := make([]int64, len(es))
	for i, e := range es {
		out[i] = e.Seq
	}
	return out
}

func testAuditLookup(t *testing.T, s metastore.Store) {
	t0 := time1.Add(time.Hour)
	mustAppend(t, s,
		auditEntry("CreateRepository", t0, "alice", "r1"),                 // 1
		auditEntry("PutImage", t0.Add(time.Minute), "bob", "r1"),          // 2
		auditEntry("PutImage", t0.Add(2*time.Minute), "bob", "r2"),        // 3
		auditEntry("BatchGetImage", t0.Add(3*time.Minute), "carol", "r2"), // 4
	)
	cases := []struct {
		name string
		f    metastore.AuditFilter
		want []int64
	}{
		{"all", metastore.AuditFilter{}, []int64{4, 3, 2, 1}},
		{"start", metastore.AuditFilter{Start: t0.Add(time.Minute)}, []int64{4, 3, 2}},
		{"end exclusive", metastore.AuditFilter{End: t0.Add(2 * time.Minute)}, []int64{2, 1}},
		{"range", metastore.AuditFilter{Start: t0.Add(time.Minute), End: t0.Add(3 * time.Minute)}, []int64{3, 2}},
		{"name", metastore.AuditFilter{EventName: "PutImage"}, []int64{3, 2}},
		{"principal arn", metastore.AuditFilter{Principal: "arn:aws:iam::123456789012:user/alice"}, []int64{1}},
		{"user name", metastore.AuditFilter{Principal: "bob"}, []int64{3, 2}},
		{"access key", metastore.AuditFilter{Principal: "AKIDcarol"}, []int64{4}},
		{"repository", metastore.AuditFilter{Resource: "r1"}, []int64{2, 1}},
		{"resource arn", metastore.AuditFilter{Resource: "arn:aws:ecr:us-east-1:123456789012:repository/r2"}, []int64{4, 3}},
		{"combined", metastore.AuditFilter{EventName: "PutImage", Resource: "r2", Principal: "bob"}, []int64{3}},
		{"none", metastore.AuditFilter{EventName: "DeleteRepository"}, nil},
	}
	for _, tc := range cases {
		got, err := s.LookupAudit(ctxOf(t), tc.f, 0, 10)
		noErr(t, tc.name, err)
		if fmt.Sprint(seqsOf(got)) != fmt.Sprint(tc.want) {
			t.Errorf("%s: seqs %v, want %v", tc.name, seqsOf(got), tc.want)
		}
	}
	// Pages: newest first, the next page before the last seq returned.
	p1, err := s.LookupAudit(ctxOf(t), metastore.AuditFilter{}, 0, 3)
	noErr(t, "page 1", err)
	p2, err := s.LookupAudit(ctxOf(t), metastore.AuditFilter{}, p1[len(p1)-1].Seq, 3)
	noErr(t, "page 2", err)
	if fmt.Sprint(seqsOf(p1), seqsOf(p2)) != "[4 3 2] [1]" {
		t.Errorf("pages %v %v, want [4 3 2] [1]", seqsOf(p1), seqsOf(p2))
	}
}

func testAuditScan(t *testing.T, s metastore.Store) {
	for i := 0; i < 5; i++ {
		mustAppend(t, s, auditEntry(fmt.Sprintf("Op%d", i%2), time1.Add(time.Duration(i)*time.Second), "u", "r"))
	}
	got, err := s.ScanAudit(ctxOf(t), metastore.AuditFilter{}, 2, 2)
	noErr(t, "ScanAudit", err)
	if fmt.Sprint(seqsOf(got)) != "[3 4]" {
		t.Errorf("ScanAudit after 2, limit 2 = %v, want [3 4]", seqsOf(got))
	}
	got, err = s.ScanAudit(ctxOf(t), metastore.AuditFilter{EventName: "Op0", Start: time1.Add(time.Second)}, 0, 10)
	noErr(t, "ScanAudit filtered", err)
	if fmt.Sprint(seqsOf(got)) != "[3 5]" {
		t.Errorf("ScanAudit Op0 from 1s = %v, want [3 5]", seqsOf(got))
	}
}

func testAuditDeleteBefore(t *testing.T, s metastore.Store) {
	var all []metastore.AuditEntry
	for i := 0; i < 6; i++ {
		all = append(all, mustAppend(t, s, auditEntry("PutImage", time1.Add(time.Duration(i)*time.Hour), "u", "r"))...)
	}
	// Limit 2: the two oldest go; the anchor is the second.
	n, err := s.DeleteAuditBefore(ctxOf(t), time1.Add(4*time.Hour), 2)
	noErr(t, "DeleteAuditBefore", err)
	c, err := s.AuditChain(ctxOf(t))
	noErr(t, "AuditChain", err)
	if n != 2 || c.AnchorSeq != 2 || c.AnchorHash != all[1].Hash || c.HeadSeq != 6 || c.HeadHash != all[5].Hash {
		t.Fatalf("after deleting %d: chain %+v", n, c)
	}
	// Without a tight limit it stops at the first record not older.
	n, err = s.DeleteAuditBefore(ctxOf(t), time1.Add(4*time.Hour), 100)
	noErr(t, "DeleteAuditBefore", err)
	rest, err := s.ScanAudit(ctxOf(t), metastore.AuditFilter{}, 0, 10)
	noErr(t, "ScanAudit", err)
	if n != 2 || fmt.Sprint(seqsOf(rest)) != "[5 6]" {
		t.Fatalf("deleted %d, left %v; want 2, [5 6]", n, seqsOf(rest))
	}
	c, err = s.AuditChain(ctxOf(t))
	noErr(t, "AuditChain", err)
	if c.AnchorSeq != 4 || c.AnchorHash != rest[0].PrevHash {
		t.Errorf("anchor %d %.8s, want 4 %.8s", c.AnchorSeq, c.AnchorHash, rest[0].PrevHash)
	}
	n, err = s.DeleteAuditBefore(ctxOf(t), time1, 100)
	noErr(t, "DeleteAuditBefore none", err)
	if n != 0 {
		t.Errorf("deleted %d records older than the oldest", n)
	}
	// Appends continue the chain from the head.
	more := mustAppend(t, s, auditEntry("BatchGetImage", time2, "u", "r"))
	wantLinked(t, more, 6, all[5].Hash)
}

func testAuditConcurrent(t *testing.T, s metastore.Store) {
	const writers, batches, per = 6, 8, 3
	var wg sync.WaitGroup
	errs := make(chan error, writers*batches)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := 0; b < batches; b++ {
				var es []metastore.AuditEntry
				for i := 0; i < per; i++ {
					es = append(es, auditEntry(fmt.Sprintf("W%dB%dI%d", w, b, i), time1, "u", "r"))
				}
				errs <- s.AppendAudit(ctxOf(t), es)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		noErr(t, "concurrent AppendAudit", err)
	}
	var got []metastore.AuditEntry
	for after := int64(0); ; {
		page, err := s.ScanAudit(ctxOf(t), metastore.AuditFilter{}, after, 50)
		noErr(t, "ScanAudit", err)
		if len(page) == 0 {
			break
		}
		got, after = append(got, page...), page[len(page)-1].Seq
	}
	if len(got) != writers*batches*per {
		t.Fatalf("%d records, want %d", len(got), writers*batches*per)
	}
	wantLinked(t, got, 0, metastore.AuditGenesis)
	// A batch is contiguous: nothing interleaves inside an append.
	for i := 0; i < len(got); i += per {
		for j := 1; j < per; j++ {
			if got[i+j].EventName[:len(got[i+j].EventName)-1] != got[i].EventName[:len(got[i].EventName)-1] {
				t.Fatalf("batch split: %s after %s", got[i+j].EventName, got[i].EventName)
			}
		}
	}
}

func testAuditBadInput(t *testing.T, s metastore.Store) {
	if err := s.AppendAudit(ctxOf(t), []metastore.AuditEntry{{EventName: "X", Time: time1}}); err == nil {
		t.Error("AppendAudit without a body succeeded")
	}
	for _, limit := range []int{0, metastore.MaxAuditPage + 1} {
		if _, err := s.LookupAudit(ctxOf(t), metastore.AuditFilter{}, 0, limit); err == nil {
			t.Errorf("LookupAudit limit %d succeeded", limit)
		}
		if _, err := s.ScanAudit(ctxOf(t), metastore.AuditFilter{}, 0, limit); err == nil {
			t.Errorf("ScanAudit limit %d succeeded", limit)
		}
	}
	c, err := s.AuditChain(ctxOf(t))
	noErr(t, "AuditChain", err)
	if c.HeadSeq != 0 {
		t.Errorf("a refused append moved the head to %d", c.HeadSeq)
	}
}
