package summary

import (
	"slices"
	"time"

	"github.com/vitalwatch/vitalwatch/reading"
)

// VitalsDays is the window of the vital signs' range: the 7 local days through today.
const VitalsDays = 7

// VitalStats are one vital sign's latest reading and its range over the window.
type VitalStats struct {
	Type reading.Type
	// Latest is the newest reading measured by asOf, in or before the window; nil when none.
	Latest *reading.Reading
	// Readings, Min, Median and Max are of the readings in the window (zero when none).
	Readings         int
	Min, Median, Max float64
	// Excluded are the readings of the window left out as in doubt (set by Compute).
	Excluded Excluded
}

// WeightChange is the change of weight over a number of days: from the first weight measured
// on or after the local day Days days before today to the latest.
type WeightChange struct {
	Days     int
	From, To reading.Reading
	// Kg is To minus From: a gain is positive.
	Kg float64
}

// Vitals are the other vital signs over the VitalsDays days through today.
type Vitals struct {
	Period                       Period
	SpO2, HeartRate, Temperature VitalStats
	// Weight is the latest weight; Over3Days and Over30Days its change (nil without an earlier
	// weight in the days).
	Weight                *reading.Reading
	Over3Days, Over30Days *WeightChange
}

// VitalsReport summarises SpO2, heart rate, temperature and weight of rs as of asOf, in loc.
func VitalsReport(rs []reading.Reading, loc *time.Location, asOf time.Time) Vitals {
	p := DaysThrough(asOf, loc, VitalsDays)
	out := Vitals{Period: p}
	out.SpO2 = vitalStats(rs, reading.SpO2, p, asOf)
	out.HeartRate = vitalStats(rs, reading.HeartRate, p, asOf)
	out.Temperature = vitalStats(rs, reading.Temperature, p, asOf)
	out.Weight = latest(rs, reading.Weight, asOf)
	if out.Weight != nil {
		out.Over3Days = weightChange(rs, *out.Weight, loc, asOf, 3)
		out.Over30Days = weightChange(rs, *out.Weight, loc, asOf, 30)
	}
	return out
}

func vitalStats(rs []reading.Reading, t reading.Type, p Period, asOf time.Time) VitalStats {
	out := VitalStats{Type: t, Latest: latest(rs, t, asOf)}
	var vs []float64
	for _, r := range rs {
		if r.Type == t && p.Contains(r.Time) && !r.Time.After(asOf) {
			vs = append(vs, r.Value)
		}
	}
	if len(vs) == 0 {
		return out
	}
	slices.Sort(vs)
	out.Readings, out.Min, out.Median, out.Max = len(vs), vs[0], Quantile(vs, 0.5), vs[len(vs)-1]
	return out
}

// latest returns a copy of the newest reading of type t measured by asOf, or nil.
func latest(rs []reading.Reading, t reading.Type, asOf time.Time) *reading.Reading {
	var last *reading.Reading
	for i := range rs {
		if r := &rs[i]; r.Type == t && !r.Time.After(asOf) && (last == nil || r.Time.After(last.Time)) {
			last = r
		}
	}
	if last == nil {
		return nil
	}
	c := *last
	return &c
}

// weightChange returns the change from the first weight measured on or after the local day
// days before today to to, the latest; nil when to is that first weight.
func weightChange(rs []reading.Reading, to reading.Reading, loc *time.Location, asOf time.Time, days int) *WeightChange {
	since := DaysThrough(asOf, loc, days+1).From
	var from *reading.Reading
	for i := range rs {
		if r := &rs[i]; r.Type == reading.Weight && !r.Time.Before(since) && r.Time.Before(to.Time) && (from == nil || r.Time.Before(from.Time)) {
			from = r
		}
	}
	if from == nil {
		return nil
	}
	return &WeightChange{Days: days, From: *from, To: to, Kg: to.Value - from.Value}
}
