package api

import (
	"context"
	"slices"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts/rules"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/errcode"
	"github.com/vitalwatch/vitalwatch/reading"
	"github.com/vitalwatch/vitalwatch/summary"
)

// A patient's clinical summary (package summary) over their readings in InfluxDB, in their
// site's time zone. The answer holds codes and numbers, no sentences; glucose is in mmol/L, and
// also in mg/dL (the _mgdl fields) with glucose_unit=mg/dL.

// glucoseUnitMgdL is the glucose_unit that adds the mg/dL fields.
const glucoseUnitMgdL = "mg/dL"

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
	loc, err := a.patientLocation(c.Context(), p)
	if err != nil {
		return err
	}
	asOf, from, err := summaryRange(c, loc)
	if err != nil {
		return err
	}
	in := summary.Input{AsOf: asOf, Loc: loc, Plans: p.Plans, PlanTypes: rules.PlanTypes(p.Plans)}
	homeSince := summary.DefaultHomeProtocol().Since(asOf, loc)
	devs := map[string]devices.Device{} // by id: kind and mode, as the registry has them now
	ctx, cancel := context.WithTimeout(c.Context(), seriesTimeout)
	defer cancel()
	var regErr error
	err = a.opts.Series.PatientReadings(ctx, p.ID, earliest(from, homeSince), asOf.Add(time.Millisecond),
		func(m reading.Message) {
			if slices.ContainsFunc(m.Flags, reading.QualityFlag) {
				return // in doubt: no summary counts it
			}
			d, ok := devs[m.Device]
			if !ok {
				var err error
				if d, err = a.opts.Registry.GetDevice(ctx, m.Device); err != nil && regErr == nil && errcode.Of(err) != errcode.NotFound {
					regErr = err
				}
				devs[m.Device] = d
			}
			for _, r := range m.Readings {
				// A CGM sends its glucose without a source, as the alert engine reads it.
				if r.Type == reading.Glucose && r.Source == "" && d.Kind == devices.CGM {
					r.Source = "cgm"
				}
				if !r.Time.Before(from) {
					in.Readings = append(in.Readings, r)
				}
				if r.Type == reading.BP && d.Mode == devices.Home && !r.Time.Before(homeSince) {
					in.HomeBP = append(in.HomeBP, r)
				}
			}
		})
	if err != nil {
		return err
	}
	if regErr != nil {
		return regErr
	}
	s := summary.Compute(in)
	return c.reply(summaryOut(s, summary.HomeReadings(in.HomeBP), loc, mgdl))
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
// reading it reads (default summary.Since): from before to, at most maxSeriesRange apart.
func summaryRange(c *call, loc *time.Location) (asOf, from time.Time, err error) {
	asOf, err = timeParam(c, "to", time.Now().UTC())
	if err != nil {
		return asOf, from, err
	}
	from, err = timeParam(c, "from", summary.Since(asOf, loc))
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
