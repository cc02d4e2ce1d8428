package summary

import (
	"time"

	"github.com/vitalwatch/vitalwatch/reading"
)

// Adherence yardstick: Medicare's remote-monitoring rule counts >= 16 days with readings in 30
// (docs/domain.md "Utilisation").
const (
	AdherenceDays      = 30
	AdherenceYardstick = 16
)

// TypeAdherence is how a patient kept one reading type of their care plans.
type TypeAdherence struct {
	Type reading.Type
	// Days are the days of the period with at least one reading of Type.
	Days int
	// MeetsYardstick says Days >= AdherenceYardstick.
	MeetsYardstick bool
	// Last is the newest reading of Type measured by asOf, in or before the period; nil when
	// there is none.
	Last *reading.Reading
}

// Adherence is how a patient kept their care plans over the AdherenceDays days up to today.
type Adherence struct {
	Period Period
	// Types follow the plan types given, in their order.
	Types []TypeAdherence
	// AllTypesDays are the days with a reading of every plan type (0 without plan types).
	AllTypesDays int
	Yardstick    int
}

// AdherenceReport counts, for each reading type the care plans ask for, the local days of the
// AdherenceDays days through asOf's day that have a reading of it, and finds its last
// reading. types are what the plans ask for as the missed_measurement rule reads them:
// rules.PlanTypes(patient.Plans) of package alerts/rules.
func AdherenceReport(rs []reading.Reading, loc *time.Location, asOf time.Time, types []reading.Type) Adherence {
	p := DaysThrough(asOf, loc, AdherenceDays)
	out := Adherence{Period: p, Yardstick: AdherenceYardstick, Types: make([]TypeAdherence, len(types))}
	first := localDay(p.From, loc)
	seen := make([][AdherenceDays]bool, len(types))
	for i := range rs {
		r := &rs[i]
		if r.Time.After(asOf) {
			continue
		}
		for k, t := range types {
			if r.Type != t {
				continue
			}
			if a := &out.Types[k]; a.Last == nil || r.Time.After(a.Last.Time) {
				a.Last = r
			}
			if p.Contains(r.Time) {
				seen[k][localDay(r.Time, loc)-first] = true
			}
		}
	}
	for d := range AdherenceDays {
		all := len(types) > 0
		for k := range types {
			if seen[k][d] {
				out.Types[k].Days++
			} else {
				all = false
			}
		}
		if all {
			out.AllTypesDays++
		}
	}
	for k, t := range types {
		a := &out.Types[k]
		a.Type, a.MeetsYardstick = t, a.Days >= AdherenceYardstick
		if a.Last != nil {
			last := *a.Last // a copy: the result does not alias the caller's readings
			a.Last = &last
		}
	}
	return out
}
