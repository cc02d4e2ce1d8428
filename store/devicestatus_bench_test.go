package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/devices/status"
)

// benchStatusRecords are the records of a save of n devices that each sent since the last.
func benchStatusRecords(n int, at int64) []status.Record {
	h := status.HourOf(time.UnixMilli(at))
	recs := make([]status.Record, n)
	for i := range recs {
		recs[i] = status.Record{Device: fmt.Sprintf("bench-%05d", i), LastMessage: at, LastTelemetry: at, Battery: 50, BatteryAt: at,
			ClockOffset: -120, ClockOffsetAt: at, Event: status.Connect, EventAt: at - 60000, Hours: []status.Hour{{Hour: h, Readings: 10}}}
	}
	return recs
}

// BenchmarkDeviceStatusSave is one save of 2000 changed devices on SQLite: appending it to the
// log and reading it back as another instance does.
func BenchmarkDeviceStatusSave(b *testing.B) {
	s := mustOpen(b, filepath.Join(b.TempDir(), "vw.db"))
	ctx := context.Background()
	var seen int64
	for i := 0; b.Loop(); i++ {
		if err := s.AppendDeviceStatus(ctx, "bench", benchStatusRecords(2000, statusT0.UnixMilli()+int64(i))); err != nil {
			b.Fatal(err)
		}
		log, next, err := s.DeviceStatusLog(ctx, seen)
		if err != nil || len(log) != 1 {
			b.Fatal(err, len(log))
		}
		seen = next
	}
}

// BenchmarkDeviceStatusFold folds a minute of saves (12) of 2000 devices on SQLite.
func BenchmarkDeviceStatusFold(b *testing.B) {
	s := mustOpen(b, filepath.Join(b.TempDir(), "vw.db"))
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		for j := range 12 {
			if err := s.AppendDeviceStatus(ctx, "bench", benchStatusRecords(2000, statusT0.UnixMilli()+int64(i*12+j))); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		if err := s.FoldDeviceStatus(ctx, -time.Hour); err != nil {
			b.Fatal(err)
		}
	}
}
