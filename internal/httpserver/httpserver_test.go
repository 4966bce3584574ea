package httpserver

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a log sink the test can read while the server writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestMiddleware(t *testing.T) {
	t.Parallel()
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	file := filepath.Join(t.TempDir(), "blob")
	if err := os.WriteFile(file, bytes.Repeat([]byte("x"), 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	var seenID string
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		seenID = RequestID(r.Context())
		_, _ = io.WriteString(w, "fine")
	})
	mux.HandleFunc("/panic", func(http.ResponseWriter, *http.Request) { panic("boom") })
	mux.HandleFunc("/file", func(w http.ResponseWriter, r *http.Request) {
		f, err := os.Open(file)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		// The recorder must pass io.ReaderFrom through so sendfile is used.
		if _, ok := w.(io.ReaderFrom); !ok {
			t.Error("response writer lost io.ReaderFrom")
		}
		http.ServeContent(w, r, "", time.Time{}, f)
	})
	srv := httptest.NewServer(Middleware(mux, log, time.Now, nil))
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/ok?secret=hunter2")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	id := resp.Header.Get("X-Request-Id")
	if id == "" || id != seenID {
		t.Fatalf("X-Request-Id %q, handler saw %q", id, seenID)
	}
	resp, err = http.Get(srv.URL + "/panic")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("panic answered %d", resp.StatusCode)
	}
	resp, err = http.Get(srv.URL + "/file")
	if err != nil {
		t.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if n != 1<<20 {
		t.Fatalf("file body %d bytes", n)
	}
	// The access log is written after the last byte is sent.
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), `"path":"/file"`) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	out := logs.String()
	for _, want := range []string{`"status":200`, `"status":500`, `"bytes_out":1048576`, `"panic":"boom"`, id} {
		if !strings.Contains(out, want) {
			t.Errorf("access log lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "hunter2") {
		t.Error("query string (may hold secrets) was logged")
	}
}

func TestServeAndShutdown(t *testing.T) {
	t.Parallel()
	s, err := Listen("127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "up")
	}), "", "", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	resp, err := http.Get("http://" + s.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "up" {
		t.Fatalf("body %q", b)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve after shutdown: %v", err)
	}
	if _, err := Listen("127.0.0.1:0", http.NotFoundHandler(), "missing.pem", "missing.key", slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("missing TLS files accepted")
	}
}
