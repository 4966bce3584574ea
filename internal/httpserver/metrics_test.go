package httpserver

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMiddlewareMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewPedanticRegistry()
	m, err := NewMetrics(reg, func(r *http.Request) string {
		if strings.HasPrefix(r.URL.Path, "/v2/") {
			return "v2"
		}
		return "" // counted as "other"
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewMetrics(reg, nil); err == nil {
		t.Error("registering the HTTP series twice on one registry succeeded")
	}
	var inFlight float64
	mux := http.NewServeMux()
	mux.HandleFunc("/v2/ok", func(w http.ResponseWriter, r *http.Request) {
		SetRoute(r.Context(), "ok")
		inFlight = testutil.ToFloat64(m.inFlight)
		_, _ = io.WriteString(w, "fine")
	})
	mux.HandleFunc("/v2/upload", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusCreated)
	})
	mux.HandleFunc("/panic", func(http.ResponseWriter, *http.Request) { panic("boom") })
	srv := httptest.NewServer(Middleware(mux, slog.New(slog.DiscardHandler), time.Now, m))
	defer srv.Close()

	do := func(method, path string, body io.Reader) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, body)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	do("GET", "/v2/ok", nil)
	do("GET", "/v2/ok", nil)
	// A reader of unknown length is sent chunked: ContentLength is -1.
	do("PATCH", "/v2/upload", io.MultiReader(strings.NewReader("0123456789")))
	do("GET", "/panic", nil)
	do("BREW", "/coffee", nil)

	if inFlight != 1 {
		t.Errorf("in-flight gauge inside a handler = %v, want 1", inFlight)
	}
	want := map[[4]string]float64{
		{"v2", "ok", "GET", "200"}:        2,
		{"v2", "none", "PATCH", "201"}:    1, // a handler that names no route
		{"other", "none", "GET", "500"}:   1,
		{"other", "none", "other", "404"}: 1, // client-chosen methods do not add series
	}
	// Metrics are recorded once the handler returns; wait for the last one.
	deadline := time.Now().Add(5 * time.Second)
	for testutil.CollectAndCount(m.requests) < len(want) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	for l, n := range want {
		if got := testutil.ToFloat64(m.requests.WithLabelValues(l[0], l[1], l[2], l[3])); got != n {
			t.Errorf("berth_http_requests_total%v = %v, want %v", l, got, n)
		}
	}
	if n := testutil.CollectAndCount(m.requests); n != len(want) {
		t.Errorf("%d request series, want %d", n, len(want))
	}
	if got := testutil.ToFloat64(m.bytesIn.WithLabelValues("v2")); got != 10 {
		t.Errorf("berth_http_request_bytes_total{api=v2} = %v, want 10", got)
	}
	if got := testutil.ToFloat64(m.bytesOut.WithLabelValues("v2")); got != 8 {
		t.Errorf("berth_http_response_bytes_total{api=v2} = %v, want 8", got)
	}
	if got := testutil.ToFloat64(m.inFlight); got != 0 {
		t.Errorf("in-flight gauge after the requests = %v, want 0", got)
	}
	if n := testutil.CollectAndCount(m.duration, "berth_http_request_duration_seconds"); n != 4 {
		t.Errorf("%d duration series, want 4 (api × route × method × status)", n)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}
