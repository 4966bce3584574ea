package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// run builds and starts everything, runs every scenario and prints the
// report. Deferred clean-up stops the servers and removes the temp dir on
// every path out, including cancellation by Ctrl-C.
func run(ctx context.Context, o *options, stdout, stderr io.Writer) error {
	logf := func(format string, args ...any) { fmt.Fprintf(stderr, "bench: "+format+"\n", args...) }
	tmp, err := os.MkdirTemp(o.tmpDir, "berth-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	var stops []func()
	defer func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}()

	root := o.src
	if root == "" {
		wd, err := os.Getwd()
		if err != nil {
			return err
		}
		if root, err = findModuleRoot(wd); err != nil {
			return err
		}
	}
	logf("building Berth from %s", root)
	berthBin := filepath.Join(tmp, "bin", "berth")
	if err := buildBerth(ctx, root, berthBin); err != nil {
		return err
	}
	refBin, err := findReference(ctx, o.refBin, stderr)
	if err != nil {
		return err
	}

	berth, err := startBerth(ctx, o, tmp, berthBin)
	if err != nil {
		return err
	}
	stops = append(stops, berth.stop)
	ref, err := startReference(ctx, o, tmp, refBin)
	if err != nil {
		return err
	}
	stops = append(stops, ref.stop)
	limit, err := startLimit(ctx, o, tmp)
	if err != nil {
		return err
	}
	stops = append(stops, limit.stop)
	logf("servers: berth pid %d at %s, reference pid %d at %s, limit pid %d at %s",
		berth.proc.pid(), berth.base, ref.proc.pid(), ref.base, limit.proc.pid(), limit.base)

	b, err := newBench(o, stderr)
	if err != nil {
		return err
	}
	for _, t := range []*target{berth, ref} {
		if err := t.probeMonolithic(ctx, repoProbe, b.pool.newBuf()); err != nil {
			return err
		}
	}
	hdr := newHeader(o, refBin, berth, ref)
	logf("%s", strings.Join(hdr.lines(), "\n       "))
	b.berthBin = berthBin
	units := selectScenarios(b.scenarios(), o.only)
	if selected(units, groupEventsPush) || selected(units, groupAuditBlobPush) {
		stop, err := b.startEventTargets(ctx, tmp)
		stops = append(stops, stop)
		if err != nil {
			return err
		}
	}
	var metrics []*metric
	for _, group := range units {
		ms := b.runScenarios(ctx, group, berth, ref, limit)
		if err := ctx.Err(); err != nil {
			return err
		}
		metrics = append(metrics, ms...)
	}
	compareBaselines(metrics)
	return report(stdout, hdr, metrics, o.jsonOut)
}

// selectScenarios returns the scenarios to run, in order, as the units
// measured together: a scenario alone, or every scenario of its group (at
// the place of the first), when -only names any of them or is empty.
func selectScenarios(all []*scenario, only map[string]bool) [][]*scenario {
	picked := map[string]bool{} // groups with a member -only names
	for _, sc := range all {
		if sc != nil && sc.group != "" && only[sc.key] {
			picked[sc.group] = true
		}
	}
	var units [][]*scenario
	seen := map[string]bool{}
	for i, sc := range all {
		switch {
		case sc == nil || len(only) > 0 && !only[sc.key] && !picked[sc.group]:
		case sc.group == "":
			units = append(units, []*scenario{sc})
		case !seen[sc.group]:
			seen[sc.group] = true
			unit := []*scenario{sc}
			for _, o := range all[i+1:] {
				if o != nil && o.group == sc.group {
					unit = append(unit, o)
				}
			}
			units = append(units, unit)
		}
	}
	return units
}

func newBench(o *options, logw io.Writer) (*bench, error) {
	pool, err := newBlobPool(int(o.smallSize))
	if err != nil {
		return nil, err
	}
	var n [6]byte
	block := make([]byte, 1<<20)
	if _, err := rand.Read(n[:]); err != nil {
		return nil, err
	}
	if _, err := rand.Read(block); err != nil {
		return nil, err
	}
	layer := pool.newBuf()
	pool.header(^uint64(0), layer) // an index take never reaches
	return &bench{
		o: o, log: logw, nonce: hex.EncodeToString(n[:]), block: block, pool: pool,
		manifest: newManifestTemplate(layer),
		large:    map[string]string{}, pullURLs: map[string][]*url.URL{}, tagURLs: map[string][]*url.URL{},
		signer: v4.NewSigner(), ecrCalls: map[string][]*ecrCall{},
	}, nil
}

// startBerth starts `berth serve` on a fresh data dir with a generated root
// key and waits until /v2/ accepts that key. A port taken between choosing
// and binding it is retried.
func startBerth(ctx context.Context, o *options, tmp, bin string) (*target, error) {
	return startBerthAs(ctx, o, tmp, bin, "berth")
}

// startBerthAs starts one more Berth process, its data dir and log named
// after label, with extra serve flags.
func startBerthAs(ctx context.Context, o *options, tmp, bin, label string, extra ...string) (*target, error) {
	return startBerthEnv(ctx, o, tmp, bin, label, nil, extra...)
}

// startBerthEnv is startBerthAs with extra environment variables (secrets
// stay out of the command line).
func startBerthEnv(ctx context.Context, o *options, tmp, bin, label string, extraEnv []string, extra ...string) (*target, error) {
	id, secret, err := rootKey()
	if err != nil {
		return nil, err
	}
	env := cleanEnv(append([]string{"BERTH_ROOT_ACCESS_KEY_ID=" + id, "BERTH_ROOT_SECRET_ACCESS_KEY=" + secret}, extraEnv...)...)
	authz := basicAuth(id, secret)
	var last error
	for attempt := range 3 {
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		data := filepath.Join(tmp, fmt.Sprintf("%s-data-%d", label, attempt))
		args := append([]string{"serve", "--addr", addr, "--data-dir", data, "--create-on-push", "--log-level", o.berthLog}, extra...)
		p, err := startProcess(targetBerth, filepath.Join(tmp, label+".log"), env, bin, args...)
		if err != nil {
			return nil, err
		}
		if last = waitReady(ctx, p, "http://"+addr+"/v2/", authz, time.Minute); last == nil {
			return &target{name: targetBerth, base: "http://" + addr, auth: authz, keyID: id, secret: secret,
				proc: p, tr: newTransport(o.concurrency), dataDir: data}, nil
		}
		p.stop()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	return nil, last
}

// startReference writes the reference registry's config and starts it.
func startReference(ctx context.Context, o *options, tmp, bin string) (*target, error) {
	return startReferenceAs(ctx, o, tmp, bin, "reference", referenceConfig)
}

// startReferenceAs starts a reference registry whose config file, data dir
// and log are named after label, with the configuration config returns for
// a data dir and an address.
func startReferenceAs(ctx context.Context, o *options, tmp, bin, label string, config func(dataDir, addr string) string) (*target, error) {
	env := cleanEnv("OTEL_TRACES_EXPORTER=none") // its docs: else it exports traces to localhost:4318
	var last error
	for attempt := range 3 {
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		cfg := filepath.Join(tmp, label+".yml")
		data := filepath.Join(tmp, fmt.Sprintf("%s-data-%d", label, attempt))
		if err := os.WriteFile(cfg, []byte(config(data, addr)), 0o600); err != nil {
			return nil, err
		}
		p, err := startProcess(targetReference, filepath.Join(tmp, label+".log"), env, bin, "serve", cfg)
		if err != nil {
			return nil, err
		}
		if last = waitReady(ctx, p, "http://"+addr+"/v2/", "", 30*time.Second); last == nil {
			return &target{name: targetReference, base: "http://" + addr, proc: p, tr: newTransport(o.concurrency)}, nil
		}
		p.stop()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	return nil, last
}

// startLimit starts this program's limit server as a child process.
func startLimit(ctx context.Context, o *options, tmp string) (*target, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	p, err := startProcess(targetLimit, filepath.Join(tmp, "limit.log"), cleanEnv(), exe,
		limitCommand, addr, filepath.Join(tmp, "limit"))
	if err != nil {
		return nil, err
	}
	if err := waitReady(ctx, p, "http://"+addr+"/healthz", "", 30*time.Second); err != nil {
		p.stop()
		return nil, err
	}
	return &target{name: targetLimit, base: "http://" + addr, proc: p, tr: newTransport(o.concurrency)}, nil
}

// runScenarios prepares and warms every target of every scenario in the
// unit, then measures interleaved repetitions: Berth, reference, limit,
// Berth, reference, limit, ...; in a group, each repetition runs every
// scenario in turn on its targets, in reverse order every other
// repetition: a scenario measured first in every repetition was seen to
// lose about 20% against an identical one measured after it.
func (b *bench) runScenarios(ctx context.Context, unit []*scenario, all ...*target) []*metric {
	logf := func(format string, args ...any) { fmt.Fprintf(b.log, "bench: "+format+"\n", args...) }
	type run struct {
		sc   *scenario
		m    *metric
		ts   []*target
		reps int
	}
	runs := make([]run, len(unit))
	for i, sc := range unit {
		runs[i] = run{sc: sc, m: newMetric(sc), ts: sc.targets(all), reps: b.o.reps}
		if sc.once {
			runs[i].reps = 1
		}
	}
	failed := func(r run, t *target, stage string, err error) bool {
		if err == nil {
			return false
		}
		if ctx.Err() == nil {
			logf("%s: %s: %s: %v", r.sc.title, t.name, stage, err)
			r.m.Errors[t.name] = stage + ": " + err.Error()
		}
		return true
	}
	for _, r := range runs {
		for _, t := range r.ts {
			if r.sc.prepare != nil {
				failed(r, t, "prepare", r.sc.prepare(ctx, t))
			}
		}
	}
	for _, r := range runs {
		for _, t := range r.ts {
			if r.sc.warm != nil && !r.sc.once && r.m.Errors[t.name] == "" {
				failed(r, t, "warm-up", r.sc.warm(ctx, t))
			}
		}
	}
	for rep := range b.o.reps {
		order := slices.Clone(runs)
		if rep%2 == 1 {
			slices.Reverse(order)
		}
		for _, r := range order {
			for _, t := range r.ts {
				if rep >= r.reps || r.m.Errors[t.name] != "" || ctx.Err() != nil {
					continue
				}
				s, err := r.sc.measure(ctx, t, rep)
				if failed(r, t, fmt.Sprintf("rep %d", rep+1), err) {
					continue
				}
				r.m.Samples[t.name] = append(r.m.Samples[t.name], s)
				logf("%-40s rep %d/%d %-9s %10s %s", r.sc.title, rep+1, r.reps, t.name, formatValue(s.Value), r.sc.unit)
			}
		}
	}
	ms := make([]*metric, len(runs))
	for i, r := range runs {
		r.m.finish()
		ms[i] = r.m
	}
	return ms
}

// targets returns the servers sc is measured on, of Berth, reference, limit
// (or its own Berth process).
func (sc *scenario) targets(all []*target) []*target {
	switch {
	case sc.only != nil:
		return []*target{sc.only()}
	case sc.berthOnly:
		return all[:1]
	case !sc.limit:
		return all[:2]
	}
	return all
}

// header describes the run: machine, settings, and who shares the cores.
type header struct {
	Started             string  `json:"started"`
	GoVersion           string  `json:"go_version"`
	Platform            string  `json:"platform"`
	CPUModel            string  `json:"cpu_model"`
	NumCPU              int     `json:"num_cpu"`
	GOMAXPROCS          int     `json:"gomaxprocs"`
	SharedCores         string  `json:"shared_cores"`
	Reps                int     `json:"reps"`
	Duration            float64 `json:"duration_s"`
	Warmup              float64 `json:"warmup_s"`
	Concurrency         int     `json:"concurrency"`
	LargeSize           int64   `json:"large_size"`
	RSSSize             int64   `json:"rss_size"`
	SmallSize           int64   `json:"small_size"`
	Reference           string  `json:"reference"`
	BerthLogLevel       string  `json:"berth_log_level"`
	BerthMonolithic     bool    `json:"berth_monolithic"`
	ReferenceMonolithic bool    `json:"reference_monolithic"`
	S3                  string  `json:"s3,omitempty"` // the S3 mode's set-up
}

func newHeader(o *options, refBin string, berth, ref *target) header {
	return header{
		Started: time.Now().Format(time.RFC3339), GoVersion: runtime.Version(),
		Platform: runtime.GOOS + "/" + runtime.GOARCH, CPUModel: cpuModel(),
		NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		SharedCores: fmt.Sprintf("the load generator, Berth, the reference and the limit server share these %d cores", runtime.NumCPU()),
		Reps:        o.reps, Duration: o.duration.Seconds(), Warmup: o.warmup.Seconds(), Concurrency: o.concurrency,
		LargeSize: o.largeSize, RSSSize: o.rssSize, SmallSize: o.smallSize,
		Reference:     "distribution " + referenceVersion + " (" + refBin + "), no auth, log level error, access log off",
		BerthLogLevel: o.berthLog, BerthMonolithic: berth.monolithic, ReferenceMonolithic: ref.monolithic,
	}
}

func (h header) lines() []string {
	lines := []string{
		fmt.Sprintf("Berth benchmark, %s, %s %s, %s, %d CPUs, GOMAXPROCS=%d", h.Started, h.GoVersion, h.Platform, h.CPUModel, h.NumCPU, h.GOMAXPROCS),
		"note: " + h.SharedCores + "; absolute numbers are noise, ratios are the result",
		fmt.Sprintf("reps=%d interleaved (Berth, reference, limit), medians; warm-up %gs; rate runs %gs x %d clients",
			h.Reps, h.Warmup, h.Duration, h.Concurrency),
		fmt.Sprintf("sizes: large %s, RSS push %s, small %s", formatSize(h.LargeSize), formatSize(h.RSSSize), formatSize(h.SmallSize)),
		"reference: " + h.Reference,
		"Berth: Basic auth on every request, --create-on-push, --log-level " + h.BerthLogLevel,
	}
	if h.S3 != "" {
		lines = append(lines, h.S3)
	}
	return lines
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}
