package store

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/alerts/notify"
)

// pagedAlerts is the store with UnacknowledgedAlerts reading pages of two alerts.
type pagedAlerts struct{ *Store }

func (p pagedAlerts) UnacknowledgedAlerts(ctx context.Context) ([]alerts.Unacknowledged, error) {
	return p.unacknowledgedAlerts(ctx, 2)
}

// Alerts at the end of their team's chain stay open and unacknowledged; however many of them
// come first, a newer alert is still read and escalated.
func testEscalationReadsEveryPage(t *testing.T, newDSN func(t *testing.T) string) {
	s := newStore(t, newDSN)
	clk, _ := escalationFixture(t, s)
	esc := notify.NewEscalator(pagedAlerts{s}, nil, 15*time.Minute, clk.now, slog.New(slog.DiscardHandler))
	clk.t = inHours.Add(10 * time.Hour) // 20:00 in Shanghai: to the on-call person at once, then no one
	for _, p := range []string{"p1", "p2", "p3"} {
		mustApply(t, s, clinicalFinding("bp_crisis", p, "t1", alerts.Urgent, 0, "185/121"))
	}
	if got := mustTick(t, esc); len(got) != 3 {
		t.Fatalf("escalated %v; want the three alerts to the on-call person", got)
	}
	clk.advance(time.Hour)
	if got := mustTick(t, esc); len(got) != 0 {
		t.Fatalf("escalated %v an hour later; want nothing: the roster has no one after Dr Li", got)
	}
	a, _, _ := mustApply(t, s, clinicalFinding("bp_crisis", "p4", "t1", alerts.Urgent, 60, "190/122"))
	if got := mustTick(t, esc); len(got) != 1 || got[a.ID] != drLi.ID {
		t.Errorf("escalated %v; want the new alert %d to the on-call person, behind three that went as far as they can", got, a.ID)
	}
	all, err := s.UnacknowledgedAlerts(context.Background())
	must(t, "UnacknowledgedAlerts", err)
	if len(all) != 4 {
		t.Errorf("UnacknowledgedAlerts returned %d alerts; want the 4 open ones", len(all))
	}
}

// The escalator's read takes everything from the two indexes of migration 0027 and reads no
// alert's row: under a steady stream of writes each read starts with an empty page cache, and
// rows are what made the read cost 16% of serve's CPU at 100,000 devices.
func TestUnacknowledgedAlertsReadIndexesOnlySQLite(t *testing.T) {
	s := mustOpen(t, filepath.Join(t.TempDir(), "vw.db"))
	p := queryPlan(t, s.readers, unacknowledgedQuery(unacknowledgedPage), 0)
	for _, want := range []string{"SEARCH alerts USING COVERING INDEX alerts_unacknowledged", "SEARCH e USING COVERING INDEX alert_events_paged"} {
		if !strings.Contains(p, want) {
			t.Errorf("query plan %q; want %q", p, want)
		}
	}
	if strings.Contains(p, "TEMP B-TREE") {
		t.Errorf("query plan %q sorts; want the index's order", p)
	}
}

// queryPlan returns SQLite's plan of query, its steps joined by "; ".
func queryPlan(t *testing.T, q querier, query string, args ...any) string {
	t.Helper()
	rows, err := q.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(plan, "; ")
}
