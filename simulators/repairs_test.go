package simulators

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"
)

// The demo's history (60 devices, seed 1, 130 days) has repairs every month at several centres,
// of 1 to 10 days and one long one, each over before the history's last days; and the backlogs
// show them: the fault flagged before the device stops, nothing while it is away, its readings
// again after, and its residents at the centre's other stations if it has any.
func TestRepairs(t *testing.T) {
	f := NewScenarioFleet(60, 1, DefaultMix(), Reallocation())
	start := HistoryStart(historyEnd, demoHistory)
	rs := f.Repairs(start, historyEnd)
	byMonth, sites := map[string]int{}, map[string]bool{}
	var long, home int
	for i, r := range rs {
		t.Logf("%s %s %s: fault %s, maintenance %s until %s (%v)", r.Device, r.Kind, r.Site,
			r.Fault.Format("01-02 15:04"), r.From.Format("01-02 15:04"), r.Until.Format("01-02 15:04"), r.Duration())
		byMonth[r.Until.UTC().Format("2006-01")]++
		sites[r.Site] = true
		if d := r.Duration(); d < 12*time.Hour || d > 25*24*time.Hour || !r.Fault.Before(r.From) {
			t.Errorf("%s: fault %v, under repair %v; want a fault before it, and 12 hours to 25 days", r.Device, r.Fault, d)
		} else if d > 15*24*time.Hour {
			long++
		}
		if r.Kind != Station {
			home++
		}
		if r.Device == f.Failing().ID || !r.Until.Before(historyEnd.AddDate(0, 0, -repairsEndBefore)) {
			t.Errorf("%s: back at %v; want every repair over %d days before the end, and none of the failing station", r.Device, r.Until, repairsEndBefore)
		}
		for _, o := range rs[:i] {
			if o.Site == r.Site && o.Kind == r.Kind && o.Until.After(r.From) && r.Kind == Station {
				t.Errorf("%s and %s under repair at %s at once; want one station of a centre at a time", o.Device, r.Device, r.Site)
			}
		}
	}
	for _, m := range completeMonths(historyEnd, 3) {
		if byMonth[m.name] < 3 {
			t.Errorf("%d repairs ended in %s; want several each month (%v)", byMonth[m.name], m.name, byMonth)
		}
	}
	if len(sites) < 4 || long != 1 || home != 1 {
		t.Errorf("repairs at %d centres, %d longer than 15 days, %d of home devices; want at least 4 centres, one long repair and one home device", len(sites), long, home)
	}
	if again := f.Repairs(start, historyEnd); !reflect.DeepEqual(again, rs) {
		t.Errorf("Repairs differ from one call to the next")
	}
	if other := NewScenarioFleet(60, 2, DefaultMix(), Reallocation()).Repairs(start, historyEnd); reflect.DeepEqual(other, rs) {
		t.Errorf("seeds 1 and 2 have the same repairs")
	}
	if NewFleet(60, 1, DefaultMix()).Repairs(start, historyEnd) != nil {
		t.Errorf("the default fleet has repairs; want none")
	}

	u := walkHistory(t, f, start, historyEnd, false)
	times := map[string][]time.Time{} // repaired device -> its messages' times
	again := NewScenarioFleet(60, 1, DefaultMix(), Reallocation())
	for _, r := range rs {
		if _, ok := times[r.Device]; ok {
			continue
		}
		times[r.Device] = nil
		bl := again.Backlog(again.Device(r.Device), start, historyEnd)
		for m, ok := bl.Next(); ok; m, ok = bl.Next() {
			times[r.Device] = append(times[r.Device], m.Time)
		}
	}
	for _, r := range rs {
		ts := times[r.Device]
		if i := slices.IndexFunc(ts, func(at time.Time) bool { return !at.Before(r.From) && at.Before(r.Until) }); i >= 0 {
			t.Errorf("%s: a message at %v, under repair %v..%v; want none", r.Device, ts[i], r.From, r.Until)
		}
		if !slices.ContainsFunc(ts, func(at time.Time) bool { return !at.Before(r.Until) && at.Before(r.Until.AddDate(0, 0, 2)) }) {
			t.Errorf("%s: no message within 2 days of its return at %v; want it back in use", r.Device, r.Until)
		}
		flagged := u.flagged[r.Device][Day(r.Fault)]
		if r.Kind == Station && flagged < 2 || r.Kind != Station && u.flaggedAs(r.Device, FaultFlag(r.Kind)) == 0 {
			t.Errorf("%s: %d readings flagged on %s, the day it failed; want its fault shown", r.Device, flagged, Day(r.Fault))
		}
		if r.Kind != Station {
			continue
		}
		// The days it is wholly away, its centre's other stations see about as many residents
		// as the centre's stations do on an ordinary day, as far as their rated uses allow;
		// a centre with no other station sees none.
		var others []*Device
		for _, d := range f.Devices() {
			if d.Kind == Station && f.Site(d) == r.Site && d.ID != r.Device {
				others = append(others, d)
			}
		}
		sc := f.Scenario()
		c := sc.Centres[slices.IndexFunc(centres(), func(c centre) bool { return c.id == r.Site })]
		want := min(c.Load*float64(sc.RatedUsesPerDay)*float64(len(others)+1), float64(sc.RatedUsesPerDay*len(others)))
		for day := midnight(r.From.In(localZone())).AddDate(0, 0, 1); day.Before(midnight(r.Until.In(localZone()))); day = day.AddDate(0, 0, 1) {
			got := 0
			for _, o := range others {
				got += u.perDay[o.ID][Day(day)]
			}
			if float64(got) < 0.75*want || float64(got) > 1.25*want+1 {
				t.Errorf("%s away on %s: its centre's other %d stations had %d uses; want about %.0f", r.Device, Day(day), len(others), got, want)
			}
		}
	}
}

// flaggedAs counts the device's messages flagged flag, walking its backlog again.
func (u *used) flaggedAs(id, flag string) int {
	n := 0
	for _, byDay := range u.flagged[id] {
		n += byDay
	}
	if flag == FailureFlag {
		return n
	}
	f := u.fleet
	b := f.Backlog(f.Device(id), HistoryStart(historyEnd, demoHistory), historyEnd)
	n = 0
	for m, ok := b.Next(); ok; m, ok = b.Next() {
		if slices.Contains(m.Flags, flag) {
			n++
		}
	}
	return n
}

// The registry of a history writes its repairs to maintenance.csv, for `vitalwatch registry
// import`; one without repairs leaves none behind.
func TestRegistryOfHistoryWritesRepairs(t *testing.T) {
	f := NewScenarioFleet(60, 1, DefaultMix(), Reallocation())
	start := HistoryStart(historyEnd, demoHistory)
	r := f.RegistryOfHistory(start, historyEnd)
	dir := t.TempDir()
	if err := r.WriteCSV(dir); err != nil {
		t.Fatal(err)
	}
	rows := readCSV(t, filepath.Join(dir, "maintenance.csv"))
	want := [][]string{{"device", "from", "until"}}
	for _, x := range f.Repairs(start, historyEnd) {
		want = append(want, []string{x.Device, x.From.Format(time.RFC3339), x.Until.Format(time.RFC3339)})
	}
	if len(want) < 10 || !reflect.DeepEqual(rows, want) {
		t.Errorf("maintenance.csv = %v\nwant %v", rows, want)
	}
	if rows[1][1] != fmt.Sprint(r.Repairs[0].From.Format("2006-01-02T15:04:05+08:00")) {
		t.Errorf("maintenance.csv from %q; want the centres' local time", rows[1][1])
	}
	if err := f.RegistrySince(start).WriteCSV(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "maintenance.csv")); !os.IsNotExist(err) {
		t.Errorf("maintenance.csv after an export without repairs: %v; want it removed", err)
	}
}
