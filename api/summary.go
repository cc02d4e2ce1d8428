package api

import (
	"context"
	"strconv"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/alerts/rules"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/summary"
)

// A patient's clinical summary (package summary) over their readings in InfluxDB, in their
// site's time zone, judged by the thresholds in force for them (the rules with their team's
// and their own overrides). The answer holds codes and numbers, no sentences; glucose is in
// mmol/L, and also in mg/dL (the _mgdl fields) with glucose_unit=mg/dL.

// glucoseUnitMgdL is the glucose_unit that adds the mg/dL fields.
const glucoseUnitMgdL = "mg/dL"

// thresholdRules gives the thresholds in force for a patient: *rules.Rules, which the API has
// as Options.OverrideRules when alerts are on.
type thresholdRules interface {
	Effective(team, patient rules.Overrides) (*rules.Thresholds, error)
}

// patientSummary serves the patient's summary as of to (default now), from the readings
// measured since from (default summary.Since).
func (a *API) patientSummary(c *call) error {
	p, err := a.patients().one(c)
	if err != nil {
		return err
	}
	mgdl := false
	switch c.q.Get("glucose_unit") {
	case "", "mmol/L":
	case glucoseUnitMgdL:
		mgdl = true
	default:
		return invalid("glucose_unit: mmol/L or mg/dL")
	}
	days := summary.GlucoseDays
	if v := c.q.Get("days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > summary.MaxGlucoseDays {
			return invalid("days: a whole number of days from 1 to " + strconv.Itoa(summary.MaxGlucoseDays))
		}
		days = n
	}
	loc, err := a.patientLocation(c.Context(), p)
	if err != nil {
		return err
	}
	asOf, from, err := summaryRange(c, loc, days)
	if err != nil {
		return err
	}
	th, overridden, err := a.patientThresholds(c.Context(), p)
	if err != nil {
		return err
	}
	hp := homeProtocol(th)
	in := summary.Input{AsOf: asOf, Loc: loc, GlucoseDays: days, Plans: p.Plans, PlanTypes: rules.PlanTypes(p.Plans),
		HomeProtocol: hp, MeterTargets: meterTargets(th)}
	homeSince := hp.Since(asOf, loc)
	ctx, cancel := context.WithTimeout(c.Context(), seriesTimeout)
	defer cancel()
	// The devices as the registry has them now: kind, mode and calibration.
	col := summary.NewCollector(in, summary.Span{From: from, HomeSince: homeSince},
		func(id string) (devices.Device, error) { return a.opts.Registry.GetDevice(ctx, id) })
	if err := a.opts.Series.PatientReadings(ctx, p.ID, earliest(from, homeSince), asOf.Add(time.Millisecond), col.Add); err != nil {
		return err
	}
	in, err = col.Input()
	if err != nil {
		return err
	}
	s := summary.Compute(in)
	out := summaryOut(s, summary.HomeReadings(in.HomeBP), loc, mgdl)
	out.Overrides = overridden
	return c.reply(out)
}

// patientThresholds returns the thresholds in force for p: the rules in force (the defaults
// when the API has none) with their team's and their own overrides, and which of those there
// were ("team", "patient"). Overrides that cannot apply are left out, as the alert rules leave
// them out.
func (a *API) patientThresholds(ctx context.Context, p devices.Patient) (*rules.Thresholds, []string, error) {
	var in thresholdRules = rules.DefaultRules()
	if r, ok := a.opts.OverrideRules.(thresholdRules); ok {
		in = r
	}
	var team, own rules.Overrides
	overridden := []string{}
	if a.opts.Overrides != nil {
		var err error
		if team, err = a.opts.Overrides.Overrides(ctx, rules.TeamOverrides, p.TeamID); err != nil {
			return nil, nil, err
		}
		if own, err = a.opts.Overrides.Overrides(ctx, rules.PatientOverrides, p.ID); err != nil {
			return nil, nil, err
		}
	}
	if len(team) > 0 {
		overridden = append(overridden, rules.TeamOverrides)
	}
	if len(own) > 0 {
		overridden = append(overridden, rules.PatientOverrides)
	}
	th, _ := in.Effective(team, own) // always usable; the alert service logs what it leaves out
	return th, overridden, nil
}

// homeProtocol is the home BP protocol of the thresholds of bp_home_average.
func homeProtocol(th *rules.Thresholds) summary.HomeProtocol {
	v := func(key string) float64 {
		x, _ := th.Value(alerts.RuleBPHomeAverage, key)
		return x
	}
	return summary.HomeProtocol{Days: int(v("days")), MinDays: int(v("min_days")),
		MorningStart: v("morning_start"), MorningEnd: v("morning_end"), EveningStart: v("evening_start"), EveningEnd: v("evening_end"),
		SeriesGapDays: int(v("series_gap_days")), Systolic: v("systolic_at_or_above"), Diastolic: v("diastolic_at_or_above")}
}

// meterTargets are the meter report's glucose targets of the thresholds: the target range from
// glucose_low's below to 10.0 (glucose_high's above when lower), very high above
// glucose_very_high's above.
func meterTargets(th *rules.Thresholds) summary.MeterTargets {
	t := summary.DefaultMeterTargets()
	if v, ok := th.Value(alerts.RuleGlucoseLow, "below"); ok {
		t.Low = v
	}
	if v, ok := th.Value(alerts.RuleGlucoseHigh, "above"); ok {
		t.High = min(t.High, v)
	}
	if v, ok := th.Value(alerts.RuleGlucoseVeryHigh, "above"); ok {
		t.VeryHigh = v
	}
	return t
}

// patientLocation is the time zone of the patient's site: from the registry directory when
// the API has one, else from the registry; UTC when the site names none.
func (a *API) patientLocation(ctx context.Context, p devices.Patient) (*time.Location, error) {
	team, err := a.opts.Registry.GetTeam(ctx, p.TeamID)
	if err != nil {
		return nil, err
	}
	if a.opts.Devices != nil {
		if dir := a.opts.Devices.Load(); dir != nil {
			return dir.Location(team.SiteID), nil
		}
	}
	site, err := a.opts.Registry.GetSite(ctx, team.SiteID)
	if err != nil {
		return nil, err
	}
	if loc, err := time.LoadLocation(site.TimeZone); err == nil && site.TimeZone != "" {
		return loc, nil
	}
	return time.UTC, nil
}

// summaryRange parses to, the time the summary is as of (default now), and from, the earliest
// reading it reads (default summary.Since for a glucose period of days): from before to, at
// most maxSeriesRange apart.
func summaryRange(c *call, loc *time.Location, days int) (asOf, from time.Time, err error) {
	asOf, err = timeParam(c, "to", time.Now().UTC())
	if err != nil {
		return asOf, from, err
	}
	from, err = timeParam(c, "from", summary.Since(asOf, loc, days))
	switch {
	case err != nil:
	case !from.Before(asOf):
		err = invalid("from: must be before to")
	case asOf.Sub(from) > maxSeriesRange:
		err = invalid("from: at most 366 days before to")
	}
	return asOf, from, err
}

// earliest returns the earlier of a and b.
func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
