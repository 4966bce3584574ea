package fsblob

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

// RemoveStaleUploads deletes upload files not modified since before. Every
// append touches the file, so an upload idle that long belongs either to no
// session (a crash between CreateUpload and its database record, or a
// monolithic push cut short) or to one the registry expires anyway.
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
		p, err := s.layout.uploadPath(e.Name())
		if err != nil || !e.Type().IsRegular() {
			continue // not an upload file: leave what we did not create
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
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, fmt.Errorf("fsblob: remove stale upload: %w", err)
		}
		removed++
	}
	return removed, nil
}
