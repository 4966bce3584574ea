package httpserver

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the request series Middleware records. A nil *Metrics
// records nothing.
type Metrics struct {
	api      func(*http.Request) string
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	bytesIn  *prometheus.CounterVec
	bytesOut *prometheus.CounterVec
	inFlight prometheus.Gauge
	// series caches the labelled children per (api, method, status): a
	// labelled lookup hashes the values under a lock, four times a request.
	series sync.Map // seriesKey -> *requestSeries
}

type seriesKey struct {
	api, route, method string
	status             int
}

type requestSeries struct {
	requests prometheus.Counter
	duration prometheus.Observer
	bytesIn  prometheus.Counter
	bytesOut prometheus.Counter
}

// seriesFor returns the children for one label combination; the label
// values are bounded (a few APIs, the routes handlers name from fixed sets,
// seven methods, HTTP statuses).
func (m *Metrics) seriesFor(api, route, method string, status int) *requestSeries {
	k := seriesKey{api, route, method, status}
	if s, ok := m.series.Load(k); ok {
		return s.(*requestSeries)
	}
	code := strconv.Itoa(status)
	s := &requestSeries{
		requests: m.requests.WithLabelValues(api, route, method, code),
		duration: m.duration.WithLabelValues(api, route, method, code),
		bytesIn:  m.bytesIn.WithLabelValues(api),
		bytesOut: m.bytesOut.WithLabelValues(api),
	}
	actual, _ := m.series.LoadOrStore(k, s)
	return actual.(*requestSeries)
}

// durationBuckets span a cached manifest HEAD (sub-millisecond) to a large
// layer upload (tens of seconds).
var durationBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// NewMetrics registers the HTTP series on reg. api names the front end a
// request is for; it must return one of a few fixed values (never a path:
// repository names would make a series per repository).
func NewMetrics(reg prometheus.Registerer, api func(*http.Request) string) (*Metrics, error) {
	m := &Metrics{
		api: api,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_http_requests_total", Help: "HTTP requests answered, by API, route, method and status code.",
		}, []string{"api", "route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "berth_http_request_duration_seconds", Help: "Time from a request's arrival to its last response byte.",
			Buckets: durationBuckets,
		}, []string{"api", "route", "method", "status"}),
		bytesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_http_request_bytes_total", Help: "Request body bytes read by handlers.",
		}, []string{"api"}),
		bytesOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_http_response_bytes_total", Help: "Response body bytes written.",
		}, []string{"api"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "berth_http_in_flight_requests", Help: "Requests being served now.",
		}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.bytesIn, m.bytesOut, m.inFlight} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register HTTP metrics: %w", err)
		}
	}
	return m, nil
}

// begin counts a request in flight and, if it has a body, wraps it to count
// the bytes the handler reads (ContentLength is -1 for chunked uploads).
func (m *Metrics) begin(r *http.Request) (*http.Request, *countingBody) {
	if m == nil {
		return r, nil
	}
	m.inFlight.Inc()
	if r.Body == nil || r.Body == http.NoBody {
		return r, nil
	}
	cb := &countingBody{ReadCloser: r.Body}
	r2 := *r // a shallow copy, as http.Request.WithContext makes
	r2.Body = cb
	return &r2, cb
}

// end records a finished request.
func (m *Metrics) end(r *http.Request, route string, status int, in *countingBody, out int64, took time.Duration) {
	if m == nil {
		return
	}
	m.inFlight.Dec()
	api := m.api(r)
	if api == "" {
		api = "other"
	}
	if route == "" {
		route = "none" // no handler matched the request
	}
	s := m.seriesFor(api, route, methodLabel(r.Method), status)
	s.requests.Inc()
	s.duration.Observe(took.Seconds())
	if in != nil {
		s.bytesIn.Add(float64(in.n.Load()))
	}
	s.bytesOut.Add(float64(out))
}

// methodLabel keeps client-chosen method names from adding series.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}

// countingBody counts bytes read from a request body.
type countingBody struct {
	io.ReadCloser
	n atomic.Int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}
