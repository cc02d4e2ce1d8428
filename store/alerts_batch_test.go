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
// In SQLite, where the batch is one transaction, the one plain repeat followed by a rise in
// severity of the same alert writes no event of its own (findingBatch).
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
	superseded, events := -1, 6
	if batch.dialect == sqlite {
		superseded, events = 3, 5
	}
	got := batch.ApplyFindings(ctx, fs)
	for i, f := range fs {
		a, ev, notify, err := single.ApplyFinding(ctx, f)
		g := got[i]
		if (err != nil) != (g.Err != nil) {
			t.Errorf("finding %d (%s): ApplyFindings error %v; ApplyFinding error %v", i, f.Rule, g.Err, err)
			continue
		}
		if i == superseded {
			if g.Event.ID != 0 {
				t.Errorf("finding %d, a plain repeat followed by a rise in severity: event %d (%s); want none", i, g.Event.ID, g.Event.Type)
			}
			ev = alerts.Event{}
		}
		if g.Event.Type != ev.Type || (g.Event.ID != 0) != (ev.ID != 0) || g.Notify != notify || g.Alert.State != a.State ||
			g.Alert.Count != a.Count || g.Alert.Severity != a.Severity || g.Alert.LastValue != a.LastValue || g.Alert.Subject != a.Subject {
			t.Errorf("finding %d (%s): ApplyFindings gave %s (event %d) notify %v, alert %s count %d %s %q;\nApplyFinding gave %s (event %d) notify %v, alert %s count %d %s %q",
				i, f.Rule, g.Event.Type, g.Event.ID, g.Notify, g.Alert.State, g.Alert.Count, g.Alert.Severity, g.Alert.LastValue,
				ev.Type, ev.ID, notify, a.State, a.Count, a.Severity, a.LastValue)
		}
	}
	for s, want := range map[*Store]int{batch: events, single: 6} {
		list, err := s.ListAlerts(ctx, alerts.Filter{Scope: alerts.Scope{All: true}})
		must(t, "ListAlerts", err)
		evs, err := s.AlertEvents(ctx, 0, alerts.Scope{All: true}, 100)
		must(t, "AlertEvents", err)
		if len(list) != 3 || len(evs) != want {
			t.Errorf("%d alerts and %d events stored; want 3 alerts (two patients' lows, a battery) and %d events", len(list), len(evs), want)
		}
	}
}

// In SQLite a batch writes the plain repeats of an alert once: the ten readings of a visit,
// each a repeat, are one updated event whose alert shows them all; a rise in severity, a
// repeat that notifies and a resolve keep events of their own. The alerts end as ApplyFinding
// leaves them one finding at a time.
func TestApplyFindingsWritesRepeatsOnceSQLite(t *testing.T) {
	ctx := context.Background()
	newDSN := func(t *testing.T) string { return filepath.Join(t.TempDir(), "vw.db") }
	var fs []alerts.Finding
	// Patient A: raised, then nine plain repeats interleaved with patient B's, one of them a
	// reading delivered again.
	for m := range 10 {
		fs = append(fs, clinicalFinding("glucose_low", "pA", "tA", alerts.Warning, m, fmt.Sprintf("3.%d mmol/L", m)))
		if m == 4 {
			fs = append(fs, fs[len(fs)-2]) // delivered again: counted already
		}
		if m < 3 {
			fs = append(fs, clinicalFinding("glucose_low", "pB", "tA", alerts.Warning, m, "3.5 mmol/L"))
		}
	}
	// Patient B: a rise in severity after its plain repeats, then one more plain repeat.
	fs = append(fs, clinicalFinding("glucose_low", "pB", "tA", alerts.Urgent, 20, "2.8 mmol/L"),
		clinicalFinding("glucose_low", "pB", "tA", alerts.Warning, 21, "3.4 mmol/L"))
	// Patient C: a quiet (late) raise, recorded at info, then a clean repeat: a rise in
	// severity, which notifies.
	late := clinicalFinding("glucose_low", "pC", "tA", alerts.Warning, 0, "3.5 mmol/L")
	late.Late = true
	fs = append(fs, late, clinicalFinding("glucose_low", "pC", "tA", alerts.Warning, 1, "3.6 mmol/L"))
	// A device: a fault repeated, then cleared, then raised again in the same batch.
	cleared := faultFinding("battery_low", "dA", "sA", alerts.Warning, 2)
	cleared.Resolve = true
	fs = append(fs, faultFinding("battery_low", "dA", "sA", alerts.Warning, 0), faultFinding("battery_low", "dA", "sA", alerts.Warning, 1),
		cleared, faultFinding("battery_low", "dA", "sA", alerts.Warning, 3))

	batch, single := newStore(t, newDSN), newStore(t, newDSN)
	got := batch.ApplyFindings(ctx, fs)
	written := map[alerts.EventType]int{}
	for i, g := range got {
		if g.Err != nil {
			t.Fatalf("finding %d: %v", i, g.Err)
		}
		if g.Event.ID != 0 {
			written[g.Event.Type]++
		}
		if _, _, _, err := single.ApplyFinding(ctx, fs[i]); err != nil {
			t.Fatalf("ApplyFinding %d: %v", i, err)
		}
	}
	// Raised: A, B, C, the fault twice. Updated: A's nine repeats once; B's repeats before its
	// rise are superseded by the rise, and the one after it is written. Risen: B and C. The
	// fault's repeat is superseded by its resolve.
	want := map[alerts.EventType]int{alerts.EventRaised: 5, alerts.EventUpdated: 2, alerts.EventSeverityRaised: 2, alerts.EventResolved: 1}
	if !maps.Equal(written, want) {
		t.Errorf("events written by the batch: %v; want %v", written, want)
	}
	evs, err := batch.AlertEvents(ctx, 0, alerts.Scope{All: true}, 100)
	must(t, "AlertEvents", err)
	if len(evs) != 10 {
		t.Errorf("%d events stored; want 10", len(evs))
	}
	// The events returned are the ones stored, in order of their IDs.
	var ids []int64
	for _, g := range got {
		if g.Event.ID != 0 {
			ids = append(ids, g.Event.ID)
		}
	}
	if len(ids) != len(evs) {
		t.Errorf("%d events returned; %d stored", len(ids), len(evs))
	}
	last := map[int64]alerts.Event{}
	for _, ev := range evs {
		last[ev.AlertID] = ev
	}
	one, err := single.ListAlerts(ctx, alerts.Filter{Scope: alerts.Scope{All: true}})
	must(t, "ListAlerts", err)
	all, err := batch.ListAlerts(ctx, alerts.Filter{Scope: alerts.Scope{All: true}})
	must(t, "ListAlerts", err)
	if len(all) != len(one) || len(all) != 5 {
		t.Fatalf("%d alerts from the batch, %d one by one; want 5", len(all), len(one))
	}
	byKey := map[string]alerts.Alert{}
	for _, a := range one {
		byKey[a.Rule+a.Subject.String()+string(a.State)] = a
	}
	for _, a := range all {
		b, ok := byKey[a.Rule+a.Subject.String()+string(a.State)]
		if !ok {
			t.Errorf("alert %s of %s (%s) from the batch; none such one by one", a.Rule, a.Subject, a.State)
			continue
		}
		if a.Count != b.Count || a.Severity != b.Severity || a.NotifiedSeverity != b.NotifiedSeverity || a.LastValue != b.LastValue ||
			!a.FirstSeen.Equal(b.FirstSeen) || !a.LastSeen.Equal(b.LastSeen) || a.Late != b.Late || len(a.Evidence) != len(b.Evidence) {
			t.Errorf("alert of %s (%s): batch count %d %s notified %s %q seen %v-%v late %v, %d evidence;\none by one count %d %s notified %s %q seen %v-%v late %v, %d evidence",
				a.Subject, a.State, a.Count, a.Severity, a.NotifiedSeverity, a.LastValue, a.FirstSeen, a.LastSeen, a.Late, len(a.Evidence),
				b.Count, b.Severity, b.NotifiedSeverity, b.LastValue, b.FirstSeen, b.LastSeen, b.Late, len(b.Evidence))
		}
		// The live feed's last event of each alert shows the alert as it ends.
		if ev := last[a.ID]; ev.Alert.Count != a.Count || ev.Alert.LastValue != a.LastValue {
			t.Errorf("alert of %s (%s): its last event (%s) shows count %d %q; the alert has %d %q",
				a.Subject, a.State, ev.Type, ev.Alert.Count, ev.Alert.LastValue, a.Count, a.LastValue)
		}
	}
	if a := byKey["glucose_low"+"patient/pA"+"open"]; a.Count != 10 {
		t.Errorf("patient A's alert counts %d; want 10 (the reading delivered again counts once)", a.Count)
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
	for _, q := range lockStatements {
		if s.statements.get(q) == nil {
			t.Errorf("%q, which takes the write lock, is not kept prepared after Open", q)
		}
	}
	lock := s.statements.get(takeWriteLock)
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
	if s.statements.get(takeWriteLock) != lock {
		t.Errorf("the write that takes the lock was prepared again")
	}
	sameAsStored(t, s, "after a batch of one", got[0].Alert)
}
