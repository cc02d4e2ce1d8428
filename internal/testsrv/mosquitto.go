package testsrv

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const mosquittoInstall = "install it with `apt-get install mosquitto` (Debian/Ubuntu package mosquitto)"

// Mosquitto is a running Mosquitto broker with one plain MQTT listener on 127.0.0.1.
type Mosquitto struct {
	Addr string // host:port
	URL  string // tcp://host:port, the form MQTT clients take
	Port int

	proc *process
}

// MosquittoOptions configures StartMosquitto.
type MosquittoOptions struct {
	// ExtraConfig is appended to the generated mosquitto.conf, one option per line.
	ExtraConfig string
	// Port is the listener port; 0 picks a free one. Restart always keeps the port.
	Port int
	// User, when the test runs as root, is the user Mosquitto switches to, as its packages run
	// it (user mosquitto): it then reads its password and ACL files as that user. Empty: root,
	// which can read anything. Ignored when the test is not root.
	User string
}

// StartMosquitto starts a broker in a temporary directory and stops it when the test ends.
//
// The broker allows anonymous clients, keeps sessions and queued QoS 1/2 messages in a persistence
// file that Stop (SIGTERM) writes and Restart reads, and puts no limit on queued or in-flight
// messages per client (mosquitto drops messages past 1000 queued by default, which would make a
// load test lose data for a reason that is not the code under test).
func StartMosquitto(tb testing.TB, opts MosquittoOptions) *Mosquitto {
	tb.Helper()
	skipShort(tb, "mosquitto")
	bin, ok := findExecutable("mosquitto", "/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")
	if !ok {
		tb.Fatalf("testsrv: mosquitto not found in PATH, /usr/sbin or /usr/local/sbin: %s", mosquittoInstall)
	}
	return startMosquitto(tb, bin, opts, FreePort)
}

// startMosquitto is StartMosquitto with the port picked by pick. A port that pick found free
// may be taken by another test's server before the broker binds it; then the broker exits at
// once, and is started again on another port.
func startMosquitto(tb testing.TB, bin string, opts MosquittoOptions, pick func(testing.TB) int) *Mosquitto {
	tb.Helper()
	var m *Mosquitto
	startOnFreePort(tb, opts.Port != 0, func() (*process, error) {
		m = newMosquitto(tb, bin, opts, pick)
		return m.proc, m.start()
	})
	tb.Cleanup(m.Stop)
	return m
}

// newMosquitto writes the configuration of a broker in a new directory, on opts.Port or a port
// from pick, and returns it not started.
func newMosquitto(tb testing.TB, bin string, opts MosquittoOptions, pick func(testing.TB) int) *Mosquitto {
	tb.Helper()
	port := opts.Port
	if port == 0 {
		port = pick(tb)
	}
	runAs := ""
	if os.Geteuid() == 0 {
		runAs = "root"
		if opts.User != "" {
			runAs = opts.User
		}
	}
	dir := mosquittoDir(tb, runAs)
	dataDir := filepath.Join(dir, "data")
	if err := os.Mkdir(dataDir, 0o700); err != nil {
		tb.Fatalf("testsrv: %v", err)
	}
	chownTo(tb, runAs, dataDir)
	logPath := filepath.Join(dir, "mosquitto.log")
	if err := os.WriteFile(logPath, nil, 0o644); err != nil {
		tb.Fatalf("testsrv: %v", err)
	}
	chownTo(tb, runAs, logPath) // the broker's output goes to it too, opened by the test as root
	confPath := filepath.Join(dir, "mosquitto.conf")
	conf := mosquittoConfig(port, dataDir, logPath, runAs) + opts.ExtraConfig + "\n"
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		tb.Fatalf("testsrv: write mosquitto config: %v", err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	return &Mosquitto{
		Addr: addr,
		URL:  "tcp://" + addr,
		Port: port,
		proc: &process{name: "mosquitto", path: bin, args: []string{"-c", confPath}, logPath: logPath},
	}
}

// mosquittoDir is the broker's directory: the test's own, or, for a broker that runs as another
// user, one in the temporary directory that this user owns (the test's sits under a 0700 one).
func mosquittoDir(tb testing.TB, runAs string) string {
	tb.Helper()
	if runAs == "" || runAs == "root" {
		return tb.TempDir()
	}
	if err := reachableByOthers(os.TempDir()); err != nil {
		tb.Fatalf("testsrv: the user %s cannot reach the temporary directory: %v; set TMPDIR to a directory such as /tmp", runAs, err)
	}
	dir, err := os.MkdirTemp("", "vitalwatch-mosquitto-")
	if err != nil {
		tb.Fatalf("testsrv: %v", err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) }) // registered before Stop, so it runs after it
	chownTo(tb, runAs, dir)
	return dir
}

// chownTo gives path to the user runAs and its group, when that is not root or nobody.
func chownTo(tb testing.TB, runAs, path string) {
	tb.Helper()
	if runAs == "" || runAs == "root" {
		return
	}
	u, err := user.Lookup(runAs)
	if err != nil {
		tb.Fatalf("testsrv: mosquitto is to run as %s: %v: %s", runAs, err, mosquittoInstall)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(path, uid, gid); err != nil {
		tb.Fatalf("testsrv: %v", err)
	}
}

// mosquittoConfig is the configuration for mosquitto 2.x (see mosquitto.conf(5)). runAs is the
// user a broker started as root switches to ("" when not started as root).
func mosquittoConfig(port int, dataDir, logPath string, runAs string) string {
	var b strings.Builder
	if runAs != "" {
		// Started as root, mosquitto switches to the user "mosquitto" unless told otherwise;
		// that user cannot write to a 0700 temporary directory owned by root, so a broker meant
		// to run as it gets a directory of its own (mosquittoDir).
		fmt.Fprintf(&b, "user %s\n", runAs)
	}
	fmt.Fprintf(&b, "listener %d 127.0.0.1\n", port)
	b.WriteString("allow_anonymous true\n")
	b.WriteString("persistence true\n")
	// mosquitto 1.x appended the file name without a separator; 2.x adds one. A slash suits both.
	fmt.Fprintf(&b, "persistence_location %s/\n", dataDir)
	b.WriteString("max_queued_messages 0\n")   // default 1000 per client, then drops
	b.WriteString("max_queued_bytes 0\n")      // the default, no limit; stated for the reader
	b.WriteString("max_inflight_messages 0\n") // default 20; 0 means no limit
	b.WriteString("set_tcp_nodelay true\n")    // no Nagle delay on small test messages
	fmt.Fprintf(&b, "log_dest file %s\n", logPath)
	b.WriteString("log_timestamp_format %Y-%m-%dT%H:%M:%S\n")
	return b.String()
}

// PID is the process id of the running broker, such as to read its memory and CPU time in
// /proc; 0 when it is not running.
func (m *Mosquitto) PID() int { return m.proc.pid() }

// Stop stops the broker with SIGTERM, which makes it write its persistence file, and waits for it
// to exit. Stopping a stopped broker does nothing.
func (m *Mosquitto) Stop() { m.proc.stop() }

// Restart stops the broker and starts it again on the same port with the same persistence
// directory: persistent sessions, their subscriptions and their queued QoS 1/2 messages survive.
func (m *Mosquitto) Restart(tb testing.TB) {
	tb.Helper()
	m.Stop()
	if err := m.start(); err != nil {
		m.proc.fatalf(tb, "testsrv: %v", err)
	}
}

// start starts the broker and waits until it takes connections. A connection alone is not
// enough: if another server took the port, the connection would be that server's. The broker
// logs that it is running once it has opened its listener, so its log since this start must
// say so too.
func (m *Mosquitto) start() error {
	from := logSize(m.proc.logPath)
	r, err := m.proc.start()
	if err != nil {
		return fmt.Errorf("start mosquitto: %w", err)
	}
	err = r.waitReady(10*time.Second, func() error {
		if !strings.Contains(logSince(m.proc.logPath, from), " running") {
			return errors.New("its log does not say it is running")
		}
		c, err := net.DialTimeout("tcp", m.Addr, time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	})
	if err != nil {
		return fmt.Errorf("mosquitto on %s: %w", m.Addr, err)
	}
	return nil
}
