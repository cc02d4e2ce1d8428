package fleet

import (
	"fmt"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/reallocation"
)

// growthRecords: 100 patients with hypertension at each of two centres 13 months before now,
// then 21 more at "up" and 19 more at "flat" a month before now; one diabetic moves from "up"
// to "flat", and one of "up"'s hypertensive patients stops the plan.
func growthRecords(now time.Time) []devices.PatientRecord {
	old, recent := now.AddDate(0, -13, 0), now.AddDate(0, -1, 0)
	var rs []devices.PatientRecord
	add := func(n int, id, site string, at time.Time, plans ...string) {
		for i := range n {
			rs = append(rs, devices.PatientRecord{Patient: fmt.Sprintf("%s-%d", id, i), At: at, Site: site, Plans: plans, PlansSet: true})
		}
	}
	add(100, "up-old", "up", old, "Hypertension: BP daily")
	add(100, "flat-old", "flat", old, "hypertension: BP twice a week")
	add(1, "diabetic", "up", old, "Type 2 diabetes: glucose fasting")
	add(21, "up-new", "up", recent, "hypertension: BP daily")
	add(19, "flat-new", "flat", recent, "blood pressure, morning and evening")
	rs = append(rs,
		devices.PatientRecord{Patient: "diabetic-0", At: recent, Site: "flat"},                            // moves, with the plan
		devices.PatientRecord{Patient: "up-new-0", At: recent.Add(time.Hour), Site: "up", PlansSet: true}) // stops the plan
	return rs
}

func TestPatientsOnAPlan(t *testing.T) {
	now := time.Date(2026, 11, 15, 0, 0, 0, 0, time.UTC)
	rs := growthRecords(now)
	before, after := patientsOn(rs, now.AddDate(0, -12, 0)), patientsOn(rs, now)
	want := map[string][2]int{"up hypertension": {100, 120}, "flat hypertension": {100, 119}, "up diabetes": {1, 0}, "flat diabetes": {0, 1}}
	for k, w := range want {
		var site, cond string
		fmt.Sscan(k, &site, &cond)
		i := 0
		for i < len(Conditions) && Conditions[i].Name != cond {
			i++
		}
		if got := [2]int{before[siteCondition{site, i}], after[siteCondition{site, i}]}; got != w {
			t.Errorf("%s: %v patients a year ago and now; want %v", k, got, w)
		}
	}
}

// The flag fires at 21% growth and not at 19%; a centre whose demand grows as its patients did
// needs more cuffs at the 75% target.
func TestGrowthFlag(t *testing.T) {
	th := reallocation.DefaultThresholds() // growth 20%, target 75%
	before := map[siteCondition]int{{"up", 0}: 100, {"flat", 0}: 100, {"new", 0}: 0}
	now := map[siteCondition]int{{"up", 0}: 121, {"flat", 0}: 119, {"new", 0}: 30}
	cuffs := func(site string) reallocation.Stock {
		// 12 cuffs, 8.5 in use a day: 71%, needs 12 at 75%.
		return reallocation.Stock{Site: site, Type: devices.BPCuff, Devices: 12, Rated: 1, Demand: 8.5}
	}
	g := growthOf(cuffs("up"), before, now, th)
	// 8.5 x 1.21 = 10.285 a day needs ceil(10.285 / 0.75) = 14 cuffs: 2 more.
	if g == nil || g.Condition != "hypertension" || g.Patients != 121 || g.Before != 100 || fmt.Sprintf("%.2f", g.Rate) != "0.21" || g.More != 2 {
		t.Errorf("growth at up (21%%) = %+v; want hypertension 100 -> 121, 0.21, 2 more cuffs", g)
	}
	if g := growthOf(cuffs("flat"), before, now, th); g != nil {
		t.Errorf("growth at flat (19%%) = %+v; want none", g)
	}
	if g := growthOf(cuffs("new"), before, now, th); g != nil {
		t.Errorf("growth at new (none a year ago) = %+v; want none", g)
	}
	// Not a kind of the plan: a scale at the same centre is not flagged.
	if g := growthOf(reallocation.Stock{Site: "up", Type: devices.Scale, Devices: 3, Rated: 1, Demand: 2}, before, now, th); g != nil {
		t.Errorf("growth of scales at up = %+v; want none", g)
	}
	// Off at 0.
	th.Growth = 0
	if g := growthOf(cuffs("up"), before, now, th); g != nil {
		t.Errorf("growth with the flag off = %+v; want none", g)
	}
}

// A record out of time order (an instance whose clock is behind, an older time imported) still
// counts at its time: the replay does not stop at the first record after the moment.
func TestPatientsOnOutOfOrder(t *testing.T) {
	now := time.Date(2026, 11, 15, 0, 0, 0, 0, time.UTC)
	rs := []devices.PatientRecord{
		{Patient: "late", At: now, Site: "up", Plans: []string{"hypertension"}, PlansSet: true},
		{Patient: "early", At: now.AddDate(-1, -1, 0), Site: "up", Plans: []string{"hypertension"}, PlansSet: true},
	}
	if got := patientsOn(rs, now.AddDate(-1, 0, 0))[siteCondition{"up", 0}]; got != 1 {
		t.Errorf("patients a year ago = %d; want 1 (early, recorded after a later one)", got)
	}
}

// The conditions remembered plan by plan are those of the plans matched together, whatever the
// plans, their order and their repeats, and a change that sets no plans names none.
func TestPlanConditionsAsMatchedTogether(t *testing.T) {
	plans := []string{"Hypertension: BP daily", "diabetes and COPD", "weight weekly", "glucose, blood pressure",
		"none", "", "CGM", "heart failure: weight daily", "spo2", "BP-daily"}
	memo := planConditions{}
	for i := range 2000 {
		var rec devices.PatientRecord
		rec.PlansSet = i%7 != 0
		for j := range i % 4 {
			rec.Plans = append(rec.Plans, plans[(i*7+j*3)%len(plans)])
		}
		want := uint(0)
		if rec.PlansSet {
			want = conditionsOf(rec.Plans)
		}
		if got := memo.of(rec); got != want {
			t.Fatalf("plans %q (set %v): %b; matched together %b", rec.Plans, rec.PlansSet, got, want)
		}
	}
	if len(memo) > len(plans) {
		t.Errorf("%d plans remembered; want at most the %d there are", len(memo), len(plans))
	}
}
