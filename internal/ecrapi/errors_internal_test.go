package ecrapi

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

// TestUnavailable: a database outage is ServiceUnavailableException, 503,
// and the answer does not name the database.
func TestUnavailable(t *testing.T) {
	h := &Handler{log: slog.New(slog.DiscardHandler)}
	down := fmt.Errorf("describe repositories: %w: dial tcp 10.9.8.7:5432: connect: connection refused", registry.ErrUnavailable)
	w := httptest.NewRecorder()
	writeError(w, h.toAPIError(context.Background(), "DescribeRepositories", down))
	if w.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", w.Code)
	}
	var body map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if body["__type"] != "ServiceUnavailableException" || body["message"] == "" || strings.Contains(w.Body.String(), "10.9.8.7") {
		t.Errorf("body %s: want ServiceUnavailableException without the database address", w.Body)
	}
	if got := w.Header().Get("X-Amzn-Errortype"); got != "ServiceUnavailableException" {
		t.Errorf("X-Amzn-Errortype = %q", got)
	}
}
