package iamapi

import (
	"context"
	"encoding/xml"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/identity"
)

// TestUnavailable: a database outage is the ServiceUnavailable error, 503,
// a Receiver fault, and the answer does not name the database.
func TestUnavailable(t *testing.T) {
	h := &Handler{log: slog.New(slog.DiscardHandler)}
	down := fmt.Errorf("look up access key: %w: dial tcp 10.9.8.7:5432: connect: connection refused", identity.ErrUnavailable)
	w := httptest.NewRecorder()
	h.writeError(context.Background(), w, "https://iam.amazonaws.com/doc/2010-05-08/", "rid", "ListUsers", down)
	if w.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", w.Code)
	}
	var resp errorResponse
	if err := xml.Unmarshal(w.Body.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Error.Code != "ServiceUnavailable" || resp.Error.Type != "Receiver" || resp.Error.Message == "" ||
		strings.Contains(w.Body.String(), "10.9.8.7") {
		t.Errorf("error %+v: want ServiceUnavailable without the database address", resp.Error)
	}
}
