package fsblob

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

// RemoveStaleUploads deletes uploads not modified since before, with all
// their segments, and says how many it removed. An upload's last
// modification is the newest of its directory's (every append adds a
// segment there) and its segments' (an append in progress writes one), so
// an upload idle that long belongs either to no session (a crash between
// CreateUpload and its database record, or a monolithic push cut short) or
// to one the registry expires anyway. The same goes for segments that no
// recorded state lists (the losers of racing appends): they go with their
// upload, or alone once it has been committed. A plain file named like an
// upload is one from before segments and is removed by its own time.
// Anything else is left alone, also inside an upload's directory.
func (s *Store) RemoveStaleUploads(ctx context.Context, before time.Time) (int, error) {
	entries, err := os.ReadDir(s.layout.uploadsDir())
	if err != nil {
		return 0, fmt.Errorf("fsblob: list uploads: %w", err)
	}
	removed := 0
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return removed, err
		}
		p, err := s.layout.uploadDir(e.Name())
		if err != nil || (!e.IsDir() && !e.Type().IsRegular()) {
			continue // not an upload: leave what we did not create
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return removed, fmt.Errorf("fsblob: stat upload: %w", err)
		}
		if !info.ModTime().Before(before) {
			continue
		}
		if !e.IsDir() {
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return removed, fmt.Errorf("fsblob: remove stale upload: %w", err)
			}
			removed++
			continue
		}
		active, err := activeSince(p, before)
		if err != nil {
			return removed, fmt.Errorf("fsblob: stat upload: %w", err)
		}
		if active {
			continue
		}
		err = s.removeUpload(e.Name())
		if errors.Is(err, fs.ErrExist) {
			continue // holds files that are not segments: keep them
		}
		if err != nil {
			return removed, fmt.Errorf("fsblob: remove stale upload: %w", err)
		}
		removed++
	}
	return removed, nil
}

// activeSince reports whether a segment in the upload directory dir was
// modified at or after t.
func activeSince(dir string, t time.Time) (bool, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		if !validSegmentName(e.Name()) {
			continue
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return false, err
		}
		if !info.ModTime().Before(t) {
			return true, nil
		}
	}
	return false, nil
}
