package store

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/devices"
)

// BenchmarkListsDuringFindings measures, in SQLite, how long the API's lists take while ingest
// records alert findings: another goroutine applies batches of 100 findings (new alerts) one
// after the other on a store of 100,000 alerts and 10,000 devices, while each iteration reads a
// doctor's open alerts (50) and a page of 100 devices. It reports the median, 99th percentile
// and longest time of a pair of lists, and how many batches were written meanwhile.
//
//	go test -run '^$' -bench ListsDuringFindings -benchtime 400x ./store/
func BenchmarkListsDuringFindings(b *testing.B) {
	s := mustOpen(b, filepath.Join(b.TempDir(), "vw.db"))
	ctx := context.Background()
	const batch, prefill, devs, teams = 100, 100_000, 10_000, 300
	team := func(p int) string { return fmt.Sprintf("t%d", p%teams) }
	apply := func(fs []alerts.Finding) error {
		for i, a := range s.Alerts.ApplyFindings(ctx, fs) {
			if a.Err != nil {
				return fmt.Errorf("finding %d: %w", i, a.Err)
			}
		}
		return nil
	}
	fs := make([]alerts.Finding, 0, batch)
	for p := 0; p < prefill; p += batch {
		fs = fs[:0]
		for q := p; q < p+batch; q++ {
			fs = append(fs, clinicalFinding("glucose_very_high", fmt.Sprintf("old%d", q), team(q), alerts.Urgent, q%1000, "17.2 mmol/L"))
		}
		if err := apply(fs); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.CreateSite(asAdmin, devices.Site{ID: "s1", Name: "s1"}); err != nil {
		b.Fatal(err)
	}
	ds := make([]devices.Device, devs)
	for i := range ds {
		ds[i] = devices.Device{ID: fmt.Sprintf("dev-%05d", i), Kind: devices.GlucoseMeter, SiteID: "s1", Status: devices.Active, Mode: devices.StationMode, RatedUsesPerDay: 20, SecretHash: station1.SecretHash}
	}
	if err := s.CreateDevices(asAdmin, ds); err != nil {
		b.Fatal(err)
	}

	stop := make(chan struct{})
	var batches atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		fs := make([]alerts.Finding, 0, batch)
		for n := 0; ; {
			select {
			case <-stop:
				return
			default:
			}
			fs = fs[:0]
			for range batch {
				n++
				fs = append(fs, clinicalFinding("glucose_high", fmt.Sprintf("new%d", n), team(n), alerts.Warning, n%1000, "14.2 mmol/L"))
			}
			if err := apply(fs); err != nil {
				b.Error(err)
				return
			}
			batches.Add(1)
		}
	})
	var took []time.Duration
	i := 0
	for b.Loop() {
		i++
		start := time.Now()
		open, err := s.ListAlerts(ctx, alerts.Filter{Scope: alerts.Scope{Teams: []string{team(i)}}, State: alerts.Open, Limit: 50})
		if err != nil || len(open) == 0 {
			b.Fatalf("ListAlerts = %d alerts, %v", len(open), err)
		}
		page, err := s.ListDevices(ctx, devices.ListOptions{After: fmt.Sprintf("dev-%05d", i*7%devs), Limit: 100})
		if err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(start))
		_ = page
	}
	close(stop)
	wg.Wait()
	reportLatencies(b, took)
	b.ReportMetric(float64(batches.Load()), "batches")
}
