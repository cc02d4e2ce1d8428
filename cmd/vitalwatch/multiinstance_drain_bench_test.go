package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/internal/testsrv"
	"github.com/vitalwatch/vitalwatch/store"
)

// BenchmarkScaleOut measures how fast one and two `vitalwatch serve` instances, sharing
// a subscription and a PostgreSQL store as docs/operations.md "Several instances" has them,
// empty a backlog that a real Mosquitto holds for them into a real InfluxDB. Each run builds
// its own servers; the persistent sessions of the group are made before the backlog is
// published, so Mosquitto splits it between them, and then the instances start together. Not
// run by make test or make bench. On a shared machine, alternate the two, so that both meet
// the same spells of load (-count would run one five times, then the other):
//
//	for i in 1 2 3 4 5; do for k in 1 2; do
//	  BENCH_MESSAGES=300000 VITALWATCH_INFLUXD=$PWD/.tools/bin/influxd go test -run '^$' \
//	    -bench "BenchmarkScaleOut/instances=$k\$" -benchtime 1x ./cmd/vitalwatch/ | grep '^instances'
//	done; done
//
// It reports the aggregate rate (messages acknowledged by all instances over the time from
// their start to the last acknowledgement, msgs/s), the same from the first acknowledgement
// seen, which leaves out the start of the processes (draining_msgs/s), the instances' CPU time
// per message, and the load average of the machine before and after the run (/proc/loadavg:
// other work on it).
func BenchmarkScaleOut(b *testing.B) {
	m := 300000
	if s := os.Getenv("BENCH_MESSAGES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			b.Fatalf("BENCH_MESSAGES=%q: want a positive integer", s)
		}
		m = n
	}
	for _, k := range []int{1, 2} {
		b.Run(fmt.Sprintf("instances=%d", k), func(b *testing.B) {
			for range b.N {
				drainInstances(b, k, m)
			}
		})
	}
}

// drainInstances runs one measurement with k instances and m messages.
func drainInstances(b *testing.B, k, m int) {
	b.StopTimer()
	mq := testsrv.StartMosquitto(b, testsrv.MosquittoOptions{})
	ix := testsrv.StartInflux(b, testsrv.InfluxOptions{})
	pg := testsrv.StartPostgres(b)
	dsn := pg.NewDatabase(b)
	seedDevicesIn(b, dsn, benchDevices)

	ids := make([]string, k)
	for i := range ids {
		ids[i] = fmt.Sprintf("bench-ingest-%d", i)
		c := connect(b, mq.URL, ids[i], false, nil)
		tok := c.SubscribeMultiple(map[string]byte{"$share/bench/devices/+/telemetry": 1, "$share/bench/devices/+/status": 1}, nil)
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			b.Fatalf("subscribe: %v", tok.Error())
		}
		c.Disconnect(100)
	}
	fill := time.Now()
	testsrv.Publish(b, mq.URL, benchMessages(m, benchDevices, time.Now().Add(-12*time.Hour)))
	b.Logf("backlog of %d messages for %d sessions published in %v", m, k, time.Since(fill).Round(time.Millisecond))

	bin, err := binary()
	if err != nil {
		b.Fatal(err)
	}
	type instance struct {
		cmd  *exec.Cmd
		http string
	}
	insts := make([]instance, k)
	load := loadAverage()
	b.StartTimer()
	start := time.Now()
	for i := range insts {
		insts[i].http = fmt.Sprintf("127.0.0.1:%d", testsrv.FreePort(b))
		cfg := writeConfig(b, fmt.Sprintf(`data_dir: %s
store:
  dsn: %s
http:
  listen: %s
broker:
  embedded: false
  url: %s
ingest:
  client_id: %s
  shared_group: bench
influx:
  url: %s
  bucket: %s
`, b.TempDir(), dsn, insts[i].http, mq.URL, ids[i], ix.URL, ix.Bucket))
		cmd := exec.Command(bin, "serve", "--config", cfg)
		logFile, err := os.Create(cfg + ".log")
		if err != nil {
			b.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = logFile, logFile
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		logFile.Close()
		insts[i].cmd = cmd
		b.Cleanup(func() {
			if cmd.ProcessState == nil {
				cmd.Process.Kill()
				cmd.Wait()
			}
		})
	}
	total := func() (sum float64, each []float64) {
		for _, in := range insts {
			a := acked(in.http)
			each = append(each, a)
			sum += a
		}
		return sum, each
	}
	var first time.Time // when the first acknowledgement was seen: the instances have started
	var firstAcked float64
	for {
		sum, each := total()
		if sum >= float64(m) {
			break
		}
		if first.IsZero() && sum > 0 {
			first, firstAcked = time.Now(), sum
		}
		if time.Since(start) > 20*time.Minute {
			b.Fatalf("the instances acknowledged %v of %d", each, m)
		}
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(start)
	b.StopTimer()
	_, each := total()
	var cpu float64
	for _, in := range insts {
		cpu += cpuSeconds(in.cmd.Process.Pid)
		in.cmd.Process.Signal(syscall.SIGTERM)
		in.cmd.Wait()
	}
	if n := ix.Count(b, "heart_rate") + ix.Count(b, "spo2") + ix.Count(b, "bp") + ix.Count(b, "glucose"); n != m {
		b.Fatalf("InfluxDB holds %d readings; want %d", n, m)
	}
	rate := float64(m) / took.Seconds()
	if first.IsZero() {
		first = start.Add(took) // all at once, between two looks
	}
	draining := (float64(m) - firstAcked) / time.Since(first).Seconds()
	if end := start.Add(took); end.After(first) {
		draining = (float64(m) - firstAcked) / end.Sub(first).Seconds()
	}
	after := loadAverage()
	b.ReportMetric(rate, "msgs/s")
	b.ReportMetric(draining, "draining_msgs/s")
	b.ReportMetric(cpu*1e6/float64(m), "cpu_us/msg")
	fmt.Printf("instances %d messages %d took %.2fs aggregate_msgs_per_s %.0f draining_msgs_per_s %.0f cpu_us_per_msg %.1f acked_each %v load_before %s load_after %s\n",
		k, m, took.Seconds(), rate, draining, cpu*1e6/float64(m), each, load, after)
}

// seedDevicesIn registers n active home devices named as benchMessages names them, at one
// site, in the store at dsn.
func seedDevicesIn(tb testing.TB, dsn string, n int) {
	tb.Helper()
	ctx := audit.WithActor(context.Background(), "bench")
	st, err := store.Open(ctx, dsn)
	if err != nil {
		tb.Fatal(err)
	}
	defer st.Close()
	if err := st.CreateSite(ctx, devices.Site{ID: "test-site", Name: "Test centre", TimeZone: "Asia/Shanghai"}); err != nil {
		tb.Fatal(err)
	}
	hash := devices.HashSecret(devices.NewSecret()) // the devices do not sign in: anonymous Mosquitto
	devs := make([]devices.Device, n)
	for i := range devs {
		devs[i] = devices.Device{ID: fmt.Sprintf("bench-%04d", i), Kind: devices.Oximeter, SiteID: "test-site",
			Mode: devices.Home, Status: devices.Active, SecretHash: hash}
	}
	if err := st.CreateDevices(ctx, devs); err != nil {
		tb.Fatal(err)
	}
}

// loadAverage is the 1-minute load average of the machine, as /proc/loadavg has it.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}
