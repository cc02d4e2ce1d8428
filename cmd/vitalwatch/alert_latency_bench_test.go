package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/internal/testsrv"
	"github.com/vitalwatch/vitalwatch/store"
)

// BenchmarkAlertLatency measures the time from a device publishing a reading to the alert it
// raises arriving on the live feed (GET /api/v1/alerts/stream), while a background fleet sends
// BENCH_ALERT_RATE readings a second (default 10,000) through the same Mosquitto and vitalwatch
// serve. Each probe is a very low SpO2 from its own patient's oximeter, so each raises a new
// alert. It reports the median and the 99th percentile in milliseconds.
func BenchmarkAlertLatency(b *testing.B) {
	rate := 10000
	if s := os.Getenv("BENCH_ALERT_RATE"); s != "" {
		if _, err := fmt.Sscan(s, &rate); err != nil || rate < 0 {
			b.Fatalf("BENCH_ALERT_RATE=%q: want readings a second", s)
		}
	}
	const probes, background = 100, 2000
	for range b.N {
		mq := testsrv.StartMosquitto(b, testsrv.MosquittoOptions{})
		ix := testsrv.StartInflux(b, testsrv.InfluxOptions{})
		dataDir := b.TempDir()
		var ids []string
		for i := range background {
			ids = append(ids, fmt.Sprintf("bench-%04d", i))
		}
		for i := range probes {
			ids = append(ids, fmt.Sprintf("probe-%03d", i))
		}
		seedDevices(b, dataDir, ids...)
		ctx := audit.WithActor(context.Background(), "bench")
		st, err := store.Open(ctx, filepath.Join(dataDir, dbFile))
		if err != nil {
			b.Fatal(err)
		}
		if err := st.CreateTeam(ctx, devices.Team{ID: "team-1", SiteID: "test-site", Name: "Team 1"}); err != nil {
			b.Fatal(err)
		}
		for i := range probes {
			p := fmt.Sprintf("PP-%03d", i)
			if err := st.CreatePatient(ctx, devices.Patient{ID: p, TeamID: "team-1"}); err != nil {
				b.Fatal(err)
			}
			if err := st.AssignDevice(ctx, fmt.Sprintf("probe-%03d", i), p, time.Now().Add(-time.Hour)); err != nil {
				b.Fatal(err)
			}
		}
		st.Close()
		token := adminTokenIn(b, []string{"VITALWATCH_DATA_DIR=" + dataDir})

		httpAddr := fmt.Sprintf("127.0.0.1:%d", testsrv.FreePort(b))
		cfg := externalConfig(b, dataDir, mq, ix, httpAddr, "bench-ingest", "")
		bin, err := binary()
		if err != nil {
			b.Fatal(err)
		}
		cmd := exec.Command(bin, "serve", "--config", cfg)
		cmd.Stderr = os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		waitReady(b, "http://"+httpAddr)
		events := streamAlerts(b, "http://"+httpAddr, token, "")

		// The background fleet: normal heart rates from unassigned devices, paced every 10 ms.
		stop := make(chan struct{})
		var sent atomic.Int64
		var wg sync.WaitGroup
		for w := range 2 {
			c := connect(b, mq.URL, fmt.Sprintf("bench-load-%d", w), false, nil)
			wg.Go(func() {
				defer c.Disconnect(100)
				tick := time.NewTicker(10 * time.Millisecond)
				defer tick.Stop()
				per := rate / 2 / 100
				for n := 0; ; {
					select {
					case <-stop:
						return
					case <-tick.C:
					}
					now := time.Now()
					for j := range per {
						dev := fmt.Sprintf("bench-%04d", (n+j*2+w)%background)
						c.Publish("devices/"+dev+"/telemetry", 1, false,
							fmt.Appendf(nil, `{"ts":%d,"readings":[{"type":"heart_rate","value":72,"unit":"/min"}]}`, now.UnixMilli()+int64(n+j)))
					}
					n += per
					sent.Add(int64(per))
				}
			})
		}
		loadStart := time.Now()
		time.Sleep(3 * time.Second) // let the load settle

		probe := connect(b, mq.URL, "bench-probe", false, nil)
		var took []time.Duration
		b.ResetTimer()
		for i := range probes {
			dev, patient := fmt.Sprintf("probe-%03d", i), fmt.Sprintf("PP-%03d", i)
			start := time.Now()
			tok := probe.Publish("devices/"+dev+"/telemetry", 1, false,
				fmt.Appendf(nil, `{"ts":%d,"readings":[{"type":"spo2","value":85,"unit":"%%"}]}`, start.UnixMilli()))
			if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
				b.Fatalf("probe publish: %v", tok.Error())
			}
			for {
				ev := nextEvent(b, events)
				if ev.typ == "raised" && ev.alert.Patient == patient {
					took = append(took, time.Since(start))
					break
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		b.StopTimer()
		close(stop)
		wg.Wait()
		achieved := float64(sent.Load()) / time.Since(loadStart).Seconds()
		probe.Disconnect(100)
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		slices.Sort(took)
		pct := func(p float64) float64 {
			return float64(took[min(len(took)-1, int(p*float64(len(took))))].Microseconds()) / 1000
		}
		b.ReportMetric(pct(0.50), "p50_ms")
		b.ReportMetric(pct(0.99), "p99_ms")
		b.ReportMetric(achieved, "background_msgs/s")
		fmt.Printf("alert latency over %d probes, background %.0f messages/s (asked %d): p50 %.1f ms, p99 %.1f ms\n",
			len(took), achieved, rate, pct(0.50), pct(0.99))
	}
}
