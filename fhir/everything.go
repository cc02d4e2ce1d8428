package fhir

import (
	"strconv"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/summary"
)

// Patient/{id}/$everything: the patient's record, a page at a time. The first page holds the
// patient, their team and its site (Organizations), the devices lent to them now and their CGM
// summary over the 14 local days before today; then come their clinical alerts, newest first,
// each a Flag and its DetectedIssue; then their readings, newest first. start and end (dates)
// bound the alerts (by when last seen) and the readings; _count bounds the alerts and readings
// of a page.

// everything serves GET Patient/{id}/$everything.
func (s *Server) everything(c *call) error {
	ctx, cancel := c.ctx()
	defer cancel()
	pt, err := s.patientFor(ctx, c.p, c.r.PathValue("id"), "patients")
	if err != nil {
		return err
	}
	if s.opts.Readings == nil || s.opts.Alerts == nil {
		return unavailable("readings from InfluxDB and alerts are")
	}
	count, err := countParam(c)
	if err != nil {
		return err
	}
	cursor, err := cursorParam(c)
	if err != nil {
		return err
	}
	var rng timeRange
	startLo, _, err := dateParam(c, "start")
	if err != nil {
		return err
	}
	_, endHi, err := dateParam(c, "end")
	if err != nil {
		return err
	}
	rng.narrow(startLo, endHi)

	entries := []BundleEntry{}
	if cursor == nil {
		team, err := s.opts.Registry.GetTeam(ctx, pt.TeamID)
		if err != nil {
			return err
		}
		site, err := s.opts.Registry.GetSite(ctx, team.SiteID)
		if err != nil {
			return err
		}
		p, t, st := patientResource(pt, team), teamResource(team), siteResource(site)
		entries = append(entries, entry(c, "Patient", p.ID, p, "match"),
			entry(c, "Organization", t.ID, t, "include"), entry(c, "Organization", st.ID, st, "include"))
		for _, id := range s.devicesLentTo(pt.ID) {
			d, err := s.opts.Registry.GetDevice(ctx, id)
			if err != nil {
				return err
			}
			r := deviceResource(d, pt.ID)
			entries = append(entries, entry(c, "Device", r.ID, r, "match"))
		}
		loc := s.opts.Devices.Load().Location(team.SiteID)
		report, err := s.cgmReport(ctx, pt, loc, s.opts.Now(), summary.GlucoseDays)
		if err != nil {
			return err
		}
		for _, o := range report.observations() {
			entries = append(entries, entry(c, "Observation", o.ID, o, "match"))
		}
		cursor = []string{"a", "0"}
	}
	if len(cursor) == 2 && cursor[0] == "a" {
		before, err := strconv.ParseInt(cursor[1], 10, 64)
		if err != nil {
			return invalidParam(pageParam, "not a page of this search; follow the Bundle's next link")
		}
		f := alerts.Filter{Scope: alerts.ScopeOf(c.p), Category: alerts.Clinical, Patient: pt.ID, Since: rng.From, Until: rng.To}
		list, more, err := s.listFlags(ctx, f, nil, before, count)
		if err != nil {
			return err
		}
		for _, a := range list {
			fl, di := flagResource(a), detectedIssueResource(a)
			entries = append(entries, entry(c, "Flag", fl.ID, fl, "match"), entry(c, "DetectedIssue", di.ID, di, "match"))
		}
		if more {
			return s.reply(c, searchBundle(c, entries, pageCursor("a", strconv.FormatInt(list[len(list)-1].ID, 10)), nil))
		}
		count -= len(list)
		cursor = nil
		if count == 0 {
			// The page is full: the readings start on the next one.
			return s.reply(c, searchBundle(c, entries, pageCursor("o"), nil))
		}
	} else if len(cursor) > 0 && cursor[0] == "o" {
		cursor = cursor[1:]
		if len(cursor) == 0 {
			cursor = nil
		}
	} else {
		return invalidParam(pageParam, "not a page of this search; follow the Bundle's next link")
	}
	readings, next, err := s.readingsPage(ctx, c, readingsQuery{patient: pt.ID, rng: rng, cursor: cursor, count: count})
	if err != nil {
		return err
	}
	entries = append(entries, readings...)
	cur := ""
	if next != nil {
		cur = pageCursor(append([]string{"o"}, next...)...)
	}
	return s.reply(c, searchBundle(c, entries, cur, nil))
}
