package s3blob

import (
	"bytes"
	"runtime"
	"sync"
	"sync/atomic"
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

// TestBufferPoolTrimRacesNoUser: buffers taken while a trim releases idle
// memory must keep what their user writes. (A trim that released pages
// after unlocking zeroed buffers other appends had just filled, and the
// blobs were stored with those zeros under their right digest.)
func TestBufferPoolTrimRacesNoUser(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("buffers are released only on Linux")
	}
	const buffers, getters, size = 64, 8, 1 << 20
	for trial := range 10 {
		var clock atomic.Int64
		p := newBufferPool(size, func() time.Time { return time.Unix(clock.Load(), 0) })
		var bs []*[]byte
		for range buffers {
			b := p.get()
			setBytes(*b, 1) // resident, so that releasing it takes time
			bs = append(bs, b)
		}
		for _, b := range bs {
			p.put(b)
		}
		clock.Add(int64(bufferIdle / time.Second))
		p.put(p.get()) // the first trim: nothing idle yet, every buffer counts as free from now on
		clock.Add(int64(bufferIdle / time.Second))
		start := make(chan struct{})
		var wg sync.WaitGroup
		taken := make([][]*[]byte, getters)
		for g := range getters {
			wg.Go(func() {
				<-start
				for range buffers / getters {
					b := p.get()
					setBytes(*b, byte(g+2))
					taken[g] = append(taken[g], b)
				}
			})
		}
		close(start)
		p.put(allocPtr(size)) // trims: the free buffers were idle for a minute
		wg.Wait()
		want := make([]byte, size)
		for g, bs := range taken {
			setBytes(want, byte(g+2))
			for _, b := range bs {
				if !bytes.Equal(*b, want) {
					t.Fatalf("trial %d: a buffer in use changed under its user", trial)
				}
			}
		}
	}
}

// setBytes sets every byte of b to v.
func setBytes(b []byte, v byte) {
	if len(b) == 0 {
		return
	}
	b[0] = v
	for n := 1; n < len(b); n *= 2 {
		copy(b[n:], b[:n])
	}
}

func allocPtr(n int) *[]byte {
	b := allocBuffer(n)
	return &b
}
