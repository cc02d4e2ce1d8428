package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
)

// EscalateAll takes many steps at once and says what each did, in order: a step whose alert
// has moved on is not taken, and one alert that cannot be escalated (its row cannot be read)
// holds up none of the others.
func testEscalateAll(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	clk, _ := escalationFixture(t, s)
	var ids []int64
	for i := range 300 {
		a, _, _ := mustApply(t, s, clinicalFinding("bp_crisis", fmt.Sprintf("p%d", i), "t1", alerts.Urgent, 0, "185/121"))
		ids = append(ids, a.ID)
	}
	clk.advance(15 * time.Minute)
	step := func(id int64, from int) alerts.Escalation {
		return alerts.Escalation{AlertID: id, From: from, To: from + 1, Target: drWang.ID, At: clk.now(), Reason: "test"}
	}
	var steps []alerts.Escalation
	for _, id := range ids {
		steps = append(steps, step(id, 0))
	}
	steps[10].From = 1 // not at that level: not taken
	if _, err := s.db.ExecContext(ctx, `UPDATE alerts SET thresholds = 'not json' WHERE id = $1`, ids[20]); err != nil {
		t.Fatal(err)
	}
	got := s.EscalateAll(ctx, steps)
	if len(got) != len(steps) {
		t.Fatalf("EscalateAll returned %d results for %d steps", len(got), len(steps))
	}
	for i, g := range got {
		switch i {
		case 10:
			if g.Took || g.Err != nil {
				t.Errorf("step %d from the wrong level: %+v; want not taken, no error", i, g)
			}
		case 20:
			if g.Err == nil {
				t.Errorf("step %d on an unreadable alert: %+v; want its error", i, g)
			}
		default:
			if !g.Took || g.Err != nil || g.Alert.ID != steps[i].AlertID || g.Alert.EscalationLevel != 1 ||
				g.Event.Type != alerts.EventEscalated || g.Event.ID == 0 || g.Event.Note != drWang.ID {
				t.Fatalf("step %d: %+v; want alert %d taken to level 1 with its escalated event", i, g, steps[i].AlertID)
			}
		}
	}
	for i, id := range ids {
		if i == 20 {
			continue
		}
		a, err := s.GetAlert(ctx, id)
		want := 1
		if i == 10 {
			want = 0
		}
		if err != nil || a.EscalationLevel != want {
			t.Fatalf("alert %d after EscalateAll: level %d, %v; want %d", id, a.EscalationLevel, err, want)
		}
	}
	if again := s.EscalateAll(ctx, steps[:5]); again[0].Took || again[0].Err != nil {
		t.Errorf("the same step again: %+v; want not taken", again[0])
	}
}
