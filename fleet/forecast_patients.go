package fleet

import (
	"slices"
	"strings"
	"time"

	"github.com/vitalwatch/vitalwatch/devices"
)

// kindConditions returns, as a mask of indexes in Conditions, the conditions whose patients
// use kind at home, and their names joined by "+"; 0 and "" when no plan asks for it.
func kindConditions(kind devices.Kind) (uint, string) {
	var mask uint
	var names []string
	for i, c := range Conditions {
		for _, k := range c.Kinds {
			if k == kind {
				mask |= 1 << i
				names = append(names, c.Name)
				break
			}
		}
	}
	return mask, strings.Join(names, "+")
}

// localDay is the number (days since 1970-01-01) of the local day of t in loc.
func localDay(t time.Time, loc *time.Location) int {
	y, m, d := t.In(loc).Date()
	return int(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// attachPatients sets, on each demand series of a kind that a plan asks for (see Conditions),
// its Condition and its Patients: the centre's patients on a plan for the kind (on any of its
// conditions, each patient once) at the end of each local day of the series, as patientsOn
// counts them at that moment. The changes are read once: each adds or takes one patient on the
// local day it was made at the centre it concerns, and the counts are the running sums. Before
// the log's first change the counts are 0.
func attachPatients(records []devices.PatientRecord, hist []Demand, loc func(site string) *time.Location) {
	type key struct {
		site string
		kind devices.Kind
	}
	index := map[key]int{}
	masks := map[devices.Kind]uint{}
	for i := range hist {
		h := &hist[i]
		mask, names := kindConditions(h.Kind)
		if mask == 0 {
			continue
		}
		h.Condition = names
		h.Patients = make([]float64, len(h.Daily))
		index[key{h.Site, h.Kind}] = i
		masks[h.Kind] = mask
	}
	if len(index) == 0 {
		return
	}
	before := make([]float64, len(hist)) // patients at the start of each series' first day
	change := func(site string, conds uint, at time.Time, by float64) {
		if conds == 0 {
			return
		}
		day, dayKnown := 0, false
		for kind, mask := range masks {
			i, ok := index[key{site, kind}]
			if !ok || conds&mask == 0 {
				continue
			}
			if !dayKnown {
				day, dayKnown = localDay(at, loc(site)), true
			}
			h := &hist[i]
			first, _ := h.First.Number()
			switch t := day - first; {
			case t < 0:
				before[i] += by
			case t < len(h.Patients):
				h.Patients[t] += by
			}
		}
	}
	// A patient's state at time T is their changes up to T replayed in the log's order, as
	// patientsOn replays them: the log's order need not follow the times. At each distinct time
	// of a patient's changes, the state before is taken off and the state after added.
	type state struct {
		site  string
		conds uint
	}
	byPatient := map[string][]int{}
	for i, r := range records {
		byPatient[r.Patient] = append(byPatient[r.Patient], i)
	}
	var times []time.Time
	for _, idx := range byPatient {
		times = times[:0]
		for _, i := range idx {
			times = append(times, records[i].At)
		}
		slices.SortFunc(times, time.Time.Compare)
		times = slices.CompactFunc(times, time.Time.Equal)
		var prev state
		for _, at := range times {
			var s state
			for _, i := range idx {
				r := &records[i]
				if r.At.After(at) {
					continue
				}
				s.site = r.Site
				if r.PlansSet {
					s.conds = conditionsOf(r.Plans)
				}
			}
			if s != prev {
				change(prev.site, prev.conds, at, -1)
				change(s.site, s.conds, at, 1)
				prev = s
			}
		}
	}
	for _, i := range index {
		p := hist[i].Patients
		run := before[i]
		for t := range p {
			run += p[t]
			p[t] = run
		}
	}
}
