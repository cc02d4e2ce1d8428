package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vitalwatch/vitalwatch/devices/status"
	"github.com/vitalwatch/vitalwatch/ingest/mqttconn"
	"github.com/vitalwatch/vitalwatch/internal/testsrv"
	"github.com/vitalwatch/vitalwatch/store"
	deviceusage "github.com/vitalwatch/vitalwatch/usage"
)

// benchDevices is how many registered devices the drain benchmark's backlog comes from.
const benchDevices = 2000

// BenchmarkDrain measures how fast ingest empties a broker backlog into InfluxDB, against the
// ceiling of a bare subscriber that only counts the same backlog. A real Mosquitto holds M
// QoS 1 messages for each persistent session; then the bare subscriber, and after it vitalwatch
// serve, connect and drain. Run it with `make bench` (M = BENCH_MESSAGES, default 300,000);
// BENCH_USAGE=off turns usage counting off, BENCH_ALERTS=off the alert engine, and
// BENCH_STATUS=off the device status tracker, to see what each costs. BENCH_TELEGRAF=PATH
// also drains the backlog with that Telegraf into the same influxd, last, and prints its rate
// and ingest's ratio to it (make bench-telegraf). BENCH_PROFILE=DIR runs serve in this test
// binary instead and writes its CPU profile of the drain (DIR/drain.cpu.pprof) and a heap
// profile at the end (DIR/drain.heap.pprof).
func BenchmarkDrain(b *testing.B) {
	m := 300000
	if s := os.Getenv("BENCH_MESSAGES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			b.Fatalf("BENCH_MESSAGES=%q: want a positive integer", s)
		}
		m = n
	}
	registered := benchDevices
	if s := os.Getenv("BENCH_REGISTRY"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < benchDevices {
			b.Fatalf("BENCH_REGISTRY=%q: want a number of registered devices, at least %d", s, benchDevices)
		}
		registered = n
	}
	countUses := true
	switch os.Getenv("BENCH_USAGE") {
	case "", "on":
	case "off":
		countUses = false
	default:
		b.Fatalf("BENCH_USAGE=%q: want on or off", os.Getenv("BENCH_USAGE"))
	}
	evaluateAlerts := true
	switch os.Getenv("BENCH_ALERTS") {
	case "", "on":
	case "off":
		evaluateAlerts = false
	default:
		b.Fatalf("BENCH_ALERTS=%q: want on or off", os.Getenv("BENCH_ALERTS"))
	}
	trackStatus := true
	switch os.Getenv("BENCH_STATUS") {
	case "", "on":
	case "off":
		trackStatus = false
	default:
		b.Fatalf("BENCH_STATUS=%q: want on or off", os.Getenv("BENCH_STATUS"))
	}
	telegraf := telegrafBinary(b)
	for range b.N {
		mq := testsrv.StartMosquitto(b, testsrv.MosquittoOptions{})
		ix := testsrv.StartInflux(b, testsrv.InfluxOptions{})

		// The persistent sessions exist before the backlog is published, so each holds all of it.
		const ceilingID, bufferedID, ingestID = "bench-ceiling", "bench-ceiling-buffered", "bench-ingest"
		sessions := []string{ceilingID, bufferedID, ingestID}
		if telegraf != "" {
			sessions = append(sessions, telegrafSession)
		}
		for _, id := range sessions {
			c := connect(b, mq.URL, id, false, nil)
			tok := c.SubscribeMultiple(map[string]byte{"devices/+/telemetry": 1, "devices/+/status": 1}, nil)
			if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
				b.Fatalf("subscribe: %v", tok.Error())
			}
			c.Disconnect(100)
		}
		fill := time.Now()
		testsrv.Publish(b, mq.URL, benchMessages(m, benchDevices, time.Now().Add(-12*time.Hour)))
		b.Logf("backlog of %d messages published in %v", m, time.Since(fill).Round(time.Millisecond))

		b.ResetTimer()
		// Ceiling: a paho subscriber that acknowledges at once and only counts; and the same on
		// the buffered connection ingest uses, which saves paho's per-packet system calls.
		ceiling := drainCount(b, mq.URL, ceilingID, false, m)
		buffered := drainCount(b, mq.URL, bufferedID, true, m)

		// Ingest: vitalwatch serve with its default settings.
		httpAddr := fmt.Sprintf("127.0.0.1:%d", testsrv.FreePort(b))
		dataDir := b.TempDir()
		// The devices that send, and as many more idle ones as BENCH_REGISTRY asks for.
		ids := make([]string, registered)
		for i := range ids {
			ids[i] = fmt.Sprintf("bench-%04d", i)
		}
		seeded := time.Now()
		seedDevices(b, dataDir, ids...)
		b.Logf("registry of %d devices seeded in %v", registered, time.Since(seeded).Round(time.Millisecond))
		cfg := externalConfig(b, dataDir, mq, ix, httpAddr, ingestID, "")
		if !countUses {
			appendConfig(b, cfg, "usage:\n  enabled: false\n")
		}
		if !evaluateAlerts {
			appendConfig(b, cfg, "alerts:\n  enabled: false\n")
		}
		if !trackStatus {
			appendConfig(b, cfg, "device_status:\n  enabled: false\n")
		}
		bin, err := binary()
		if err != nil {
			b.Fatal(err)
		}
		cmd := exec.Command(bin, "serve", "--config", cfg)
		profile := os.Getenv("BENCH_PROFILE")
		if profile != "" {
			// serve in this test binary, as the connections benchmark runs it, which writes
			// its CPU profile of the drain and a heap profile at its end on signals.
			if err := os.MkdirAll(profile, 0o755); err != nil {
				b.Fatal(err)
			}
			cmd = exec.Command(os.Args[0], "-test.run", "^TestConnectionsBenchProcess$", "-test.count=1", "-test.timeout=0")
			cmd.Env = append(os.Environ(), benchProcessEnv+"=serve", benchConfigEnv+"="+cfg,
				benchProfileEnv+"="+filepath.Join(profile, "drain"))
		}
		cmd.Stderr = os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		start := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		profiling := false
		for acked(httpAddr) < float64(m) {
			if profile != "" && !profiling && acked(httpAddr) > 0 {
				profiling = cmd.Process.Signal(syscall.SIGUSR2) == nil
			}
			if time.Since(start) > 20*time.Minute {
				b.Fatalf("ingest acknowledged %v of %d", acked(httpAddr), m)
			}
			time.Sleep(20 * time.Millisecond)
		}
		took := time.Since(start)
		b.StopTimer()
		if profiling {
			cmd.Process.Signal(syscall.SIGUSR1)
			time.Sleep(2 * time.Second) // the heap profile is written after a collection
		}
		rss := peakRSS(cmd.Process.Pid)
		cpu := cpuSeconds(cmd.Process.Pid)
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if n := ix.Count(b, "heart_rate") + ix.Count(b, "spo2") + ix.Count(b, "bp") + ix.Count(b, "glucose"); n != m {
			b.Fatalf("InfluxDB holds %d readings; want %d", n, m)
		}
		wantUses := 0
		if countUses {
			wantUses = m // each message is one reading at its own device and time
		}
		if uses := countedUses(b, dataDir); uses != wantUses {
			b.Fatalf("the store counted %d uses with usage counting %v; want %d", uses, countUses, wantUses)
		}
		wantTracked := 0
		if trackStatus {
			wantTracked = m // each message is one accepted reading, received within the hour
		}
		if n := trackedReadings(b, dataDir); n != wantTracked {
			b.Fatalf("the device status saved %d readings with the tracker %v; want %d", n, trackStatus, wantTracked)
		}
		ingest := float64(m) / took.Seconds()
		if telegraf != "" {
			// Last, on the same Mosquitto and influxd, once serve has stopped.
			t := drainTelegraf(b, telegraf, mq.URL, ix, m)
			b.ReportMetric(t.msgsPerS, "telegraf_msgs/s")
			b.ReportMetric(ingest/t.msgsPerS, "ratio_telegraf")
			fmt.Printf("telegraf_msgs_per_s %.0f\nratio_telegraf %.2f\ntelegraf_cpu_us_per_msg %.1f\ntelegraf_peak_rss_mib %.1f\n",
				t.msgsPerS, ingest/t.msgsPerS, t.cpuUsPerMsg, t.peakRSSMiB)
		}
		b.ReportMetric(ingest, "ingest_msgs/s")
		b.ReportMetric(ceiling, "ceiling_msgs/s")
		b.ReportMetric(ingest/ceiling, "ratio")
		b.ReportMetric(buffered, "ceiling_buffered_msgs/s")
		b.ReportMetric(ingest/buffered, "ratio_buffered")
		b.ReportMetric(float64(rss)/(1<<20), "peak_rss_MiB")
		b.ReportMetric(cpu*1e6/float64(m), "ingest_cpu_us/msg")
		fmt.Printf("usage_counting %v alerts %v device_status %v\n", countUses, evaluateAlerts, trackStatus)
		fmt.Printf("registered_devices %d\nmessages %d\ningest_msgs_per_s %.0f\nceiling_msgs_per_s %.0f\nratio %.2f\n"+
			"ceiling_buffered_msgs_per_s %.0f\nratio_buffered %.2f\npeak_rss_mib %.1f\ningest_cpu_us_per_msg %.1f\n",
			registered, m, ingest, ceiling, ingest/ceiling, buffered, ingest/buffered, float64(rss)/(1<<20), cpu*1e6/float64(m))
	}
}

// appendConfig adds YAML to the end of the config file at path.
func appendConfig(tb testing.TB, path, yaml string) {
	tb.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(yaml); err != nil {
		tb.Fatal(err)
	}
}

// countedUses returns the uses counted in the store of dataDir, over all days.
func countedUses(tb testing.TB, dataDir string) int {
	tb.Helper()
	st, err := store.Open(context.Background(), filepath.Join(dataDir, dbFile))
	if err != nil {
		tb.Fatal(err)
	}
	defer st.Close()
	counts, err := st.DayCounts(context.Background(), deviceusage.Query{From: "2000-01-01", To: "2100-01-01"})
	if err != nil {
		tb.Fatal(err)
	}
	n := 0
	for _, c := range counts {
		n += c.Uses
	}
	return n
}

// trackedReadings returns the readings of the last day that the device status of dataDir's
// store counted, over all devices.
func trackedReadings(tb testing.TB, dataDir string) int {
	tb.Helper()
	st, err := store.Open(context.Background(), filepath.Join(dataDir, dbFile))
	if err != nil {
		tb.Fatal(err)
	}
	defer st.Close()
	recs, _, err := st.LoadDeviceStatus(context.Background(), status.HourOf(time.Now().Add(-24*time.Hour)))
	if err != nil {
		tb.Fatal(err)
	}
	n := 0
	for _, r := range recs {
		for _, h := range r.Hours {
			n += int(h.Readings)
		}
	}
	return n
}

// drainCount connects the persistent session id, counts m messages, and returns the rate.
func drainCount(b *testing.B, url, id string, buffered bool, m int) float64 {
	var got atomic.Int64
	done := make(chan struct{})
	start := time.Now()
	c := connect(b, url, id, buffered, func(_ mqtt.Client, _ mqtt.Message) {
		if got.Add(1) == int64(m) {
			close(done)
		}
	})
	defer c.Disconnect(100)
	select {
	case <-done:
	case <-time.After(10 * time.Minute):
		b.Fatalf("bare subscriber %s drained %d of %d", id, got.Load(), m)
	}
	return float64(m) / time.Since(start).Seconds()
}

func connect(tb testing.TB, url, id string, buffered bool, handler mqtt.MessageHandler) mqtt.Client {
	tb.Helper()
	opts := mqtt.NewClientOptions().AddBroker(url).SetClientID(id).SetCleanSession(false).
		SetDefaultPublishHandler(handler)
	if buffered {
		opts.SetCustomOpenConnectionFn(mqttconn.Open)
	}
	c := mqtt.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		tb.Fatalf("connect %s: %v", id, tok.Error())
	}
	return c
}

// benchMessages is a realistic mix of one-reading telemetry messages, each reading at a
// distinct (device, time), so that exactly n points must land.
func benchMessages(n, devices int, base time.Time) []testsrv.Message {
	msgs := make([]testsrv.Message, n)
	for i := range msgs {
		dev := fmt.Sprintf("bench-%04d", i%devices)
		seq := i / devices
		ms := base.Add(time.Duration(seq) * time.Second).UnixMilli()
		var payload []byte
		switch i % 4 {
		case 0:
			payload = fmt.Appendf(nil, `{"ts":%d,"seq":%d,"readings":[{"type":"heart_rate","value":%d,"unit":"/min"}],"battery":%d}`, ms, seq, 55+i%60, 20+i%80)
		case 1:
			payload = fmt.Appendf(nil, `{"ts":%d,"seq":%d,"readings":[{"type":"spo2","value":%d,"unit":"%%"}]}`, ms, seq, 90+i%10)
		case 2:
			payload = fmt.Appendf(nil, `{"ts":%d,"seq":%d,"patient":"P-%06d","readings":[{"type":"bp","systolic":%d,"diastolic":%d,"pulse":%d,"unit":"mm[Hg]"}]}`, ms, seq, i%devices, 100+i%80, 60+i%30, 60+i%40)
		default:
			payload = fmt.Appendf(nil, `{"ts":%d,"seq":%d,"readings":[{"type":"glucose","value":%.1f,"unit":"mmol/L","context":"after_meal"}]}`, ms, seq, 4+float64(i%100)/10)
		}
		msgs[i] = testsrv.Message{Topic: "devices/" + dev + "/telemetry", Payload: payload}
	}
	return msgs
}

// acked reads vitalwatch_ingest_acked_total from /metrics; 0 until the server answers.
func acked(httpAddr string) float64 {
	resp, err := http.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "vitalwatch_ingest_acked_total "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}

// cpuSeconds returns the CPU time (user and system) a process has used so far: a cost that
// other work on the machine does not inflate as much as it does the elapsed time.
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0
	}
	// The fields after the command name, which is in parentheses and may hold spaces.
	fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return (utime + stime) / 100 // clock ticks; USER_HZ is 100 on Linux
}

// peakRSS returns a process's peak resident set size in bytes (VmHWM).
func peakRSS(pid int) int64 {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
