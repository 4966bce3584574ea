package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"go/build"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	referenceModule  = "github.com/distribution/distribution/v3/cmd/registry"
	referenceVersion = "v3.1.2"
	berthModule      = "github.com/berth-registry/berth"
)

// process is a server this program started and must stop.
type process struct {
	name string
	cmd  *exec.Cmd
	log  string // file holding its stdout and stderr
	done chan struct{}
	err  error // set when done is closed
}

// startProcess runs bin in its own process group (so a terminal's Ctrl-C
// reaches only this program, which then stops it in order) with a parent
// death signal as the safety net if this program is killed outright.
func startProcess(name, logPath string, env []string, bin string, args ...string) (*process, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *process) pid() int { return p.cmd.Process.Pid }

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop asks the process to exit (SIGTERM) and kills it after 10s.
func (p *process) stop() {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// tail returns the last lines of the process's log, for error messages.
func (p *process) tail() string {
	b, err := os.ReadFile(p.log)
	if err != nil {
		return ""
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

// waitReady polls GET url until it answers 200, the process exits or the
// timeout passes.
func waitReady(ctx context.Context, p *process, url, authz string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case p.exited():
			return fmt.Errorf("%s exited during start-up (%v); its log ends:\n%s", p.name, p.err, p.tail())
		case time.Now().After(deadline):
			return fmt.Errorf("%s not ready after %s: %v; its log ends:\n%s", p.name, timeout, err, p.tail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// cleanEnv is this process's environment without variables that would
// reconfigure the servers behind our back (BERTH_*, REGISTRY_*, OTEL_*).
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "BERTH_") || strings.HasPrefix(kv, "REGISTRY_") || strings.HasPrefix(kv, "OTEL_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// findModuleRoot walks up from dir to the go.mod of Berth's module.
func findModuleRoot(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && modulePath(b) == berthModule {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod of %s above %s; run from the repository or pass -src", berthModule, dir)
		}
	}
}

func modulePath(gomod []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(gomod))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}

// buildBerth compiles cmd/berth as the Makefile does (static, trimmed).
func buildBerth(ctx context.Context, root, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, "./cmd/berth")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/berth: %w\n%s", err, b)
	}
	return nil
}

// findReference returns the reference registry binary: the -reference-bin
// flag, else $GOPATH/bin/registry or a previously installed copy in the user
// cache when either reports the expected version, else a fresh go install
// into the user cache.
func findReference(ctx context.Context, flagged string, logw io.Writer) (string, error) {
	if flagged != "" {
		return flagged, nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	cacheBin := filepath.Join(cache, "berth-bench", "bin")
	candidates := []string{filepath.Join(cacheBin, "registry")}
	if gp := build.Default.GOPATH; gp != "" {
		candidates = append([]string{filepath.Join(strings.Split(gp, string(os.PathListSeparator))[0], "bin", "registry")}, candidates...)
	}
	for _, c := range candidates {
		out, err := exec.CommandContext(ctx, c, "--version").Output()
		if err == nil && strings.Contains(string(out), referenceVersion) {
			return c, nil
		}
	}
	fmt.Fprintf(logw, "bench: reference registry %s not found at %s; installing it with go install into %s\n",
		referenceVersion, strings.Join(candidates, " or "), cacheBin)
	cmd := exec.CommandContext(ctx, "go", "install", referenceModule+"@"+referenceVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+cacheBin, "GOFLAGS=")
	cmd.Dir = os.TempDir() // outside any module
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go install %s@%s: %w\n%s", referenceModule, referenceVersion, err, b)
	}
	return filepath.Join(cacheBin, "registry"), nil
}

// referenceConfig is the reference registry's configuration: filesystem
// storage, delete enabled, no auth, loopback, quiet.
func referenceConfig(dataDir, addr string) string {
	return fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %q
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %q
`, dataDir, addr)
}

// rootKey returns a fresh AWS-shaped root access key id and secret.
func rootKey() (id, secret string, err error) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	var b [16 + 30]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", err
	}
	idb := []byte("AKIA")
	for _, c := range b[:16] {
		idb = append(idb, alphabet[int(c)%len(alphabet)])
	}
	return string(idb), base64.RawURLEncoding.EncodeToString(b[16:]), nil
}

func basicAuth(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
}

// procCPU returns the user+system CPU time a process has used so far.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// Fields after the parenthesised command name; utime and stime are
	// fields 14 and 15 of the whole line, 12 and 13 after the name.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("malformed /proc stat times")
	}
	const clockTicks = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// selfCPU returns the user+system CPU time of this process so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procRSS returns a process's resident set size in bytes.
func procRSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				return kb << 10, err
			}
		}
	}
	return 0, errors.New("no VmRSS in /proc status")
}
