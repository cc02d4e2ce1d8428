package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/internal/testsrv"
)

// BenchmarkConnections measures a city of devices on one machine: BENCH_DEVICES registered
// devices (default 20,000), each connecting to the embedded broker as itself with its own
// secret, in vitalsim's sessions mode (wearables and CGMs stay connected, the other devices
// connect, send BENCH_SESSION_MESSAGES readings and leave, BENCH_PARALLEL at a time), as fast
// as the broker acknowledges (or at BENCH_RATE readings a second, a real fleet's pace), for
// BENCH_DURATION a run (default 60s). It alternates pairs
// (BENCH_PAIRS, default 3) of two runs, each in a process of its own started afresh on a copy
// of the same registry:
//
//   - broker: the embedded broker as serve configures it, with a bare subscriber in ingest's
//     place that acknowledges at once (TestConnectionsBenchProcess);
//   - serve: vitalwatch serve, with ingest into a real influxd, usage, alerts and device status.
//
// For each run it prints the messages (telemetry and status) acknowledged a second, the
// process's RSS at the end of the load and at each quarter of it, its peak RSS and its CPU time
// a message, with the load average; then the medians and ranges of each side, and the ratio
// serve/broker, pair by pair. BENCH_ONLY=broker or serve runs one side; BENCH_PROFILE=DIR writes
// each run's CPU profile (over the load) and heap profile (near its end) there;
// BENCH_SERVE_CONFIG is YAML added to serve's configuration (keys not set above), such as
// "ingest:\n  flush_interval: 10ms\n"; BENCH_CACHE=DIR keeps the imported registry for the next
// run of the same size. BENCH_BROKER=mosquitto (default embedded) puts the connections in an
// external Mosquitto instead (connections_mosquitto_bench_test.go). BENCH_WARMUP=D starts
// every run from the store of a serve that took the same load for D first (warmTemplate).
// Run it with `make bench-connections`.
func BenchmarkConnections(b *testing.B) {
	p := connectionsParams(b)
	sim, err := vitalsim()
	if err != nil {
		b.Fatal(err)
	}
	reg, template := prepareRegistry(b, p, sim)
	fmt.Printf("connections: %d devices, %s a run, %d at a time, %d readings a visit, %s, %d pairs, GOMAXPROCS of the processes %s\n",
		p.devices, p.duration, p.parallel, p.sessionMessages, connPace(p.rate), p.pairs, connOr(os.Getenv("GOMAXPROCS"), "default"))
	var mb *benchMosquitto
	if p.broker == "mosquitto" {
		mb = prepareMosquitto(b, template)
		fmt.Println("broker: Mosquitto with a bare subscriber acknowledging at once; serve: Mosquitto with vitalwatch serve as its ingest client.")
		fmt.Println("The columns are the subscriber's or serve's process, msg/s what Mosquitto acknowledged to the devices; the mosquitto line is Mosquitto's own.")
	}
	fmt.Println("pair side   msg/s   telemetry/s connects/s errors rss_end_MiB rss_quarters_MiB  peak_MiB cpu_us/msg load")

	template = warmTemplate(b, p, reg, template, sim, mb)
	var results []connectionsRun
	for pair := 1; pair <= p.pairs; pair++ {
		sides := []string{"broker", "serve"}
		if pair%2 == 0 {
			slices.Reverse(sides)
		}
		for _, side := range sides {
			if p.only != "" && side != p.only {
				continue
			}
			r := runConnections(b, p, side, pair, reg, template, sim, mb, "")
			results = append(results, r)
			r.print()
		}
	}
	summarizeConnections(b, results)
}

type connectionsConfig struct {
	devices, parallel, sessionMessages, pairs, rate int
	duration, warmup                                time.Duration
	only, profile, broker                           string
}

func connectionsParams(b *testing.B) connectionsConfig {
	p := connectionsConfig{devices: 20000, parallel: 64, sessionMessages: 10, pairs: 3, duration: time.Minute}
	for _, v := range []struct {
		env string
		to  *int
		min int
	}{{"BENCH_DEVICES", &p.devices, 100}, {"BENCH_PARALLEL", &p.parallel, 1}, {"BENCH_SESSION_MESSAGES", &p.sessionMessages, 1}, {"BENCH_PAIRS", &p.pairs, 1}, {"BENCH_RATE", &p.rate, 0}} {
		if s := os.Getenv(v.env); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < v.min {
				b.Fatalf("%s=%q: want a whole number, at least %d", v.env, s, v.min)
			}
			*v.to = n
		}
	}
	if s := os.Getenv("BENCH_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 5*time.Second {
			b.Fatalf("BENCH_DURATION=%q: want a duration of at least 5s", s)
		}
		p.duration = d
	}
	if s := os.Getenv("BENCH_WARMUP"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 5*time.Second {
			b.Fatalf("BENCH_WARMUP=%q: want a duration of at least 5s", s)
		}
		p.warmup = d
	}
	switch p.only = os.Getenv("BENCH_ONLY"); p.only {
	case "", "broker", "serve":
	default:
		b.Fatalf("BENCH_ONLY=%q: want broker or serve", p.only)
	}
	switch p.broker = connOr(os.Getenv("BENCH_BROKER"), "embedded"); p.broker {
	case "embedded", "mosquitto":
	default:
		b.Fatalf("BENCH_BROKER=%q: want embedded or mosquitto", p.broker)
	}
	if p.profile = os.Getenv("BENCH_PROFILE"); p.profile != "" {
		if err := os.MkdirAll(p.profile, 0o755); err != nil {
			b.Fatal(err)
		}
	}
	return p
}

// prepareRegistry exports the fleet's registry with vitalsim and imports it into a data
// directory that each run copies, and returns both. With BENCH_CACHE=DIR they are kept in
// DIR/devices-N, and taken from there when it has them: importing 100,000 devices takes
// minutes.
func prepareRegistry(b *testing.B, p connectionsConfig, sim string) (reg, template string) {
	work := b.TempDir()
	if dir := os.Getenv("BENCH_CACHE"); dir != "" {
		work = filepath.Join(dir, fmt.Sprintf("devices-%d", p.devices))
	}
	reg, template = filepath.Join(work, "registry"), filepath.Join(work, "template")
	done := filepath.Join(work, "complete")
	if _, err := os.Stat(done); err == nil {
		b.Logf("registry of %d devices from %s", p.devices, work)
		return reg, template
	}
	os.RemoveAll(reg)
	os.RemoveAll(template)
	prepared := time.Now()
	if out, err := exec.Command(sim, "--export-registry", reg, "--devices", strconv.Itoa(p.devices), "--seed", "1").CombinedOutput(); err != nil {
		b.Fatalf("vitalsim --export-registry: %v\n%s", err, out)
	}
	var importOut strings.Builder
	if err := run(context.Background(), []string{"registry", "import", reg}, []string{"VITALWATCH_DATA_DIR=" + template},
		&importOut, &importOut); err != nil {
		b.Fatalf("registry import: %v\n%s", err, importOut.String())
	}
	if err := os.WriteFile(done, nil, 0o644); err != nil {
		b.Fatal(err)
	}
	b.Logf("registry of %d devices exported and imported in %v", p.devices, time.Since(prepared).Round(time.Second))
	return reg, template
}

// warmTemplate returns the data directory that the runs copy: template itself, or, with
// BENCH_WARMUP=D, template after serve has taken the same load for D (the devices visit in the
// same order in every run, the simulator's seed being fixed). A run on template measures the
// first minutes of a city's platform: every patient, device and alert is new to the store, so
// every abnormal reading raises an alert and every device's first use is numbered. A run on the
// warmed template measures one that has run before: open alerts repeat, and devices are known.
// With BENCH_CACHE the warmed template is kept beside the registry, per broker and load.
func warmTemplate(b *testing.B, p connectionsConfig, reg, template, sim string, mb *benchMosquitto) string {
	if p.warmup == 0 {
		return template
	}
	warm := filepath.Join(filepath.Dir(template), fmt.Sprintf("warm-%s-%s-%d-at-a-time-%d-a-visit-%d-a-second",
		p.broker, p.warmup, p.parallel, p.sessionMessages, p.rate))
	done := filepath.Join(warm, "complete")
	if _, err := os.Stat(done); err == nil {
		b.Logf("store warmed for %v from %s", p.warmup, warm)
		return filepath.Join(warm, "data")
	}
	os.RemoveAll(warm)
	if err := os.MkdirAll(warm, 0o755); err != nil {
		b.Fatal(err)
	}
	w := p
	w.duration, w.profile = p.warmup, ""
	fmt.Printf("warm-up: serve takes the load for %v first; the runs start from its store\n", p.warmup)
	r := runConnections(b, w, "serve", 0, reg, template, sim, mb, filepath.Join(warm, "data"))
	r.print()
	if err := os.WriteFile(done, nil, 0o644); err != nil {
		b.Fatal(err)
	}
	return filepath.Join(warm, "data")
}

// connectionsRun is what one run measured.
type connectionsRun struct {
	side                 string
	pair                 int
	rate, telemetryRate  float64 // acknowledged a second: telemetry and status, telemetry
	connectsPerS         float64
	errors, refused      int64
	rssEnd, rssPeak      int64 // bytes
	rssQuarters          [3]int64
	cpuPerMsg            float64 // µs
	loadBefore, loadEnd  string
	staying, peakConnect int64
	// serve's own figures: the mean time from a batch's first message to its acknowledgement,
	// and of an InfluxDB write, over the run
	batchMean, writeMean float64       // seconds
	mq                   *mosquittoRun // with BENCH_BROKER=mosquitto
	// The CPU seconds of each process on the machine over the load, from its start to its
	// last two seconds, and how long that was: the share of the two cores each took.
	load loadCPU
}

// loadCPU is the CPU time each process of a run took over the load.
type loadCPU struct {
	seconds float64 // wall time
	pids    []loadPID
}

type loadPID struct {
	name       string
	pid        int
	start, cpu float64 // CPU seconds at the start of the load, then taken over it
}

// begin reads each process's CPU time at the start of the load.
func (l *loadCPU) begin(procs map[string]int) time.Time {
	for _, name := range []string{"vitalsim", "mosquitto", "subscriber", "serve", "influxd"} {
		if pid, ok := procs[name]; ok && pid > 0 {
			l.pids = append(l.pids, loadPID{name: name, pid: pid, start: cpuSeconds(pid)})
		}
	}
	return time.Now()
}

// end reads what each process took since begin.
func (l *loadCPU) end(began time.Time) {
	l.seconds = time.Since(began).Seconds()
	for i := range l.pids {
		l.pids[i].cpu = cpuSeconds(l.pids[i].pid) - l.pids[i].start
	}
}

// print says what each process took a message, and all of them together as a share of the
// machine: serve's side is slower than the bare subscriber's by what serve, and InfluxDB beside
// it, take from the devices' simulator and the broker on the same cores.
func (l loadCPU) print(rate float64) {
	if l.seconds <= 0 || rate <= 0 || len(l.pids) == 0 {
		return
	}
	msgs := rate * l.seconds
	var parts []string
	all := 0.0
	for _, p := range l.pids {
		parts = append(parts, fmt.Sprintf("%s %.0f", p.name, p.cpu*1e6/msgs))
		all += p.cpu
	}
	fmt.Printf("     CPU over the load, µs a message: %s; in all %.0f, %.2f cores of %d\n",
		strings.Join(parts, ", "), all*1e6/msgs, all/l.seconds, runtime.NumCPU())
}

func (r connectionsRun) print() {
	fmt.Printf("%-4d %-6s %7.0f %11.0f %10.0f %6d %11.0f %5.0f/%5.0f/%5.0f %9.0f %10.1f %s -> %s\n",
		r.pair, r.side, r.rate, r.telemetryRate, r.connectsPerS, r.errors, connMiB(r.rssEnd),
		connMiB(r.rssQuarters[0]), connMiB(r.rssQuarters[1]), connMiB(r.rssQuarters[2]), connMiB(r.rssPeak), r.cpuPerMsg, r.loadBefore, r.loadEnd)
	if r.side == "serve" {
		fmt.Printf("     serve: a batch %.0f ms from its first message to its acknowledgement, an InfluxDB write %.0f ms (means)\n",
			r.batchMean*1000, r.writeMean*1000)
	}
	if r.mq != nil {
		r.mq.print()
	}
	r.load.print(r.rate)
}

// connPace says how fast the devices send: BENCH_RATE readings a second, or as fast as they
// are acknowledged.
func connPace(rate int) string {
	if rate == 0 {
		return "as fast as acknowledged"
	}
	return fmt.Sprintf("%d readings a second", rate)
}

func connMiB(n int64) float64 { return float64(n) / (1 << 20) }

// runConnections runs one side once and returns what it measured.
//
// With keep set, serve's data directory is moved there once serve has stopped.
func runConnections(b *testing.B, p connectionsConfig, side string, pair int, reg, template, sim string, mb *benchMosquitto, keep string) connectionsRun {
	dir := filepath.Join(b.TempDir(), side)
	data := filepath.Join(dir, "data")
	if err := os.CopyFS(data, os.DirFS(template)); err != nil {
		b.Fatal(err)
	}
	brokerAddr := fmt.Sprintf("127.0.0.1:%d", testsrv.FreePort(b))
	httpAddr := fmt.Sprintf("127.0.0.1:%d", testsrv.FreePort(b))
	conf := fmt.Sprintf("data_dir: %s\nlog:\n  level: warn\nhttp:\n  listen: %s\n", data, httpAddr)
	brokerURL, mode, env := "tcp://"+brokerAddr, side, []string(nil)
	var mq *mosquittoRun
	if mb == nil {
		conf += fmt.Sprintf("broker:\n  listen: %s\n", brokerAddr)
	} else {
		m, started := mb.start(b)
		defer m.Stop()
		mq = &mosquittoRun{pid: m.PID(), started: started}
		conf += mb.serveConfig(m)
		brokerURL, env = m.URL, benchMosquittoEnv
		if side == "broker" {
			mode = "subscriber"
		}
	}
	var ix *testsrv.Influx
	if side == "serve" {
		ix = testsrv.StartInflux(b, testsrv.InfluxOptions{})
		defer ix.Stop()
		conf += fmt.Sprintf("influx:\n  url: %s\n  bucket: %s\n", ix.URL, ix.Bucket)
		conf += os.Getenv("BENCH_SERVE_CONFIG")
	}
	cfgFile := filepath.Join(dir, "vitalwatch.yaml")
	if err := os.WriteFile(cfgFile, []byte(conf), 0o600); err != nil {
		b.Fatal(err)
	}
	procLog, err := os.Create(filepath.Join(dir, side+".log"))
	if err != nil {
		b.Fatal(err)
	}
	defer procLog.Close()
	proc := exec.Command(os.Args[0], "-test.run", "^TestConnectionsBenchProcess$", "-test.count=1", "-test.timeout=0")
	proc.Env = append(append(os.Environ(), env...), benchProcessEnv+"="+mode, benchConfigEnv+"="+cfgFile)
	if p.profile != "" {
		proc.Env = append(proc.Env, benchProfileEnv+"="+filepath.Join(p.profile, fmt.Sprintf("%s-%d", side, pair)))
	}
	proc.Stdout, proc.Stderr = procLog, procLog
	proc.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := proc.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		if proc.ProcessState == nil {
			proc.Process.Kill()
			proc.Wait()
		}
	}()
	if mq == nil {
		connWaitListening(b, brokerAddr, procLog.Name())
	}
	if side == "serve" || mq != nil {
		connWaitReady(b, httpAddr, procLog.Name())
	}

	r := connectionsRun{side: side, pair: pair, loadBefore: connLoad(), mq: mq}
	if mq != nil {
		mq.rssStart = processRSS(mq.pid)
	}
	out := filepath.Join(dir, "vitalsim.json")
	simCmd := exec.Command(sim, "--broker", brokerURL, "--auth", "--registry", reg, "--sessions",
		"--devices", strconv.Itoa(p.devices), "--seed", "1", "--rate", strconv.Itoa(p.rate), "--duration", p.duration.String(),
		"--parallel", strconv.Itoa(p.parallel), "--session-messages", strconv.Itoa(p.sessionMessages), "--out", out)
	simErr, err := simCmd.StderrPipe()
	if err != nil {
		b.Fatal(err)
	}
	simLog, err := os.Create(filepath.Join(dir, "vitalsim.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer simLog.Close()
	simCmd.Stdout = simLog
	simCmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := simCmd.Start(); err != nil {
		b.Fatal(err)
	}
	// vitalsim's progress lines say when the load starts (after the staying devices have
	// connected) and how far it is: the process's memory is sampled over the load, and its
	// profiles cover it.
	elapsed := make(chan float64, 16)
	go func() {
		defer close(elapsed)
		sc := bufio.NewScanner(simErr)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(simLog, line)
			if line == "vitalsim: connecting" && mq != nil {
				mq.rssRampLast = processRSS(mq.pid) // read once elapsed is closed
			}
			if rest, ok := strings.CutPrefix(line, "vitalsim: "); ok {
				if s, _, ok := strings.Cut(rest, "s sent "); ok {
					if v, err := strconv.ParseFloat(s, 64); err == nil {
						select {
						case elapsed <- v:
						default:
						}
					}
				}
			}
		}
	}()
	pid := proc.Process.Pid
	procs := map[string]int{"vitalsim": simCmd.Process.Pid, "serve": pid}
	if side == "broker" {
		procs = map[string]int{"vitalsim": simCmd.Process.Pid, "subscriber": pid}
	}
	if mq != nil {
		procs["mosquitto"] = mq.pid
	}
	if ix != nil {
		procs["influxd"] = ix.PID()
	}
	var loadBegan time.Time
	started, ended := false, false
	quarter := 0
	for e := range elapsed {
		if !started {
			started = true
			if mq != nil {
				mq.rssRamp = processRSS(mq.pid)
			}
			signalProfile(p, proc, syscall.SIGUSR2)
			loadBegan = r.load.begin(procs)
		}
		for quarter < 3 && e >= float64(quarter+1)*p.duration.Seconds()/4 {
			r.rssQuarters[quarter] = processRSS(pid)
			if mq != nil {
				mq.rssQuarters[quarter] = processRSS(mq.pid)
			}
			quarter++
		}
		if !ended && e >= p.duration.Seconds()-2 {
			ended = true
			r.load.end(loadBegan)
			r.rssEnd, r.loadEnd = processRSS(pid), connLoad()
			if mq != nil {
				mq.rssEnd = processRSS(mq.pid)
			}
			signalProfile(p, proc, syscall.SIGUSR1)
			if side == "serve" {
				r.batchMean = histogramMean(httpAddr, "vitalwatch_ingest_batch_seconds")
				r.writeMean = histogramMean(httpAddr, "vitalwatch_ingest_influx_write_seconds")
			}
		}
	}
	simCmd.Wait() // a run with errors says so in its summary
	if !ended {
		r.rssEnd, r.loadEnd = processRSS(pid), connLoad()
		if mq != nil {
			mq.rssEnd = processRSS(mq.pid)
		}
	}
	r.rssPeak, r.cpuPerMsg = peakRSS(pid), cpuSeconds(pid)
	if mq != nil {
		mq.snapshot(httpAddr)
		mq.drain(httpAddr)
	}
	proc.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { proc.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		proc.Process.Kill()
		<-done
	}
	if keep != "" {
		if proc.ProcessState == nil || !proc.ProcessState.Success() {
			b.Fatalf("%s run %d: serve did not stop cleanly, so its data is not kept; its log:\n%s", side, pair, connTail(procLog.Name()))
		}
		if err := os.Rename(data, keep); err != nil { // another file system: copy
			if err := os.CopyFS(keep, os.DirFS(data)); err != nil {
				b.Fatal(err)
			}
		}
	}

	var sum struct {
		Duration float64 `json:"duration_seconds"`
		Rate     float64 `json:"rate"`
		Sent     int64   `json:"sent"`
		Status   int64   `json:"status"`
		Errors   int64   `json:"errors"`
		Sessions struct {
			Staying       int64 `json:"staying_devices"`
			Connects      int64 `json:"connects"`
			Refused       int64 `json:"refused"`
			PeakConnected int64 `json:"peak_connected"`
		} `json:"sessions"`
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		b.Fatalf("%s run %d: vitalsim wrote no summary (%v); its log:\n%s\n%s log:\n%s", side, pair, err, connTail(simLog.Name()), side, connTail(procLog.Name()))
	}
	if err := json.Unmarshal(raw, &sum); err != nil {
		b.Fatal(err)
	}
	if sum.Duration <= 0 || sum.Sent == 0 {
		b.Fatalf("%s run %d: nothing acknowledged; vitalsim log:\n%s\n%s log:\n%s", side, pair, connTail(simLog.Name()), side, connTail(procLog.Name()))
	}
	msgs := sum.Sent + sum.Status
	r.rate, r.telemetryRate = float64(msgs)/sum.Duration, sum.Rate
	r.connectsPerS = float64(sum.Sessions.Connects-sum.Sessions.Staying) / sum.Duration
	r.errors, r.refused = sum.Errors, sum.Sessions.Refused
	r.staying, r.peakConnect = sum.Sessions.Staying, sum.Sessions.PeakConnected
	r.cpuPerMsg = r.cpuPerMsg * 1e6 / float64(msgs) // the whole process's CPU, start-up included
	if mq != nil {
		mq.rates(msgs, sum.Duration, sum.Sessions.Staying)
	}
	return r
}

// signalProfile asks the run's process for its profiles, when BENCH_PROFILE is set.
func signalProfile(p connectionsConfig, proc *exec.Cmd, sig syscall.Signal) {
	if p.profile != "" {
		proc.Process.Signal(sig)
	}
}

// summarizeConnections prints the medians and ranges of each side and the ratios pair by pair.
func summarizeConnections(b *testing.B, results []connectionsRun) {
	bySide := map[string][]connectionsRun{}
	for _, r := range results {
		bySide[r.side] = append(bySide[r.side], r)
	}
	for _, side := range []string{"broker", "serve"} {
		rs := bySide[side]
		if len(rs) == 0 {
			continue
		}
		rate := connStat(rs, func(r connectionsRun) float64 { return r.rate })
		end := connStat(rs, func(r connectionsRun) float64 { return connMiB(r.rssEnd) })
		peak := connStat(rs, func(r connectionsRun) float64 { return connMiB(r.rssPeak) })
		cpu := connStat(rs, func(r connectionsRun) float64 { return r.cpuPerMsg })
		fmt.Printf("%s: %s msg/s; RSS at the end %s MiB, peak %s MiB; CPU %s µs a message (%d runs)\n",
			side, rate, end, peak, cpu, len(rs))
		b.ReportMetric(rate.median, side+"_msgs/s")
		b.ReportMetric(end.median, side+"_rss_end_MiB")
	}
	var ratios []float64
	for _, r := range bySide["serve"] {
		for _, o := range bySide["broker"] {
			if o.pair == r.pair {
				ratios = append(ratios, r.rate/o.rate)
			}
		}
	}
	if len(ratios) > 0 {
		s := connStatOf(ratios)
		fmt.Printf("serve/broker, pair by pair: %s (%s)\n", s.format("%.2f"), connJoin(ratios, "%.2f"))
		b.ReportMetric(s.median, "ratio")
	}
	summarizeMosquitto(b, bySide)
}

type connSummary struct{ median, min, max float64 }

func (s connSummary) String() string { return s.format("%.0f") }

func (s connSummary) format(f string) string {
	return fmt.Sprintf("median "+f+" (range "+f+"-"+f+")", s.median, s.min, s.max)
}

func connStat(rs []connectionsRun, f func(connectionsRun) float64) connSummary {
	vs := make([]float64, len(rs))
	for i, r := range rs {
		vs[i] = f(r)
	}
	return connStatOf(vs)
}

func connStatOf(vs []float64) connSummary {
	s := slices.Clone(vs)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return connSummary{median: m, min: s[0], max: s[len(s)-1]}
}

func connJoin(vs []float64, f string) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = fmt.Sprintf(f, v)
	}
	return strings.Join(parts, ", ")
}

// histogramMean reads the mean of a histogram from serve's /metrics; 0 if it cannot.
func histogramMean(httpAddr, name string) float64 {
	resp, err := http.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var sum, count float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+"_sum "); ok {
			sum, _ = strconv.ParseFloat(v, 64)
		}
		if v, ok := strings.CutPrefix(sc.Text(), name+"_count "); ok {
			count, _ = strconv.ParseFloat(v, 64)
		}
	}
	if count == 0 {
		return 0
	}
	return sum / count
}

// connWaitListening waits until addr takes TCP connections.
func connWaitListening(b *testing.B, addr, log string) {
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("nothing listens on %s after 2 minutes; log:\n%s", addr, connTail(log))
		}
	}
}

// connWaitReady waits until serve's /readyz says it is ready.
func connWaitReady(b *testing.B, httpAddr, log string) {
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get("http://" + httpAddr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("serve not ready after 2 minutes; log:\n%s", connTail(log))
		}
	}
}

// processRSS returns a process's resident set size in bytes (VmRSS).
func processRSS(pid int) int64 {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// connLoad is the machine's load average over the last minute.
func connLoad() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

// connTail returns the end of a log file.
func connTail(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	b, _ := io.ReadAll(f)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func connOr(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
