package s3blob

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/berth-registry/berth/internal/blobstore"
)

// errInvalidState reports an UploadState this store did not produce.
var errInvalidState = errors.New("s3blob: invalid upload state")

// stateVersion is bumped when the meaning of a state changes.
const stateVersion = 1

// uploadState is the JSON behind blobstore.UploadState. The upload's bytes
// are its segments in order; Size is their sum.
type uploadState struct {
	V    int       `json:"v"`
	ID   string    `json:"id"`
	Size int64     `json:"size"`
	Segs []segment `json:"segs,omitempty"`
}

// segment is one write-once object of the upload. ETag pins the exact
// object: every read and copy of it is conditional on it. Data marks a
// streamed segment, kept under data/ so a commit can link to it.
type segment struct {
	Name string `json:"n"`
	Size int64  `json:"s"`
	ETag string `json:"e"`
	Data bool   `json:"d,omitempty"`
}

func (u uploadState) encode() blobstore.UploadState {
	b, err := json.Marshal(u)
	if err != nil {
		panic(err) // strings and integers cannot fail to marshal
	}
	return b
}

// tail is the last segment when it is shorter than a part may be, which
// the next append rewrites at the front of its own segment.
func (u uploadState) tail() (segment, bool) {
	if n := len(u.Segs); n > 0 && u.Segs[n-1].Size < minPartSize {
		return u.Segs[n-1], true
	}
	return segment{}, false
}

// decodeState parses st strictly: a known version, a canonical upload id,
// valid and distinct segment names, ETags that are plain printable text,
// sizes that add up, and every segment but the last at least minPartSize
// (so a commit can use each as a part).
func decodeState(st blobstore.UploadState) (uploadState, error) {
	var u uploadState
	dec := json.NewDecoder(bytes.NewReader(st))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&u); err != nil {
		return u, fmt.Errorf("%w: %v", errInvalidState, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return u, fmt.Errorf("%w: trailing data", errInvalidState)
	}
	if u.V != stateVersion || u.Size < 0 || !validUploadID(u.ID) {
		return u, fmt.Errorf("%w: version %d, id %q, size %d", errInvalidState, u.V, u.ID, u.Size)
	}
	var sum int64
	seen := make(map[string]struct{}, len(u.Segs))
	for i, g := range u.Segs {
		if !validSegmentName(g.Name) || !validETag(g.ETag) {
			return u, fmt.Errorf("%w: segment %q with ETag %q", errInvalidState, g.Name, g.ETag)
		}
		if _, dup := seen[g.Name]; dup {
			return u, fmt.Errorf("%w: segment %s listed twice", errInvalidState, g.Name)
		}
		seen[g.Name] = struct{}{}
		last := i == len(u.Segs)-1
		if g.Size <= 0 || g.Size > u.Size-sum || (!last && g.Size < minPartSize) {
			return u, fmt.Errorf("%w: segment %s of %d bytes in an upload of %d", errInvalidState, g.Name, g.Size, u.Size)
		}
		sum += g.Size
	}
	if sum != u.Size {
		return u, fmt.Errorf("%w: segments hold %d bytes, size is %d", errInvalidState, sum, u.Size)
	}
	return u, nil
}

// validETag accepts what S3 returns: a quoted hex string, possibly with a
// part count, kept short and printable.
func validETag(e string) bool {
	if e == "" || len(e) > 128 {
		return false
	}
	for i := 0; i < len(e); i++ {
		if c := e[i]; c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}
