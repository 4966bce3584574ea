package ociapi

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/registry"
)

// storeDown is how an outage reaches the edge: a store error wrapped on
// its way up, whose text names the database.
var storeDown = fmt.Errorf("get repository: sqlstore: get repository: %w: dial tcp 10.9.8.7:5432: connect: connection refused",
	registry.ErrUnavailable)

// TestUnavailable: a database outage is 503 UNAVAILABLE with Retry-After,
// never 500, and the answer does not name the database.
func TestUnavailable(t *testing.T) {
	h := &Handler{log: slog.New(slog.DiscardHandler)}
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		w := httptest.NewRecorder()
		h.writeError(context.Background(), w, httptest.NewRequest(method, "/v2/app/manifests/v1", nil), storeDown)
		if w.Code != http.StatusServiceUnavailable {
			t.Fatalf("%s: status %d, want 503", method, w.Code)
		}
		if got := w.Header().Get("Retry-After"); got != "1" {
			t.Errorf("%s: Retry-After = %q, want 1", method, got)
		}
		if method == http.MethodHead {
			if w.Body.Len() != 0 {
				t.Errorf("HEAD answered a body")
			}
			continue
		}
		var body struct{ Errors []apiError }
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || len(body.Errors) != 1 {
			t.Fatalf("body %s: %v", w.Body, err)
		}
		if e := body.Errors[0]; e.Code != codeUnavailable || e.Message == "" || strings.Contains(w.Body.String(), "10.9.8.7") {
			t.Errorf("error %+v: want UNAVAILABLE without the database address", e)
		}
	}
}
