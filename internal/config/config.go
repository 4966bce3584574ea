// Package config holds Berth's typed configuration: defaults, an optional
// strict YAML file, BERTH_* environment overrides and command-line flags, in
// that order of precedence (flags win). Only internal/app imports it.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is everything `berth serve` can be told.
type Config struct {
	// Addr is the listen address for /v2, the ECR API and the console.
	Addr string `yaml:"addr"`
	// DataDir holds the SQLite database, filesystem blobs, the secrets key
	// and the generated root credentials.
	DataDir string `yaml:"dataDir"`
	// Region is the one AWS region this deployment serves.
	Region string `yaml:"region"`
	// AccountID is the default account (12 digits) created on first start.
	AccountID string `yaml:"accountId"`
	// RegistryHost is the host[:port] clients put in image references.
	// Empty means derived from Addr.
	RegistryHost string `yaml:"registryHost"`
	// TLSCert and TLSKey are PEM files; both or neither.
	TLSCert string `yaml:"tlsCert"`
	TLSKey  string `yaml:"tlsKey"`
	// CreateOnPush creates a missing repository on its first push instead of
	// answering NAME_UNKNOWN (ECR requires CreateRepository first).
	CreateOnPush bool `yaml:"createOnPush"`
	// AnonymousPull lets unauthenticated clients pull what a repository or
	// registry policy grants to "Principal": "*" (ECR has no such thing).
	AnonymousPull bool `yaml:"anonymousPull"`
	// UploadExpiry is how long an idle upload session lives.
	UploadExpiry time.Duration `yaml:"uploadExpiry"`
	// GCInterval is the time between background garbage-collection
	// passes (one node runs each); zero disables them.
	GCInterval time.Duration `yaml:"gcInterval"`
	// GCGrace is how old an unreferenced blob link, an unlinked blob or
	// bytes without metadata must be before garbage collection removes
	// them; it protects pushes in flight.
	GCGrace time.Duration `yaml:"gcGrace"`
	// LifecycleInterval is the time between background runs of every
	// repository's lifecycle policy (one node runs each); putting a policy
	// also starts a run.
	LifecycleInterval time.Duration `yaml:"lifecycleInterval"`
	// KeyCacheTTL is how long a node trusts an access-key row it read; a
	// key changed on another node applies within this time. Zero reads the
	// database on every request.
	KeyCacheTTL time.Duration `yaml:"keyCacheTTL"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `yaml:"logLevel"`
	// LogFormat is text or json.
	LogFormat string `yaml:"logFormat"`
	// MetricsAddr is a separate, unauthenticated listen address serving
	// Prometheus metrics at /metrics. Empty means no metrics listener.
	MetricsAddr string `yaml:"metricsAddr"`
	// BlobStore selects and configures the blob backend (blobstore.go).
	BlobStore `yaml:",inline"`
	// Database selects the metadata database: empty for SQLite in DataDir,
	// or a postgres:// (postgresql://) URL for PostgreSQL, which many nodes
	// can share. It may hold a password: never log it (Redacted does not).
	Database string `yaml:"database"`
	// Migrate applies pending schema migrations on start; off, a node
	// refuses a database whose schema is behind (`berth migrate` updates it).
	Migrate bool `yaml:"migrate"`
	// DBMaxConns bounds PostgreSQL's connection pool, or SQLite's read
	// pool; 0 means the engine's default.
	DBMaxConns int `yaml:"dbMaxConns"`
	// DBMaxIdleConns is how many pooled PostgreSQL connections stay open
	// while idle; 0 means all of them.
	DBMaxIdleConns int `yaml:"dbMaxIdleConns"`
	// DBConnMaxLifetime closes PostgreSQL connections older than this
	// (after their current use), so a pool rebalances across servers behind
	// one address; 0 keeps them.
	DBConnMaxLifetime time.Duration `yaml:"dbConnMaxLifetime"`
	// Events writes registry events to the outbox (in the transaction of
	// each change) and delivers them to the configured sinks. Off, no
	// event is written or delivered by this node.
	Events bool `yaml:"events"`
	// EventsRetention is how long an event delivered to every sink stays in
	// the outbox.
	EventsRetention time.Duration `yaml:"eventsRetention"`
	// PullTimeFlush is how often each node writes the pull times it
	// buffered (lastRecordedPullTime), and so their precision.
	PullTimeFlush time.Duration `yaml:"pullTimeFlush"`
	// SecretsKeyFile holds the key that seals stored secrets (32 raw bytes
	// or their base64); every node of one registry needs the same key.
	// Empty with an empty SecretsKey means <DataDir>/secrets.key, created
	// on first start: SQLite only.
	SecretsKeyFile string `yaml:"secretsKeyFile"`
	// SecretsKey is that key as base64 text, from BERTH_SECRETS_KEY or the
	// file; never a flag (flags show in the process list). Never log it.
	SecretsKey string `yaml:"secretsKey"`
	// NodeName names this node in job claims, the job history and logs;
	// empty means the host name.
	NodeName string `yaml:"nodeName"`
	// Audit writes the audit trail: a CloudTrail-shaped record of every
	// ECR, IAM and STS call and every /v2 push, pull, delete or denial.
	Audit bool `yaml:"audit"`
	// AuditRetention is how long audit records are kept; 0 keeps them
	// forever.
	AuditRetention time.Duration `yaml:"auditRetention"`
}

// EnvSecretsKey is the environment variable holding the secrets key.
const EnvSecretsKey = "BERTH_SECRETS_KEY"

// Default returns the embedded defaults: zero configuration works.
func Default() Config {
	return Config{
		Addr:         ":5000",
		DataDir:      "./berth-data",
		Region:       "us-east-1",
		AccountID:    "000000000000",
		UploadExpiry: 24 * time.Hour,
		GCInterval:   time.Hour,
		GCGrace:      time.Hour,

		LifecycleInterval: time.Hour,
		KeyCacheTTL:       time.Second,
		LogLevel:          "info",
		LogFormat:         "text",
		BlobStore:         defaultBlobStore(),
		Migrate:           true,
		Events:            true,
		Audit:             true,

		DBConnMaxLifetime: 30 * time.Minute,
		EventsRetention:   24 * time.Hour,
		PullTimeFlush:     10 * time.Second,
		AuditRetention:    90 * 24 * time.Hour,
	}
}

// field binds one setting to its flag and environment variable.
type field struct {
	name  string // flag name; env is BERTH_ + upper snake case
	usage string
	ptr   any // *string, *bool, *int or *time.Duration inside Config
}

func (c *Config) fields() []field {
	return append([]field{
		{"addr", "listen address", &c.Addr},
		{"data-dir", "data directory for the embedded database and blobs", &c.DataDir},
		{"region", "AWS region this deployment serves", &c.Region},
		{"account-id", "default account id (12 digits)", &c.AccountID},
		{"registry-host", "host[:port] clients use in image references (default: derived from --addr)", &c.RegistryHost},
		{"tls-cert", "TLS certificate file (PEM)", &c.TLSCert},
		{"tls-key", "TLS private key file (PEM)", &c.TLSKey},
		{"create-on-push", "create missing repositories on first push", &c.CreateOnPush},
		{"anonymous-pull", "let unauthenticated clients pull what policies grant to Principal \"*\"", &c.AnonymousPull},
		{"upload-expiry", "idle time after which an upload session is removed", &c.UploadExpiry},
		{"gc-interval", "time between background garbage-collection passes (0: none)", &c.GCInterval},
		{"gc-grace", "age before garbage collection removes an unreferenced blob or link", &c.GCGrace},
		{"lifecycle-interval", "time between background runs of the repositories' lifecycle policies", &c.LifecycleInterval},
		{"key-cache-ttl", "how long a node trusts an access key it read (0: read on every request)", &c.KeyCacheTTL},
		{"log-level", "log level: debug, info, warn, error", &c.LogLevel},
		{"log-format", "log format: text or json", &c.LogFormat},
		{"metrics-addr", "listen address of an unauthenticated /metrics endpoint (default: none)", &c.MetricsAddr},
		{"database", "metadata database: empty for SQLite in the data directory, or a postgres:// URL", &c.Database},
		{"migrate", "apply pending schema migrations on start", &c.Migrate},
		{"db-max-conns", "most database connections (PostgreSQL pool or SQLite readers; 0: engine default)", &c.DBMaxConns},
		{"db-max-idle-conns", "PostgreSQL connections kept open while idle (0: all)", &c.DBMaxIdleConns},
		{"db-conn-max-lifetime", "close PostgreSQL connections older than this (0: never)", &c.DBConnMaxLifetime},
		{"events", "write registry events to the outbox and deliver them to the configured sinks", &c.Events},
		{"events-retention", "how long events delivered to every sink stay in the outbox", &c.EventsRetention},
		{"pull-time-flush", "how often pull times are written, in batches (their precision)", &c.PullTimeFlush},
		{"secrets-key-file", "file holding the key that seals stored secrets, the same on every node " +
			"(default: <data-dir>/secrets.key, SQLite only; or the key itself, base64, in env " + EnvSecretsKey + ")", &c.SecretsKeyFile},
		{"node-name", "this node's name in job claims, the job history and logs (default: the host name)", &c.NodeName},
		{"audit", "write the audit trail of API and registry calls", &c.Audit},
		{"audit-retention", "how long audit records are kept (0: forever)", &c.AuditRetention},
	}, c.BlobStore.fields()...)
}

// EnvName is the environment variable that overrides a flag.
func EnvName(flagName string) string {
	return "BERTH_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Load builds the configuration for args (without the subcommand name):
// defaults, then --config FILE, then the environment, then flags.
func Load(fs *flag.FlagSet, args []string, getenv func(string) string) (Config, error) {
	cfg := Default()
	var file string
	fs.StringVar(&file, "config", getenv("BERTH_CONFIG"), "YAML configuration file (env BERTH_CONFIG)")
	// Flags are bound to a scratch copy so we can tell which were set.
	flagged := cfg
	for _, f := range flagged.fields() {
		usage := fmt.Sprintf("%s (env %s)", f.usage, EnvName(f.name))
		switch p := f.ptr.(type) {
		case *string:
			fs.StringVar(p, f.name, *p, usage)
		case *bool:
			fs.BoolVar(p, f.name, *p, usage)
		case *int:
			fs.IntVar(p, f.name, *p, usage)
		case *time.Duration:
			fs.DurationVar(p, f.name, *p, usage)
		}
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if file != "" {
		if err := cfg.loadFile(file); err != nil {
			return Config{}, err
		}
	}
	if err := cfg.applyEnv(getenv); err != nil {
		return Config{}, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	dst, src := cfg.fields(), flagged.fields()
	for i := range dst {
		if set[dst[i].name] {
			copyValue(dst[i].ptr, src[i].ptr)
		}
	}
	return cfg, cfg.Validate()
}

func copyValue(dst, src any) {
	switch d := dst.(type) {
	case *string:
		*d = *src.(*string)
	case *bool:
		*d = *src.(*bool)
	case *int:
		*d = *src.(*int)
	case *time.Duration:
		*d = *src.(*time.Duration)
	}
}

func (c *Config) loadFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	// An empty file decodes to io.EOF: it simply sets nothing.
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	return nil
}

func (c *Config) applyEnv(getenv func(string) string) error {
	if v := getenv(EnvSecretsKey); v != "" {
		c.SecretsKey = v
	}
	for _, f := range c.fields() {
		name := EnvName(f.name)
		v := getenv(name)
		if v == "" {
			continue
		}
		switch p := f.ptr.(type) {
		case *string:
			*p = v
		case *bool:
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("%s: %q is not a boolean", name, v)
			}
			*p = b
		case *int:
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("%s: %q is not an integer", name, v)
			}
			*p = n
		case *time.Duration:
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("%s: %q is not a duration (e.g. 24h)", name, v)
			}
			*p = d
		}
	}
	return nil
}

// Validate checks the configuration is usable and says what to fix.
func (c *Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("addr %q: want host:port or :port", c.Addr))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data-dir must not be empty"))
	}
	if !isAccountID(c.AccountID) {
		errs = append(errs, fmt.Errorf("account-id %q: want exactly 12 digits", c.AccountID))
	}
	if !validRegion(c.Region) {
		errs = append(errs, fmt.Errorf("region %q: want a region name such as us-east-1", c.Region))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("tls-cert and tls-key must be given together"))
	}
	if c.UploadExpiry < time.Second {
		errs = append(errs, fmt.Errorf("upload-expiry %s: must be at least 1s", c.UploadExpiry))
	}
	if c.GCInterval != 0 && c.GCInterval < time.Second {
		errs = append(errs, fmt.Errorf("gc-interval %s: must be 0 (no background collection) or at least 1s", c.GCInterval))
	}
	if c.LifecycleInterval < time.Second || c.LifecycleInterval > 24*time.Hour {
		errs = append(errs, fmt.Errorf("lifecycle-interval %s: must be between 1s and 24h (ECR acts within 24 hours)", c.LifecycleInterval))
	}
	if c.GCGrace < 0 {
		errs = append(errs, fmt.Errorf("gc-grace %s: must not be negative", c.GCGrace))
	}
	if c.EventsRetention < time.Minute {
		errs = append(errs, fmt.Errorf("events-retention %s: must be at least 1m", c.EventsRetention))
	}
	if c.AuditRetention != 0 && c.AuditRetention < time.Hour {
		errs = append(errs, fmt.Errorf("audit-retention %s: must be 0 (keep forever) or at least 1h", c.AuditRetention))
	}
	if c.PullTimeFlush < time.Second || c.PullTimeFlush > 24*time.Hour {
		errs = append(errs, fmt.Errorf("pull-time-flush %s: must be between 1s and 24h", c.PullTimeFlush))
	}
	if c.KeyCacheTTL < 0 || c.KeyCacheTTL > time.Minute {
		errs = append(errs, fmt.Errorf("key-cache-ttl %s: must be between 0 and 1m", c.KeyCacheTTL))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log-level %q: want debug, info, warn or error", c.LogLevel))
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("log-format %q: want text or json", c.LogFormat))
	}
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			errs = append(errs, fmt.Errorf("metrics-addr %q: want host:port or :port", c.MetricsAddr))
		} else if c.MetricsAddr == c.Addr {
			errs = append(errs, fmt.Errorf("metrics-addr %q: must differ from addr (metrics are unauthenticated)", c.MetricsAddr))
		}
	}
	if c.RegistryHost != "" && strings.ContainsAny(c.RegistryHost, "/ @") {
		errs = append(errs, fmt.Errorf("registry-host %q: want host[:port] without scheme or path", c.RegistryHost))
	}
	if c.SecretsKey != "" && c.SecretsKeyFile != "" {
		errs = append(errs, fmt.Errorf("give the secrets key in %s or in secrets-key-file, not both", EnvSecretsKey))
	}
	if len(c.NodeName) > 100 || strings.ContainsAny(c.NodeName, " \t\n/") {
		errs = append(errs, fmt.Errorf("node-name %q: want at most 100 characters without spaces or slashes", c.NodeName))
	}
	errs = append(errs, c.BlobStore.validate()...)
	return errors.Join(append(errs, c.validateDatabase()...)...)
}

// validateDatabase checks the database settings. Its messages never show
// the URL's password.
func (c *Config) validateDatabase() []error {
	var errs []error
	if c.Database != "" {
		u, err := url.Parse(c.Database)
		switch {
		case err != nil: // url's error quotes the whole URL, password included
			errs = append(errs, errors.New("database: not a valid URL; want postgres://user:password@host:5432/dbname"))
		case u.Scheme != "postgres" && u.Scheme != "postgresql":
			errs = append(errs, fmt.Errorf("database %q: want empty (SQLite in the data directory) or a postgres:// URL",
				u.Redacted()))
		}
	}
	if c.DBMaxConns < 0 {
		errs = append(errs, fmt.Errorf("db-max-conns %d: must be 0 (engine default) or more", c.DBMaxConns))
	}
	if c.DBMaxIdleConns < 0 {
		errs = append(errs, fmt.Errorf("db-max-idle-conns %d: must be 0 (all) or more", c.DBMaxIdleConns))
	}
	if c.DBMaxConns > 0 && c.DBMaxIdleConns > c.DBMaxConns {
		errs = append(errs, fmt.Errorf("db-max-idle-conns %d: must not exceed db-max-conns %d", c.DBMaxIdleConns, c.DBMaxConns))
	}
	if c.DBConnMaxLifetime < 0 {
		errs = append(errs, fmt.Errorf("db-conn-max-lifetime %s: must be 0 (never) or more", c.DBConnMaxLifetime))
	}
	return errs
}

// Postgres reports whether the metadata database is PostgreSQL.
func (c *Config) Postgres() bool { return c.Database != "" }

// DatabaseRedacted names the metadata database for logs: the URL with
// its password replaced, or the SQLite file.
func (c *Config) DatabaseRedacted() string {
	if !c.Postgres() {
		return filepath.Join(c.DataDir, SQLiteFile)
	}
	u, err := url.Parse(c.Database)
	if err != nil {
		return "(invalid URL)"
	}
	return u.Redacted()
}

// SQLiteFile is the SQLite database's name inside the data directory.
const SQLiteFile = "berth.db"

// Host returns the registry host clients use: RegistryHost, or one derived
// from Addr (an unspecified listen host becomes localhost).
func (c *Config) Host() string {
	if c.RegistryHost != "" {
		return c.RegistryHost
	}
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return c.Addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// URL is the registry's base URL with scheme and no trailing slash.
func (c *Config) URL() string {
	if c.TLSCert != "" {
		return "https://" + c.Host()
	}
	return "http://" + c.Host()
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// validRegion accepts AWS-shaped region names (letters, digits, hyphens).
func validRegion(s string) bool {
	if len(s) < 2 || len(s) > 64 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
