package store

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"path/filepath"
	"sync"
	"testing"
	"time"

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

// TestApplyFindingsKeepsStatementsSQLite checks that a batch's statements are prepared once on
// the database and taken by the next batches, which record the same as before, and that a
// batch that writes nothing (and so rolls back) gives its connection back before preparing:
// SQLite's writer has one connection, so the other order would wait for ever.
func TestApplyFindingsKeepsStatementsSQLite(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "vw.db"))
	apply := func(fs ...alerts.Finding) []alerts.Applied {
		t.Helper()
		done := make(chan []alerts.Applied, 1)
		go func() { done <- s.ApplyFindings(context.Background(), fs) }()
		select {
		case got := <-done:
			for i, g := range got {
				if g.Err != nil {
					t.Fatalf("finding %d: %v", i, g.Err)
				}
			}
			return got
		case <-time.After(30 * time.Second):
			t.Fatal("ApplyFindings has not returned after 30 s: waiting for the connection it holds")
			return nil
		}
	}
	kept := func() map[string]*sql.Stmt {
		s.statements.mu.Lock()
		defer s.statements.mu.Unlock()
		return maps.Clone(s.statements.m)
	}

	// Resolves of nothing: no write, a rollback, and the read's statement kept.
	noop := faultFinding("offline", "dA1", "sA", alerts.Warning, 1)
	noop.Resolve = true
	noop2 := faultFinding("offline", "dA2", "sA", alerts.Warning, 1)
	noop2.Resolve = true
	apply(noop, noop2)
	if len(kept()) == 0 {
		t.Fatal("no statement kept after a batch that rolled back")
	}

	first := apply(clinicalFinding("glucose_low", "pA1", "tA", alerts.Warning, 2, "3.5 mmol/L"),
		clinicalFinding("glucose_low", "pA2", "tA", alerts.Warning, 2, "3.4 mmol/L"))
	before := kept()
	second := apply(clinicalFinding("glucose_low", "pA1", "tA", alerts.Warning, 3, "3.6 mmol/L"),
		clinicalFinding("glucose_low", "pA2", "tA", alerts.Warning, 3, "3.3 mmol/L"))
	third := apply(clinicalFinding("glucose_low", "pA1", "tA", alerts.Warning, 4, "3.7 mmol/L"))
	for query, st := range before {
		if kept()[query] != st {
			t.Errorf("statement %q was prepared again", query)
		}
	}
	for i, a := range first {
		if a.Event.Type != alerts.EventRaised || second[i].Event.Type != alerts.EventUpdated || second[i].Alert.Count != 2 {
			t.Errorf("patient %d: %s then %s, count %d; want raised, then updated with count 2", i+1, a.Event.Type, second[i].Event.Type, second[i].Alert.Count)
		}
	}
	if third[0].Alert.Count != 3 || third[0].Alert.LastValue != "3.7 mmol/L" {
		t.Errorf("third batch: count %d, last value %q; want 3, 3.7 mmol/L", third[0].Alert.Count, third[0].Alert.LastValue)
	}
	sameAsStored(t, s, "after three batches", third[0].Alert)
}

// A batch of one finding, what most batches of ingest hold, also runs the kept statements.
func TestApplyOneFindingKeepsStatementsSQLite(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "vw.db"))
	got := s.ApplyFindings(context.Background(), []alerts.Finding{clinicalFinding("glucose_low", "pA1", "tA", alerts.Warning, 2, "3.5 mmol/L")})
	if got[0].Err != nil || got[0].Event.Type != alerts.EventRaised {
		t.Fatalf("ApplyFindings = %+v; want the alert raised", got[0])
	}
	s.statements.mu.Lock()
	n := len(s.statements.m)
	s.statements.mu.Unlock()
	if n == 0 {
		t.Errorf("no statement kept after a batch of one finding")
	}
	sameAsStored(t, s, "after a batch of one", got[0].Alert)
}
