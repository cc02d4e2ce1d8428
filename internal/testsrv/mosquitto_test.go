package testsrv

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func dial(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}

func TestMosquittoRestartKeepsAddress(t *testing.T) {
	m := StartMosquitto(t, MosquittoOptions{})
	if m.URL != "tcp://"+m.Addr {
		t.Errorf("URL = %q; want tcp://%s", m.URL, m.Addr)
	}
	if err := dial(m.Addr); err != nil {
		t.Fatalf("dial %s: %v", m.Addr, err)
	}

	// PID names the running broker: /proc has its command line.
	pid := m.PID()
	if cmdline, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline")); err != nil || !strings.Contains(string(cmdline), "mosquitto") {
		t.Errorf("PID() = %d, whose command line is %q (%v); want the running mosquitto's", pid, cmdline, err)
	}

	addr := m.Addr
	m.Restart(t)
	if m.PID() == pid || m.PID() == 0 {
		t.Errorf("PID() after Restart = %d; want the new broker's, not %d", m.PID(), pid)
	}
	if m.Addr != addr {
		t.Errorf("Addr after Restart = %s; want %s", m.Addr, addr)
	}
	if err := dial(m.Addr); err != nil {
		t.Fatalf("dial %s after Restart: %v", m.Addr, err)
	}

	m.Stop()
	m.Stop() // idempotent
	if m.PID() != 0 {
		t.Errorf("PID() after Stop = %d; want 0", m.PID())
	}
	if err := dial(m.Addr); err == nil {
		t.Errorf("dial %s succeeded after Stop", m.Addr)
	}
	// A graceful stop saves the in-memory database, which is what Restart brings back.
	db := filepath.Join(filepath.Dir(m.proc.logPath), "data", "mosquitto.db")
	if _, err := os.Stat(db); err != nil {
		t.Errorf("no persistence file after Stop: %v", err)
	}
}

func TestMosquittoFixedPortAndExtraConfig(t *testing.T) {
	port := FreePort(t)
	m := StartMosquitto(t, MosquittoOptions{Port: port, ExtraConfig: "max_keepalive 120"})
	if want := "127.0.0.1:" + strconv.Itoa(port); m.Addr != want {
		t.Errorf("Addr = %s; want %s", m.Addr, want)
	}
	if err := dial(m.Addr); err != nil {
		t.Fatalf("dial %s: %v", m.Addr, err)
	}
}

// TestMosquittoStartsAgainWhenItsPortIsTaken holds the first port picked for the broker, as
// another test's server that bound it first would, and takes the connections made to it: the
// broker exits, and starts again on another port, and the harness does not mistake the
// holder's connections for the broker's.
func TestMosquittoStartsAgainWhenItsPortIsTaken(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	go func() {
		for {
			c, err := taken.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, as a server would
		}
	}()
	busy := taken.Addr().(*net.TCPAddr).Port
	pick, picks := busyFirst(busy)
	bin, ok := findExecutable("mosquitto", "/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")
	if !ok {
		t.Fatalf("mosquitto not found: %s", mosquittoInstall)
	}
	m := startMosquitto(t, bin, MosquittoOptions{}, pick)
	if m.Port == busy {
		t.Fatalf("the broker is said to be on %s, the port held by another", m.Addr)
	}
	if *picks != 2 {
		t.Errorf("%d ports picked; want one for each start", *picks)
	}
	Publish(t, m.URL, []Message{{Topic: "t", Payload: []byte("x")}}) // fails unless a broker answers
}
