package store

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/access"
	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/alerts/notify"
	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/errcode"
)

// inHours is Tuesday 2026-11-03 10:00 at site1 (Asia/Shanghai, open Mon-Fri 08:00-17:30).
var inHours = time.Date(2026, 11, 3, 2, 0, 0, 0, time.UTC)

var drLi = access.User{ID: "usr_li", Username: "dr.li", Role: access.Doctor, Teams: []string{"t1"}, PasswordHash: fakeHash}

// escalationFixture is the registry fixture with team t1 led by Dr Wang and Dr Li on call, a
// store clock at inHours, and an escalator on it with the default of 15 minutes.
func escalationFixture(t *testing.T, s *Store) (*clock, *notify.Escalator) {
	t.Helper()
	clk := withClock(s)
	clk.t = inHours
	seed(t, s)
	mustCreateUser(t, s, drWang)
	mustCreateUser(t, s, drLi)
	team := team1
	team.Lead, team.OnCall = drWang.ID, []string{drLi.ID}
	must(t, "UpdateTeam", s.UpdateTeam(asAdmin, team))
	return clk, notify.NewEscalator(s, nil, 15*time.Minute, clk.now, slog.New(slog.DiscardHandler))
}

// mustTick runs one escalator tick and returns the user ids escalated to, by alert.
func mustTick(t *testing.T, e *notify.Escalator) map[int64]string {
	t.Helper()
	evs, err := e.Tick(context.Background())
	if err != nil {
		t.Fatalf("Tick: %v", err)
	}
	out := map[int64]string{}
	for _, ev := range evs {
		if ev.Type != alerts.EventEscalated || !ev.Notify || ev.Actor != alerts.SystemActor || ev.ID == 0 {
			t.Errorf("tick event %+v; want a notifying escalated event by the system", ev)
		}
		out[ev.AlertID] = ev.Note
	}
	return out
}

// An urgent alert escalates to the lead after 15 minutes, to the on-call person 15 minutes
// later, and then stops; each step is an event in the alert's history and the alert's level.
func testEscalationChain(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	clk, esc := escalationFixture(t, s)
	a, _, _ := mustApply(t, s, clinicalFinding("bp_crisis", "p1", "t1", alerts.Urgent, 0, "185/121"))
	mustApply(t, s, clinicalFinding("glucose_low", "p2", "t1", alerts.Warning, 0, "3.6")) // not urgent
	mustApply(t, s, faultFinding("battery_low", "cuff-1", "s1", alerts.Critical, 0))      // a fault
	doubt := clinicalFinding("spo2_low", "p2", "t1", alerts.Critical, 0, "84")            // in doubt
	doubt.Doubt = "flagged reading"
	mustApply(t, s, doubt)

	for _, step := range []struct {
		wait  time.Duration
		want  string // "" for no escalation
		level int
	}{
		{14*time.Minute + 59*time.Second, "", 0},
		{time.Second, drWang.ID, 1}, // 15:00
		{14*time.Minute + 59*time.Second, "", 1},
		{time.Second, drLi.ID, 2}, // 30:00
		{2 * time.Hour, "", 2},    // nobody left on the roster
	} {
		clk.advance(step.wait)
		got := mustTick(t, esc)
		if len(got) > 1 || got[a.ID] != step.want || step.want == "" && len(got) > 0 {
			t.Fatalf("at %v: escalated %v; want alert %d to %q only", clk.now().Sub(inHours), got, a.ID, step.want)
		}
		if cur, err := s.GetAlert(ctx, a.ID); err != nil || cur.EscalationLevel != step.level || cur.State != alerts.Open {
			t.Fatalf("at %v: alert = %+v, %v; want open at level %d", clk.now().Sub(inHours), cur, err, step.level)
		}
	}
	hist, err := s.AlertHistory(ctx, a.ID)
	must(t, "AlertHistory", err)
	if got := eventTypes(hist); len(got) != 3 || got[1] != alerts.EventEscalated || got[2] != alerts.EventEscalated {
		t.Fatalf("history %v; want raised, escalated, escalated", got)
	}
	if hist[1].Note != drWang.ID || hist[2].Note != drLi.ID || hist[2].Alert.EscalationLevel != 2 ||
		!hist[1].At.Equal(inHours.Add(15*time.Minute)) {
		t.Errorf("escalations %+v, %+v; want the lead at 15:00 then the on-call person at level 2", hist[1], hist[2])
	}
}

// An acknowledged alert does not escalate, and one acknowledged after its first escalation
// goes no further.
func testEscalationStopsWhenAcknowledged(t *testing.T, newDSN func(t *testing.T) string) {
	s := newStore(t, newDSN)
	clk, esc := escalationFixture(t, s)
	asWang := audit.WithActor(context.Background(), drWang.ID)
	early, _, _ := mustApply(t, s, clinicalFinding("bp_crisis", "p1", "t1", alerts.Critical, 0, "190/125"))
	late, _, _ := mustApply(t, s, clinicalFinding("glucose_very_low", "p2", "t1", alerts.Urgent, 0, "2.7"))
	clk.advance(10 * time.Minute)
	if _, _, err := s.AcknowledgeAlert(asWang, early.ID, "calling the patient"); err != nil {
		t.Fatal(err)
	}
	clk.advance(5 * time.Minute)
	if got := mustTick(t, esc); len(got) != 1 || got[late.ID] != drWang.ID {
		t.Fatalf("at 15:00 escalated %v; want only alert %d, to the lead", got, late.ID)
	}
	if _, _, err := s.AcknowledgeAlert(asWang, late.ID, ""); err != nil {
		t.Fatal(err)
	}
	clk.advance(time.Hour)
	if got := mustTick(t, esc); len(got) != 0 {
		t.Errorf("after acknowledgement escalated %v; want nothing", got)
	}
}

// Out of the centre's opening hours an urgent alert goes to the on-call person at once.
func testEscalationOutOfHours(t *testing.T, newDSN func(t *testing.T) string) {
	s := newStore(t, newDSN)
	clk, esc := escalationFixture(t, s)
	clk.t = inHours.Add(10 * time.Hour) // 20:00 in Shanghai
	a, _, _ := mustApply(t, s, clinicalFinding("bp_crisis", "p1", "t1", alerts.Urgent, 0, "185/121"))
	if got := mustTick(t, esc); len(got) != 1 || got[a.ID] != drLi.ID {
		t.Fatalf("out of hours escalated %v; want alert %d to the on-call person at once", got, a.ID)
	}
	if cur, _ := s.GetAlert(context.Background(), a.ID); cur.EscalationLevel != 2 {
		t.Errorf("level %d; want 2 (on call, the lead skipped)", cur.EscalationLevel)
	}
	clk.advance(14 * time.Minute)
	if got := mustTick(t, esc); len(got) != 0 {
		t.Errorf("14 minutes later escalated %v; want nothing: the roster has no one after Dr Li", got)
	}
}

// A team's own acknowledgement time replaces the default; a team with no one to page records
// the escalation with no target, once.
func testEscalationTeamSettings(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	clk, esc := escalationFixture(t, s)
	team := team2 // at site2, which has no opening hours: always open
	team.AckWithin = 5 * time.Minute
	must(t, "UpdateTeam(ack_within)", s.UpdateTeam(asAdmin, team))
	if got, err := s.GetTeam(ctx, "t2"); err != nil || got.AckWithin != 5*time.Minute {
		t.Fatalf("GetTeam(t2) = %+v, %v; want ack within 5m", got, err)
	}
	for _, bad := range []time.Duration{30 * time.Second, 25 * time.Hour, 90*time.Second + time.Millisecond, -time.Minute} {
		team.AckWithin = bad
		wantCode(t, "UpdateTeam(ack_within "+bad.String()+")", s.UpdateTeam(asAdmin, team), errcode.Invalid)
	}
	a, _, _ := mustApply(t, s, clinicalFinding("bp_crisis", "p3", "t2", alerts.Urgent, 0, "185/121"))
	clk.advance(5 * time.Minute)
	if got := mustTick(t, esc); len(got) != 1 || got[a.ID] != "" {
		t.Fatalf("at 5:00 escalated %v; want alert %d recorded with no one to page", got, a.ID)
	}
	clk.advance(time.Hour)
	if got := mustTick(t, esc); len(got) != 0 {
		t.Errorf("escalated again %v; want once", got)
	}
}

// Two instances' escalators on one database take each step once.
func testEscalationRace(t *testing.T, newDSN func(t *testing.T) string) {
	dsn := newDSN(t)
	s1, s2 := mustOpen(t, dsn), mustOpen(t, dsn)
	clk, _ := escalationFixture(t, s1)
	s2.now = clk.now
	log := slog.New(slog.DiscardHandler)
	escs := []*notify.Escalator{notify.NewEscalator(s1, nil, 15*time.Minute, clk.now, log),
		notify.NewEscalator(s2, nil, 15*time.Minute, clk.now, log)}
	var ids []int64
	for _, p := range []string{"p1", "p2"} {
		a, _, _ := mustApply(t, s1, clinicalFinding("bp_crisis", p, "t1", alerts.Urgent, 0, "185/121"))
		ids = append(ids, a.ID)
	}
	for round := range 2 {
		clk.advance(15 * time.Minute)
		var wg sync.WaitGroup
		got := make([]map[int64]string, 2*len(escs))
		for i := range got {
			wg.Go(func() {
				evs, err := escs[i%2].Tick(context.Background())
				if err != nil {
					t.Errorf("Tick: %v", err)
				}
				got[i] = map[int64]string{}
				for _, ev := range evs {
					got[i][ev.AlertID] = ev.Note
				}
			})
		}
		wg.Wait()
		for _, id := range ids {
			n := 0
			for _, g := range got {
				if _, ok := g[id]; ok {
					n++
				}
			}
			if n != 1 {
				t.Errorf("round %d: alert %d escalated %d times; want once (%v)", round, id, n, got)
			}
		}
	}
	for _, id := range ids {
		hist, err := s1.AlertHistory(context.Background(), id)
		must(t, "AlertHistory", err)
		if len(hist) != 3 {
			t.Errorf("alert %d history %v; want raised and one escalation per step", id, eventTypes(hist))
		}
	}
}
