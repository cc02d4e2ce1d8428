package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/internal/testsrv"
)

// telegrafSession is the persistent session that holds the drain's backlog for Telegraf.
const telegrafSession = "bench-telegraf"

// telegrafMeasurement is where Telegraf's mqtt_consumer writes, apart from ingest's readings.
const telegrafMeasurement = "mqtt_consumer"

// telegrafDrain is what Telegraf did with the backlog: its rate, CPU time a message and peak RSS.
type telegrafDrain struct {
	msgsPerS, cpuUsPerMsg, peakRSSMiB float64
}

// drainTelegraf runs Telegraf (the binary at bin) on the backlog of m messages that Mosquitto
// holds for telegrafSession: its mqtt_consumer input (QoS 1, the same persistent session) parses
// each message's JSON (the top-level numbers and the first reading's, flattened; the time from
// "ts") and its influxdb_v2 output writes them to ix's database, as a plain MQTT-to-InfluxDB
// pipeline does. It is timed from Telegraf's start until InfluxDB holds m points of
// telegrafMeasurement. The settings are Telegraf's for throughput: batches of 5,000 metrics, a
// flush every 100 ms, up to 10,000 messages in flight.
func drainTelegraf(b *testing.B, bin, mqURL string, ix *testsrv.Influx, m int) telegrafDrain {
	b.Helper()
	dir := b.TempDir()
	conf := fmt.Sprintf(`[agent]
  interval = "1s"
  flush_interval = "100ms"
  flush_jitter = "0s"
  metric_batch_size = 5000
  metric_buffer_limit = %d
  omit_hostname = true
  quiet = true

[[inputs.mqtt_consumer]]
  servers = [%q]
  topics = ["devices/+/telemetry", "devices/+/status"]
  qos = 1
  persistent_session = true
  client_id = %q
  max_undelivered_messages = 10000
  data_format = "json"
  json_time_key = "ts"
  json_time_format = "unix_ms"

[[outputs.influxdb_v2]]
  urls = [%q]
  token = ""
  organization = ""
  bucket = %q
`, 2*m, mqURL, telegrafSession, ix.URL, ix.Bucket)
	cfg := filepath.Join(dir, "telegraf.conf")
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "--config", cfg)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatalf("start %s: %v", bin, err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	for {
		n := influxQLCount(b, ix, `SELECT count("seq") FROM "`+telegrafMeasurement+`"`)
		if n >= m {
			if n > m {
				b.Fatalf("Telegraf wrote %d points; want %d", n, m)
			}
			break
		}
		if time.Since(start) > 20*time.Minute {
			b.Fatalf("Telegraf wrote %d of %d points in 20 minutes", n, m)
		}
		time.Sleep(100 * time.Millisecond)
	}
	took := time.Since(start)
	return telegrafDrain{
		msgsPerS:    float64(m) / took.Seconds(),
		cpuUsPerMsg: cpuSeconds(cmd.Process.Pid) * 1e6 / float64(m),
		peakRSSMiB:  float64(peakRSS(cmd.Process.Pid)) / (1 << 20),
	}
}

// influxQLCount answers an InfluxQL count query on ix's database: the first value of the first
// series, 0 when there is none. It is cheap enough to ask every 100 ms while points are written.
func influxQLCount(b *testing.B, ix *testsrv.Influx, q string) int {
	b.Helper()
	resp, err := http.Get(ix.URL + "/query?" + url.Values{"db": {ix.Database}, "q": {q}}.Encode())
	if err != nil {
		b.Fatalf("InfluxQL %s: %v", q, err)
	}
	defer resp.Body.Close()
	var out struct {
		Results []struct {
			Error  string
			Series []struct{ Values [][]any }
		}
	}
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("InfluxQL %s: status %d, %v", q, resp.StatusCode, err)
	}
	if len(out.Results) == 0 || out.Results[0].Error != "" {
		b.Fatalf("InfluxQL %s: %+v", q, out.Results)
	}
	s := out.Results[0].Series
	if len(s) == 0 || len(s[0].Values) == 0 || len(s[0].Values[0]) < 2 {
		return 0
	}
	c, _ := s[0].Values[0][1].(json.Number)
	n, err := c.Int64()
	if err != nil {
		b.Fatalf("InfluxQL %s: count %q: %v", q, s[0].Values[0][1], err)
	}
	return int(n)
}

// telegrafBinary is BENCH_TELEGRAF, the Telegraf to compare ingest with ("" for none); a path
// that is not an executable file stops the benchmark, naming the command that builds one.
func telegrafBinary(b *testing.B) string {
	bin := os.Getenv("BENCH_TELEGRAF")
	if bin == "" {
		return ""
	}
	if st, err := os.Stat(bin); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		b.Fatalf("BENCH_TELEGRAF=%q is not an executable file (make bench-telegraf builds one into .tools/bin)", bin)
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		b.Fatalf("BENCH_TELEGRAF=%q: %v", bin, err)
	}
	return abs
}
