package s3blob

import "syscall"

// allocBuffer maps n bytes of anonymous memory outside the Go heap, or
// falls back to the heap if the kernel refuses.
func allocBuffer(n int) []byte {
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return make([]byte, n)
	}
	return b
}

// releaseBuffer gives a buffer's pages back to the kernel; it stays
// mapped and reads as zeros until written again. A heap buffer (the
// fallback) is left alone: the advice then fails harmlessly.
func releaseBuffer(b []byte) {
	_ = syscall.Madvise(b, syscall.MADV_DONTNEED)
}
