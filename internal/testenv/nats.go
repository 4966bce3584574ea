// Package testenv gives tests the real services they run against.
package testenv

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// NATSURL returns the URL of a real NATS server for the test: the one
// scripts/test.sh started (BERTH_TEST_NATS_URL), else a nats-server
// (Debian package nats-server) started on a free loopback port for this
// test and stopped after it. Without either, the test fails when CI=true
// and is skipped otherwise, saying how to install the server.
func NATSURL(t testing.TB) string {
	t.Helper()
	if u := os.Getenv("BERTH_TEST_NATS_URL"); u != "" {
		return u
	}
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		for _, p := range []string{"/usr/sbin/nats-server", "/usr/bin/nats-server"} {
			if _, serr := os.Stat(p); serr == nil {
				bin, err = p, nil
				break
			}
		}
	}
	if err != nil {
		msg := "nats-server not found: install it (apt-get install nats-server) or set BERTH_TEST_NATS_URL"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return StartNATS(t, bin)
}

// StartNATS runs bin (a nats-server) on a free loopback port until the test
// ends and returns its URL once it accepts connections.
func StartNATS(t testing.TB, bin string) string {
	t.Helper()
	var lastErr error
	for range 3 {
		port, err := freePort()
		if err != nil {
			t.Fatalf("nats-server: %v", err)
		}
		dir := t.TempDir()
		cmd := exec.Command(bin, "-a", "127.0.0.1", "-p", strconv.Itoa(port), "-js", "-sd", filepath.Join(dir, "js"))
		out, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout = cmd.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatalf("start nats-server: %v", err)
		}
		ready := make(chan error, 1)
		go func() { ready <- waitReady(out) }()
		select {
		case lastErr = <-ready:
		case <-time.After(10 * time.Second):
			lastErr = fmt.Errorf("not ready within 10s")
		}
		if lastErr == nil {
			t.Cleanup(func() {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
			})
			return "nats://127.0.0.1:" + strconv.Itoa(port)
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	t.Fatalf("nats-server: %v", lastErr)
	return ""
}

// waitReady reads the server's log until it says it is ready, then keeps
// draining it so the server never blocks on a full pipe.
func waitReady(r interface{ Read([]byte) (int, error) }) error {
	sc := bufio.NewScanner(r)
	var last []string
	for sc.Scan() {
		line := sc.Text()
		last = append(last[max(len(last)-9, 0):], line)
		if strings.Contains(line, "Server is ready") {
			go func() {
				for sc.Scan() {
				}
			}()
			return nil
		}
	}
	return fmt.Errorf("exited before it was ready:\n%s", strings.Join(last, "\n"))
}
