package s3blob

import (
	"sync"
	"time"
)

// bufferIdle is how long part buffers may sit unused before their memory
// is given back.
const bufferIdle = time.Minute

// bufferPool keeps part buffers for reuse. Buffers come from allocBuffer,
// which on Linux maps them outside the Go heap: the garbage collector lets
// the heap grow to twice what is live before it collects, so buffers on
// the heap would cost up to twice their size in resident memory; mapped
// ones cost their size. A buffer is never unmapped (a transport may still
// read a request body after the request failed); the pages of buffers no
// caller needed for bufferIdle are released instead (releaseBuffer).
type bufferPool struct {
	size int
	now  func() time.Time
	mu   sync.Mutex
	free []*[]byte // a stack: the bottom ones were used least recently
	low  int       // fewest free buffers since the last trim
	last time.Time // of the last trim
}

func newBufferPool(size int, now func() time.Time) *bufferPool {
	return &bufferPool{size: size, now: now, last: now()}
}

// get returns a free buffer or a new one. Its content is undefined.
func (p *bufferPool) get() *[]byte {
	p.mu.Lock()
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		p.low = min(p.low, len(p.free))
		p.mu.Unlock()
		return b
	}
	p.low = 0
	p.mu.Unlock()
	b := allocBuffer(p.size)
	return &b
}

// put returns a buffer. Once per bufferIdle it releases the memory of the
// buffers that stayed free all along (the low-water mark since the last
// trim); they stay in the pool, mapped, and fault in again when reused.
// The release happens under the lock: a buffer released after unlocking
// could already be another caller's, its new bytes zeroed by the kernel.
func (p *bufferPool) put(b *[]byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.free = append(p.free, b)
	if now := p.now(); now.Sub(p.last) >= bufferIdle {
		for _, idle := range p.free[:min(p.low, len(p.free)-1)] {
			releaseBuffer(*idle)
		}
		p.low, p.last = len(p.free), now
	}
}
