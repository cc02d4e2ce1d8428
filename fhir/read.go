package fhir

import (
	"cmp"
	"context"
	"slices"
	"strconv"

	"github.com/vitalwatch/vitalwatch/access"
	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/errcode"
)

// Reads of the registry's rows and the alerts, and the Device and Flag searches.

// readPatient serves GET Patient/{id}.
func (s *Server) readPatient(c *call) error {
	ctx, cancel := c.ctx()
	defer cancel()
	pt, err := s.patientFor(ctx, c.p, c.r.PathValue("id"), "patients")
	if err != nil {
		return err
	}
	team, err := s.opts.Registry.GetTeam(ctx, pt.TeamID)
	if err != nil {
		return err
	}
	return s.reply(c, patientResource(pt, team))
}

// readDevice serves GET Device/{id}.
func (s *Server) readDevice(c *call) error {
	ctx, cancel := c.ctx()
	defer cancel()
	d, err := s.deviceFor(ctx, c.p, c.r.PathValue("id"))
	if err != nil {
		return err
	}
	return s.reply(c, deviceResource(d, s.lentTo(d.ID, s.opts.Now())))
}

// readOrganization serves GET Organization/{id}: a team (team-...) or a site (site-...), which
// every role may read, as in the API.
func (s *Server) readOrganization(c *call) error {
	ctx, cancel := c.ctx()
	defer cancel()
	id := c.r.PathValue("id")
	notFound := errcode.Errorf(errcode.NotFound, "no organization %s", id)
	if part, ok := parseRegistryID(teamPrefix, id); ok {
		tid, err := rowByID(ctx, part, s.opts.Registry.ListTeams, func(t devices.Team) string { return t.ID })
		if err != nil || tid == "" {
			return cmp.Or(err, error(notFound))
		}
		t, err := s.opts.Registry.GetTeam(ctx, tid)
		if err != nil {
			return err
		}
		return s.reply(c, teamResource(t))
	}
	if part, ok := parseRegistryID(sitePrefix, id); ok {
		sid, err := rowByID(ctx, part, s.opts.Registry.ListSites, func(s devices.Site) string { return s.ID })
		if err != nil || sid == "" {
			return cmp.Or(err, error(notFound))
		}
		site, err := s.opts.Registry.GetSite(ctx, sid)
		if err != nil {
			return err
		}
		return s.reply(c, siteResource(site))
	}
	return notFound
}

// flagFor returns the clinical alert a Flag's or a DetectedIssue's id names when p may see it.
func (s *Server) flagFor(ctx context.Context, c *call, what string) (alerts.Alert, error) {
	if err := mayPatients(c.p, what); err != nil {
		return alerts.Alert{}, err
	}
	if s.opts.Alerts == nil {
		return alerts.Alert{}, unavailable("alerts are")
	}
	raw := c.r.PathValue("id")
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 || strconv.FormatInt(id, 10) != raw {
		return alerts.Alert{}, errcode.Errorf(errcode.NotFound, "no %s %s", what, raw)
	}
	a, err := s.opts.Alerts.GetAlert(ctx, id)
	switch {
	case errcode.Of(err) == errcode.NotFound || err == nil && !isFlag(a):
		return a, errcode.Errorf(errcode.NotFound, "no %s %s", what, raw)
	case err != nil:
		return a, err
	case !alerts.ScopeOf(c.p).Allows(a.Category, a.Team, a.Site):
		return a, forbidden("%s %s is for another team than yours", what, raw)
	}
	return a, nil
}

// readFlag serves GET Flag/{id}.
func (s *Server) readFlag(c *call) error {
	ctx, cancel := c.ctx()
	defer cancel()
	a, err := s.flagFor(ctx, c, "flag")
	if err != nil {
		return err
	}
	return s.reply(c, flagResource(a))
}

// readDetectedIssue serves GET DetectedIssue/{id}.
func (s *Server) readDetectedIssue(c *call) error {
	ctx, cancel := c.ctx()
	defer cancel()
	a, err := s.flagFor(ctx, c, "detected issue")
	if err != nil {
		return err
	}
	return s.reply(c, detectedIssueResource(a))
}

// searchDevices serves GET Device: with patient, the devices lent to the patient now (for whoever
// may see the patient); without, the devices a fleet manager's sites have (every device for an
// admin), by id, a page after another.
func (s *Server) searchDevices(c *call) error {
	ctx, cancel := c.ctx()
	defer cancel()
	count, err := countParam(c)
	if err != nil {
		return err
	}
	cursor, err := cursorParam(c)
	if err != nil {
		return err
	}
	if v := c.q.Get("patient"); v != "" {
		pt, err := s.patientFor(ctx, c.p, patientParam(v), "the devices lent to patients")
		if err != nil {
			return err
		}
		entries := []BundleEntry{}
		for _, d := range s.devicesLentTo(pt.ID) {
			dev, err := s.opts.Registry.GetDevice(ctx, d)
			if err != nil {
				return err
			}
			r := deviceResource(dev, pt.ID)
			entries = append(entries, entry(c, "Device", r.ID, r, "match"))
		}
		total := len(entries)
		return s.reply(c, searchBundle(c, entries, "", &total))
	}
	var sites []string
	switch {
	case c.p.IsAdmin():
		sites = []string{""}
	case c.p.Role == access.FleetManager:
		sites = c.p.Sites
	default:
		return invalidParam("patient", "required: a %s sees the devices lent to the patients of their teams", c.p.Role)
	}
	after := ""
	if len(cursor) == 1 {
		after = cursor[0]
	}
	var list []devices.Device
	for _, site := range sites {
		page, err := s.opts.Registry.ListDevices(ctx, devices.ListOptions{Site: site, After: after, Limit: count + 1})
		if err != nil {
			return err
		}
		list = append(list, page...)
	}
	slices.SortFunc(list, func(a, b devices.Device) int { return cmp.Compare(a.ID, b.ID) })
	next := ""
	if len(list) > count {
		list = list[:count]
		next = pageCursor(list[count-1].ID)
	}
	entries := []BundleEntry{}
	now := s.opts.Now()
	for _, d := range list {
		r := deviceResource(d, s.lentTo(d.ID, now))
		entries = append(entries, entry(c, "Device", r.ID, r, "match"))
	}
	return s.reply(c, searchBundle(c, entries, next, nil))
}

// devicesLentTo lists the devices lent to patient now, by id, from the registry view.
func (s *Server) devicesLentTo(patient string) []string {
	now := s.opts.Now()
	dir := s.opts.Devices.Load()
	var out []string
	dir.Devices(func(d *devices.Device, _ []devices.Assignment) bool {
		if dir.PatientAt(d.ID, now) == patient {
			out = append(out, d.ID)
		}
		return true
	})
	slices.Sort(out)
	return out
}

// searchFlags serves GET Flag: the clinical alerts the caller may see, newest first, of one
// patient or of all; status active (open or acknowledged) or inactive (resolved).
func (s *Server) searchFlags(c *call) error {
	if err := mayPatients(c.p, "clinical alerts"); err != nil {
		return err
	}
	if s.opts.Alerts == nil {
		return unavailable("alerts are")
	}
	ctx, cancel := c.ctx()
	defer cancel()
	count, err := countParam(c)
	if err != nil {
		return err
	}
	cursor, err := cursorParam(c)
	if err != nil {
		return err
	}
	var before int64
	if len(cursor) == 1 {
		if before, err = strconv.ParseInt(cursor[0], 10, 64); err != nil {
			return invalidParam(pageParam, "not a page of this search; follow the Bundle's next link")
		}
	}
	f := alerts.Filter{Scope: alerts.ScopeOf(c.p), Category: alerts.Clinical}
	if v := c.q.Get("patient"); v != "" {
		part, ok := parseRegistryID("", patientParam(v))
		if !ok {
			return invalidParam("patient", "%q is not a patient id", v)
		}
		if f.Patient = part.Raw; part.Hash != "" {
			f.Patient = s.patientByHash(part)
		}
		if f.Patient == "" {
			return s.reply(c, searchBundle(c, []BundleEntry{}, "", new(int)))
		}
	}
	var states []alerts.State
	switch st := c.q.Get("status"); st {
	case "":
	case "active":
		states = []alerts.State{alerts.Open, alerts.Acknowledged}
	case "inactive":
		states = []alerts.State{alerts.Resolved}
	case "entered-in-error":
		return s.reply(c, searchBundle(c, []BundleEntry{}, "", new(int))) // none is ever
	default:
		return invalidParam("status", "%q is not active, inactive or entered-in-error", st)
	}
	list, more, err := s.listFlags(ctx, f, states, before, count)
	if err != nil {
		return err
	}
	entries := []BundleEntry{}
	for _, a := range list {
		r := flagResource(a)
		entries = append(entries, entry(c, "Flag", r.ID, r, "match"))
	}
	next := ""
	if more {
		next = pageCursor(strconv.FormatInt(list[len(list)-1].ID, 10))
	}
	return s.reply(c, searchBundle(c, entries, next, nil))
}

// listFlags lists the clinical alerts f selects in any of states (all when none), newest first,
// below the id before (0: from the newest), at most limit, and whether there are more.
func (s *Server) listFlags(ctx context.Context, f alerts.Filter, states []alerts.State, before int64, limit int) ([]alerts.Alert, bool, error) {
	if len(states) == 0 {
		states = []alerts.State{""}
	}
	var list []alerts.Alert
	for _, st := range states {
		f.State, f.Before, f.Limit = st, before, limit+1
		page, err := s.opts.Alerts.ListAlerts(ctx, f)
		if err != nil {
			return nil, false, err
		}
		list = append(list, page...)
	}
	slices.SortFunc(list, func(a, b alerts.Alert) int { return cmp.Compare(b.ID, a.ID) })
	list = slices.DeleteFunc(list, func(a alerts.Alert) bool { return !isFlag(a) })
	if len(list) > limit {
		return list[:limit], true, nil
	}
	return list, false, nil
}
