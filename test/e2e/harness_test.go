// Package e2e holds black-box tests that run the built berth binary and
// talk to it with real registry clients: go-containerregistry, oras-go,
// regclient and the Docker Engine. Raw net/http appears only where a
// test needs a request no well-behaved client would send.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/testenv"
)

// Root credentials every test server starts with.
const (
	rootKeyID      = "AKIAE2EBERTHROOT0001"
	rootSecret     = "e2e-root-secret/0123456789abcdefABCDEF"
	defaultAccount = "000000000000"
)

// berthBin is the binary TestMain builds once for the whole package.
var berthBin string

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "berth-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	berthBin = filepath.Join(dir, "berth")
	build := exec.Command("go", "build", "-o", berthBin, "./cmd/berth")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build ./cmd/berth: %v\n%s", err, out)
		return 1
	}
	defer testenv.StopMinIO() // if a test started a private one
	return testenv.RunWithPostgres(m)
}

// moduleRoot is the directory holding the go.mod of the module under test.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside a Go module")
	}
	return filepath.Dir(gomod), nil
}

// serverOptions are the flags a test server runs with.
type serverOptions struct {
	createOnPush bool
	uploadExpiry time.Duration
	logFormat    string
	flags        []string // any other berth serve flags, kept across restarts
	env          []string // further environment variables (KEY=value)
	noRootKey    bool     // start without BERTH_ROOT_*: berth generates the root key
	// wrap runs berth under this command (a tracer), given berth's path
	// and arguments; stop signals berth, the wrapper's child.
	wrap []string
	// execStart replaces the harness's arguments (after the binary) with
	// a unit's: ${STATE_DIRECTORY} becomes the data directory, and the
	// address is given in BERTH_ADDR.
	execStart []string
	// allowErrorLogs stops the harness failing a test whose server logged
	// an error, a panic or a 500.
	allowErrorLogs bool
}

type option func(*serverOptions)

func withCreateOnPush() option { return func(o *serverOptions) { o.createOnPush = true } }

func withUploadExpiry(d time.Duration) option {
	return func(o *serverOptions) { o.uploadExpiry = d }
}

func withLogFormat(f string) option { return func(o *serverOptions) { o.logFormat = f } }

// withFlags passes further berth serve flags.
func withFlags(flags ...string) option {
	return func(o *serverOptions) { o.flags = append(o.flags, flags...) }
}

// withEnv sets further environment variables (KEY=value) of the process.
func withEnv(kv ...string) option {
	return func(o *serverOptions) { o.env = append(o.env, kv...) }
}

// server is one berth process (and its successors after restarts) on one
// data directory and one loopback port.
type server struct {
	t       *testing.T
	opts    serverOptions
	dataDir string
	host    string // 127.0.0.1:PORT, the registry host in image references
	logs    *logSink

	mu   sync.Mutex
	proc *process
	// unexpectedExit records that berth died without being told to.
	unexpectedExit atomic.Bool
}

// process is one run of the binary.
type process struct {
	cmd      *exec.Cmd
	done     chan struct{} // closed once Wait returned
	err      error         // Wait's result, valid after done
	stopping atomic.Bool   // set before the harness signals the process
	healthy  atomic.Bool   // set once it served /healthz
}

// startBerth starts berth on a fresh data directory and a free loopback
// port, waits until /healthz answers, and stops it when the test ends.
func startBerth(t *testing.T, opts ...option) *server {
	t.Helper()
	s := newServer(t, opts...)
	if err := s.startOnFreePort(); err != nil {
		t.Fatalf("start berth: %v\n%s", err, s.logs.String())
	}
	return s
}

// newServer prepares a server (stopped when the test ends) without
// starting it.
func newServer(t *testing.T, opts ...option) *server {
	t.Helper()
	s := &server{t: t, dataDir: t.TempDir(), logs: &logSink{}}
	for _, o := range opts {
		o(&s.opts)
	}
	t.Cleanup(s.cleanup)
	return s
}

// startOnFreePort starts the server on a free loopback port, trying
// another when a concurrent test took the port first. It may run in a
// goroutine of its own.
func (s *server) startOnFreePort() error {
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		var port string
		if port, err = freePortErr(); err != nil {
			return err
		}
		s.host = net.JoinHostPort("127.0.0.1", port)
		if err = s.start(); err == nil {
			return nil
		}
		if !strings.Contains(s.logs.String(), "address already in use") {
			break
		}
	}
	return err
}

func freePort(t *testing.T) string {
	t.Helper()
	port, err := freePortErr()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

func freePortErr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port, nil
}

func (s *server) args() []string {
	if len(s.opts.execStart) > 0 {
		// As systemd runs it: the listen address comes from BERTH_ADDR.
		a := make([]string, len(s.opts.execStart))
		for i, arg := range s.opts.execStart {
			a[i] = strings.ReplaceAll(arg, "${STATE_DIRECTORY}", s.dataDir)
		}
		return a
	}
	a := []string{"serve", "--addr", s.host, "--data-dir", s.dataDir}
	if s.opts.createOnPush {
		a = append(a, "--create-on-push")
	}
	if s.opts.uploadExpiry > 0 {
		a = append(a, "--upload-expiry", s.opts.uploadExpiry.String())
	}
	if s.opts.logFormat != "" {
		a = append(a, "--log-format", s.opts.logFormat)
	}
	return append(a, s.opts.flags...)
}

// start runs the binary and waits for it to be healthy.
func (s *server) start() error {
	cmd := exec.Command(berthBin, s.args()...)
	if len(s.opts.wrap) > 0 {
		cmd = exec.Command(s.opts.wrap[0], append(append(s.opts.wrap[1:len(s.opts.wrap):len(s.opts.wrap)], berthBin), s.args()...)...)
	}
	cmd.Env = berthEnv()
	if s.opts.noRootKey {
		cmd.Env = slices.DeleteFunc(cmd.Env, func(kv string) bool { return strings.HasPrefix(kv, "BERTH_ROOT_") })
	}
	if args := s.args(); slices.Contains(args, "--database") && !slices.Contains(args, "--secrets-key-file") &&
		!slices.ContainsFunc(s.opts.env, func(kv string) bool { return strings.HasPrefix(kv, "BERTH_SECRETS_KEY=") }) {
		cmd.Env = append(cmd.Env, testSecretsKeyEnv) // PostgreSQL needs one given
	}
	cmd.Env = append(cmd.Env, s.opts.env...)
	if len(s.opts.execStart) > 0 {
		cmd.Env = append(cmd.Env, "BERTH_ADDR="+s.host)
	}
	cmd.Stdout, cmd.Stderr = s.logs, s.logs
	from := s.logs.Lines()
	if err := cmd.Start(); err != nil {
		return err
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		if p.healthy.Load() && !p.stopping.Load() {
			s.logs.Mark(fmt.Sprintf("---- berth exited unexpectedly: %v ----", p.err))
			s.unexpectedExit.Store(true)
		}
		close(p.done)
	}()
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()
	return s.waitHealthy(p, from, 20*time.Second)
}

// testSecretsKeyEnv gives test servers on PostgreSQL their secrets key,
// which PostgreSQL nodes must be given (base64 of 32 bytes).
const testSecretsKeyEnv = "BERTH_SECRETS_KEY=ZTJlLXNlY3JldHMta2V5LTAxMjM0NTY3ODlhYmNkZWY="

// berthEnv is the environment without BERTH_* settings of the caller's
// shell, plus the fixed root key.
func berthEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BERTH_") {
			env = append(env, kv)
		}
	}
	return append(env, "BERTH_ROOT_ACCESS_KEY_ID="+rootKeyID, "BERTH_ROOT_SECRET_ACCESS_KEY="+rootSecret)
}

// waitHealthy waits until /healthz answers and this process has logged
// that it serves: a healthy answer alone could come from another test's
// server that took the port first.
func (s *server) waitHealthy(p *process, fromLine int, within time.Duration) error {
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("berth exited before it was healthy: %v", p.err)
		default:
		}
		if s.logs.ContainsSince(fromLine, "berth serving") {
			resp, err := c.Get("http://" + s.host + "/healthz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					p.healthy.Store(true)
					return nil
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.stopping.Store(true)
	_ = p.cmd.Process.Kill()
	<-p.done
	return fmt.Errorf("berth not healthy within %s", within)
}

// current is the running process, or nil.
func (s *server) current() *process {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc
}

// stop sends SIGTERM and waits; a process still running after 15s is
// killed and reported. It returns the exit error of a graceful stop.
func (s *server) stop() error {
	p := s.current()
	if p == nil {
		return nil
	}
	defer s.forget(p)
	p.stopping.Store(true)
	target := p.cmd.Process.Pid
	if len(s.opts.wrap) > 0 {
		// A tracer detaches when signalled: stop berth, its child, and
		// the tracer exits with it.
		target = childOf(target)
	}
	_ = syscall.Kill(target, syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(target, syscall.SIGKILL)
		_ = p.cmd.Process.Kill()
		<-p.done
		return errors.New("berth did not exit within 15s of SIGTERM; killed")
	}
}

// childOf is the first child process of pid (pid itself if none).
func childOf(pid int) int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		var child int
		if _, err := fmt.Sscan(string(b), &child); err == nil {
			return child
		}
	}
	return pid
}

// kill sends SIGKILL, as a crash or power cut would stop the process.
func (s *server) kill() {
	p := s.current()
	if p == nil {
		return
	}
	defer s.forget(p)
	p.stopping.Store(true)
	_ = p.cmd.Process.Kill()
	<-p.done
}

func (s *server) forget(p *process) {
	s.mu.Lock()
	if s.proc == p {
		s.proc = nil
	}
	s.mu.Unlock()
}

// restart stops berth gracefully (it must exit 0) and starts it again on
// the same data directory and port.
func (s *server) restart() {
	s.t.Helper()
	if err := s.stop(); err != nil {
		s.t.Errorf("graceful stop before restart: %v", err)
	}
	s.startAgain()
}

// killAndRestart crashes berth with SIGKILL and starts it again.
func (s *server) killAndRestart() {
	s.t.Helper()
	s.kill()
	s.startAgain()
}

func (s *server) startAgain() {
	s.t.Helper()
	s.logs.Mark("---- restart ----")
	if err := s.start(); err != nil {
		s.t.Fatalf("restart berth: %v\n%s", err, s.logs.String())
	}
}

func (s *server) cleanup() {
	if err := s.stop(); err != nil {
		s.t.Errorf("stop berth: %v", err)
	}
	if s.unexpectedExit.Load() {
		s.t.Errorf("berth exited while the test was using it (see the output below)")
	}
	if bad := s.logs.Bad(); len(bad) > 0 && !s.opts.allowErrorLogs {
		s.t.Errorf("berth logged %d errors, panics or 500s, first ones:\n%s", len(bad), strings.Join(bad[:min(len(bad), 20)], "\n"))
	}
	switch {
	case os.Getenv("E2E_SERVER_LOG") != "": // for debugging: everything, always
		s.t.Logf("berth output (data dir %s):\n%s", s.dataDir, s.logs.String())
	case s.t.Failed():
		s.t.Logf("berth output (data dir %s), last lines:\n%s", s.dataDir, s.logs.Tail(60))
	}
}

// logSink collects a process's output: every line for the failure log and
// the lines that show a server-side fault.
type logSink struct {
	mu      sync.Mutex
	partial []byte
	lines   []string // the most recent lines
	total   int      // lines ever written
	bad     []string
}

const maxLogLines = 20000

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		l.addLine(string(l.partial[:i]))
		l.partial = l.partial[i+1:]
	}
}

func (l *logSink) addLine(line string) {
	if len(l.lines) >= maxLogLines {
		l.lines = append(l.lines[:0], l.lines[maxLogLines/2:]...)
	}
	l.lines = append(l.lines, line)
	l.total++
	if faultLine(line) {
		l.bad = append(l.bad, line)
	}
}

// faultLine reports log lines that mean the server itself failed.
func faultLine(line string) bool {
	for _, s := range []string{"level=ERROR", `"level":"ERROR"`, "status=500", `"status":500`, "panic"} {
		if strings.Contains(line, s) {
			return true
		}
	}
	return false
}

// Lines is the number of complete lines so far.
func (l *logSink) Lines() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

// ContainsSince reports whether a line numbered from or later contains sub.
func (l *logSink) ContainsSince(from int, sub string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	first := l.total - len(l.lines) // number of the oldest line kept
	for i := max(from-first, 0); i < len(l.lines); i++ {
		if strings.Contains(l.lines[i], sub) {
			return true
		}
	}
	return false
}

// Mark adds a separator line, e.g. at a restart.
func (l *logSink) Mark(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.addLine(s)
}

func (l *logSink) String() string { return l.Tail(maxLogLines) }

// Tail returns the last n lines.
func (l *logSink) Tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	lines := l.lines[max(len(l.lines)-n, 0):]
	return strings.Join(lines, "\n") + "\n" + string(l.partial)
}

// Bad returns the fault lines seen so far.
func (l *logSink) Bad() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.bad...)
}

// ---- client helpers ----

// rootAuth authenticates as the root key.
var rootAuth = &authn.Basic{Username: rootKeyID, Password: rootSecret}

// remoteOpts are go-containerregistry options for this server. Retries are
// off so that a failing server fails the test instead of being retried.
func remoteOpts(ctx context.Context, extra ...remote.Option) []remote.Option {
	return append([]remote.Option{
		remote.WithAuth(rootAuth),
		remote.WithContext(ctx),
		remote.WithRetryBackoff(remote.Backoff{Steps: 1}),
		remote.WithRetryPredicate(func(error) bool { return false }),
		remote.WithRetryStatusCodes(),
	}, extra...)
}

// repo names a repository on this server.
func (s *server) repo(t testing.TB, repository string) name.Repository {
	t.Helper()
	r, err := name.NewRepository(s.host+"/"+repository, name.Insecure, name.StrictValidation)
	if err != nil {
		t.Fatalf("repository %q: %v", repository, err)
	}
	return r
}

// registry names this server's registry.
func (s *server) registry(t testing.TB) name.Registry {
	t.Helper()
	r, err := name.NewRegistry(s.host, name.Insecure)
	if err != nil {
		t.Fatalf("registry: %v", err)
	}
	return r
}

// url is an absolute URL for path on this server.
func (s *server) url(path string) string { return "http://" + s.host + path }

// rawClient is for requests that real clients would never send.
var rawClient = &http.Client{Timeout: 60 * time.Second}

// rawResponse is a finished raw response.
type rawResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

// do sends a raw request authenticated as root. path may hold a query.
func (s *server) do(t testing.TB, method, path string, body io.Reader, header map[string]string) rawResponse {
	t.Helper()
	req, err := http.NewRequest(method, s.url(path), body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	req.SetBasicAuth(rootKeyID, rootSecret)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return send(t, req)
}

func send(t testing.TB, req *http.Request) rawResponse {
	t.Helper()
	resp, err := rawClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	return rawResponse{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// ociError is one entry of the OCI error envelope.
type ociError struct {
	Code    string          `json:"code"`
	Message string          `json:"message"`
	Detail  json.RawMessage `json:"detail"`
}

// wantError checks the status and the first error code of an OCI error
// response and returns the error.
func wantError(t testing.TB, what string, r rawResponse, status int, code string) ociError {
	t.Helper()
	var env struct {
		Errors []ociError `json:"errors"`
	}
	if r.Status != status {
		t.Errorf("%s: status %d, want %d; body %.300s", what, r.Status, status, r.Body)
	}
	if err := json.Unmarshal(r.Body, &env); err != nil || len(env.Errors) == 0 {
		t.Errorf("%s: body is not an OCI error envelope: %v: %.300s", what, err, r.Body)
		return ociError{}
	}
	if env.Errors[0].Code != code {
		t.Errorf("%s: error code %q, want %q (message %q)", what, env.Errors[0].Code, code, env.Errors[0].Message)
	}
	return env.Errors[0]
}

// testContext is a context that ends with the test or after d.
func testContext(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// sha256Digest is the canonical digest of b.
func sha256Digest(b []byte) string { return digest.FromBytes(b).String() }
