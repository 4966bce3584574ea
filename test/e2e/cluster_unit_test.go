package e2e

import (
	"bytes"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/berth-registry/berth/internal/testenv"
)

// TestClusterUnitVerifies runs systemd-analyze verify on the unit, where
// systemd's tools are installed: unknown keys and bad values are errors.
func TestClusterUnitVerifies(t *testing.T) {
	t.Parallel()
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatal("systemd-analyze is not installed (Debian package systemd; scripts/test.sh installs it)")
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, unitFile))
	if err != nil {
		t.Fatal(err)
	}
	// The unit as installed, pointing at this build and the template.
	unit := strings.ReplaceAll(string(b), "/usr/local/bin/berth", berthBin)
	unit = strings.ReplaceAll(unit, "/etc/berth/berth.env", filepath.Join(root, envFile))
	dir := t.TempDir()
	path := filepath.Join(dir, "berth@1.service")
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify %s: %v\n%s", unitFile, err, out)
	}
}

// TestClusterUnitSandbox traces a node started from the unit (strace -f)
// while it starts on PostgreSQL and MinIO, takes a push and a pull,
// collects garbage, serves metrics and stops, and checks that every
// system call it made is allowed by the unit's SystemCallFilter lines:
// with a call outside them systemd would kill the node.
func TestClusterUnitSandbox(t *testing.T) {
	t.Parallel()
	strace, err1 := exec.LookPath("strace")
	analyze, err2 := exec.LookPath("systemd-analyze")
	if err1 != nil || err2 != nil {
		t.Fatal("needs strace and systemd-analyze (Debian packages strace, systemd; scripts/test.sh installs them)")
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	allowed := unitSyscalls(t, analyze, filepath.Join(root, unitFile))
	ctx := testContext(t, 3*time.Minute)
	trace := filepath.Join(t.TempDir(), "trace")
	c := startCluster(t, 1, clusterOptions{dsn: testenv.PostgresDatabase(t),
		extraEnv: []string{"BERTH_GC_INTERVAL=1s", "BERTH_CREATE_ON_PUSH=true"},
		wrap:     []string{strace, "-f", "-qq", "-o", trace}})
	s := c.nodes[0]
	img := randomImage(t, 256<<10, 2)
	ref := s.repo(t, "sandbox/app").Tag("v1")
	if err := remote.Write(ref, img, remoteOpts(ctx)...); err != nil {
		t.Fatalf("push: %v", err)
	}
	verifyImage(t, ctx, ref, img)
	scrape(t, "http://"+c.metrics[0]+"/metrics")
	time.Sleep(2 * time.Second) // a garbage-collection pass
	if err := s.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	b, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]int{}
	call := regexp.MustCompile(`(?m)^\d+ +(?:<\.\.\. )?([a-z0-9_]+)(?:\(| resumed>)`)
	for _, m := range call.FindAllSubmatch(b, -1) {
		used[string(m[1])]++
	}
	if len(used) < 20 {
		t.Fatalf("traced only %d system calls: %v", len(used), used)
	}
	for _, name := range slices.Sorted(maps.Keys(used)) {
		if !allowed[name] {
			t.Errorf("berth called %s (%d times), which %s's SystemCallFilter does not allow", name, used[name], unitFile)
		}
	}
	t.Logf("berth made %d distinct system calls", len(used))
}

// unitSyscalls is the set of system calls the unit's SystemCallFilter
// lines allow: the allow list minus the deny (~) lists, groups expanded
// by systemd-analyze.
func unitSyscalls(t *testing.T, analyze, unit string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	var allow, deny []string
	for _, line := range strings.Split(string(b), "\n") {
		v, ok := strings.CutPrefix(line, "SystemCallFilter=")
		if !ok {
			continue
		}
		if d, ok := strings.CutPrefix(v, "~"); ok {
			deny = append(deny, strings.Fields(d)...)
		} else {
			allow = append(allow, strings.Fields(v)...)
		}
	}
	if len(allow) == 0 {
		t.Fatalf("%s has no SystemCallFilter allow list", unitFile)
	}
	out := map[string]bool{}
	for _, n := range expandSyscalls(t, analyze, allow, map[string]bool{}) {
		out[n] = true
	}
	for _, n := range expandSyscalls(t, analyze, deny, map[string]bool{}) {
		delete(out, n)
	}
	return out
}

func expandSyscalls(t *testing.T, analyze string, names []string, seen map[string]bool) []string {
	t.Helper()
	var out []string
	for _, n := range names {
		if !strings.HasPrefix(n, "@") {
			out = append(out, n)
			continue
		}
		if seen[n] {
			continue
		}
		seen[n] = true
		b, err := exec.Command(analyze, "syscall-filter", n).Output()
		if err != nil {
			t.Fatalf("systemd-analyze syscall-filter %s: %v", n, err)
		}
		var members []string
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) == 0 || strings.HasPrefix(f[0], "#") {
				continue
			}
			members = append(members, f[0])
		}
		if len(members) == 0 {
			t.Fatalf("systemd-analyze syscall-filter %s lists nothing", n)
		}
		out = append(out, expandSyscalls(t, analyze, members, seen)...)
	}
	return out
}
