//go:build !linux

package s3blob

// allocBuffer allocates on the Go heap where mapping is not implemented.
func allocBuffer(n int) []byte { return make([]byte, n) }

// releaseBuffer leaves heap buffers to the garbage collector's pool.
func releaseBuffer([]byte) {}
