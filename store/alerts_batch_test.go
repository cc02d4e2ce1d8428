package store

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/internal/testsrv"
)

func TestApplyFindingsSQLite(t *testing.T) {
	testApplyFindings(t, func(t *testing.T) string { return filepath.Join(t.TempDir(), "vw.db") })
}

func TestApplyFindingsPostgres(t *testing.T) {
	pg := testsrv.StartPostgres(t)
	testApplyFindings(t, func(t *testing.T) string { return pg.NewDatabase(t) })
}

func testApplyFindings(t *testing.T, newDSN func(t *testing.T) string) {
	t.Run("AsOneByOne", func(t *testing.T) { testApplyFindingsAsOneByOne(t, newDSN) })
	t.Run("Concurrent", func(t *testing.T) { testApplyFindingsConcurrent(t, newDSN) })
}

// ApplyFindings does to each finding what ApplyFinding does, in order: raise, repeat, a
// reading delivered again, a rise in severity, a resolve, a resolve of nothing, a bad finding.
func testApplyFindingsAsOneByOne(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	low := clinicalFinding("glucose_low", "pA1", "tA", alerts.Warning, 0, "3.5 mmol/L")
	again := low
	veryLow := clinicalFinding("glucose_low", "pA1", "tA", alerts.Urgent, 5, "2.9 mmol/L")
	battery := faultFinding("battery_low", "dA1", "sA", alerts.Warning, 1)
	cleared := faultFinding("battery_low", "dA1", "sA", alerts.Warning, 9)
	cleared.Resolve = true
	nothing := faultFinding("offline", "dA2", "sA", alerts.Warning, 9)
	nothing.Resolve = true
	bad := low
	bad.Rule = ""
	fs := []alerts.Finding{low, battery, again, clinicalFinding("glucose_low", "pA1", "tA", alerts.Warning, 2, "3.6 mmol/L"),
		veryLow, cleared, nothing, bad, clinicalFinding("glucose_low", "pA2", "tA", alerts.Warning, 3, "3.4 mmol/L")}

	batch, single := newStore(t, newDSN), newStore(t, newDSN)
	got := batch.ApplyFindings(ctx, fs)
	for i, f := range fs {
		a, ev, notify, err := single.ApplyFinding(ctx, f)
		g := got[i]
		if (err != nil) != (g.Err != nil) {
			t.Errorf("finding %d (%s): ApplyFindings error %v; ApplyFinding error %v", i, f.Rule, g.Err, err)
			continue
		}
		if g.Event.Type != ev.Type || (g.Event.ID != 0) != (ev.ID != 0) || g.Notify != notify || g.Alert.State != a.State ||
			g.Alert.Count != a.Count || g.Alert.Severity != a.Severity || g.Alert.LastValue != a.LastValue || g.Alert.Subject != a.Subject {
			t.Errorf("finding %d (%s): ApplyFindings gave %s (event %d) notify %v, alert %s count %d %s %q;\nApplyFinding gave %s (event %d) notify %v, alert %s count %d %s %q",
				i, f.Rule, g.Event.Type, g.Event.ID, g.Notify, g.Alert.State, g.Alert.Count, g.Alert.Severity, g.Alert.LastValue,
				ev.Type, ev.ID, notify, a.State, a.Count, a.Severity, a.LastValue)
		}
	}
	for _, s := range []*Store{batch, single} {
		list, err := s.ListAlerts(ctx, alerts.Filter{Scope: alerts.Scope{All: true}})
		must(t, "ListAlerts", err)
		evs, err := s.AlertEvents(ctx, 0, alerts.Scope{All: true}, 100)
		must(t, "AlertEvents", err)
		if len(list) != 3 || len(evs) != 6 {
			t.Errorf("%d alerts and %d events stored; want 3 alerts (two patients' lows, a battery) and 6 events", len(list), len(evs))
		}
	}
}

// Batches of the same findings recorded at once through two stores ("instances") on one
// database make one alert of each, counting every finding once.
func testApplyFindingsConcurrent(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	dsn := newDSN(t)
	instances := []*Store{mustOpen(t, dsn), mustOpen(t, dsn)}
	const batches, each = 8, 5
	var wg sync.WaitGroup
	errs := make(chan error, batches*each)
	for b := range batches {
		fs := make([]alerts.Finding, each)
		for i := range fs {
			fs[i] = clinicalFinding("glucose_high", fmt.Sprintf("pA%d", i), "tA", alerts.Warning, b*each+i, "15 mmol/L")
		}
		wg.Go(func() {
			for _, r := range instances[b%2].ApplyFindings(ctx, fs) {
				if r.Err != nil {
					errs <- r.Err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("ApplyFindings alongside others: %v", err)
	}
	list, err := instances[0].ListAlerts(ctx, alerts.Filter{Scope: alerts.Scope{All: true}, Rule: "glucose_high"})
	must(t, "ListAlerts", err)
	if len(list) != each {
		t.Fatalf("%d alerts; want one for each of %d patients", len(list), each)
	}
	for _, a := range list {
		if a.Count != batches {
			t.Errorf("alert of %s counts %d; want %d", a.Subject, a.Count, batches)
		}
	}
}
