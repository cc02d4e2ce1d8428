// Package summary computes a patient's clinical summaries the way the guidelines define them:
// the CGM report of the international consensus (time in ranges, GMI, variability, the
// ambulatory glucose profile, level-2 episodes), meter glucose, the ESH/ESC home blood-pressure
// average, adherence to the care plans and the other vital signs. It is pure: readings in
// canonical units and the patient's time zone in, plain structs with codes out, no sentences,
// so that any language can present them. The clinical thresholds are those of docs/domain.md.
package summary

import (
	"slices"
	"time"

	"github.com/vitalwatch/vitalwatch/reading"
)

// Flag is a code that qualifies a result: why it is missing or may not be read as the
// guideline's figure.
type Flag string

// The flags.
const (
	// FlagNoData: no reading of the kind in the period.
	FlagNoData Flag = "no_data"
	// FlagShortPeriod: the CGM period is shorter than the 14 days an AGP report needs.
	FlagShortPeriod Flag = "short_period"
	// FlagLowSensorActivity: the sensor was active for less than the 70% of the period an AGP
	// report needs.
	FlagLowSensorActivity Flag = "low_sensor_activity"
	// FlagTooFewDays: the home BP window has readings on fewer days than the protocol needs,
	// so its mean is not judged against the target.
	FlagTooFewDays Flag = "too_few_days"
)

// MgdLPerMmolL converts glucose: mg/dL = mmol/L x 18.016 (molar mass 180.16 g/mol), as
// docs/domain.md and the device decoder convert it.
const MgdLPerMmolL = 18.016

// Glucose is a glucose concentration in mmol/L, the canonical unit.
type Glucose float64

// MgdL returns g in mg/dL. Every glucose statistic here (means, SDs, percentiles) scales
// linearly, so converting the result equals computing in mg/dL.
func (g Glucose) MgdL() float64 { return float64(g) * MgdLPerMmolL }

// GlucoseDays is the default period of the CGM and meter reports: the 14 whole local days
// before today, the period an AGP report needs. MaxGlucoseDays is the longest: 90 days, the
// span of an HbA1c that GMI is compared with.
const (
	GlucoseDays    = 14
	MaxGlucoseDays = 90
)

// Input is what a patient's summary is computed from.
type Input struct {
	// AsOf is when the summary is computed for, usually now.
	AsOf time.Time
	// Loc is the time zone of the patient's site: days, meal times and the AGP's clock are its.
	Loc *time.Location
	// GlucoseDays is the period of the CGM and meter reports, in local days before today, 1 to
	// MaxGlucoseDays; 0 means GlucoseDays.
	GlucoseDays int
	// Plans are the patient's care plans: they choose the CGM targets (TargetSetFor).
	Plans []string
	// PlanTypes are the reading types the plans ask for, as the missed_measurement rule reads
	// them (rules.PlanTypes(Plans) of package alerts/rules), for adherence.
	PlanTypes []reading.Type
	// Readings are the patient's readings from Since(AsOf, Loc, GlucoseDays) to AsOf, in
	// canonical units, in any order, none in doubt. A CGM device's glucose readings have
	// Source "cgm".
	Readings []reading.Reading
	// Doubtful are the patient's readings in doubt over the same span, with why. They count
	// for adherence only (the patient did measure, as the missed_measurement rule counts it);
	// each report says how many of its own it left out.
	Doubtful []Doubtful
	// HomeBP are the blood-pressure readings of the patient's home devices, none in doubt,
	// from HomeProtocol.Since(AsOf, Loc): office (station) readings are not part of the home
	// protocol.
	HomeBP []reading.Reading
	// HomeProtocol is the home BP protocol in force, with the patient's target; zero means
	// DefaultHomeProtocol.
	HomeProtocol HomeProtocol
	// MeterTargets are the patient's glucose targets for the meter report; zero means
	// DefaultMeterTargets.
	MeterTargets MeterTargets
}

// Summary is a patient's clinical summary.
type Summary struct {
	AsOf      time.Time
	CGM       CGM
	Meter     Meter
	HomeBP    HomeBP
	Adherence Adherence
	Vitals    Vitals
}

// Since returns the earliest measurement time Compute reads from Input.Readings on asOf with
// a glucose period of glucoseDays (0: GlucoseDays): the start of the longest window, the
// glucose period or the local day 30 days before today (the weight change over 30 days).
func Since(asOf time.Time, loc *time.Location, glucoseDays int) time.Time {
	since := DaysThrough(asOf, loc, 31).From
	if g := DaysBefore(asOf, loc, glucoseDays).From; g.Before(since) {
		return g
	}
	return since
}

// Compute computes a patient's summary: the CGM and meter reports over the glucose period
// before today, the home BP average, adherence over the AdherenceDays days through today and
// the vital signs. Each report leaves the doubtful readings out and counts them.
func Compute(in Input) Summary {
	loc := in.Loc
	if loc == nil {
		loc = time.UTC
	}
	hp := in.HomeProtocol
	if hp == (HomeProtocol{}) {
		hp = DefaultHomeProtocol()
	}
	mt := in.MeterTargets
	if mt == (MeterTargets{}) {
		mt = DefaultMeterTargets()
	}
	days := in.GlucoseDays
	if days <= 0 {
		days = GlucoseDays
	}
	co := DefaultCGMOptions()
	co.Targets = TargetSetFor(in.Plans)
	glucose := DaysBefore(in.AsOf, loc, days)
	out := Summary{
		AsOf:   in.AsOf.In(loc),
		CGM:    CGMReport(in.Readings, loc, glucose, co),
		Meter:  MeterReport(in.Readings, loc, glucose, mt),
		HomeBP: HomeAverage(HomeReadings(in.HomeBP), time.Time{}, loc, in.AsOf, hp),
		Vitals: VitalsReport(in.Readings, loc, in.AsOf),
	}
	measured := in.Readings
	if len(in.Doubtful) > 0 {
		measured = slices.Clone(in.Readings)
		for _, d := range in.Doubtful {
			measured = append(measured, d.Reading)
		}
	}
	out.Adherence = AdherenceReport(measured, loc, in.AsOf, in.PlanTypes)

	ds := in.Doubtful
	out.CGM.Excluded = excluded(ds, func(d *Doubtful) bool { return IsCGM(d.Reading) && glucose.Contains(d.Time) })
	out.Meter.Excluded = excluded(ds, func(d *Doubtful) bool { return IsMeter(d.Reading) && glucose.Contains(d.Time) })
	out.HomeBP.Excluded = excluded(ds, func(d *Doubtful) bool {
		return d.Type == reading.BP && d.Home && out.HomeBP.Period.Contains(d.Time)
	})
	v := &out.Vitals
	for _, s := range []*VitalStats{&v.SpO2, &v.HeartRate, &v.Temperature} {
		s.Excluded = excluded(ds, func(d *Doubtful) bool {
			return d.Type == s.Type && v.Period.Contains(d.Time) && !d.Time.After(in.AsOf)
		})
	}
	return out
}
