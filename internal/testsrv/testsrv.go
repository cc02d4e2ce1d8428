// Package testsrv starts real servers for tests: a Mosquitto broker and an InfluxDB 1.8 server,
// each as its own process on a free loopback port in a temporary directory, stopped at the end of
// the test.
//
// A missing binary fails the test with the command that installs it; it never skips, so that a
// machine without the servers cannot report a green run that tested nothing.
//
// The Start functions call tb.Fatalf and must be called from the test's goroutine.
package testsrv

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago. Another process may take it
// before the caller binds it: rare, but it happens with many servers starting at once (`make
// test` runs packages side by side); StartInflux then starts influxd again on other ports.
func FreePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("testsrv: find a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// findExecutable returns the first of candidates that is an executable file, or the first match
// of name in PATH when no candidate is.
func findExecutable(name string, candidates ...string) (string, bool) {
	for _, c := range candidates {
		if isExecutable(c) {
			return c, true
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, true
	}
	return "", false
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// repoRoot walks up from the working directory to the directory holding go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// quoteTOML writes s as a TOML basic string. Only backslash and the quote need escaping in the
// paths and addresses written here.
func quoteTOML(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// skipShort skips a test that starts a real server when it runs under -short, the fast inner
// loop; without -short a missing server binary fails the test instead.
func skipShort(tb testing.TB, server string) {
	tb.Helper()
	if testing.Short() {
		tb.Skipf("starts %s; skipped under -short", server)
	}
}
