package testsrv

import (
	"fmt"
	"net"
	"os"
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
	port := opts.Port
	if port == 0 {
		port = FreePort(tb)
	}
	dir := tb.TempDir()
	dataDir := filepath.Join(dir, "data")
	if err := os.Mkdir(dataDir, 0o700); err != nil {
		tb.Fatalf("testsrv: %v", err)
	}
	logPath := filepath.Join(dir, "mosquitto.log")
	confPath := filepath.Join(dir, "mosquitto.conf")
	conf := mosquittoConfig(port, dataDir, logPath, os.Geteuid() == 0) + opts.ExtraConfig + "\n"
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		tb.Fatalf("testsrv: write mosquitto config: %v", err)
	}

	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	m := &Mosquitto{
		Addr: addr,
		URL:  "tcp://" + addr,
		Port: port,
		proc: &process{name: "mosquitto", path: bin, args: []string{"-c", confPath}, logPath: logPath},
	}
	tb.Cleanup(m.Stop)
	m.start(tb)
	return m
}

// mosquittoConfig is the configuration for mosquitto 2.x (see mosquitto.conf(5)).
func mosquittoConfig(port int, dataDir, logPath string, asRoot bool) string {
	var b strings.Builder
	if asRoot {
		// Started as root, mosquitto switches to the user "mosquitto", which cannot write to a
		// 0700 temporary directory owned by root: no log, no persistence file.
		b.WriteString("user root\n")
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

// Stop stops the broker with SIGTERM, which makes it write its persistence file, and waits for it
// to exit. Stopping a stopped broker does nothing.
func (m *Mosquitto) Stop() { m.proc.stop() }

// Restart stops the broker and starts it again on the same port with the same persistence
// directory: persistent sessions, their subscriptions and their queued QoS 1/2 messages survive.
func (m *Mosquitto) Restart(tb testing.TB) {
	tb.Helper()
	m.Stop()
	m.start(tb)
}

func (m *Mosquitto) start(tb testing.TB) {
	tb.Helper()
	r, err := m.proc.start()
	if err != nil {
		m.proc.fatalf(tb, "testsrv: start mosquitto: %v", err)
	}
	err = r.waitReady(10*time.Second, func() error {
		c, err := net.DialTimeout("tcp", m.Addr, time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	})
	if err != nil {
		m.proc.fatalf(tb, "testsrv: mosquitto on %s: %v", m.Addr, err)
	}
}
