package api

import (
	"encoding/csv"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vitalwatch/vitalwatch/access"
	"github.com/vitalwatch/vitalwatch/alerts"
)

// burdenJSON is the alert burden of one rule for one team (clinical alerts) or one site
// (device faults) over the period.
type burdenJSON struct {
	Category string `json:"category"`
	Team     string `json:"team,omitempty"`
	Site     string `json:"site,omitempty"`
	Rule     string `json:"rule"`
	Alerts   int    `json:"alerts"`   // raised in the period
	Subjects int    `json:"subjects"` // distinct patients (clinical) or devices (faults) they were about
	// Population is the team's patients, or the site's devices that are not retired, as the
	// registry has them now.
	Population int `json:"population"`
	// PerSubjectPerWeek is alerts / population / weeks, per patient (clinical) or device
	// (faults); absent without a population.
	PerSubjectPerWeek *float64 `json:"alerts_per_subject_per_week,omitempty"`
	Acknowledged      int      `json:"acknowledged"`
	// MedianAckSeconds is the median time from raised to acknowledged of the acknowledged
	// alerts; absent when none was.
	MedianAckSeconds           *float64 `json:"median_seconds_to_acknowledge,omitempty"`
	ResolvedAutomatically      int      `json:"resolved_automatically"` // by the system: the condition cleared
	ResolvedByPerson           int      `json:"resolved_by_person"`
	ResolvedAutomaticallyShare float64  `json:"resolved_automatically_share"` // of the alerts raised
	Late                       int      `json:"late"`                         // every finding a backlog: notified no one
	Silenced                   int      `json:"silenced"`                     // every finding under a silence
	Doubt                      int      `json:"doubt"`                        // every finding in doubt (a quality flag, a device fault)
}

// burdenPage is the answer of GET /alerts/burden: the period [from, to) and a figure per team
// or site and rule, clinical first, then by team or site and rule.
type burdenPage struct {
	From  time.Time    `json:"from"`
	To    time.Time    `json:"to"`
	Weeks float64      `json:"weeks"`
	Items []burdenJSON `json:"items"`
}

func burdenOut(b alerts.Burden) burdenJSON {
	out := burdenJSON{Category: string(b.Category), Team: b.Team, Site: b.Site, Rule: b.Rule, Alerts: b.Alerts,
		Subjects: b.Subjects, Population: b.Population, Acknowledged: b.Acknowledged,
		ResolvedAutomatically: b.ResolvedBySystem, ResolvedByPerson: b.ResolvedByPerson,
		ResolvedAutomaticallyShare: b.ResolvedAutomaticallyShare(), Late: b.Late, Silenced: b.Silenced, Doubt: b.Doubt}
	if per, ok := b.PerSubjectPerWeek(); ok {
		out.PerSubjectPerWeek = &per
	}
	if b.Acknowledged > 0 {
		secs := b.AckMedian.Seconds()
		out.MedianAckSeconds = &secs
	}
	return out
}

// burdenTime reads from= or to=: an RFC 3339 time, or a date YYYY-MM-DD in UTC, which means
// its start for from and its end (the next day's start) for to, so that from=2026-11-01&
// to=2026-11-30 is the whole of November.
func burdenTime(name, v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), nil
	}
	d, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return time.Time{}, invalid(name + ": " + strconv.Quote(v) + " is not an RFC 3339 time such as 2026-11-22T07:30:00+08:00 or a date such as 2026-11-22")
	}
	if name == "to" {
		d = d.AddDate(0, 0, 1)
	}
	return d, nil
}

// alertBurden serves GET /api/v1/alerts/burden?from=&to=&team=&site=&rule=&format=: the burden
// of each rule per team and site over [from, to) (default: the 28 days before now; without
// from, the 28 days before to), of the alerts the caller may see, as the alert list scopes
// them. team= narrows to a team's clinical alerts, site= to a site's faults (both: both). As
// CSV with format=csv or Accept: text/csv.
func (a *API) alertBurden(c *call) error {
	p, q := c.p, c.q
	var err error
	f := alerts.BurdenFilter{Scope: alerts.ScopeOf(p), Team: q.Get("team"), Site: q.Get("site"), Rule: q.Get("rule"),
		To: time.Now().UTC().Truncate(time.Millisecond)}
	if v := q.Get("to"); v != "" {
		if f.To, err = burdenTime("to", v); err != nil {
			return err
		}
	}
	f.From = f.To.Add(-defaultBurdenPeriod)
	if v := q.Get("from"); v != "" {
		if f.From, err = burdenTime("from", v); err != nil {
			return err
		}
	}
	switch {
	case !f.From.Before(f.To):
		return invalid("from: " + f.From.Format(time.RFC3339) + " is not before to, " + f.To.Format(time.RFC3339))
	case f.To.Sub(f.From) > maxBurdenPeriod:
		return invalid("from: the period is at most 366 days; ask for a year at a time")
	}
	if err := scopedIDParams(q, p, "rule", "team", "site"); err != nil {
		return err
	}
	format := q.Get("format")
	if format == "" && strings.Contains(c.Header.Get("Accept"), "text/csv") {
		format = "csv"
	}
	if format != "" && format != "json" && format != "csv" {
		return invalid("format: " + strconv.Quote(format) + " is not json or csv")
	}
	figures, err := a.opts.Alerts.AlertBurden(c.Context(), f)
	if err != nil {
		return err
	}
	out := burdenPage{From: f.From, To: f.To, Weeks: alerts.Burden{From: f.From, To: f.To}.Weeks(), Items: make([]burdenJSON, 0, len(figures))}
	for _, b := range figures {
		out.Items = append(out.Items, burdenOut(b))
	}
	if format == "csv" {
		writeBurdenCSV(c.w, out)
		return nil
	}
	return c.reply(out)
}

// scopedIDParams refuses a query parameter of names that is given but is not an id (400), and
// a team or site that is not p's (403).
func scopedIDParams(q url.Values, p *access.Principal, names ...string) error {
	if err := idParams(q, names...); err != nil {
		return err
	}
	switch team, site := q.Get("team"), q.Get("site"); {
	case team != "" && !p.CanTeam(team):
		return forbidden("team %s is not one of yours", team)
	case site != "" && !p.CanSite(site):
		return forbidden("site %s is not one of yours", site)
	}
	return nil
}

// writeBurdenCSV writes the figures as a CSV file, one row per figure, with the period on
// every row; a figure's absent number is an empty cell.
func writeBurdenCSV(w http.ResponseWriter, out burdenPage) {
	const day = "20060102"
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="alert-burden-`+out.From.Format(day)+`-`+out.To.Format(day)+`.csv"`)
	w.WriteHeader(http.StatusOK)
	cw := csv.NewWriter(w)
	cw.Write([]string{"from", "to", "category", "team", "site", "rule", "alerts", "subjects", "population",
		"alerts_per_subject_per_week", "acknowledged", "median_seconds_to_acknowledge", "resolved_automatically",
		"resolved_by_person", "resolved_automatically_share", "late", "silenced", "doubt"})
	num := func(v *float64) string {
		if v == nil {
			return ""
		}
		return strconv.FormatFloat(*v, 'f', -1, 64)
	}
	from, to := out.From.Format(time.RFC3339Nano), out.To.Format(time.RFC3339Nano)
	for _, b := range out.Items {
		cw.Write([]string{from, to, b.Category, b.Team, b.Site, b.Rule, strconv.Itoa(b.Alerts), strconv.Itoa(b.Subjects),
			strconv.Itoa(b.Population), num(b.PerSubjectPerWeek), strconv.Itoa(b.Acknowledged), num(b.MedianAckSeconds),
			strconv.Itoa(b.ResolvedAutomatically), strconv.Itoa(b.ResolvedByPerson), num(&b.ResolvedAutomaticallyShare),
			strconv.Itoa(b.Late), strconv.Itoa(b.Silenced), strconv.Itoa(b.Doubt)})
	}
	cw.Flush() // the status is sent: a failed write means the client left
}
