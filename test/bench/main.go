// Command bench measures Berth against the reference registry (CNCF
// distribution v3.1.2) and against the physical limit of this machine, in one
// run, and prints ratios. Run it with `make bench` (go run ./test/bench);
// `go run ./test/bench -quick` is a smoke run of under a minute once Berth's
// build is cached.
//
// # Method
//
// The program builds Berth (go build ./cmd/berth into a temp dir), starts it
// (`berth serve --create-on-push`, Basic auth with a generated root key on
// every /v2 request) and the reference registry (generated config:
// filesystem storage, delete enabled, no auth, log level error, access log
// off, OTEL_TRACES_EXPORTER=none as its docs advise) on loopback with fresh
// data dirs on the same disk, plus the "physical limit" server, which is this
// program re-executed as a child process (`bench limit-server ADDR DIR`) so
// that, like the registries, it has a runtime of its own: for pushes it
// receives the body, sha256-hashes it in the same pass, writes it to a temp
// file, fsyncs, renames and fsyncs the directory; for pulls it is
// http.ServeContent of such a file (sendfile). Its own load generator
// (net/http Transport, keep-alive, one connection per client, no redirects,
// precomputed digests and URLs, manifest templates, reused buffers and
// request templates) then runs:
//
//   - large-blob push: POST, one streamed (chunked) PATCH, PUT ?digest=, as
//     docker does; MB/s (10^6 bytes) over the whole sequence, fsync included;
//   - large-blob pull: GET of that blob, bytes discarded; MB/s;
//   - small-blob push: distinct 4 KiB blobs by monolithic POST ?digest= and by
//     POST + PUT ?digest=, -concurrency clients for -duration; ops/s. The
//     reference does not implement monolithic POST (it answers 202 and ignores
//     the body), so its column for that row is its POST + PUT rate;
//   - small-blob pull: GET of 256 pre-pushed 4 KiB blobs; ops/s;
//   - manifest push: PUT of distinct small OCI image manifests (config +
//     layer already pushed), each under a new tag; ops/s;
//   - manifest HEAD and GET by tag over 64 tags; Berth authenticates every
//     request, the reference runs without auth; ops/s;
//   - the ECR control-plane API, Berth only (the reference has none):
//     DescribeImages of a repository holding 50 tagged images (maxResults
//     100, one page), BatchGetImage of one image by tag, and
//     GetAuthorizationToken (a password minted per call); ops/s. Each
//     request is the one aws-sdk-go-v2's ECR client sends (captured from a
//     real SDK call with Berth's root key in prepare, which also checks the
//     answer) replayed with a fresh SigV4 signature from the SDK's
//     v4.Signer (payload SHA-256 + signature, as the SDK's middleware does),
//     so the load generator pays for signing but not for the SDK's
//     middleware. After each repetition one goroutine signs those requests
//     alone for 100 ms: this program's CPU over that loop per signature is
//     the client's signing cost, reported on its own because on shared
//     cores the client's CPU is taken from the server;
//   - registry-password authentication, Berth only: the manifest HEAD by
//     tag above, authenticated with `Basic base64(AWS:<password>)` from
//     GetAuthorizationToken, interleaved rep by rep with the same HEAD
//     authenticated with the access key, so the difference is the cost of
//     verifying the password;
//   - policy authorization, Berth only: the same HEAD as an IAM user (created
//     in prepare over the IAM API with the root key, Basic auth with its
//     access key) whose inline identity policy has 20 statements of which
//     only the last, an Allow of ecr:BatchGetImage on the repository,
//     applies (the others name other actions, repositories, regions or
//     accounts, or have conditions on aws:SourceIp, aws:CurrentTime or
//     aws:PrincipalTag that do not hold; prepare checks that the first 19
//     allow nothing), on a repository with a 4-statement policy, interleaved
//     rep by rep with the same HEAD as the root user (whom the repository
//     policy still applies to). The repository policy stays on that
//     repository for the rest of the run;
//   - registry events and the audit trail, Berth only: the manifest push
//     above on a Berth process with events and audit on and a webhook sink
//     (a receiver in this program) that gets the events while the load
//     runs, interleaved rep by rep with the same push on a Berth process
//     started with --events=false --audit=false; both are fresh processes
//     of their own, started only when -only selects them or runs
//     everything. Target: both on >= 0.9x both off. The small-blob push
//     (POST + PUT: two audit records a blob) is compared on the same two
//     processes too (small_push_audit). With
//     -events-sink=false there is no sink: the figure is then what writing
//     (and routing) the events costs the pushes, without delivery traffic
//     on the shared cores;
//   - RSS: VmRSS of each server sampled every 50 ms during one -rss-size
//     streamed push; peak MiB (one run; RSS is not noisy).
//
// Each measurement is preceded by a warm-up on every target. Repetitions are
// interleaved (Berth, reference, limit, Berth, reference, limit, ...) and
// every figure is the median of -reps runs. Client and servers share this
// machine's cores (the header says how many): absolute numbers are noise,
// ratios measured in one run are what count.
//
// # Reading the output
//
// The first table has one row per metric: the medians for Berth, the
// reference and the limit, Berth/reference and Berth/limit, the target and
// PASS or MISS (ERR when a run failed; the error is on stderr). Targets:
// large-blob push and pull >= 0.9x the limit; small-blob push and pull and
// manifest push >= 2x the reference; manifest HEAD/GET by tag >= 3x the
// reference; peak RSS during the big push < 100 MiB; the HEAD as the IAM
// user with its policies >= 0.9x the HEAD as root (in the Berth/baseline
// column, which the table has when such a row ran). Other
// Berth-only rows have no reference column; their target is informational
// (result INFO).
//
// The second table is diagnostic: server CPU per operation (per GB for the
// large transfers) measured from /proc/<pid>/stat, which is much less
// sensitive to the shared cores than throughput is; the client's own CPU per
// operation (how much of the machine the load generator takes); and p50/p99
// latency. A Berth/reference CPU ratio far from the throughput ratio means
// the client or the disk, not the server, set the pace.
//
// The third section, when Berth-only rows ran, says what each of them costs
// per request: Berth's CPU, all of the client's CPU, the client's SigV4
// signing alone and its share of the server's figure; then the server CPU
// the token adds over the access key on the HEAD, that the IAM user and
// its policies add over the root user, and, when
// manifest_get_tag ran too, what one manifest costs over the ECR API
// (BatchGetImage) against /v2 (not interleaved).
//
// # S3 mode
//
// `go run ./test/bench -s3 ENDPOINT` (or `-s3 env`, which takes
// BERTH_TEST_S3_ENDPOINT; keys from -s3-access-key and -s3-secret-key,
// defaulting to BERTH_TEST_S3_ACCESS_KEY and _SECRET_KEY; `make bench-s3`)
// measures blob transfers on an S3-compatible store such as MinIO instead.
// It creates three fresh buckets with the AWS SDK (Berth's, the
// reference's, the limit's; emptied and removed on exit) and starts four
// servers: Berth with `--blob-store s3://<bucket>/<label> --s3-endpoint
// ENDPOINT --s3-path-style` and --s3-redirect=true and false (keys in its
// environment), and the reference with its s3 storage driver (region
// us-east-1, regionendpoint, forcepathstyle, secure false, v4auth, default
// chunk size) and storage.redirect.disable false and true. The limit is
// this program talking to the endpoint with the SDK: one PutObject of the
// same bytes, streamed with an unsigned payload and hashed (sha256) in the
// same pass, and one GetObject. Rows, each interleaved and the median of
// -reps unless said:
//
//   - large-blob push of -large-size, as in the filesystem mode (POST, one
//     streamed PATCH, PUT ?digest=); target >= 1.5x the reference;
//   - large-blob pull, redirected: the servers that redirect; the load
//     generator follows the 307 to the presigned URL (without the
//     registry's credentials, as docker does) and the row fails if a server
//     does not redirect; target >= 1x the reference;
//   - large-blob pull, streamed through the server: the servers that do not
//     redirect (the row fails if one does); target >= 1x the reference;
//   - -s3-clients concurrent pushes of -s3-push-size (aggregate MB/s);
//     target >= 1.5x the reference;
//   - peak RSS during -s3-rss-pushes concurrent pushes of -s3-rss-size
//     (20 x 500 MiB by default; one run): the process's VmHWM after the
//     pushes, with VmRSS sampled every 50 ms logged beside it, of Berth
//     and the reference; the ceiling is two 8 MiB part buffers per upload
//     plus 128 MiB. The log line also gives the pushes' aggregate MB/s.
//
// MinIO shares the cores too; its CPU is not measured (the server CPU
// column is the registry process's alone).
//
// -json prints the same data as one JSON document on stdout. Progress, and
// the servers' pids (for `perf record -g -p PID`), go to stderr. -only runs
// a subset of metrics by key (the keys are in the JSON; naming one of a
// group, such as ecr_token_registry_auth and its baseline
// ecr_key_registry_auth, or authz_head_policies and authz_head_root, runs
// the group); -cpuprofile
// profiles the load generator itself. Processes and temp dirs are removed
// on exit, also on Ctrl-C.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// options are the command-line flags.
type options struct {
	quick       bool
	reps        int
	largeSize   int64
	rssSize     int64
	smallSize   int64
	duration    time.Duration
	warmup      time.Duration
	concurrency int
	jsonOut     bool
	src         string // module root holding cmd/berth
	refBin      string // reference registry binary; empty means find or install
	tmpDir      string
	berthLog    string
	cpuProfile  string          // CPU profile of this program (the load generator)
	only        map[string]bool // metric keys to run; empty means all
	eventsSink  bool            // the events scenarios deliver to a webhook receiver
	s3          s3Options       // -s3: the S3 mode
}

func main() {
	os.Exit(mainCode(os.Args[1:], os.Stdout, os.Stderr))
}

func mainCode(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == limitCommand {
		return limitServerMain(args[1:], stderr)
	}
	if len(args) > 0 && args[0] == lifecycleCommand {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return lifecycleBenchMain(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == gcCommand {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return gcBenchMain(ctx, args[1:], stdout, stderr)
	}
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	runner := run
	if o.s3.endpoint != "" {
		runner = runS3
	}
	if err := runner(ctx, o, stdout, stderr); err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(stderr, "bench: interrupted; cleaned up")
			return 130
		}
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{
		s3:   s3Options{pushSize: 64 << 20, rssSize: 500 << 20},
		reps: 3, largeSize: 1 << 30, rssSize: 2 << 30, smallSize: 4 << 10,
		duration: 5 * time.Second, warmup: time.Second, concurrency: 16, berthLog: "error",
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&o.quick, "quick", false, "smoke run: small sizes, 1 rep, short durations (explicit flags still win)")
	fs.IntVar(&o.reps, "reps", o.reps, "interleaved repetitions per metric; medians are reported")
	fs.Var(sizeFlag{&o.largeSize}, "large-size", "large-blob push/pull size (e.g. 1GiB, 256MiB)")
	fs.Var(sizeFlag{&o.rssSize}, "rss-size", "size of the push during which RSS is sampled (0 skips it)")
	fs.Var(sizeFlag{&o.smallSize}, "small-size", "small-blob size")
	fs.DurationVar(&o.duration, "duration", o.duration, "duration of each timed rate run")
	fs.DurationVar(&o.warmup, "warmup", o.warmup, "warm-up before each rate metric, per target")
	fs.IntVar(&o.concurrency, "concurrency", o.concurrency, "concurrent clients for rate runs")
	fs.BoolVar(&o.jsonOut, "json", false, "print machine-readable JSON on stdout instead of tables")
	fs.StringVar(&o.src, "src", "", "Berth module root (default: found from the working directory)")
	fs.StringVar(&o.refBin, "reference-bin", "", "reference registry binary (default: $GOPATH/bin/registry, else installed into the user cache)")
	fs.StringVar(&o.tmpDir, "tmp", "", "parent of the temp dir holding binaries and data dirs (default: $TMPDIR)")
	fs.StringVar(&o.berthLog, "berth-log-level", o.berthLog, "Berth --log-level (error matches the reference's configuration)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of this program (the load generator) to `file`")
	fs.BoolVar(&o.eventsSink, "events-sink", true, "events scenarios: deliver to a webhook receiver in this program (false: events are written and routed to no sink)")
	fs.StringVar(&o.s3.endpoint, "s3", "", "S3 mode: Berth and the reference on this S3 endpoint (MinIO, http://host:port) against the SDK's own transfers; BERTH_TEST_S3_ENDPOINT if \"env\"")
	fs.StringVar(&o.s3.accessKey, "s3-access-key", os.Getenv("BERTH_TEST_S3_ACCESS_KEY"), "S3 mode: access key (default $BERTH_TEST_S3_ACCESS_KEY)")
	fs.StringVar(&o.s3.secretKey, "s3-secret-key", os.Getenv("BERTH_TEST_S3_SECRET_KEY"), "S3 mode: secret key (default $BERTH_TEST_S3_SECRET_KEY; prefer the variable)")
	fs.IntVar(&o.s3.clients, "s3-clients", 8, "S3 mode: concurrent pushes of the concurrent-push row")
	fs.Var(sizeFlag{&o.s3.pushSize}, "s3-push-size", "S3 mode: size of each concurrent push (default 64MiB)")
	fs.IntVar(&o.s3.rssPushes, "s3-rss-pushes", 20, "S3 mode: concurrent pushes during which RSS is sampled (0 skips the row)")
	fs.Var(sizeFlag{&o.s3.rssSize}, "s3-rss-size", "S3 mode: size of each of those pushes (default 500MiB)")
	only := fs.String("only", "", "comma-separated metric keys to run (as in -json), e.g. manifest_head_tag,manifest_get_tag")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	o.only = map[string]bool{}
	for _, k := range strings.Split(*only, ",") {
		if k = strings.TrimSpace(k); k != "" {
			o.only[k] = true
		}
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		quick := map[string]func(){
			"reps":          func() { o.reps = 1 },
			"large-size":    func() { o.largeSize = 32 << 20 },
			"rss-size":      func() { o.rssSize = 64 << 20 },
			"duration":      func() { o.duration = time.Second },
			"warmup":        func() { o.warmup = 300 * time.Millisecond },
			"s3-push-size":  func() { o.s3.pushSize = 16 << 20 },
			"s3-rss-pushes": func() { o.s3.rssPushes = 4 },
			"s3-rss-size":   func() { o.s3.rssSize = 64 << 20 },
		}
		for name, apply := range quick {
			if !set[name] {
				apply()
			}
		}
	}
	switch {
	case o.reps < 1:
		return nil, errors.New("-reps must be at least 1")
	case o.concurrency < 1:
		return nil, errors.New("-concurrency must be at least 1")
	case o.largeSize < 1<<20:
		return nil, errors.New("-large-size must be at least 1MiB")
	case o.smallSize < 64 || o.smallSize > 16<<20:
		return nil, errors.New("-small-size must be between 64 bytes and 16MiB")
	case o.duration < 100*time.Millisecond:
		return nil, errors.New("-duration must be at least 100ms")
	case o.rssSize < 0:
		return nil, errors.New("-rss-size must not be negative")
	}
	if o.s3.endpoint == "env" {
		o.s3.endpoint = os.Getenv("BERTH_TEST_S3_ENDPOINT")
		if o.s3.endpoint == "" {
			return nil, errors.New("-s3 env: BERTH_TEST_S3_ENDPOINT is not set")
		}
	}
	if o.s3.endpoint != "" {
		switch {
		case !strings.HasPrefix(o.s3.endpoint, "http://") && !strings.HasPrefix(o.s3.endpoint, "https://"):
			return nil, errors.New("-s3 wants an endpoint URL such as http://127.0.0.1:9000")
		case o.s3.accessKey == "" || o.s3.secretKey == "":
			return nil, errors.New("-s3 needs -s3-access-key and -s3-secret-key (or BERTH_TEST_S3_ACCESS_KEY, _SECRET_KEY)")
		case o.s3.clients < 1 || o.s3.pushSize < 1<<20 || o.s3.rssPushes < 0 || o.s3.rssSize < 1<<20:
			return nil, errors.New("-s3-clients must be at least 1, -s3-push-size and -s3-rss-size at least 1MiB")
		}
	}
	return o, nil
}

// sizeFlag parses byte sizes such as 4096, 4KiB, 64MiB, 1GiB (also KB/MB/GB
// as powers of 1000).
type sizeFlag struct{ p *int64 }

func (s sizeFlag) String() string {
	if s.p == nil {
		return ""
	}
	return formatSize(*s.p)
}

func (s sizeFlag) Set(v string) error {
	n, err := parseSize(v)
	if err != nil {
		return err
	}
	*s.p = n
	return nil
}

func parseSize(v string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9},
		{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}}
	num, mult := strings.TrimSpace(v), int64(1)
	for _, u := range units {
		if rest, ok := strings.CutSuffix(num, u.suffix); ok {
			num, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("size %q: want a number with an optional unit such as 64MiB", v)
	}
	return int64(f * float64(mult)), nil
}

func formatSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return strconv.FormatInt(n, 10) + "B"
}
