package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Cluster is a throwaway PostgreSQL cluster: its own data directory in a
// temporary directory, listening on one loopback port, run as a child of
// this process so that it dies with it. Its superuser logs in with a
// random password (SCRAM), so DSNs carry a real secret.
type Cluster struct {
	bin      string // directory of initdb and postgres
	dir      string // temporary directory: data/, the socket, the log
	port     int
	user     string // the cluster's superuser
	password string
	fsync    bool
	cred     *syscall.Credential // nil: run as this process's user

	mu   sync.Mutex
	proc *exec.Cmd
	done chan struct{} // closed once proc has exited
}

// ClusterOptions tunes a cluster.
type ClusterOptions struct {
	// Durable keeps fsync on, for benchmarks that compare engines fairly.
	// Tests run without: a lost cluster is simply made again.
	Durable bool
}

// superuser is the cluster's superuser name.
const superuser = "berth"

// NewCluster initializes and starts a cluster. It needs PostgreSQL's
// server binaries (Debian: the postgresql package) and, when this process
// runs as root, the postgres OS user, since PostgreSQL refuses to run as
// root. Stop it with Close.
func NewCluster(ctx context.Context, o ClusterOptions) (*Cluster, error) {
	bin, err := serverBinDir()
	if err != nil {
		return nil, err
	}
	c := &Cluster{bin: bin, user: superuser, password: randomHex(16), fsync: o.Durable}
	if os.Geteuid() == 0 {
		if c.cred, err = unprivilegedUser(); err != nil {
			return nil, err
		}
	}
	if c.dir, err = os.MkdirTemp("", "berth-pg-"); err != nil {
		return nil, fmt.Errorf("postgres cluster: %w", err)
	}
	if err := c.initdb(ctx); err != nil {
		_ = os.RemoveAll(c.dir)
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		c.port, err = freePort()
		if err == nil {
			err = c.Start(ctx)
		}
		if err == nil {
			return c, nil
		}
		if attempt == 2 || !strings.Contains(c.logTail(), "could not bind") {
			_ = os.RemoveAll(c.dir)
			return nil, err
		}
	}
}

// serverBinDir finds initdb and postgres: $BERTH_TEST_POSTGRES_BIN, the
// newest /usr/lib/postgresql/*/bin (Debian), or the PATH.
func serverBinDir() (string, error) {
	if dir := os.Getenv("BERTH_TEST_POSTGRES_BIN"); dir != "" {
		return dir, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return majorOf(a) - majorOf(b) })
	for _, d := range slices.Backward(dirs) {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("PostgreSQL server binaries not found (install the Debian package postgresql, " +
		"or set BERTH_TEST_POSTGRES_BIN to the directory holding initdb and postgres)")
}

// majorOf reads the version out of /usr/lib/postgresql/<version>/bin.
func majorOf(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

// unprivilegedUser is the OS user a root process runs PostgreSQL as.
func unprivilegedUser() (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, PostgreSQL needs an unprivileged OS user: %w "+
			"(the Debian package postgresql creates the postgres user)", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("user postgres: %w", err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// initdb creates the data directory. The default collation is a
// linguistic ICU one on purpose: a listing that depends on byte order
// passes only if its column says COLLATE "C".
func (c *Cluster) initdb(ctx context.Context) error {
	pwfile := filepath.Join(c.dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(c.password+"\n"), 0o600); err != nil {
		return fmt.Errorf("postgres cluster: %w", err)
	}
	if c.cred != nil {
		if err := chownTree(c.dir, c.cred); err != nil {
			return err
		}
	}
	args := []string{"-D", c.dataDir(), "-U", c.user, "--pwfile", pwfile, "--auth", "scram-sha-256",
		"-E", "UTF8", "--locale", "C.UTF-8", "--no-sync"}
	out, err := c.command(ctx, "initdb", append(args, "--locale-provider", "icu", "--icu-locale", "en-US")...).CombinedOutput()
	if err != nil && strings.Contains(string(out), "locale-provider") { // before PostgreSQL 15
		_ = os.RemoveAll(c.dataDir())
		out, err = c.command(ctx, "initdb", args...).CombinedOutput()
	}
	if err != nil {
		return fmt.Errorf("initdb: %w\n%s", err, out)
	}
	return os.Remove(pwfile)
}

func chownTree(dir string, cred *syscall.Credential) error {
	return filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, int(cred.Uid), int(cred.Gid))
	})
}

func (c *Cluster) dataDir() string { return filepath.Join(c.dir, "data") }
func (c *Cluster) logPath() string { return filepath.Join(c.dir, "postgres.log") }

// command runs one of the server binaries as the cluster's OS user.
func (c *Cluster) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, name), args...)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	return cmd
}

// Start runs the server (again, after Stop) on the cluster's port and waits
// until it accepts connections.
func (c *Cluster) Start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.proc != nil {
		return errors.New("postgres cluster: already running")
	}
	logf, err := os.OpenFile(c.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("postgres cluster: %w", err)
	}
	defer logf.Close()
	fsync := "off"
	if c.fsync {
		fsync = "on"
	}
	// Not CommandContext: the server outlives the context that started it.
	cmd := c.command(context.Background(), "postgres", "-D", c.dataDir(), "-p", strconv.Itoa(c.port),
		"-k", c.dir, "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=300",
		"-c", "fsync="+fsync, "-c", "full_page_writes="+fsync, "-c", "shared_buffers=64MB")
	cmd.Stdout, cmd.Stderr = logf, logf
	// The server dies with this process, even when a test binary is killed.
	cmd.SysProcAttr.Pdeathsig = syscall.SIGQUIT
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("postgres cluster: start: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	c.proc, c.done = cmd, done
	if err := c.waitReady(ctx, done); err != nil {
		c.stopLocked(time.Second)
		return fmt.Errorf("postgres cluster: %w\n%s", err, c.logTail())
	}
	return nil
}

// waitReady polls until the superuser can log in.
func (c *Cluster) waitReady(ctx context.Context, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		conn, err := pgx.Connect(ctx, c.DSN("postgres"))
		if err == nil {
			return conn.Close(ctx)
		}
		select {
		case <-exited:
			return errors.New("the server exited while starting")
		case <-ctx.Done():
			return fmt.Errorf("not ready: %w (last: %v)", ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop shuts the server down (fast shutdown: open sessions are ended, as
// in a restart for maintenance) and waits for it to exit.
func (c *Cluster) Stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopLocked(30 * time.Second)
}

func (c *Cluster) stopLocked(grace time.Duration) {
	if c.proc == nil {
		return
	}
	_ = c.proc.Process.Signal(syscall.SIGINT)
	select {
	case <-c.done:
	case <-time.After(grace):
		_ = c.proc.Process.Kill()
		<-c.done
	}
	c.proc = nil
}

// Restart stops and starts the server on the same port.
func (c *Cluster) Restart(ctx context.Context) error {
	c.Stop()
	return c.Start(ctx)
}

// Close stops the server and removes its files.
func (c *Cluster) Close() error {
	c.Stop()
	return os.RemoveAll(c.dir)
}

// DSN is the superuser's URL for database on this cluster.
func (c *Cluster) DSN(database string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(c.user, c.password),
		Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)), Path: "/" + database, RawQuery: "sslmode=disable"}
	return u.String()
}

// Server is the cluster as a server tests create databases on.
func (c *Cluster) Server() *Server { return &Server{admin: c.DSN("postgres")} }

// logTail is the end of the server log, for failure messages.
func (c *Cluster) logTail() string {
	b, _ := os.ReadFile(c.logPath())
	const max = 4000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return string(b)
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}
