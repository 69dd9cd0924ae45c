package tiffintest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// NATSServerEnv names the nats-server executable SystemNATS runs; default: nats-server on
// PATH (or /usr/sbin/nats-server).
const NATSServerEnv = "TIFFIN_NATS_SERVER"

// SystemNATS starts the nats-server executable installed on the machine (an operator's
// broker, often older than the server tiffin embeds: the project's machines have 2.9) with
// JetStream in a temporary directory on a free port, and returns its URL and version. It stops
// the server when the test ends. Without an executable it skips the test loudly (fails under
// TIFFIN_REQUIRE_NATS_SERVER=1).
func SystemNATS(tb testing.TB) (url, version string) {
	tb.Helper()
	bin := os.Getenv(NATSServerEnv)
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("nats-server"); err != nil {
			if _, serr := os.Stat("/usr/sbin/nats-server"); serr == nil {
				bin = "/usr/sbin/nats-server"
			}
		}
	}
	if bin == "" {
		msg := fmt.Sprintf("\n*** nats-server NOT FOUND (set %s or put it on PATH)\n*** tests against an operator's NATS server SKIPPED.\n", NATSServerEnv)
		skipLoudly(tb, "nats-server", "TIFFIN_REQUIRE_NATS_SERVER", msg)
	}
	out, err := exec.Command(bin, "--version").Output() // #nosec G204 G702 -- a test helper running nats-server from PATH with arguments it chose
	if err != nil {
		tb.Fatalf("%s --version: %v", bin, err)
	}
	version = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(out)), "nats-server:"))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin, "-js", "-a", "127.0.0.1", "-p", fmt.Sprint(port), "-sd", tb.TempDir()) // #nosec G204 G702 -- a test helper running nats-server from PATH with arguments it chose
	cmd.Stdout, cmd.Stderr = tb.Output(), tb.Output()
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", bin, err)
	}
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s did not listen on %s: %v", bin, addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "nats://" + addr, version
}
