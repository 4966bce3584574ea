package main

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"strings"
	"sync/atomic"
)

// blobPool hands out distinct small blobs: blob i is a 16-byte header (i and
// a per-run nonce) over a shared random tail. Digests are computed ahead of
// each timed run (reserve), so workers only write 16 bytes per blob; a
// worker that runs past the reserve hashes inline.
type blobPool struct {
	size    int
	tail    []byte
	nonce   [8]byte
	queries []string // "digest=sha256:<hex>" of blob i; written only between runs
	next    atomic.Uint64
}

// maxReserve bounds the precomputed digests (about 100 bytes each).
const maxReserve = 4 << 20

func newBlobPool(size int) (*blobPool, error) {
	p := &blobPool{size: size, tail: make([]byte, size)}
	if _, err := rand.Read(p.tail); err != nil {
		return nil, err
	}
	if _, err := rand.Read(p.nonce[:]); err != nil {
		return nil, err
	}
	return p, nil
}

// newBuf returns a buffer holding the shared tail; header makes it blob i.
func (p *blobPool) newBuf() []byte { return append([]byte(nil), p.tail...) }

func (p *blobPool) header(i uint64, buf []byte) {
	binary.BigEndian.PutUint64(buf[0:8], i)
	copy(buf[8:16], p.nonce[:])
}

// take returns the index of a blob nobody has used.
func (p *blobPool) take() uint64 { return p.next.Add(1) - 1 }

// query returns "digest=<digest>" for blob i, whose bytes are in buf.
func (p *blobPool) query(i uint64, buf []byte) string {
	if i < uint64(len(p.queries)) {
		return p.queries[i]
	}
	return "digest=" + sha256Digest(buf)
}

// digest returns blob i's digest (buf holds its bytes).
func (p *blobPool) digest(i uint64, buf []byte) string {
	return strings.TrimPrefix(p.query(i, buf), "digest=")
}

// reserve precomputes digests for the next n blobs. Not safe to call while
// workers run.
func (p *blobPool) reserve(n int) {
	want := min(int(p.next.Load())+n, maxReserve)
	if want <= len(p.queries) {
		return
	}
	buf := p.newBuf()
	for i := len(p.queries); i < want; i++ {
		p.header(uint64(i), buf)
		p.queries = append(p.queries, "digest="+sha256Digest(buf))
	}
}

// manifestTemplate is a small OCI image manifest referencing one config and
// one layer; render writes a sequence number into its annotation so every
// rendering is a distinct manifest of the same length.
type manifestTemplate struct {
	body          []byte
	seqOff        int
	config, layer []byte
	configDigest  string
	layerDigest   string
}

const seqPlaceholder = "################" // 16 hex digits

func newManifestTemplate(layer []byte) manifestTemplate {
	m := manifestTemplate{layer: layer, layerDigest: sha256Digest(layer)}
	m.config = fmt.Appendf(nil,
		`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[%q]},"config":{}}`, m.layerDigest)
	m.configDigest = sha256Digest(m.config)
	body := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},`+
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}],`+
		`"annotations":{"org.example.bench.seq":%q}}`,
		mediaManifest, m.configDigest, len(m.config), m.layerDigest, len(layer), seqPlaceholder)
	m.body = []byte(body)
	m.seqOff = strings.Index(body, seqPlaceholder)
	return m
}

// newBuf returns a copy of the body for one worker to render into.
func (m *manifestTemplate) newBuf() []byte { return append([]byte(nil), m.body...) }

// render makes buf the manifest with sequence number seq.
func (m *manifestTemplate) render(seq uint64, buf []byte) {
	const hexDigits = "0123456789abcdef"
	for i := 15; i >= 0; i-- {
		buf[m.seqOff+i] = hexDigits[seq&15]
		seq >>= 4
	}
}
