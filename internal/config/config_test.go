package config

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func load(t *testing.T, args []string, e map[string]string) (Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return Load(fs, args, env(e))
}

func TestDefaultsNeedNoConfiguration(t *testing.T) {
	t.Parallel()
	cfg, err := load(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg != Default() {
		t.Fatalf("got %+v, want defaults %+v", cfg, Default())
	}
	if got := cfg.Host(); got != "localhost:5000" {
		t.Errorf("Host() = %q, want localhost:5000", got)
	}
	if got := cfg.URL(); got != "http://localhost:5000" {
		t.Errorf("URL() = %q", got)
	}
}

func TestPrecedenceFlagOverEnvOverFileOverDefault(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "berth.yaml")
	yaml := "addr: \":6000\"\nregion: eu-west-1\naccountId: \"111111111111\"\ncreateOnPush: true\nuploadExpiry: 2h\ngcGrace: 30m\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := load(t, []string{"--config", file, "--region", "ap-south-1", "--gc-interval", "0"},
		map[string]string{"BERTH_ACCOUNT_ID": "222222222222", "BERTH_REGION": "us-west-2"})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ name, got, want string }{
		{"addr (file)", cfg.Addr, ":6000"},
		{"region (flag beats env and file)", cfg.Region, "ap-south-1"},
		{"account (env beats file)", cfg.AccountID, "222222222222"},
		{"data dir (default)", cfg.DataDir, "./berth-data"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if !cfg.CreateOnPush || cfg.UploadExpiry != 2*time.Hour || cfg.GCGrace != 30*time.Minute || cfg.GCInterval != 0 {
		t.Errorf("file booleans/durations not applied: %+v", cfg)
	}
}

func TestConfigFileFromEnvironment(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(file, []byte("logFormat: json\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := load(t, nil, map[string]string{"BERTH_CONFIG": file})
	if err != nil || cfg.LogFormat != "json" {
		t.Fatalf("cfg=%+v err=%v", cfg, err)
	}
}

func TestEmptyConfigFileSetsNothing(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "empty.yaml")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := load(t, []string{"--config", file}, nil)
	if err != nil || cfg != Default() {
		t.Fatalf("cfg=%+v err=%v", cfg, err)
	}
}

func TestInvalidConfigurationIsExplained(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	unknown := filepath.Join(dir, "unknown.yaml")
	if err := os.WriteFile(unknown, []byte("adress: \":1\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"unknown yaml key", []string{"--config", unknown}, nil, "adress"},
		{"missing file", []string{"--config", filepath.Join(dir, "nope.yaml")}, nil, "config file"},
		{"short account", []string{"--account-id", "123"}, nil, "account-id"},
		{"letters in account", []string{"--account-id", "12345678901a"}, nil, "12 digits"},
		{"bad region", []string{"--region", "US East"}, nil, "region"},
		{"bad addr", []string{"--addr", "5000"}, nil, "addr"},
		{"cert without key", []string{"--tls-cert", "c.pem"}, nil, "tls-cert and tls-key"},
		{"tiny expiry", []string{"--upload-expiry", "10ms"}, nil, "upload-expiry"},
		{"tiny gc interval", []string{"--gc-interval", "10ms"}, nil, "gc-interval"},
		{"negative gc grace", []string{"--gc-grace", "-1s"}, nil, "gc-grace"},
		{"tiny lifecycle interval", []string{"--lifecycle-interval", "10ms"}, nil, "lifecycle-interval"},
		{"lifecycle interval past ECR's 24h", nil, map[string]string{"BERTH_LIFECYCLE_INTERVAL": "25h"}, "lifecycle-interval"},
		{"pull times flushed too often", []string{"--pull-time-flush", "100ms"}, nil, "pull-time-flush"},
		{"pull times flushed too rarely", []string{"--pull-time-flush", "25h"}, nil, "pull-time-flush"},
		{"bad level", []string{"--log-level", "loud"}, nil, "log-level"},
		{"bad format", []string{"--log-format", "xml"}, nil, "log-format"},
		{"bad metrics addr", []string{"--metrics-addr", "9090"}, nil, "metrics-addr"},
		{"metrics on the main listener", []string{"--addr", ":5000", "--metrics-addr", ":5000"}, nil, "must differ"},
		{"host with scheme", []string{"--registry-host", "https://x"}, nil, "registry-host"},
		{"tiny events retention", []string{"--events-retention", "10s"}, nil, "events-retention"},
		{"tiny audit retention", []string{"--audit-retention", "10m"}, nil, "audit-retention"},
		{"env bool", nil, map[string]string{"BERTH_CREATE_ON_PUSH": "maybe"}, "BERTH_CREATE_ON_PUSH"},
		{"env duration", nil, map[string]string{"BERTH_UPLOAD_EXPIRY": "forever"}, "BERTH_UPLOAD_EXPIRY"},
		{"stray argument", []string{"extra"}, nil, "unexpected arguments"},
		{"database scheme", []string{"--database", "mysql://u:p@h/db"}, nil, "want empty (SQLite in the data directory) or a postgres:// URL"},
		{"database not a URL", []string{"--database", "postgres://u:p@h:port/db"}, nil, "database: not a valid URL"},
		{"negative max conns", []string{"--db-max-conns", "-1"}, nil, "db-max-conns"},
		{"idle above max", []string{"--db-max-conns", "4", "--db-max-idle-conns", "5"}, nil, "must not exceed db-max-conns 4"},
		{"negative lifetime", []string{"--db-conn-max-lifetime", "-1s"}, nil, "db-conn-max-lifetime"},
		{"env int", nil, map[string]string{"BERTH_DB_MAX_CONNS": "many"}, "BERTH_DB_MAX_CONNS"},
		{"env migrate", nil, map[string]string{"BERTH_MIGRATE": "sometimes"}, "BERTH_MIGRATE"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := load(t, c.args, c.env)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to mention %q", err, c.want)
			}
		})
	}
}

func TestHostDerivation(t *testing.T) {
	t.Parallel()
	cases := []struct{ addr, host, tls, want string }{
		{":5000", "", "", "http://localhost:5000"},
		{"0.0.0.0:80", "", "", "http://localhost:80"},
		{"[::]:5000", "", "", "http://localhost:5000"},
		{"127.0.0.1:5001", "", "", "http://127.0.0.1:5001"},
		{":5000", "registry.example.com", "c.pem", "https://registry.example.com"},
	}
	for _, c := range cases {
		cfg := Default()
		cfg.Addr, cfg.RegistryHost, cfg.TLSCert = c.addr, c.host, c.tls
		if got := cfg.URL(); got != c.want {
			t.Errorf("addr %q host %q: URL() = %q, want %q", c.addr, c.host, got, c.want)
		}
	}
}

func TestEveryFieldHasFlagAndEnv(t *testing.T) {
	t.Parallel()
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	if _, err := Load(fs, nil, env(nil)); err != nil {
		t.Fatal(err)
	}
	var c Config
	for _, f := range c.fields() {
		if fs.Lookup(f.name) == nil {
			t.Errorf("field %s has no flag", f.name)
		}
		if !strings.HasPrefix(EnvName(f.name), "BERTH_") {
			t.Errorf("env name %s", EnvName(f.name))
		}
	}
	if EnvName("data-dir") != "BERTH_DATA_DIR" {
		t.Errorf("EnvName(data-dir) = %s", EnvName("data-dir"))
	}
}

func TestDatabaseSettings(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "berth.yaml")
	yaml := "database: postgresql://berth:s3cret@db.internal:5432/berth\ndbMaxConns: 8\ndbMaxIdleConns: 2\n" +
		"dbConnMaxLifetime: 10m\nmigrate: false\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := load(t, []string{"--config", file, "--db-max-conns", "12"}, map[string]string{"BERTH_DB_MAX_IDLE_CONNS": "3"})
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Postgres() || cfg.DBMaxConns != 12 || cfg.DBMaxIdleConns != 3 || cfg.DBConnMaxLifetime != 10*time.Minute || cfg.Migrate {
		t.Errorf("database settings not applied: %+v", cfg)
	}
	if got := cfg.DatabaseRedacted(); strings.Contains(got, "s3cret") || !strings.Contains(got, "db.internal:5432/berth") {
		t.Errorf("DatabaseRedacted() = %q", got)
	}
	def := Default()
	if def.Postgres() || !def.Migrate || def.DatabaseRedacted() != filepath.Join("berth-data", "berth.db") {
		t.Errorf("defaults: postgres=%v migrate=%v database=%q", def.Postgres(), def.Migrate, def.DatabaseRedacted())
	}
	env, err := load(t, nil, map[string]string{"BERTH_DATABASE": "postgres://u@h/db", "BERTH_MIGRATE": "false"})
	if err != nil || env.Database != "postgres://u@h/db" || env.Migrate {
		t.Errorf("environment: %+v, %v", env, err)
	}
}

// TestDatabaseErrorsHidePassword: no validation message shows the
// password of a rejected database URL.
func TestDatabaseErrorsHidePassword(t *testing.T) {
	t.Parallel()
	for _, dsn := range []string{"mysql://u:hunter2@h/db", "postgres://u:hunter2@h:port/db", "postgres://u:hunter2@h/db\x7f"} {
		_, err := load(t, []string{"--database", dsn}, nil)
		if err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%q: error %v (want one without the password)", dsn, err)
		}
	}
}

// TestSecretsKeySettings: the key itself comes only from the environment
// or the file (never a flag), the key file from any source, not both.
func TestSecretsKeySettings(t *testing.T) {
	t.Parallel()
	cfg, err := load(t, []string{"--node-name", "reg-a"}, map[string]string{EnvSecretsKey: "a2V5"})
	if err != nil || cfg.SecretsKey != "a2V5" || cfg.SecretsKeyFile != "" || cfg.NodeName != "reg-a" {
		t.Errorf("environment: %+v, %v", cfg, err)
	}
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if _, err := Load(fs, []string{"--secrets-key", "a2V5"}, env(nil)); err == nil {
		t.Error("--secrets-key accepted as a flag: the key would show in the process list")
	}
	cfg, err = load(t, []string{"--secrets-key-file", "/etc/berth/key"}, nil)
	if err != nil || cfg.SecretsKeyFile != "/etc/berth/key" {
		t.Errorf("--secrets-key-file: %+v, %v", cfg, err)
	}
	file := filepath.Join(t.TempDir(), "berth.yaml")
	if err := os.WriteFile(file, []byte("secretsKey: a2V5\nnodeName: reg-b\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err = load(t, []string{"--config", file}, nil)
	if err != nil || cfg.SecretsKey != "a2V5" || cfg.NodeName != "reg-b" {
		t.Errorf("file: %+v, %v", cfg, err)
	}
	_, err = load(t, []string{"--secrets-key-file", "/k"}, map[string]string{EnvSecretsKey: "a2V5"})
	if err == nil || strings.Contains(err.Error(), "a2V5") {
		t.Errorf("key and key file together: %v, want an error that does not show the key", err)
	}
	if _, err := load(t, []string{"--node-name", "a b"}, nil); err == nil {
		t.Error("a node name with a space accepted")
	}
}

func TestEventsSwitch(t *testing.T) {
	t.Parallel()
	if cfg := Default(); !cfg.Events || cfg.EventsRetention != 24*time.Hour {
		t.Fatalf("defaults: events %v, retention %s", cfg.Events, cfg.EventsRetention)
	}
	for _, c := range []struct {
		args []string
		env  map[string]string
	}{
		{[]string{"--events=false"}, nil},
		{nil, map[string]string{"BERTH_EVENTS": "false"}},
	} {
		cfg, err := load(t, c.args, c.env)
		if err != nil || cfg.Events {
			t.Errorf("%v %v: events %v, err %v", c.args, c.env, cfg.Events, err)
		}
	}
	cfg, err := load(t, []string{"--events-retention", "2h"}, nil)
	if err != nil || cfg.EventsRetention != 2*time.Hour {
		t.Errorf("--events-retention 2h: %s, %v", cfg.EventsRetention, err)
	}
}

func TestAuditSettings(t *testing.T) {
	t.Parallel()
	if cfg := Default(); !cfg.Audit || cfg.AuditRetention != 90*24*time.Hour {
		t.Fatalf("defaults: audit %v, retention %s", cfg.Audit, cfg.AuditRetention)
	}
	file := filepath.Join(t.TempDir(), "berth.yaml")
	if err := os.WriteFile(file, []byte("audit: false\nauditRetention: 720h\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args      []string
		env       map[string]string
		audit     bool
		retention time.Duration
	}{
		{[]string{"--audit=false", "--audit-retention", "0"}, nil, false, 0},
		{nil, map[string]string{"BERTH_AUDIT": "false", "BERTH_AUDIT_RETENTION": "48h"}, false, 48 * time.Hour},
		{[]string{"--config", file}, nil, false, 720 * time.Hour},
		{[]string{"--config", file, "--audit"}, nil, true, 720 * time.Hour},
	} {
		cfg, err := load(t, c.args, c.env)
		if err != nil || cfg.Audit != c.audit || cfg.AuditRetention != c.retention {
			t.Errorf("%v %v: audit %v retention %s, err %v; want %v %s", c.args, c.env, cfg.Audit, cfg.AuditRetention, err,
				c.audit, c.retention)
		}
	}
}
