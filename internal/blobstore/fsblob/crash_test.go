package fsblob_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/blobstore"
	"github.com/berth-registry/berth/internal/blobstore/blobtest"
	"github.com/berth-registry/berth/internal/blobstore/fsblob"
)

// crashRootEnv tells the test binary to act as the writer that
// TestCrashSafety kills.
const crashRootEnv = "BERTH_FSBLOB_CRASH_ROOT"

// TestCrashWriter is not a test on its own: run by TestCrashSafety with
// crashRootEnv set, it commits blobs in a loop until it is killed. It gives
// up after a while in case its parent died first.
func TestCrashWriter(t *testing.T) {
	root := os.Getenv(crashRootEnv)
	if root == "" {
		t.Skip("helper process for TestCrashSafety")
	}
	s, err := fsblob.New(root)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; time.Now().Before(deadline); i++ {
		// Small seed space, so that some commits land on existing blobs.
		content := blobtest.Content(rand.Uint64N(64), rand.IntN(1<<20))
		st, err := s.CreateUpload(ctx, blobtest.NewUploadID())
		if err != nil {
			t.Fatal(err)
		}
		var off int64
		for chunk := range slices.Chunk(content, 32<<10+rand.IntN(96<<10)) {
			var n int64
			if n, st, err = s.AppendUpload(ctx, st, off, bytes.NewReader(chunk)); err != nil {
				t.Fatal(err)
			}
			off += n
		}
		if err := s.CommitUpload(ctx, st, off, digest.FromBytes(content)); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			fmt.Println("ready")
		}
	}
}

// TestCrashSafety SIGKILLs a process that commits blobs as fast as it can,
// at random moments, and checks that every file under blobs/ is complete:
// its content hashes to its name. (A kill, unlike a power failure, keeps
// the page cache; the fsyncs are covered by reasoning, not by this test.)
func TestCrashSafety(t *testing.T) {
	if testing.Short() || runtime.GOOS == "windows" {
		t.Skip("needs SIGKILL and a few seconds")
	}
	root := t.TempDir()
	for round := range 8 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashWriter$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashRootEnv+"="+root)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(out).ReadString('\n')
		if strings.TrimSpace(line) != "ready" {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("round %d: writer said %q, %v", round, line, err)
		}
		time.Sleep(time.Duration(rand.IntN(300)) * time.Millisecond)
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		n := checkAllBlobsIntact(t, root)
		checkOnlyUploadsLeft(t, root)
		t.Logf("round %d: %d intact blobs", round, n)
	}
}

// checkOnlyUploadsLeft checks that what a killed writer leaves under
// uploads/ is upload directories of segments, nothing else, all of which
// RemoveStaleUploads recognizes and removes.
func checkOnlyUploadsLeft(t *testing.T, root string) {
	t.Helper()
	for _, f := range files(t, filepath.Join(root, "uploads")) {
		if !segmentFile.MatchString("uploads/" + f) {
			t.Fatalf("stray file uploads/%s", f)
		}
	}
	s, err := fsblob.New(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RemoveStaleUploads(t.Context(), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := uploadEntries(t, root); len(got) != 0 {
		t.Fatalf("uploads/ after sweeping everything: %v", got)
	}
}

// checkAllBlobsIntact hashes every file under root/blobs, compares it with
// the digest its path names, and checks that Walk agrees.
func checkAllBlobsIntact(t *testing.T, root string) int {
	t.Helper()
	onDisk := map[digest.Digest]int64{}
	blobs := filepath.Join(root, "blobs")
	err := filepath.WalkDir(blobs, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(blobs, p)
		parts := strings.Split(filepath.ToSlash(rel), "/")
		if len(parts) != 3 {
			return fmt.Errorf("stray file %s", rel)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		want := digest.NewDigestFromEncoded(digest.Algorithm(parts[0]), parts[2])
		if got := want.Algorithm().FromBytes(b); got != want {
			return fmt.Errorf("%s holds %d bytes hashing to %s", rel, len(b), got)
		}
		onDisk[want] = int64(len(b))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := fsblob.New(root)
	if err != nil {
		t.Fatal(err)
	}
	walked := map[digest.Digest]int64{}
	if err := s.Walk(t.Context(), func(b blobstore.BlobInfo) error {
		walked[b.Digest] = b.Size
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(walked) != len(onDisk) {
		t.Fatalf("Walk found %d blobs, disk holds %d", len(walked), len(onDisk))
	}
	return len(onDisk)
}
