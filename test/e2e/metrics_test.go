package e2e

import (
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestMetrics scrapes the separate metrics listener after a push: request
// series carry the low-cardinality api label, the Go runtime and store
// series are there, and the main listener does not serve /metrics.
func TestMetrics(t *testing.T) {
	t.Parallel()
	metricsAddr := net.JoinHostPort("127.0.0.1", freePort(t))
	s := startBerth(t, withCreateOnPush(), withFlags("--metrics-addr", metricsAddr))
	ctx := testContext(t, time.Minute)
	if err := remote.Write(s.repo(t, "metrics/app").Tag("v1"), randomImage(t, 1024, 2), remoteOpts(ctx)...); err != nil {
		t.Fatalf("push: %v", err)
	}

	// An upload left open: the registry-wide session gauges count it.
	post := s.do(t, http.MethodPost, "/v2/metrics/app/blobs/uploads/", nil, nil)
	if post.Status != http.StatusAccepted {
		t.Fatalf("POST upload: %d %s", post.Status, post.Body)
	}
	patch := s.do(t, http.MethodPatch, post.Header.Get("Location"), strings.NewReader("twelve bytes"),
		map[string]string{"Content-Type": "application/octet-stream"})
	if patch.Status != http.StatusAccepted {
		t.Fatalf("PATCH upload: %d %s", patch.Status, patch.Body)
	}

	families := scrape(t, "http://"+metricsAddr+"/metrics")
	if g := families["berth_upload_sessions_open"].GetMetric(); len(g) != 1 || g[0].GetGauge().GetValue() != 1 {
		t.Errorf("berth_upload_sessions_open = %v, want 1", g)
	}
	if g := families["berth_upload_sessions_bytes"].GetMetric(); len(g) != 1 || g[0].GetGauge().GetValue() != 12 {
		t.Errorf("berth_upload_sessions_bytes = %v, want 12", g)
	}
	storeOps := map[string]uint64{}
	for _, m := range families["berth_metastore_operation_duration_seconds"].GetMetric() {
		storeOps[m.GetLabel()[0].GetValue()] = m.GetHistogram().GetSampleCount()
	}
	for _, op := range []string{"PutManifest", "CreateUpload", "UpdateUpload"} {
		if storeOps[op] == 0 {
			t.Errorf("berth_metastore_operation_duration_seconds has no %s sample after a push: %v", op, storeOps)
		}
	}
	var v2Requests float64
	routes := map[string]float64{} // "route method status" of /v2 requests
	for _, m := range families["berth_http_requests_total"].GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if strings.Contains(labels["api"], "/") {
			t.Errorf("api label %q looks like a path", labels["api"])
		}
		if strings.Contains(labels["route"], "/") {
			t.Errorf("route label %q looks like a path", labels["route"])
		}
		if labels["api"] == "v2" {
			v2Requests += m.GetCounter().GetValue()
			routes[labels["route"]+" "+labels["method"]+" "+labels["status"]] += m.GetCounter().GetValue()
		}
	}
	if v2Requests == 0 {
		t.Errorf("no berth_http_requests_total{api=\"v2\"} after a push; families: %v", names(families))
	}
	for _, want := range []string{"manifest PUT 201", "upload_start POST 202", "upload PATCH 202", "upload PUT 201"} {
		if routes[want] == 0 {
			t.Errorf("no /v2 request counted as route/method/status %q: %v", want, routes)
		}
	}
	for _, name := range []string{
		"go_goroutines", "go_memstats_alloc_bytes", "process_resident_memory_bytes",
		"berth_http_request_duration_seconds", "berth_http_request_bytes_total", "berth_http_response_bytes_total",
		"berth_http_in_flight_requests", "berth_sqlstore_commit_batch_size", "berth_sqlstore_commit_duration_seconds",
		"berth_upload_sessions_expired_total",
	} {
		if families[name] == nil {
			t.Errorf("metric %s missing", name)
		}
	}
	if h := families["berth_sqlstore_commit_batch_size"].GetMetric(); len(h) == 0 || h[0].GetHistogram().GetSampleCount() == 0 {
		t.Error("no group commit observed after a push")
	}

	// The main listener must not serve the unauthenticated metrics.
	for _, auth := range []bool{false, true} {
		req, err := http.NewRequest(http.MethodGet, s.url("/metrics"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if auth {
			req.SetBasicAuth(rootKeyID, rootSecret)
		}
		r := send(t, req)
		if r.Status == http.StatusOK || strings.Contains(string(r.Body), "berth_http_requests_total") {
			t.Errorf("main listener answered /metrics (auth %v): %d %.200s", auth, r.Status, r.Body)
		}
	}
}

// scrape reads a Prometheus text exposition.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := rawClient.Get(url)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("scrape: %d %s", resp.StatusCode, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse metrics: %v", err)
	}
	return families
}

func names(f map[string]*dto.MetricFamily) []string {
	return slices.Sorted(maps.Keys(f))
}
