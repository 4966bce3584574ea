package s3blob

// Bucket layout. Every key the store touches is built by one function in
// this file, so the layout is documented and validated in one place.
//
//	<prefix>/                            optional; "" keeps keys at the bucket's top
//	  blobs/                             committed, immutable blobs
//	    <algorithm>/                     "sha256", "sha384", "sha512"
//	      <first two hex>/<hex>          the blob's bytes, or an empty link
//	                                     naming a data object (see below)
//	  uploads/                           uploads in progress
//	    <id>/                            one per upload; id is a canonical UUID
//	      live                           empty marker: the upload exists
//	      <32 hex>                       one segment per short append (and
//	                                     commit intermediates), named at random
//	  data/<id>/<32 hex>                 one segment per streamed append (one
//	                                     longer than a part), named at random
//	  released/<id>/                     records of a released upload, which
//	    released                         the sweeper reads once they are old:
//	    <32 hex>                         a claim: data/<id>/<32 hex> became the
//	                                     blob whose digest is the claim's body
//
// An upload's bytes are the concatenation of the segments its state lists.
// A segment is a whole object written exactly once, under a name no other
// call can choose: an append never writes into an object another append
// (or another state) may name, so two appends racing from one state write
// disjoint objects and each state describes exactly its own bytes. Every
// segment but the last is at least minPartSize long, so a commit can
// assemble the blob server-side with UploadPartCopy; an append that finds
// a short last segment (the "tail") reads it back and writes it again at the
// front of its own new segment, which replaces the tail in the new state
// only. The state also records each segment's ETag, and every read and
// copy of a segment is conditional on it.
//
// A commit of an upload that is one streamed segment (what docker and
// containerd send: one PATCH or PUT of the whole blob) copies nothing: it
// writes a claim, then an empty link object under the blob key whose
// metadata names the data object and its size, and the data object stays
// where the append wrote it. Readers resolve the link with the HEAD they
// make anyway. Any other commit assembles the bytes under the blob key by
// CopyObject or UploadPartCopy and CompleteMultipartUpload. Each call makes
// a whole object visible at once, so no partial blob is ever readable
// under a blob key, and a link names a data object that is complete.
//
// Data objects are never deleted by a release, since a racing commit of a
// forked state may be linking one of them: the release writes its record
// and the sweeper, once the record is older than its cutoff, deletes every
// data object of the upload that no blob links to (a claim names the
// digest to check), then the records. Deleting a linked blob deletes its
// link, then its data object. The commit or
// abort that releases an upload deletes its "live" marker first (appends,
// reads and commits of released uploads answer ErrNotFound) and then every
// object under uploads/<id>/; objects a racing append writes after that are
// left for RemoveStaleUploads, as are multipart uploads of crashed appends
// and commits.

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"

	// Register the hashes go-digest validates against.
	_ "crypto/sha256"
	_ "crypto/sha512"
)

const (
	blobsDir      = "blobs/"
	uploadsDir    = "uploads/"
	dataDir       = "data/"
	releasedDir   = "released/"
	liveMarker    = "live"
	releaseRecord = "released"
	segmentName   = 32 // hex digits: 128 random bits
)

var (
	errInvalidUploadID    = errors.New("s3blob: invalid upload id")
	errInvalidSegmentName = errors.New("s3blob: invalid segment name")
)

// layout turns blob digests and upload ids into object keys.
type layout struct {
	prefix string // "" or ends in "/"
}

// newLayout validates a key prefix: slash-separated, no empty, "." or ".."
// element, printable ASCII only, so keys read the same in any tool.
func newLayout(prefix string) (layout, error) {
	prefix = strings.Trim(prefix, "/")
	if prefix == "" {
		return layout{}, nil
	}
	if len(prefix) > 512 {
		return layout{}, fmt.Errorf("s3blob: key prefix longer than 512 bytes")
	}
	for _, el := range strings.Split(prefix, "/") {
		if el == "" || el == "." || el == ".." {
			return layout{}, fmt.Errorf("s3blob: key prefix %q: empty, \".\" or \"..\" element", prefix)
		}
	}
	for i := 0; i < len(prefix); i++ {
		if c := prefix[i]; c < 0x21 || c > 0x7e {
			return layout{}, fmt.Errorf("s3blob: key prefix %q: only printable ASCII without spaces", prefix)
		}
	}
	return layout{prefix: prefix + "/"}, nil
}

// blobsPrefix is the top of the committed-blob tree, for listing.
func (l layout) blobsPrefix() string { return l.prefix + blobsDir }

// uploadsPrefix is the top of the uploads tree, for listing.
func (l layout) uploadsPrefix() string { return l.prefix + uploadsDir }

// blobKey is where the committed blob d lives. It rejects anything that is
// not a valid digest of a supported algorithm, so the key is always
// <alg>/<2 hex>/<hex>.
func (l layout) blobKey(d digest.Digest) (string, error) {
	if err := d.Validate(); err != nil {
		return "", fmt.Errorf("s3blob: invalid digest %q: %w", d, err)
	}
	enc := d.Encoded()
	return l.blobsPrefix() + string(d.Algorithm()) + "/" + enc[:2] + "/" + enc, nil
}

// blobDigest reverses blobKey for Walk, or reports false for a key that is
// not one.
func (l layout) blobDigest(key string) (digest.Digest, bool) {
	rest, ok := strings.CutPrefix(key, l.blobsPrefix())
	if !ok {
		return "", false
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 || len(parts[2]) < 2 || parts[2][:2] != parts[1] {
		return "", false
	}
	d := digest.NewDigestFromEncoded(digest.Algorithm(parts[0]), parts[2])
	if d.Validate() != nil {
		return "", false
	}
	return d, true
}

// uploadPrefix holds every object of upload id. Only canonical lowercase
// UUIDs are accepted.
func (l layout) uploadPrefix(id string) (string, error) {
	if !validUploadID(id) {
		return "", fmt.Errorf("%w: %q", errInvalidUploadID, id)
	}
	return l.uploadsPrefix() + id + "/", nil
}

// dataPrefix holds the data objects of upload id.
func (l layout) dataPrefix(id string) (string, error) {
	if !validUploadID(id) {
		return "", fmt.Errorf("%w: %q", errInvalidUploadID, id)
	}
	return l.prefix + dataDir + id + "/", nil
}

// dataKey is where the streamed segment name of upload id lives.
func (l layout) dataKey(id, name string) (string, error) {
	p, err := l.dataPrefix(id)
	if err != nil {
		return "", err
	}
	if !validSegmentName(name) {
		return "", fmt.Errorf("%w: %q", errInvalidSegmentName, name)
	}
	return p + name, nil
}

// dataRef is how a link names a data object: "<id>/<name>", relative to
// the prefix so a link survives no move but reads the same in any tool.
func dataRef(id, name string) string { return id + "/" + name }

// refKey turns a link's data reference back into a key, validating it.
func (l layout) refKey(ref string) (string, error) {
	id, name, ok := strings.Cut(ref, "/")
	if !ok {
		return "", fmt.Errorf("s3blob: invalid data reference %q", ref)
	}
	return l.dataKey(id, name)
}

// releasedPrefix holds the records of released upload id.
func (l layout) releasedPrefix(id string) (string, error) {
	if !validUploadID(id) {
		return "", fmt.Errorf("%w: %q", errInvalidUploadID, id)
	}
	return l.prefix + releasedDir + id + "/", nil
}

// releasedID returns the upload id a key under released/ belongs to and
// the record's name, or false.
func (l layout) releasedID(key string) (id, name string, ok bool) {
	rest, ok := strings.CutPrefix(key, l.prefix+releasedDir)
	if !ok {
		return "", "", false
	}
	id, name, ok = strings.Cut(rest, "/")
	return id, name, ok && validUploadID(id) && (name == releaseRecord || validSegmentName(name))
}

// markerKey is the object whose presence says upload id is live.
func (l layout) markerKey(id string) (string, error) {
	p, err := l.uploadPrefix(id)
	return p + liveMarker, err
}

// segmentKey is where segment name of upload id lives.
func (l layout) segmentKey(id, name string) (string, error) {
	p, err := l.uploadPrefix(id)
	if err != nil {
		return "", err
	}
	if !validSegmentName(name) {
		return "", fmt.Errorf("%w: %q", errInvalidSegmentName, name)
	}
	return p + name, nil
}

// uploadID returns the upload id a key under uploads/ belongs to, or false.
func (l layout) uploadID(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, l.uploadsPrefix())
	if !ok {
		return "", false
	}
	id, _, ok := strings.Cut(rest, "/")
	return id, ok && validUploadID(id)
}

// newSegmentName returns a fresh random segment name.
func newSegmentName() string {
	var b [segmentName / 2]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

func validSegmentName(name string) bool {
	return len(name) == segmentName && isLowerHex(name)
}

// validUploadID reports whether id is xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx
// in lowercase hex.
func validUploadID(id string) bool {
	if len(id) != 36 {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; i {
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

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
