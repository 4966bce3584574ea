package s3blob

import "github.com/berth-registry/berth/internal/blobstore"

// SetLimits lowers the copy range and S3's part-count limit, so tests can
// exercise splitting and intermediate assembly with small blobs.
func SetLimits(s *Store, copyPart int64, maxParts int) {
	s.copyPart, s.maxParts = copyPart, maxParts
}

// SegmentSizes lists the sizes of a state's segments.
func SegmentSizes(st blobstore.UploadState) ([]int64, error) {
	u, err := decodeState(st)
	if err != nil {
		return nil, err
	}
	var out []int64
	for _, g := range u.Segs {
		out = append(out, g.Size)
	}
	return out, nil
}

const MinPartSize = minPartSize

// PeakBuffers is the most part buffers the store held at once.
func PeakBuffers(s *Store) int64 { return s.bufsPeak.Load() }
