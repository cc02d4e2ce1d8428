package alerts

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/access"
	"github.com/vitalwatch/vitalwatch/errcode"
)

func TestKeepEvidence(t *testing.T) {
	readings := func(from, to int) []Evidence {
		var out []Evidence
		for i := from; i <= to; i++ {
			out = append(out, Evidence{Value: float64(i)})
		}
		return out
	}
	values := func(es []Evidence) []int {
		out := []int{}
		for _, e := range es {
			out = append(out, int(e.Value))
		}
		return out
	}
	for _, tt := range []struct {
		name      string
		kept, add []Evidence
		want      []int
	}{
		{"nothing", nil, nil, []int{}},
		{"under the bound", readings(1, 3), readings(4, 5), []int{1, 2, 3, 4, 5}},
		{"at the bound", readings(1, 24), readings(25, 25), values(readings(1, 25))},
		{"one over", readings(1, 25), readings(26, 26), append([]int{1, 2, 3, 4, 5}, values(readings(7, 26))...)},
		{"many at once", nil, readings(1, 100), append([]int{1, 2, 3, 4, 5}, values(readings(81, 100))...)},
		{"again and again", append(readings(1, 5), readings(81, 100)...), readings(101, 102),
			append([]int{1, 2, 3, 4, 5}, values(readings(83, 102))...)},
	} {
		kept := slices.Clone(tt.kept)
		got := KeepEvidence(tt.kept, tt.add)
		if !slices.Equal(values(got), tt.want) {
			t.Errorf("%s: KeepEvidence = %v; want %v", tt.name, values(got), tt.want)
		}
		if !slices.Equal(values(tt.kept), values(kept)) {
			t.Errorf("%s: KeepEvidence changed its argument", tt.name)
		}
	}
}

func TestScopeAllows(t *testing.T) {
	doctor := Scope{Teams: []string{"tA"}}
	fleet := Scope{Sites: []string{"sA"}}
	for _, tt := range []struct {
		name       string
		scope      Scope
		c          Category
		team, site string
		want       bool
	}{
		{"admin", Scope{All: true}, Fault, "", "sB", true},
		{"doctor, own team", doctor, Clinical, "tA", "sB", true},
		{"doctor, other team", doctor, Clinical, "tB", "sA", false},
		{"doctor, fault at a site named like the team", Scope{Teams: []string{"sA"}}, Fault, "", "sA", false},
		{"doctor, fault with the team set", doctor, Fault, "tA", "sA", false},
		{"fleet, own site", fleet, Fault, "", "sA", true},
		{"fleet, other site", fleet, Fault, "", "sB", false},
		{"fleet, clinical at its site", fleet, Clinical, "tA", "sA", false},
		{"nobody", Scope{}, Clinical, "tA", "sA", false},
		{"empty team", Scope{Teams: []string{""}}, Clinical, "", "", false},
	} {
		if got := tt.scope.Allows(tt.c, tt.team, tt.site); got != tt.want {
			t.Errorf("%s: %+v.Allows(%s, %q, %q) = %v; want %v", tt.name, tt.scope, tt.c, tt.team, tt.site, got, tt.want)
		}
	}
}

func TestScopeOf(t *testing.T) {
	for _, tt := range []struct {
		p    access.Principal
		want Scope
	}{
		{access.Principal{Role: access.Admin, Teams: []string{"tA"}}, Scope{All: true}},
		{access.Principal{Role: access.Doctor, Teams: []string{"tA", "tB"}, Sites: []string{"sA"}}, Scope{Teams: []string{"tA", "tB"}}},
		{access.Principal{Role: access.FleetManager, Teams: []string{"tA"}, Sites: []string{"sA"}}, Scope{Sites: []string{"sA"}}},
		{access.Principal{Role: "visitor", Teams: []string{"tA"}, Sites: []string{"sA"}}, Scope{}},
	} {
		if got := ScopeOf(&tt.p); got.All != tt.want.All || !slices.Equal(got.Teams, tt.want.Teams) || !slices.Equal(got.Sites, tt.want.Sites) {
			t.Errorf("ScopeOf(%s) = %+v; want %+v", tt.p.Role, got, tt.want)
		}
	}
}

// errCode is the code of a *errcode.Error, or "".
func errCode(err error) string {
	var de *errcode.Error
	if errors.As(err, &de) {
		return de.Code
	}
	return ""
}

func TestAcknowledgeAndResolve(t *testing.T) {
	now := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name     string
		category Category
		state    State
		action   string
		note     string
		code     string // "" for success
		says     string
	}{
		{"acknowledge open", Clinical, Open, "acknowledge", "", "", ""},
		{"acknowledge acknowledged", Clinical, Acknowledged, "acknowledge", "", errcode.Conflict, "alert 7 is acknowledged; it can be acknowledged only when open"},
		{"acknowledge resolved", Fault, Resolved, "acknowledge", "", errcode.Conflict, "alert 7 is resolved"},
		{"acknowledge with a long note", Fault, Open, "acknowledge", strings.Repeat("x", MaxNote+1), errcode.Invalid, "at most 1000 characters"},
		{"resolve open clinical with a note", Clinical, Open, "resolve", "seen in clinic", "", ""},
		{"resolve acknowledged clinical with a note", Clinical, Acknowledged, "resolve", "seen in clinic", "", ""},
		{"resolve clinical without a note", Clinical, Open, "resolve", " ", errcode.Invalid, "note: required to resolve a clinical alert"},
		{"resolve fault without a note", Fault, Acknowledged, "resolve", "", "", ""},
		{"resolve resolved", Fault, Resolved, "resolve", "", errcode.Conflict, "alert 7 is resolved; it can be resolved only when open or acknowledged"},
	} {
		a := Alert{ID: 7, Category: tt.category, State: tt.state, Severity: Urgent}
		var ev Event
		var err error
		if tt.action == "acknowledge" {
			ev, err = a.Acknowledge("user:u1", tt.note, now)
		} else {
			ev, err = a.Resolve("user:u1", tt.note, now)
		}
		if tt.code != "" {
			if errCode(err) != tt.code || !strings.Contains(err.Error(), tt.says) || a.State != tt.state {
				t.Errorf("%s: err %v, state %s; want a %s error saying %q and the state unchanged", tt.name, err, a.State, tt.code, tt.says)
			}
			continue
		}
		want := map[string]State{"acknowledge": Acknowledged, "resolve": Resolved}[tt.action]
		if err != nil || a.State != want || ev.Actor != "user:u1" || !ev.At.Equal(now) || ev.Note != tt.note || ev.Notify {
			t.Errorf("%s: %v, alert %+v, event %+v; want it %s by user:u1", tt.name, err, a, ev, want)
		}
	}
}

func TestRaiseAndRepeatNotify(t *testing.T) {
	now := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	f := func(sev Severity, late bool, doubt string) Finding {
		return Finding{Rule: "r", Category: Clinical, Severity: sev, Subject: Subject{"patient", "p"}, Team: "t", At: now, Late: late, Doubt: doubt}
	}
	// Each sequence of findings, and whether each notifies.
	for _, tt := range []struct {
		name     string
		findings []Finding
		notify   []bool
		severity Severity
	}{
		{"repeats", []Finding{f(Warning, false, ""), f(Warning, false, ""), f(Urgent, false, ""), f(Urgent, false, "")},
			[]bool{true, false, true, false}, Urgent},
		{"late never notifies", []Finding{f(Critical, true, ""), f(Critical, true, "")}, []bool{false, false}, Info},
		{"doubt never notifies, clean does", []Finding{f(Urgent, false, "cuff_loose"), f(Critical, false, "cuff_loose"), f(Urgent, false, ""), f(Critical, false, "")},
			[]bool{false, false, true, true}, Critical},
		{"late after live", []Finding{f(Warning, false, ""), f(Critical, true, "")}, []bool{true, false}, Warning},
	} {
		a, ev := Raise(tt.findings[0], now)
		got := []bool{ev.Notify}
		for _, g := range tt.findings[1:] {
			got = append(got, a.Repeat(g, now).Notify)
		}
		if !slices.Equal(got, tt.notify) || a.Severity != tt.severity {
			t.Errorf("%s: notify %v, severity %v; want %v, %v", tt.name, got, a.Severity, tt.notify, tt.severity)
		}
	}
}

// A finding whose readings the alert holds already is a reading delivered again (an instance
// died after raising the alert and before the message was acknowledged): it must not count.
func TestHolds(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	reading := func(min int, value float64) Evidence {
		return Evidence{Device: "ox-1", Measurement: "spo2", Time: t0.Add(time.Duration(min) * time.Minute), Value: value}
	}
	finding := func(min int, ev ...Evidence) Finding {
		return Finding{Rule: "spo2_low", Category: Clinical, Severity: Urgent, Subject: Subject{Kind: "patient", ID: "P-1"},
			At: t0.Add(time.Duration(min) * time.Minute), Evidence: ev}
	}
	a, _ := Raise(finding(0, reading(0, 88)), t0)
	a.Repeat(finding(5, reading(5, 87)), t0.Add(5*time.Minute))
	for _, tt := range []struct {
		name string
		f    Finding
		want bool
	}{
		{"the first reading again", finding(0, reading(0, 88)), true},
		{"the latest reading again", finding(5, reading(5, 87)), true},
		{"a new reading", finding(6, reading(6, 86)), false},
		{"a new reading measured between", finding(3, reading(3, 86)), false},
		{"the same time, another value", finding(0, reading(0, 85)), false},
		{"the same time, another device", finding(0, Evidence{Device: "ox-2", Measurement: "spo2", Time: t0, Value: 88}), false},
		{"the same time, flagged", finding(0, Evidence{Device: "ox-1", Measurement: "spo2", Time: t0, Value: 88, Flags: []string{"motion"}}), false},
		{"a known reading with a new one", finding(5, reading(0, 88), reading(4, 86)), false},
		{"known readings, judged later (a daily rule)", finding(60, reading(0, 88), reading(5, 87)), false},
		{"no evidence (a missed measurement)", finding(0), false},
	} {
		if got := a.Holds(tt.f); got != tt.want {
			t.Errorf("%s: Holds = %v; want %v", tt.name, got, tt.want)
		}
	}
}

// A site's notice is a fault about the site, routed to that site; anything else is refused.
func TestCheckFindingSiteSubject(t *testing.T) {
	ok := Finding{Rule: RuleCentreGrowth, Category: Fault, Severity: Info, Subject: Subject{Kind: SubjectSite, ID: "s-01"}, Site: "s-01"}
	if err := CheckFinding(ok); err != nil {
		t.Errorf("CheckFinding(site notice) = %v; want nil", err)
	}
	for name, f := range map[string]Finding{
		"clinical":     {Rule: RuleCentreGrowth, Category: Clinical, Severity: Info, Subject: Subject{Kind: SubjectSite, ID: "s-01"}, Site: "s-01"},
		"other site":   {Rule: RuleCentreGrowth, Category: Fault, Severity: Info, Subject: Subject{Kind: SubjectSite, ID: "s-01"}, Site: "s-02"},
		"no id":        {Rule: RuleCentreGrowth, Category: Fault, Severity: Info, Subject: Subject{Kind: SubjectSite}, Site: ""},
		"unknown kind": {Rule: RuleCentreGrowth, Category: Fault, Severity: Info, Subject: Subject{Kind: "team", ID: "t-01"}, Site: "s-01"},
	} {
		if err := CheckFinding(f); err == nil {
			t.Errorf("CheckFinding(%s) = nil; want an error", name)
		}
	}
}
