package blobtest

import (
	"bytes"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/blobstore"
)

// forkCases cover appends that race from one state. The registry service
// records each append's state with a compare-and-swap on the offset, so two
// nodes (or two requests) holding the same recorded state may both append
// at its offset; one then loses the swap. Whichever state is recorded must
// describe exactly the bytes its own append wrote.
func forkCases() []testCase {
	return []testCase{
		{"ConcurrentAppendsFromOneState", testConcurrentAppendsFromOneState},
		{"ConcurrentCommitsOfForkedStates", testConcurrentCommitsOfForkedStates},
		{"ConcurrentCommitsOfOneState", testConcurrentCommitsOfOneState},
		{"ManyAppends", testManyAppends},
	}
}

// concat returns the concatenation of parts in a new slice.
func concat(parts ...[]byte) []byte {
	return bytes.Join(parts, nil)
}

// meetReader yields r, but once it has handed out half bytes it waits (at
// most a few seconds, so a backend that serializes appends cannot deadlock
// the test) until its partner has too: both appends are then in flight.
type meetReader struct {
	r       io.Reader
	half    int64
	arrive  func()
	wait    <-chan struct{}
	arrived bool
}

func (m *meetReader) Read(p []byte) (int, error) {
	if !m.arrived && m.half <= 0 {
		m.arrived = true
		m.arrive()
		select {
		case <-m.wait:
		case <-time.After(3 * time.Second):
		}
	}
	if !m.arrived && int64(len(p)) > m.half {
		p = p[:m.half]
	}
	n, err := m.r.Read(p)
	m.half -= int64(n)
	return n, err
}

// forkAppend appends a and b to st at off at the same time, from two
// goroutines, and returns the state each append produced.
func forkAppend(t *testing.T, s blobstore.Store, st blobstore.UploadState, off int64, a, b []byte) (blobstore.UploadState, blobstore.UploadState) {
	t.Helper()
	var (
		wg     sync.WaitGroup
		meet   sync.WaitGroup
		start  = make(chan struct{})
		both   = make(chan struct{})
		in     = [2][]byte{a, b}
		states [2]blobstore.UploadState
		errs   [2]error
	)
	meet.Add(2)
	go func() { meet.Wait(); close(both) }()
	for i := range 2 {
		wg.Go(func() {
			r := &meetReader{r: bytes.NewReader(in[i]), half: int64(len(in[i]) / 2), arrive: meet.Done, wait: both}
			<-start
			n, next, err := s.AppendUpload(t.Context(), st, off, r)
			if !r.arrived {
				meet.Done() // an empty or failed append never reached half
			}
			switch {
			case err != nil:
				errs[i] = fmt.Errorf("writer %d: AppendUpload %d bytes at %d: %w", i, len(in[i]), off, err)
			case n != int64(len(in[i])):
				errs[i] = fmt.Errorf("writer %d: AppendUpload wrote %d bytes, want %d", i, n, len(in[i]))
			}
			states[i] = next
		})
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return states[0], states[1]
}

// checkUpload asserts that ReadUpload of st returns exactly want.
func checkUpload(t *testing.T, s blobstore.Store, st blobstore.UploadState, want []byte) {
	t.Helper()
	if got := readUpload(t, s, st, int64(len(want))); !bytes.Equal(got, want) {
		t.Fatalf("ReadUpload %d bytes: got %d bytes hashing to %s, want %s",
			len(want), len(got), digest.FromBytes(got), digest.FromBytes(want))
	}
}

// testConcurrentAppendsFromOneState forks an upload with two concurrent
// appends from one state and checks that each resulting state reads back
// and commits exactly its own bytes. Once one state is committed, the
// other may or may not still commit (the upload is released), but if it
// does its blob must be right too.
func testConcurrentAppendsFromOneState(t *testing.T, s blobstore.Store) {
	prefix := Content(91, 70_000)
	for _, tc := range []struct {
		name   string
		prefix [][]byte // appended before the fork
		a, b   []byte
		second bool // commit b's state first
	}{
		{"empty upload, same length", nil, Content(92, 3<<20+17), Content(93, 3<<20+17), false},
		{"same length", chunks(prefix, 1000), Content(94, 3<<20+17), Content(95, 3<<20+17), false},
		{"same length, other wins", chunks(prefix, 1000), Content(96, 3<<20+17), Content(97, 3<<20+17), true},
		{"different lengths", chunks(prefix, 1000), Content(98, 3<<20), Content(99, 1000), false},
		{"different lengths, short wins", chunks(prefix, 1000), Content(100, 3<<20), Content(101, 1000), true},
		{"empty upload, different lengths", nil, Content(102, 1000), Content(103, 2<<20+1), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, off := upload(t, s, tc.prefix...)
			pre := concat(tc.prefix...)
			sa, sb := forkAppend(t, s, st, off, tc.a, tc.b)
			wantA, wantB := concat(pre, tc.a), concat(pre, tc.b)
			checkUpload(t, s, sa, wantA)
			checkUpload(t, s, sb, wantB)
			win, lose, wantWin, wantLose := sa, sb, wantA, wantB
			if tc.second {
				win, lose, wantWin, wantLose = sb, sa, wantB, wantA
			}
			d := digest.FromBytes(wantWin)
			commit(t, s, win, int64(len(wantWin)), d)
			checkBlob(t, s, d, wantWin)
			dl := digest.FromBytes(wantLose)
			if err := s.CommitUpload(t.Context(), lose, int64(len(wantLose)), dl); err != nil {
				t.Logf("committing the other state after the winner: %v (allowed)", err)
				checkMissing(t, s, dl)
			} else {
				checkBlob(t, s, dl, wantLose)
			}
			checkBlob(t, s, d, wantWin)
		})
	}
	// The recorded state goes on: append after the fork, then commit.
	t.Run("winner continues", func(t *testing.T) {
		st, off := upload(t, s, chunks(prefix, 5000)...)
		a, b, c := Content(104, 1<<20+3), Content(105, 2<<20), Content(106, 777)
		sa, _ := forkAppend(t, s, st, off, a, b)
		sa = appendOK(t, s, sa, off+int64(len(a)), c)
		want := concat(prefix, a, c)
		checkUpload(t, s, sa, want)
		d := digest.FromBytes(want)
		commit(t, s, sa, int64(len(want)), d)
		checkBlob(t, s, d, want)
	})
}

// testConcurrentCommitsOfForkedStates commits both states of a fork at
// the same time. At least one commit succeeds, and every blob a commit
// reports stored holds exactly its state's bytes.
func testConcurrentCommitsOfForkedStates(t *testing.T, s blobstore.Store) {
	for round := range 6 {
		var prefix [][]byte
		if round%2 == 1 {
			prefix = chunks(Content(uint64(110+round), 200_000), 50_000)
		}
		st, off := upload(t, s, prefix...)
		a, b := Content(uint64(120+round), 300_000), Content(uint64(130+round), 300_000+round)
		sa, sb := forkAppend(t, s, st, off, a, b)
		pre := concat(prefix...)
		commitRace(t, s, []blobstore.UploadState{sa, sb}, [][]byte{concat(pre, a), concat(pre, b)})
	}
}

// testConcurrentCommitsOfOneState commits one state twice at the same
// time, as two nodes completing one upload would.
func testConcurrentCommitsOfOneState(t *testing.T, s blobstore.Store) {
	for round := range 6 {
		content := Content(uint64(140+round), 400_000+round)
		var st blobstore.UploadState
		if round%2 == 0 {
			st, _ = upload(t, s, content)
		} else {
			st, _ = upload(t, s, chunks(content, 100_000, 1, 99_999)...)
		}
		commitRace(t, s, []blobstore.UploadState{st, st}, [][]byte{content, content})
	}
}

// commitRace commits states[i] under the digest of want[i], all at once.
func commitRace(t *testing.T, s blobstore.Store, states []blobstore.UploadState, want [][]byte) {
	t.Helper()
	errs := make([]error, len(states))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range states {
		wg.Go(func() {
			<-start
			errs[i] = s.CommitUpload(t.Context(), states[i], int64(len(want[i])), digest.FromBytes(want[i]))
		})
	}
	close(start)
	wg.Wait()
	ok := 0
	for i, err := range errs {
		if err != nil {
			t.Logf("commit %d of %d: %v (allowed)", i, len(states), err)
			continue
		}
		ok++
		checkBlob(t, s, digest.FromBytes(want[i]), want[i])
	}
	if ok == 0 {
		t.Fatalf("all %d concurrent commits failed: %v", len(states), errs)
	}
}

// testManyAppends uploads in 50 appends of uneven sizes, reads back
// across append boundaries and commits the exact concatenation.
func testManyAppends(t *testing.T, s blobstore.Store) {
	const n = 50
	var parts [][]byte
	for i := range n {
		size := 1 + (i*7919)%40_000
		if i%10 == 3 {
			size = 1
		}
		parts = append(parts, Content(uint64(150+i), size))
	}
	st, size := upload(t, s, parts...)
	want := concat(parts...)
	if size != int64(len(want)) {
		t.Fatalf("uploaded %d bytes, want %d", size, len(want))
	}
	boundary := int64(len(concat(parts[:10]...)))
	for _, k := range []int64{0, 1, boundary, boundary + 1, boundary - 1, size / 2, size - 1, size} {
		if got := readUpload(t, s, st, k); !bytes.Equal(got, want[:k]) {
			t.Fatalf("ReadUpload %d bytes: got %d wrong bytes", k, len(got))
		}
	}
	d := digest.FromBytes(want)
	commit(t, s, st, size, d)
	checkBlob(t, s, d, want)
	checkWalk(t, s, map[digest.Digest]int64{d: size})
}
