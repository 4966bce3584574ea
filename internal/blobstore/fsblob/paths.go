package fsblob

// On-disk layout. Every path the store touches is built by one function in
// this file, so the layout is documented and validated in one place.
//
//	<root>/
//	  blobs/                           committed, immutable blobs
//	    <algorithm>/                   "sha256", "sha384", "sha512"
//	      <first two hex>/             shard, keeps directories small
//	        <hex>                      the blob's bytes, nothing else
//	  uploads/                         uploads in progress
//	    <id>/                          one directory per upload; id is a UUID
//	      <16 hex>                     one segment per append, named at random
//
// An upload's bytes are the concatenation of the segments its state lists,
// each cut to the size the state records. An append never writes into an
// existing file: it creates a new segment (O_EXCL), so two appends racing
// from one state (two nodes, one loses the compare-and-swap on the offset)
// write disjoint files, and whichever state the caller records describes
// exactly its own bytes. Segments no recorded state lists are garbage; the
// commit or abort that releases the upload removes its whole directory.
//
// A file appears under blobs/ only by rename(2) of a fully written and
// fsynced segment, and uploads/ lives under the same root, so the rename
// never crosses a filesystem and a crash never leaves a partial blob. Both
// trees must therefore be on one filesystem; do not mount blobs/ separately.
//
// Shard directories are never removed: removing one could race a commit that
// has just created it, and there are at most 256 per algorithm.

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/opencontainers/go-digest"

	// Register the hashes go-digest validates against; without these every
	// digest is "unsupported".
	_ "crypto/sha256"
	_ "crypto/sha512"
)

const (
	blobsDirName   = "blobs"
	uploadsDirName = "uploads"
)

var (
	// errInvalidUploadID reports an upload id that is not a canonical UUID.
	errInvalidUploadID = errors.New("fsblob: invalid upload id")
	// errInvalidSegmentName reports a segment name this store did not make.
	errInvalidSegmentName = errors.New("fsblob: invalid segment name")
)

// layout turns keys into paths under one root.
type layout struct {
	root string
}

// blobsDir is the top of the committed-blob tree.
func (l layout) blobsDir() string {
	return filepath.Join(l.root, blobsDirName)
}

// uploadsDir holds one directory per upload in progress.
func (l layout) uploadsDir() string {
	return filepath.Join(l.root, uploadsDirName)
}

// algorithmDir holds the shards of one digest algorithm.
func (l layout) algorithmDir(alg digest.Algorithm) string {
	return filepath.Join(l.blobsDir(), string(alg))
}

// blobDir is the shard directory a blob lives in. d must be valid.
func (l layout) blobDir(d digest.Digest) string {
	return filepath.Join(l.algorithmDir(d.Algorithm()), d.Encoded()[:2])
}

// blobPath is where the committed blob d lives. It rejects anything that is
// not a valid digest of a supported algorithm: the encoded part is then
// lowercase hex of fixed length and cannot name another directory.
func (l layout) blobPath(d digest.Digest) (string, error) {
	if err := d.Validate(); err != nil {
		return "", fmt.Errorf("fsblob: invalid digest %q: %w", d, err)
	}
	return filepath.Join(l.blobDir(d), d.Encoded()), nil
}

// uploadDir is the directory that holds the segments of upload id. Only
// canonical lowercase UUIDs are accepted, so an id can never contain a
// separator or "..": the path stays inside uploads/.
func (l layout) uploadDir(id string) (string, error) {
	if !validUploadID(id) {
		return "", fmt.Errorf("%w: %q", errInvalidUploadID, id)
	}
	return filepath.Join(l.uploadsDir(), id), nil
}

// segmentPath is where one segment of upload id lives. The name must be
// exactly segmentNameLen lowercase hex digits, so it too stays in place.
func (l layout) segmentPath(id, name string) (string, error) {
	dir, err := l.uploadDir(id)
	if err != nil {
		return "", err
	}
	if !validSegmentName(name) {
		return "", fmt.Errorf("%w: %q", errInvalidSegmentName, name)
	}
	return filepath.Join(dir, name), nil
}

// segmentNameLen is the length of a segment name: 64 random bits in hex.
const segmentNameLen = 16

// newSegmentName returns a fresh random segment name. Creation uses O_EXCL,
// so a collision (one in 2^64 per pair) fails instead of sharing a file.
func newSegmentName() string {
	var b [segmentNameLen / 2]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// validSegmentName reports whether name is segmentNameLen lowercase hex
// digits, the only names segments get.
func validSegmentName(name string) bool {
	if len(name) != segmentNameLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// validUploadID reports whether id has the form
// xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx in lowercase hex.
func validUploadID(id string) bool {
	if len(id) != 36 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
				return false
			}
		}
	}
	return true
}

// blobDigest reverses blobPath for Walk: it returns the digest named by a
// file at blobs/<alg>/<shard>/<hex>, or false for anything that is not one.
func blobDigest(alg, shard, name string) (digest.Digest, bool) {
	d := digest.NewDigestFromEncoded(digest.Algorithm(alg), name)
	if d.Validate() != nil || name[:2] != shard {
		return "", false
	}
	return d, true
}
