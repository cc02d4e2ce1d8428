package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vitalwatch/vitalwatch/internal/testsrv"
)

// binary and vitalsim build the commands once for the tests that run them as processes.
var (
	binary   = sync.OnceValues(func() (string, error) { return build(".") })
	vitalsim = sync.OnceValues(func() (string, error) { return build("../vitalsim") })
)

func build(pkg string) (string, error) {
	dir, err := os.MkdirTemp("", "vitalwatch-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, filepath.Base(pkg))
	if pkg == "." {
		bin = filepath.Join(dir, "vitalwatch")
	}
	out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin, nil
}

// proc is vitalwatch serve running as a child process.
type proc struct {
	cmd  *exec.Cmd
	log  string
	http string
}

func startProc(t *testing.T, config string, httpAddr string) *proc {
	t.Helper()
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(filepath.Dir(config), fmt.Sprintf("serve-%d.log", time.Now().UnixNano()))
	f, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--config", config)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	p := &proc{cmd: cmd, log: logFile, http: httpAddr}
	t.Cleanup(func() { p.kill() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + httpAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("vitalwatch serve not ready in 30s; log:\n%s", p.logTail())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (p *proc) kill() {
	if p.cmd.ProcessState == nil {
		p.cmd.Process.Kill()
		p.cmd.Wait()
	}
}

func (p *proc) logTail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func writeConfig(tb testing.TB, body string) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "vitalwatch.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// heartRateDevices are the ids heartRates sends from.
func heartRateDevices(devices int) []string {
	ids := make([]string, devices)
	for i := range ids {
		ids[i] = fmt.Sprintf("hr-%03d", i)
	}
	return ids
}

// heartRates returns n telemetry messages over devices devices, each one reading at a distinct
// time, so that n points must land.
func heartRates(n, devices int, base time.Time) []testsrv.Message {
	msgs := make([]testsrv.Message, n)
	for i := range msgs {
		dev := fmt.Sprintf("hr-%03d", i%devices)
		at := base.Add(time.Duration(i/devices) * time.Second)
		msgs[i] = testsrv.Message{Topic: "devices/" + dev + "/telemetry",
			Payload: fmt.Appendf(nil, `{"ts":%d,"seq":%d,"readings":[{"type":"heart_rate","value":%d,"unit":"/min"}]}`,
				at.UnixMilli(), i/devices, 50+i%80)}
	}
	return msgs
}

// publisher publishes in the background at a steady rate, surviving broker restarts.
type publisher struct {
	done chan error
	sent chan int
}

func publishInBackground(url string, msgs []testsrv.Message, perSecond int) *publisher {
	p := &publisher{done: make(chan error, 1), sent: make(chan int, len(msgs)+1)}
	go func() {
		c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID(fmt.Sprintf("bgpub-%d", time.Now().UnixNano())).
			SetCleanSession(false).SetAutoReconnect(true).SetConnectRetry(true).SetMaxReconnectInterval(300 * time.Millisecond))
		if tok := c.Connect(); !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
			p.done <- fmt.Errorf("connect: %v", tok.Error())
			return
		}
		defer c.Disconnect(250)
		var toks []mqtt.Token
		tick := time.NewTicker(time.Second / time.Duration(perSecond/100))
		defer tick.Stop()
		for i := 0; i < len(msgs); i += 100 {
			<-tick.C
			for _, m := range msgs[i:min(i+100, len(msgs))] {
				toks = append(toks, c.Publish(m.Topic, 1, false, m.Payload))
			}
			p.sent <- min(i+100, len(msgs))
		}
		for _, tok := range toks {
			if !tok.WaitTimeout(60*time.Second) || tok.Error() != nil {
				p.done <- fmt.Errorf("publish: %v", tok.Error())
				return
			}
		}
		p.done <- nil
	}()
	return p
}

// waitSent waits until the publisher has sent at least n messages.
func (p *publisher) waitSent(t *testing.T, n int) {
	t.Helper()
	for {
		select {
		case s := <-p.sent:
			if s >= n {
				return
			}
		case err := <-p.done:
			t.Fatalf("publisher ended early: %v", err)
		case <-time.After(60 * time.Second):
			t.Fatalf("publisher stalled before %d messages", n)
		}
	}
}

func (p *publisher) wait(t *testing.T) {
	t.Helper()
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("publisher: %v", err)
		}
	case <-time.After(120 * time.Second):
		t.Fatal("publisher did not finish")
	}
}

func waitCount(t *testing.T, ix *testsrv.Influx, measurement string, want int, limit time.Duration, logTail func() string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		got := ix.Count(t, measurement)
		if got == want {
			return
		}
		if got > want || time.Now().After(deadline) {
			t.Fatalf("%s points = %d; want %d\nlog:\n%s", measurement, got, want, logTail())
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// externalConfig is a config for serve with an external broker and its store in dataDir;
// ingestExtra adds lines under ingest: (each indented by two spaces).
func externalConfig(tb testing.TB, dataDir string, mq *testsrv.Mosquitto, ix *testsrv.Influx, httpAddr, clientID, ingestExtra string) string {
	return writeConfig(tb, fmt.Sprintf(`data_dir: %s
http:
  listen: %s
broker:
  embedded: false
  url: %s
ingest:
  client_id: %s
%sinflux:
  url: %s
  bucket: %s
`, dataDir, httpAddr, mq.URL, clientID, ingestExtra, ix.URL, ix.Bucket))
}

// testTuning makes batches small and the watchdog quick, so short tests exercise both.
const testTuning = "  batch_size: 300\n  watchdog_interval: 1s\n"

// TestIngesterKilledMidStream kills vitalwatch with SIGKILL while devices are sending and starts
// it again: the broker redelivers what was not acknowledged, so every reading lands, once.
func TestIngesterKilledMidStream(t *testing.T) {
	mq := testsrv.StartMosquitto(t, testsrv.MosquittoOptions{})
	ix := testsrv.StartInflux(t, testsrv.InfluxOptions{})
	httpAddr := fmt.Sprintf("127.0.0.1:%d", testsrv.FreePort(t))
	dataDir := t.TempDir()
	seedDevices(t, dataDir, heartRateDevices(60)...)
	cfg := externalConfig(t, dataDir, mq, ix, httpAddr, "ingest-kill", testTuning)
	p := startProc(t, cfg, httpAddr)

	msgs := heartRates(12000, 60, time.Now().Add(-6*time.Hour))
	pub := publishInBackground(mq.URL, msgs, 2000)
	pub.waitSent(t, 4000)
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.cmd.Wait()
	landed := ix.Count(t, "heart_rate")
	t.Logf("killed with %d of %d readings in InfluxDB", landed, len(msgs))
	if landed >= len(msgs) {
		t.Fatalf("the kill came after everything landed; the test proves nothing")
	}
	pub.waitSent(t, 8000) // the broker queues these for the persistent session
	p2 := startProc(t, cfg, httpAddr)
	pub.wait(t)
	waitCount(t, ix, "heart_rate", len(msgs), 60*time.Second, p2.logTail)
}

// TestBrokerRestartMidStream restarts Mosquitto while devices are sending: ingest reconnects,
// and every reading lands once.
func TestBrokerRestartMidStream(t *testing.T) {
	mq := testsrv.StartMosquitto(t, testsrv.MosquittoOptions{})
	ix := testsrv.StartInflux(t, testsrv.InfluxOptions{})
	httpAddr := fmt.Sprintf("127.0.0.1:%d", testsrv.FreePort(t))
	dataDir := t.TempDir()
	seedDevices(t, dataDir, heartRateDevices(50)...)
	p := startProc(t, externalConfig(t, dataDir, mq, ix, httpAddr, "ingest-restart", testTuning), httpAddr)

	msgs := heartRates(10000, 50, time.Now().Add(-3*time.Hour))
	pub := publishInBackground(mq.URL, msgs, 2000)
	pub.waitSent(t, 4000)
	mq.Restart(t)
	pub.wait(t)
	waitCount(t, ix, "heart_rate", len(msgs), 60*time.Second, p.logTail)
	if !strings.Contains(p.logTail(), "broker connection lost") {
		t.Errorf("ingest log does not show the lost connection; did the broker restart?\n%s", p.logTail())
	}
	var buf bytes.Buffer
	resp, err := http.Get("http://" + httpAddr + "/metrics")
	if err == nil {
		buf.ReadFrom(resp.Body)
		resp.Body.Close()
	}
	if !strings.Contains(buf.String(), "vitalwatch_mqtt_connects_total 2") {
		t.Errorf("metrics do not show two connections:\n%s", grepLines(buf.String(), "vitalwatch_mqtt"))
	}
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
