package spool

import (
	"crypto/rand"
	"testing"
)

// BenchmarkAppend measures durable appends of 64 KiB records, the size of a
// large line-protocol batch: one writer, where every Append waits for its own
// fsync, and concurrent writers, where Appends share fsyncs.
func BenchmarkAppend(b *testing.B) {
	rec := make([]byte, 64<<10)
	rand.Read(rec)
	open := func(b *testing.B) *Spool {
		return MustOpen(b, Options{Dir: b.TempDir(), MaxBytes: 64 << 30})
	}

	b.Run("serial", func(b *testing.B) {
		s := open(b)
		b.SetBytes(int64(len(rec)))
		for b.Loop() {
			if err := s.Append(rec); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		s := open(b)
		b.SetBytes(int64(len(rec)))
		b.SetParallelism(4) // ingest has several handler goroutines per CPU, mostly waiting on fsync
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := s.Append(rec); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkReplay measures Peek and Consume of 64 KiB records, the drainer's loop once
// InfluxDB is back: every Consume makes its read position durable. Segments are small so
// that the run crosses many segment ends, where the consumed segment is removed.
func BenchmarkReplay(b *testing.B) {
	rec := make([]byte, 64<<10)
	rand.Read(rec)
	s := MustOpen(b, Options{Dir: b.TempDir(), MaxBytes: 64 << 30, SegmentBytes: 1 << 20})
	b.SetBytes(int64(len(rec)))
	for b.Loop() {
		b.StopTimer()
		if err := s.Append(rec); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, ok, err := s.Peek(); err != nil || !ok {
			b.Fatalf("Peek() = _, %v, %v", ok, err)
		}
		if err := s.Consume(); err != nil {
			b.Fatal(err)
		}
	}
}
