package s3blob

import (
	"runtime"
	"testing"
	"time"
)

// TestBufferPoolReusesAndReleases checks that buffers are reused, and
// that buffers nobody needed for bufferIdle have their memory released
// (on Linux: they read as zeros) while those in use stay intact.
func TestBufferPoolReusesAndReleases(t *testing.T) {
	now := time.Unix(1000, 0)
	p := newBufferPool(1<<20, func() time.Time { return now })
	var bs []*[]byte
	for range 3 {
		b := p.get()
		for i := range *b {
			(*b)[i] = 0xff
		}
		bs = append(bs, b)
	}
	for _, b := range bs {
		p.put(b)
	}
	if again := p.get(); again != bs[2] {
		t.Fatal("get did not reuse the most recently returned buffer")
	} else {
		p.put(again)
	}
	// The first minute ends: the pool was empty in it, nothing is idle.
	now = now.Add(bufferIdle)
	p.put(p.get())
	// Over the next minute one buffer is in use, the other two stay free:
	// they are released when a buffer comes back after it.
	used := p.get()
	now = now.Add(bufferIdle)
	p.put(used)
	if runtime.GOOS != "linux" {
		return
	}
	released := 0
	for _, b := range bs {
		if (*b)[0] == 0 && (*b)[len(*b)-1] == 0 {
			released++
		} else if (*b)[0] != 0xff {
			t.Fatalf("a buffer holds %#x, want its bytes or zeros", (*b)[0])
		}
	}
	if released != 2 || (*used)[0] != 0xff {
		t.Fatalf("released %d buffers (want the 2 idle ones), the one in use reads %#x", released, (*used)[0])
	}
}
