package fhir

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/errcode"
	"github.com/vitalwatch/vitalwatch/influx"
	"github.com/vitalwatch/vitalwatch/reading"
	"github.com/vitalwatch/vitalwatch/summary"
)

// Observations: a patient's readings, newest first, read from InfluxDB a page at a time, and
// their CGM summary, computed by package summary as the API's summary route computes it.

// readObservation serves GET Observation/{id}: a reading, or a part of a CGM summary.
func (s *Server) readObservation(c *call) error {
	if err := mayPatients(c.p, "observations"); err != nil {
		return err
	}
	if s.opts.Readings == nil {
		return unavailable("readings from InfluxDB are")
	}
	ctx, cancel := c.ctx()
	defer cancel()
	id := c.r.PathValue("id")
	notFound := errcode.Errorf(errcode.NotFound, "no observation %s", id)
	if strings.HasPrefix(id, summaryPrefix+"-") {
		return s.readSummaryPart(ctx, c, id, notFound)
	}
	key, ok := parseReadingID(id)
	if !ok {
		return notFound
	}
	typ, ok := typeOfCode(key.TypeCode)
	device := ""
	if ok {
		device = s.deviceByID(key.Device)
	}
	if device == "" {
		return notFound
	}
	points, err := s.opts.Readings.PointsAt(ctx, []influx.PointKey{{Device: device, Measurement: influx.Measurement(typ), Time: key.Time}})
	if err != nil {
		return err
	}
	for _, p := range points {
		o, ok := observationOf(p)
		if !ok || o.ID != id {
			continue
		}
		if _, err := s.patientByPart(ctx, c.p, parsedPart{Raw: p.Tags["patient"]}, "of observation "+id); err != nil {
			return err
		}
		return s.reply(c, o)
	}
	return notFound
}

// readSummaryPart serves a CGM summary's Observation: the report over the days its id names,
// which must have ended.
func (s *Server) readSummaryPart(ctx context.Context, c *call, id string, notFound error) error {
	key, ok := parseSummaryID(id)
	if _, known := summaryPartNamed(key.Part); !ok || !known || key.Days < 1 || key.Days > summary.MaxGlucoseDays {
		return notFound
	}
	pt, err := s.patientByPart(ctx, c.p, key.Patient, "of observation "+id)
	if err != nil {
		return err
	}
	loc, err := s.location(ctx, pt)
	if err != nil {
		return err
	}
	y, m, d := key.Last.Date()
	asOf := time.Date(y, m, d+1, 0, 0, 0, 0, loc)
	if asOf.After(s.opts.Now()) {
		return notFound // the period has not ended
	}
	r, err := s.cgmReport(ctx, pt, loc, asOf, key.Days)
	if err != nil {
		return err
	}
	for _, o := range r.observations() {
		if o.ID == id {
			return s.reply(c, o)
		}
	}
	return notFound
}

// location is the time zone of the patient's site.
func (s *Server) location(ctx context.Context, pt devices.Patient) (*time.Location, error) {
	team, err := s.opts.Registry.GetTeam(ctx, pt.TeamID)
	if err != nil {
		return nil, err
	}
	return s.opts.Devices.Load().Location(team.SiteID), nil
}

// cgmReport computes the patient's CGM report over the days local days before asOf's, with
// summary.Compute, from the readings as the API's summary reads them: a CGM's glucose is CGM
// glucose, and a reading with a quality flag or from a device whose calibration was due is in
// doubt, left out and counted.
func (s *Server) cgmReport(ctx context.Context, pt devices.Patient, loc *time.Location, asOf time.Time, days int) (cgmReport, error) {
	period := summary.DaysBefore(asOf, loc, days)
	in := summary.Input{AsOf: asOf, Loc: loc, GlucoseDays: days, Plans: pt.Plans}
	// The devices as the registry has them now.
	col := summary.NewCollector(in, summary.Span{From: period.From, Types: []reading.Type{reading.Glucose}},
		func(id string) (devices.Device, error) { return s.opts.Registry.GetDevice(ctx, id) })
	if err := s.opts.Readings.PatientReadings(ctx, pt.ID, period.From, period.To, col.Add); err != nil {
		return cgmReport{}, err
	}
	in, err := col.Input()
	if err != nil {
		return cgmReport{}, err
	}
	return cgmReport{Patient: pt.ID, Loc: loc, CGM: summary.Compute(in).CGM}, nil
}

// searchObservations serves GET Observation?patient=&code=&date=&_count=: the patient's readings,
// newest first; or, when code names the CGM summary's codes, the patient's CGM summary over the
// 14 local days before today.
func (s *Server) searchObservations(c *call) error {
	if err := mayPatients(c.p, "observations"); err != nil {
		return err
	}
	if s.opts.Readings == nil {
		return unavailable("readings from InfluxDB are")
	}
	ctx, cancel := c.ctx()
	defer cancel()
	v := c.q.Get("patient")
	if v == "" {
		return invalidParam("patient", "required: the readings of one patient are searched at a time")
	}
	pt, err := s.patientFor(ctx, c.p, patientParam(v), "observations")
	if err != nil {
		return err
	}
	count, err := countParam(c)
	if err != nil {
		return err
	}
	tokens, err := tokenParams(c, "code")
	if err != nil {
		return err
	}
	wanted, parts, err := codesAsked(tokens)
	if err != nil {
		return err
	}
	if len(parts) > 0 {
		for _, p := range []string{"date", pageParam} {
			if c.q.Has(p) {
				return invalidParam(p, "not taken with the CGM summary's codes: the summary is of the %d days before today", summary.GlucoseDays)
			}
		}
		entries, err := s.summaryEntries(ctx, c, pt, parts)
		if err != nil {
			return err
		}
		total := len(entries)
		return s.reply(c, searchBundle(c, entries, "", &total))
	}
	rng, err := dateParams(c, "date")
	if err != nil {
		return err
	}
	cursor, err := cursorParam(c)
	if err != nil {
		return err
	}
	entries, next, err := s.readingsPage(ctx, c, readingsQuery{patient: pt.ID, kinds: wanted, rng: rng, cursor: cursor, count: count})
	if err != nil {
		return err
	}
	cur := ""
	if next != nil {
		cur = pageCursor(next...)
	}
	return s.reply(c, searchBundle(c, entries, cur, nil))
}

// codesAsked sorts the code parameter's tokens into kinds of reading and parts of the CGM
// summary: a 400 for a code of neither, or for both at once.
func codesAsked(tokens []token) ([]*kind, []summaryPart, error) {
	var ks []*kind
	var parts []summaryPart
	for _, t := range tokens {
		found := false
		for _, k := range kinds {
			if t.matches(k.code) && !slices.Contains(ks, k) {
				ks, found = append(ks, k), true
			}
		}
		for _, p := range summaryParts {
			if t.matches(p.code) {
				parts, found = append(parts, p), true
			}
		}
		if !found {
			return nil, nil, invalidParam("code", "%s is not a code served here; GET %s/metadata and docs/fhir.md list them", t.Code, Base)
		}
	}
	if len(ks) > 0 && len(parts) > 0 {
		return nil, nil, invalidParam("code", "ask for readings or for the CGM summary, not both at once")
	}
	return ks, parts, nil
}

// summaryEntries are the parts of the patient's CGM summary over the 14 local days before
// today; none when they have no CGM reading then.
func (s *Server) summaryEntries(ctx context.Context, c *call, pt devices.Patient, parts []summaryPart) ([]BundleEntry, error) {
	loc, err := s.location(ctx, pt)
	if err != nil {
		return nil, err
	}
	r, err := s.cgmReport(ctx, pt, loc, s.opts.Now(), summary.GlucoseDays)
	if err != nil {
		return nil, err
	}
	entries := []BundleEntry{}
	for _, o := range r.observations() {
		if parts == nil || slices.ContainsFunc(parts, func(p summaryPart) bool { return o.ID == r.id(p) }) {
			entries = append(entries, entry(c, "Observation", o.ID, o, "match"))
		}
	}
	return entries, nil
}

// readingsQuery selects a page of a patient's readings.
type readingsQuery struct {
	patient string
	kinds   []*kind // nil: every kind
	rng     timeRange
	cursor  []string // where the last page ended: milliseconds, measurement, device
	count   int
}

// pointKey orders the readings of a page: time, measurement, device, served newest first.
type pointKey struct {
	ms                  int64
	measurement, device string
}

func (k pointKey) compare(o pointKey) int {
	return cmp.Or(cmp.Compare(k.ms, o.ms), strings.Compare(k.measurement, o.measurement), strings.Compare(k.device, o.device))
}

func (k pointKey) fields() []string {
	return []string{strconv.FormatInt(k.ms, 10), k.measurement, k.device}
}

// pagePadding is how many readings measured in the same millisecond as the last one served a
// page reads beyond its count, to step over those it served already.
const pagePadding = 64

// readingsPage returns a page of the readings q selects, newest first, and the cursor of the
// next page (nil at the end). A reading with no patient or of another kind is skipped.
func (s *Server) readingsPage(ctx context.Context, c *call, q readingsQuery) ([]BundleEntry, []string, error) {
	entries := []BundleEntry{}
	var after *pointKey
	if len(q.cursor) == 3 {
		ms, err := strconv.ParseInt(q.cursor[0], 10, 64)
		if err != nil {
			return nil, nil, invalidParam(pageParam, "not a page of this search; follow the Bundle's next link")
		}
		after = &pointKey{ms, q.cursor[1], q.cursor[2]}
	} else if q.cursor != nil {
		return nil, nil, invalidParam(pageParam, "not a page of this search; follow the Bundle's next link")
	}
	ks := q.kinds
	if ks == nil {
		ks = kinds
	}
	var measurements []string
	for _, k := range ks {
		if m := influx.Measurement(k.typ); !slices.Contains(measurements, m) {
			measurements = append(measurements, m)
		}
	}
	from, to := q.rng.From, q.rng.To
	if from.IsZero() {
		from = time.Unix(0, 0)
	}
	if to.IsZero() {
		to = s.opts.Now().Add(24 * time.Hour) // past any measurement time ingest accepts
	}
	last := to.Add(-time.Millisecond) // PointsIn includes its end
	if after != nil {
		last = minTime(last, time.UnixMilli(after.ms))
	}
	if q.rng.empty() || last.Before(from) {
		return entries, nil, nil
	}
	points, more, err := s.opts.Readings.PointsIn(ctx, influx.Range{Measurements: measurements, Patient: q.patient,
		From: from, To: last, Limit: min(q.count+1+pagePadding, influx.MaxRangeLimit)})
	if err != nil {
		return nil, nil, err
	}
	var seen *pointKey
	ids := map[string]bool{} // a reading stored twice, under two series, is served once
	for i := len(points) - 1; i >= 0; i-- {
		p := points[i]
		key := pointKey{p.Time.UnixMilli(), p.Measurement, p.Tags["device"]}
		if after != nil && key.compare(*after) >= 0 {
			continue // served on an earlier page
		}
		if len(entries) == q.count {
			return entries, seen.fields(), nil // there is at least this one more
		}
		seen = &key
		if k := pointKind(p); k == nil || !slices.Contains(ks, k) {
			continue
		}
		if o, ok := observationOf(p); ok && !ids[o.ID] {
			ids[o.ID] = true
			entries = append(entries, entry(c, "Observation", o.ID, o, "match"))
		}
	}
	switch {
	case !more:
		return entries, nil, nil
	case seen != nil:
		return entries, seen.fields(), nil
	case after != nil:
		// Every reading read was of the last page's millisecond: step past it.
		return entries, pointKey{after.ms - 1, "\uffff", "\uffff"}.fields(), nil
	}
	return entries, nil, nil
}

// minTime is the earlier of a and b.
func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
