package fsblob

import (
	"errors"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/blobstore"
)

// TestDecodeStateStrict checks that only states this store could have
// produced are accepted.
func TestDecodeStateStrict(t *testing.T) {
	s, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const id = "0f8fad5b-d9cb-469f-a165-70867728950e"
	seg := func(name, size string) string { return `{"name":"` + name + `","size":` + size + `}` }
	state := func(size string, segs ...string) string {
		return `{"v":2,"id":"` + id + `","size":` + size + `,"segs":[` + strings.Join(segs, ",") + `]}`
	}
	good := []string{
		`{"v":2,"id":"` + id + `","size":0}`,
		state("0"),
		state("7", seg("0123456789abcdef", "7")),
		state("10", seg("0123456789abcdef", "7"), seg("fedcba9876543210", "3")),
	}
	for _, st := range good {
		if _, _, err := s.decodeState(blobstore.UploadState(st)); err != nil {
			t.Errorf("decodeState(%s): %v", st, err)
		}
	}
	bad := []string{
		``, `null`, `[]`, `{}`,
		`{"v":1,"id":"` + id + `","size":0}`, // the layout before segments
		`{"v":3,"id":"` + id + `","size":0}`,
		`{"v":2,"id":"` + id + `","size":-1}`,
		`{"v":2,"id":"` + id + `","size":0,"extra":1}`,
		`{"v":2,"id":"` + id + `","size":0} {}`, // trailing data
		`{"v":2,"id":"` + id + `","size":0}x`,
		`{"v":2,"id":"../x","size":0}`,
		state("7"), // size without segments
		state("7", seg("0123456789abcdef", "6")),
		state("7", seg("0123456789abcdef", "8")),
		state("0", seg("0123456789abcdef", "0")), // an empty append makes no segment
		state("-1", seg("0123456789abcdef", "-1")),
		state("14", seg("0123456789abcdef", "7"), seg("0123456789abcdef", "7")), // listed twice
		state("7", seg("0123456789ABCDEF", "7")),
		state("7", seg("0123456789abcde", "7")),
		state("7", seg("../0123456789abc", "7")),
		state("7", `{"name":"0123456789abcdef","size":7,"extra":1}`),
		state("9223372036854775807", seg("0123456789abcdef", "9223372036854775807"), seg("fedcba9876543210", "1")),
	}
	for _, st := range bad {
		if _, _, err := s.decodeState(blobstore.UploadState(st)); !errors.Is(err, errInvalidState) {
			t.Errorf("decodeState(%s): err = %v, want errInvalidState", st, err)
		}
	}
}
