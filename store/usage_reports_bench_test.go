package store

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/usage"
)

// BenchmarkCountUsesDuringReports is what a usage report costs ingest in a SQLite store: groups
// of 500 new uses (one ingest batch) are recorded while another goroutine reads four months of
// the monthly aggregate over and over, as the utilisation page does, from a store with 20,000
// devices at 200 sites and those months' day counts. It reports the median, 99th percentile and
// longest time to record a group, and how many reports were read meanwhile. A report that held
// the store's only connection held every write behind it for as long as it read.
//
//	go test -run '^$' -bench CountUsesDuringReports -benchtime 400x ./store/
func BenchmarkCountUsesDuringReports(b *testing.B) {
	s := mustOpen(b, filepath.Join(b.TempDir(), "vw.db"))
	ctx := context.Background()
	const devices, sites, group = 20000, 200, 500
	first := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	last := time.Date(2026, 10, 31, 0, 0, 0, 0, time.UTC)
	ids := make([]string, devices)
	for i := range ids {
		ids[i] = fmt.Sprintf("bench-%05d", i)
	}
	var counts []usage.DayCount
	for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
		day := usage.DayOf(d, time.UTC)
		for i, id := range ids {
			if (i+d.Day())%3 != 0 {
				counts = append(counts, usage.DayCount{Device: id, Site: fmt.Sprintf("site-%03d", i%sites), Day: day, Uses: 1 + i%5})
			}
		}
	}
	if err := s.ReplaceUsage(ctx, usage.DayOf(first, time.UTC), usage.DayOf(last, time.UTC), counts, nil); err != nil {
		b.Fatal(err)
	}
	counts = nil
	q := usage.MonthQuery{From: usage.MonthOf(first), To: usage.MonthOf(last)}

	stop := make(chan struct{})
	var reports atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := s.EachMonthUses(ctx, q, func([]byte, string, usage.Month, uint32, []int32) {}); err != nil {
				b.Error(err)
				return
			}
			reports.Add(1)
		}
	})
	base := last.Add(12 * time.Hour)
	day := usage.DayOf(base, time.UTC)
	uses := make([]usage.Use, group)
	var took []time.Duration
	n := 0
	for b.Loop() {
		for j := range uses {
			uses[j] = usage.Use{Device: ids[n%devices], Site: fmt.Sprintf("site-%03d", n%devices%sites),
				At: base.Add(time.Duration(n) * time.Millisecond), Day: day}
			n++
		}
		start := time.Now()
		if added, err := s.RecordUses(ctx, uses); err != nil || added != group {
			b.Fatalf("RecordUses = %d, %v; want %d", added, err, group)
		}
		took = append(took, time.Since(start))
	}
	close(stop)
	wg.Wait()
	reportLatencies(b, took)
	b.ReportMetric(float64(reports.Load()), "reports")
}

// reportLatencies reports the median, the 99th percentile and the longest of took, in ms.
func reportLatencies(b *testing.B, took []time.Duration) {
	slices.Sort(took)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(took[len(took)/2]), "p50_ms")
	b.ReportMetric(ms(took[len(took)*99/100]), "p99_ms")
	b.ReportMetric(ms(took[len(took)-1]), "max_ms")
}
