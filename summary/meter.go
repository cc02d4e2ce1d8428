package summary

import (
	"slices"
	"time"

	"github.com/vitalwatch/vitalwatch/reading"
)

// BandAbove16_7 is the very high glucose of docs/domain.md (> 16.7 mmol/L by default: urgent,
// check ketones): a part of BandAbove13_9, counted apart for meter readings, above the
// patient's MeterTargets.VeryHigh.
const BandAbove16_7 Band = "above_16.7"

// BandInTarget names the readings in the patient's target range, MeterTargets.Low to High.
const BandInTarget Band = "in_target"

// MeterTargets are the glucose thresholds in force for a patient that the meter report judges
// by, in mmol/L: the alert rules' thresholds, with the team's and the patient's overrides.
type MeterTargets struct {
	// Low and High bound the target range, both included: glucose_low's below (3.9), and the
	// consensus 10.0 or, when lower, glucose_high's above.
	Low, High float64
	// VeryHigh is glucose_very_high's above (16.7): readings above it are counted apart.
	VeryHigh float64
}

// DefaultMeterTargets returns the targets of docs/domain.md: 3.9-10.0, very high above 16.7.
func DefaultMeterTargets() MeterTargets { return MeterTargets{Low: 3.9, High: 10.0, VeryHigh: 16.7} }

// ContextUnspecified stands for a meter reading that names no meal context.
const ContextUnspecified = "unspecified"

// Contexts lists the meal contexts of the device contract, then ContextUnspecified.
var Contexts = []string{"fasting", "before_meal", "after_meal", "bedtime", "random", ContextUnspecified}

// BandCount is how many meter readings fall in a band, and their share of all.
type BandCount struct {
	Band     Band
	Readings int
	Percent  float64
}

// ContextStats are the meter readings of one meal context.
type ContextStats struct {
	Context  string
	Readings int
	Mean     Glucose // zero when Readings is
}

// Meter is the summary of meter (fingerstick) glucose over a period.
type Meter struct {
	Period           Period
	Readings         int
	DaysWithReadings int
	// PerDay is Readings over the period's days.
	PerDay float64
	// ByContext are the readings by meal context, in the order of Contexts.
	ByContext []ContextStats
	// Fasting is ByContext's fasting entry: its mean is the mean fasting glucose.
	Fasting ContextStats
	// Bands count the readings in the bands of docs/domain.md: below 3.0 (very low), 3.0-3.8
	// (low), 3.9-10.0 (the target range), 10.1-13.9, above 13.9 (high).
	Bands []BandCount
	// Targets are the thresholds in force. InTarget counts the readings in the target range,
	// Targets.Low to Targets.High: with the default targets, the same as Band3_9To10_0.
	Targets  MeterTargets
	InTarget BandCount
	// VeryHigh counts the readings above Targets.VeryHigh (16.7), which are also in
	// BandAbove13_9 by default.
	VeryHigh BandCount
	// Excluded are the meter readings of the period left out as in doubt (set by Compute).
	Excluded Excluded
	Flags    []Flag
}

// IsMeter reports whether r is a meter glucose reading: glucose that is not CGM.
func IsMeter(r reading.Reading) bool { return r.Type == reading.Glucose && !IsCGM(r) }

// MeterReport summarises the meter glucose readings (IsMeter) of rs in period p, in loc, judged
// by the patient's targets t.
func MeterReport(rs []reading.Reading, loc *time.Location, p Period, t MeterTargets) Meter {
	out := Meter{Period: p, Bands: make([]BandCount, len(Bands)), Targets: t, InTarget: BandCount{Band: BandInTarget},
		VeryHigh: BandCount{Band: BandAbove16_7}}
	for i, b := range Bands {
		out.Bands[i].Band = b
	}
	sums := make([]float64, len(Contexts))
	out.ByContext = make([]ContextStats, len(Contexts))
	days := map[int64]bool{}
	for _, r := range rs {
		if !IsMeter(r) || !p.Contains(r.Time) {
			continue
		}
		out.Readings++
		days[localDay(r.Time, loc)] = true
		ctx := r.Context
		if ctx == "" {
			ctx = ContextUnspecified
		}
		i := slices.Index(Contexts, ctx)
		if i < 0 {
			i = len(Contexts) - 1 // not a contract value: decoded readings have none
		}
		out.ByContext[i].Readings++
		sums[i] += r.Value
		out.Bands[bandIndex(BandOf(r.Value))].Readings++
		if r.Value >= t.Low && r.Value <= t.High {
			out.InTarget.Readings++
		}
		if r.Value > t.VeryHigh {
			out.VeryHigh.Readings++
		}
	}
	for i := range out.ByContext {
		c := &out.ByContext[i]
		c.Context = Contexts[i]
		if c.Readings > 0 {
			c.Mean = Glucose(sums[i] / float64(c.Readings))
		}
	}
	out.Fasting = out.ByContext[0]
	out.DaysWithReadings = len(days)
	if p.Days > 0 {
		out.PerDay = float64(out.Readings) / float64(p.Days)
	}
	if out.Readings == 0 {
		out.Flags = append(out.Flags, FlagNoData)
		return out
	}
	for i := range out.Bands {
		out.Bands[i].Percent = 100 * float64(out.Bands[i].Readings) / float64(out.Readings)
	}
	out.InTarget.Percent = 100 * float64(out.InTarget.Readings) / float64(out.Readings)
	out.VeryHigh.Percent = 100 * float64(out.VeryHigh.Readings) / float64(out.Readings)
	return out
}
