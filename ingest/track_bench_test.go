//go:build unix

package ingest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/devices/status"
)

// cpuTime is the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type nopPoints struct{}

func (nopPoints) Write(context.Context, []byte) error { return nil }

// BenchmarkPipelineStatus runs the drain benchmark's messages (2000 registered devices, one
// reading each) through the pipeline, with InfluxDB, the spool and the store left out, with and
// without the device status tracker: what the tracker adds to a message's work in ingest.
func BenchmarkPipelineStatus(b *testing.B) {
	const fleet = 2000
	devs := make([]devices.Device, fleet)
	for i := range devs {
		devs[i] = devices.Device{ID: fmt.Sprintf("bench-%04d", i), Kind: devices.Wearable, SiteID: "s1", Mode: devices.Home, Status: devices.Active}
	}
	view := devices.NewView(devices.NewDirectory(1, devs, nil, nil))
	base := time.Now().Add(-time.Hour)
	payloads := make([]Delivery, 20000)
	for i := range payloads {
		seq := i / fleet
		ms := base.Add(time.Duration(seq) * time.Second).UnixMilli()
		payloads[i] = Delivery{Topic: "devices/" + devs[i%fleet].ID + "/telemetry", Received: time.Now(),
			Payload: fmt.Appendf(nil, `{"ts":%d,"seq":%d,"readings":[{"type":"heart_rate","value":%d,"unit":"/min"}],"battery":%d}`, ms, seq, 55+i%60, 20+i%80)}
	}
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("status=%v", on), func(b *testing.B) {
			deps := Deps{Points: nopPoints{}, DeadLetters: noDeadLetters{}, Spool: fullSpool{}, Directory: view,
				Metrics: NewMetrics(prometheus.NewRegistry()), Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now}
			if on {
				deps.Status = status.NewTracker(status.DefaultLimits(), nil)
			}
			p := NewPipeline(Config{Workers: 2}, deps)
			ctx, cancel := context.WithCancel(context.Background())
			ran := make(chan error, 1)
			go func() { ran <- p.Run(ctx) }()
			var acked atomic.Int64
			ack := func() { acked.Add(1) }
			sent := int64(0)
			cpu0 := cpuTime()
			for b.Loop() {
				for _, d := range payloads {
					d.Ack = ack
					if err := p.Submit(ctx, d); err != nil {
						b.Fatal(err)
					}
				}
				sent += int64(len(payloads))
				for acked.Load() < sent {
					time.Sleep(100 * time.Microsecond)
				}
			}
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(sent), "cpu_ns/msg")
			cancel()
			<-ran
		})
	}
}
