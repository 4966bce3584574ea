package ociapi_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/ociapi"
	"github.com/berth-registry/berth/internal/registry"
	rt "github.com/berth-registry/berth/internal/registry/registrytest"
)

// BenchmarkPullStorm GETs manifests by tag over HTTP from many goroutines
// (with a registry password, as docker sends after an ECR login), with
// pull-time tracking off (no buffer) and on: flushed every second (ten
// times more often than the default) and every 100 ms (a stress case:
// every flush rewrites every image pulled). Run one case per process,
// alternating, and compare medians:
//
//	go test -c -o /tmp/ociapi.test ./internal/ociapi/
//	/tmp/ociapi.test -test.run '^$' -test.bench 'PullStorm/tracking=off$' -test.benchtime 3s
func BenchmarkPullStorm(b *testing.B) {
	e := rt.New(b, registry.Options{RepositoryCacheTTL: time.Second})
	e.CreateRepository(b, rt.Account, "app")
	const tags = 100
	for i := range tags {
		e.Push(b, rt.Root(rt.Account), rt.Ref(rt.Account, "app"), fmt.Sprintf("v%d", i),
			rt.Image{Config: fmt.Appendf(nil, `{"n":%d}`, i), Layers: [][]byte{fmt.Appendf(nil, "layer %d", i)}})
	}
	b.Run("tracking=off", func(b *testing.B) {
		pullStorm(b, e.NodeWith(b, func(o *registry.Options) { o.PullTimes = nil }), tags)
	})
	for _, flush := range []time.Duration{time.Second, 100 * time.Millisecond} {
		b.Run("tracking=on/flush="+flush.String(), func(b *testing.B) {
			pulls, err := registry.NewPullTimes(registry.PullTimeOptions{Store: e.Meta, Flush: flush})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); pulls.Run(ctx) }()
			pullStorm(b, e.NodeWith(b, func(o *registry.Options) { o.PullTimes = pulls }), tags)
			cancel()
			<-done
			if err := pulls.Flush(context.Background()); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// pullStorm serves svc on a loopback listener and GETs v0..v<tags-1>.
func pullStorm(b *testing.B, svc *registry.Service, tags int) {
	authn := &auth.KeyAuthenticator{Tokens: tokens(func(context.Context, string) (auth.Principal, error) {
		return rt.Root(rt.Account), nil
	})}
	srv := httptest.NewServer(ociapi.New(ociapi.Options{Service: svc, Auth: authn, DefaultAccount: rt.Account,
		RegistryHost: registryHost}))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	defer client.CloseIdleConnections()
	b.SetParallelism(8)
	b.ResetTimer()
	cpu0 := cpuTime(b)
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/v2/app/manifests/v%d", srv.URL, i%tags), nil)
			req.SetBasicAuth("AWS", "registry-password")
			req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json")
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("GET v%d: %s", i%tags, resp.Status)
				return
			}
			i++
		}
	})
	// CPU time (client and server: one process) is what tracking adds;
	// on a shared machine it is far steadier than wall time.
	b.ReportMetric(float64((cpuTime(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// cpuTime is the user and system CPU time of this process so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
