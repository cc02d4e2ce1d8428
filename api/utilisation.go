package api

import (
	"encoding/csv"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/errcode"
	"github.com/vitalwatch/vitalwatch/fleet"
	"github.com/vitalwatch/vitalwatch/reading"
	"github.com/vitalwatch/vitalwatch/reallocation"
	"github.com/vitalwatch/vitalwatch/usage"
)

// Utilisation and reallocation over HTTP, for fleet managers (their own sites) and admins:
// GET /utilisation, /reallocation/assessment, /reallocation/plan and
// /devices/{id}/alternatives. The reports are computed on request from the usage counts.

// reports returns the fleet reports, or 503 when they are not configured.
func (a *API) reports() (*fleet.Reports, error) {
	if a.opts.Fleet == nil {
		return nil, apiError(errcode.Unavailable, "utilisation reports are not configured")
	}
	return a.opts.Fleet, nil
}

// fleetScope reads site= and type= of a fleet report: the sites it covers, the site asked for,
// which must be the caller's, or all of theirs (nil for an admin: every site), and the kind.
func fleetScope(c *call) (fleet.Scope, error) {
	var s fleet.Scope
	switch site := c.q.Get("site"); {
	case site != "" && !reading.ValidID(site):
		return s, invalid("site " + strconv.Quote(site) + " is not an id")
	case site != "" && !c.p.CanSite(site):
		return s, forbidden("site %s is not one of yours", site)
	case site != "":
		s.Sites = []string{site}
	case !c.p.IsAdmin():
		s.Sites = append([]string{}, c.p.Sites...)
	}
	var err error
	s.Kind, err = kindParam(c.q.Get("type"))
	return s, err
}

// kindParam reads the type parameter: a device kind or nothing.
func kindParam(v string) (devices.Kind, error) {
	if v == "" {
		return "", nil
	}
	if k := devices.Kind(v); k.Valid() {
		return k, nil
	}
	return "", invalid("type " + strconv.Quote(v) + " is not one of " + strings.Join(kindNames(), ", "))
}

// figureJSON is one utilisation figure. Fields a roll-up sums away are absent.
type figureJSON struct {
	Month         string  `json:"month"` // YYYY-MM
	District      string  `json:"district,omitempty"`
	Site          string  `json:"site,omitempty"`
	Type          string  `json:"type,omitempty"`
	Device        string  `json:"device,omitempty"`
	Mode          string  `json:"mode,omitempty"`
	Devices       int     `json:"devices"`
	DaysInService int     `json:"days_in_service"` // station: device-days in service; home: device-days lent
	Used          float64 `json:"used"`            // station: uses; home: days with a reading
	Capacity      float64 `json:"capacity"`        // station: rated uses x days in service; home: days lent
	Utilisation   float64 `json:"utilisation"`     // used / capacity; 0 without capacity
	ServiceDays   int     `json:"service_days"`    // device-days in service, lent or not
	Uncounted     float64 `json:"uncounted"`       // uses (home: days with a use) on days that do not count
}

func figureOut(f usage.Figure) figureJSON {
	return figureJSON{Month: f.Month.String(), District: f.District, Site: f.Site, Type: string(f.Kind), Device: f.Device,
		Mode: string(f.Mode), Devices: f.Devices, DaysInService: f.DaysInService, Used: f.Used, Capacity: f.Capacity,
		Utilisation: f.Utilisation, ServiceDays: f.ServiceDays, Uncounted: f.Uncounted}
}

// utilisationJSON is the answer of GET /utilisation.
type utilisationJSON struct {
	From    string       `json:"from"`
	To      string       `json:"to"`
	By      string       `json:"by"`
	Figures []figureJSON `json:"figures"`
}

func (a *API) utilisation(c *call) error {
	q := c.q
	rep, err := a.reports()
	if err != nil {
		return err
	}
	scope, err := fleetScope(c)
	if err != nil {
		return err
	}
	_, last := rep.Window()
	from, to := last, last
	if v := q.Get("to"); v != "" {
		if to, err = usage.ParseMonth(v); err != nil {
			return invalid("to: " + err.Error())
		}
		from = to
	}
	if v := q.Get("from"); v != "" {
		if from, err = usage.ParseMonth(v); err != nil {
			return invalid("from: " + err.Error())
		}
	}
	by := usage.ByDevice
	if v := q.Get("by"); v != "" {
		if by, err = usage.ParseBy(v); err != nil {
			return invalid("by: " + err.Error())
		}
	}
	format := q.Get("format")
	if format == "" && strings.Contains(c.Header.Get("Accept"), "text/csv") {
		format = "csv"
	}
	if format != "" && format != "json" && format != "csv" {
		return invalid("format " + strconv.Quote(format) + " is not json or csv")
	}
	figs, err := rep.Utilisation(c.Context(), from, to, by, scope)
	if err != nil {
		return err
	}
	out := make([]figureJSON, len(figs))
	for i, f := range figs {
		out[i] = figureOut(f)
	}
	if format == "csv" {
		return writeFiguresCSV(c.w, from, to, by, out)
	}
	return c.reply(utilisationJSON{From: from.String(), To: to.String(), By: by.String(), Figures: out})
}

// writeFiguresCSV writes the figures as a CSV file, one row per figure.
func writeFiguresCSV(w http.ResponseWriter, from, to usage.Month, by usage.By, figs []figureJSON) error {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="utilisation-`+by.String()+`-`+from.String()+`-`+to.String()+`.csv"`)
	w.WriteHeader(http.StatusOK)
	cw := csv.NewWriter(w)
	cw.Write([]string{"month", "district", "site", "type", "device", "mode", "devices", "days_in_service", "used", "capacity", "utilisation", "service_days", "uncounted"})
	num := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	for _, f := range figs {
		cw.Write([]string{f.Month, f.District, f.Site, f.Type, f.Device, f.Mode, strconv.Itoa(f.Devices),
			strconv.Itoa(f.DaysInService), num(f.Used), num(f.Capacity), strconv.FormatFloat(f.Utilisation, 'f', 4, 64),
			strconv.Itoa(f.ServiceDays), num(f.Uncounted)})
	}
	cw.Flush()
	return nil // the status is sent: a failed write means the client left
}

// verdicts are the outcomes of an assessment.
var verdicts = []string{reallocation.Spare.String(), reallocation.Short.String(), reallocation.Balanced.String()}

// assessmentJSON is the verdict on one device type at one site.
type assessmentJSON struct {
	Site    string    `json:"site"`
	Type    string    `json:"type"`
	Verdict string    `json:"verdict"` // spare, short or balanced
	Devices int       `json:"devices"` // working devices now
	Rated   float64   `json:"rated_uses_per_day"`
	Demand  float64   `json:"demand_per_day"` // uses a day last month (home: devices in use a day)
	Need    int       `json:"need"`           // devices that bring utilisation to the target; -1 unknown
	Spare   int       `json:"spare"`
	Missing int       `json:"missing"`
	History []float64 `json:"history"` // monthly utilisation, oldest first
	From    string    `json:"from"`    // first month of history
	To      string    `json:"to"`      // last month of history
	// In a plan: devices that open moves are bringing (taken off missing) or taking away
	// (taken off spare).
	Arriving int `json:"arriving,omitempty"`
	Leaving  int `json:"leaving,omitempty"`
	// In a plan on the forecast: the forecast month's mean demand a day, which demand_per_day
	// is, with its 80% and 95% intervals; the last of history is its utilisation.
	Forecast *forecastJSON `json:"forecast,omitempty"`
	// In an assessment: the growth of the centre's patients on a plan that asks for this type,
	// when above reallocation.growth over twelve months.
	Growth *growthJSON `json:"growth,omitempty"`
}

// growthJSON is a centre's patients on a plan grown beyond the threshold.
type growthJSON struct {
	Plan           string  `json:"plan"` // hypertension, diabetes, heart_failure, copd
	Patients       int     `json:"patients"`
	PatientsBefore int     `json:"patients_before"` // twelve months ago
	Rate           float64 `json:"rate"`            // (patients - patients_before) / patients_before
	More           int     `json:"more"`            // devices lacking at the target if demand grows as patients did
}

// forecastJSON is a forecast month's mean demand a day, with its prediction intervals.
type forecastJSON struct {
	Month string  `json:"month"` // YYYY-MM
	Mean  float64 `json:"mean"`
	Lo80  float64 `json:"lo80"`
	Hi80  float64 `json:"hi80"`
	Lo95  float64 `json:"lo95"`
	Hi95  float64 `json:"hi95"`
}

func assessmentOut(as fleet.Assessment) assessmentJSON {
	out := assessmentJSON{Site: as.Site, Type: string(as.Type), Verdict: as.Status.String(), Devices: as.Devices,
		Rated: as.Rated, Demand: as.Demand, Need: as.Need, Spare: as.Spare, Missing: as.Missing,
		History: make([]float64, len(as.History)), From: as.First.String(), To: as.Last.String(),
		Arriving: as.Arriving, Leaving: as.Leaving}
	for i, u := range as.History {
		out.History[i] = finite(u)
	}
	if g := as.Growth; g != nil {
		out.Growth = &growthJSON{Plan: g.Condition, Patients: g.Patients, PatientsBefore: g.Before, Rate: g.Rate, More: g.More}
	}
	if f := as.Forecast; f != nil {
		out.Forecast = &forecastJSON{Month: f.Month.String(), Mean: f.Mean, Lo80: f.Lo80, Hi80: f.Hi80, Lo95: f.Lo95, Hi95: f.Hi95}
	}
	return out
}

// finite is a utilisation for JSON: -1 for one without capacity (demand on no device).
func finite(v float64) float64 {
	if v > 1e300 {
		return -1
	}
	return v
}

// thresholdsJSON are the spare/short thresholds in use.
type thresholdsJSON struct {
	Low    float64 `json:"low"`
	High   float64 `json:"high"`
	Months int     `json:"months"`
	Target float64 `json:"target"`
	// Growth is reallocation.growth: a centre whose patients on a plan grew by more than this
	// share over twelve months is flagged (0: off).
	Growth float64 `json:"growth"`
}

func thresholdsOut(t reallocation.Thresholds) thresholdsJSON {
	return thresholdsJSON{Low: t.Low, High: t.High, Months: t.Months, Target: t.Target, Growth: t.Growth}
}

// assessmentPage is the answer of GET /reallocation/assessment.
type assessmentPage struct {
	Thresholds thresholdsJSON   `json:"thresholds"`
	Items      []assessmentJSON `json:"items"`
}

func (a *API) assessment(c *call) error {
	rep, err := a.reports()
	if err != nil {
		return err
	}
	scope, err := fleetScope(c)
	if err != nil {
		return err
	}
	verdict := c.q.Get("verdict")
	if verdict != "" && !slices.Contains(verdicts, verdict) {
		return invalid("verdict " + strconv.Quote(verdict) + " is not spare, short or balanced")
	}
	as, err := rep.Assess(c.Context(), scope)
	if err != nil {
		return err
	}
	out := assessmentPage{Thresholds: thresholdsOut(rep.Thresholds()), Items: []assessmentJSON{}}
	for _, x := range as {
		if verdict == "" || x.Status.String() == verdict {
			out.Items = append(out.Items, assessmentOut(x))
		}
	}
	return c.reply(out)
}

// sideJSON is one centre's side of a move: devices and utilisation before and after the plan.
type sideJSON struct {
	Devices      int     `json:"devices"`
	DevicesAfter int     `json:"devices_after"`
	Before       float64 `json:"utilisation_before"` // -1: no capacity
	After        float64 `json:"utilisation_after"`
}

func sideOut(c reallocation.Change) sideJSON {
	return sideJSON{Devices: c.Devices, DevicesAfter: c.DevicesAfter, Before: finite(c.Before), After: finite(c.After)}
}

// plannedMoveJSON is one move the planner proposes.
type plannedMoveJSON struct {
	Type        string   `json:"type"`
	From        string   `json:"from"`
	To          string   `json:"to"`
	Count       int      `json:"count"`
	Devices     []string `json:"devices"`
	DistanceKm  float64  `json:"distance_km"`
	Donor       sideJSON `json:"donor"`
	Receiver    sideJSON `json:"receiver"`
	Explanation string   `json:"explanation"`
}

// planJSON is the answer of GET /reallocation/plan.
type planJSON struct {
	Thresholds thresholdsJSON `json:"thresholds"`
	// Basis is the demand the plan judged by: history, last month's use, or forecast, the
	// forecast of ForecastMonth, the month after the current one.
	Basis         string            `json:"basis"`
	ForecastMonth string            `json:"forecast_month,omitempty"`
	From          string            `json:"from"` // the months assessed
	To            string            `json:"to"`
	Moves         []plannedMoveJSON `json:"moves"`
	Shortage      int               `json:"shortage"` // devices missing at the short centres in scope
	Moved         int               `json:"moved"`
	Unmet         int               `json:"unmet"`
	DistanceKm    float64           `json:"distance_km"`
	Spare         []assessmentJSON  `json:"spare"`
	Short         []assessmentJSON  `json:"short"`
}

// plan proposes moves; a fleet manager sees the moves from or to their sites, and the totals
// of those.
func (a *API) plan(c *call) error {
	p := c.p
	rep, err := a.reports()
	if err != nil {
		return err
	}
	kind, err := kindParam(c.q.Get("type"))
	if err != nil {
		return err
	}
	basis := fleet.BasisHistory
	if v := c.q.Get("basis"); v != "" {
		if basis = fleet.Basis(v); !slices.Contains(fleet.Bases, basis) {
			return invalid("basis " + strconv.Quote(v) + " is not history or forecast")
		}
	}
	prop, assessed, err := rep.PlanOn(c.Context(), kind, basis)
	if err != nil {
		return err
	}
	first, last := rep.Window()
	out := planJSON{Thresholds: thresholdsOut(rep.Thresholds()), Basis: string(basis), From: first.String(), To: last.String(),
		Moves: []plannedMoveJSON{}, Spare: []assessmentJSON{}, Short: []assessmentJSON{}}
	if basis == fleet.BasisForecast {
		out.ForecastMonth = rep.ForecastMonth().String()
	}
	for _, m := range prop.Moves {
		if !p.CanSite(m.From) && !p.CanSite(m.To) {
			continue
		}
		out.Moves = append(out.Moves, plannedMoveJSON{Type: string(m.Type), From: m.From, To: m.To, Count: m.Count,
			Devices: m.DeviceIDs, DistanceKm: m.DistanceKm, Donor: sideOut(m.Donor), Receiver: sideOut(m.Receiver),
			Explanation: m.Explain()})
		out.Moved += m.Count
		out.DistanceKm += m.DistanceKm * float64(m.Count)
	}
	for _, as := range assessed {
		if !p.CanSite(as.Site) {
			continue
		}
		switch as.Status {
		case reallocation.Spare:
			out.Spare = append(out.Spare, assessmentOut(as))
		case reallocation.Short:
			out.Short = append(out.Short, assessmentOut(as))
			out.Shortage += as.Missing
		}
	}
	if p.IsAdmin() {
		out.Shortage, out.Moved, out.Unmet, out.DistanceKm = prop.Shortage, prop.Moved, prop.Unmet, prop.DistanceKm
	} else {
		moved := 0
		for _, m := range out.Moves {
			if p.CanSite(m.To) {
				moved += m.Count
			}
		}
		out.Unmet = out.Shortage - moved
	}
	return c.reply(out)
}

// alternativeJSON is a centre where a faulty device's residents can go.
type alternativeJSON struct {
	Site            string  `json:"site"`
	DistanceKm      float64 `json:"distance_km"`
	Devices         int     `json:"devices"`            // working devices of the type there
	SpareUsesPerDay float64 `json:"spare_uses_per_day"` // rated capacity left after last month's demand
}

// alternativesJSON is the answer of GET /devices/{id}/alternatives.
type alternativesJSON struct {
	Device       string            `json:"device"`
	Site         string            `json:"site"`
	Type         string            `json:"type"`
	Status       string            `json:"status"`
	Alternatives []alternativeJSON `json:"alternatives"`
}

// alternatives lists where the residents booked on a device can go instead, nearest first. The
// other centres may be anyone's: residents go where there is room.
func (a *API) alternatives(c *call) error {
	d, err := a.devices().one(c)
	if err != nil {
		return err
	}
	rep, err := a.reports()
	if err != nil {
		return err
	}
	alts, _, err := rep.Alternatives(c.Context(), d.ID)
	if err != nil {
		return err
	}
	out := alternativesJSON{Device: d.ID, Site: d.SiteID, Type: string(d.Kind), Status: string(d.Status), Alternatives: []alternativeJSON{}}
	for _, x := range alts {
		out.Alternatives = append(out.Alternatives, alternativeJSON{Site: x.Site, DistanceKm: x.DistanceKm, Devices: x.Devices, SpareUsesPerDay: x.SpareUsesPerDay})
	}
	return c.reply(out)
}

// dayJSON is a device's use on one local day.
type dayJSON struct {
	Day       string `json:"day"` // YYYY-MM-DD in the centre's time zone
	Uses      int    `json:"uses"`
	InService bool   `json:"in_service"`     // active at the centre for part of the day: a day that counts
	Lent      bool   `json:"lent,omitempty"` // home devices: lent to a patient for part of the day
}

// deviceDaysJSON is a device's use at a centre on each day of a month.
type deviceDaysJSON struct {
	Device string    `json:"device"`
	Site   string    `json:"site"`
	Type   string    `json:"type"`
	Mode   string    `json:"mode"`
	Rated  int       `json:"rated_uses_per_day"` // station devices
	Days   []dayJSON `json:"days"`
}

// utilisationDaysJSON is the answer of GET /utilisation/days.
type utilisationDaysJSON struct {
	Month   string           `json:"month"`
	Devices []deviceDaysJSON `json:"devices"`
}

// utilisationDays serves GET /utilisation/days?month=&site=&type=: each device's uses on each
// day of a month (default: the last complete month), with whether the day counted.
func (a *API) utilisationDays(c *call) error {
	rep, err := a.reports()
	if err != nil {
		return err
	}
	scope, err := fleetScope(c)
	if err != nil {
		return err
	}
	_, month := rep.Window()
	if v := c.q.Get("month"); v != "" {
		if month, err = usage.ParseMonth(v); err != nil {
			return invalid("month: " + err.Error())
		}
	}
	rows, err := rep.Days(c.Context(), month, scope)
	if err != nil {
		return err
	}
	out := utilisationDaysJSON{Month: month.String(), Devices: make([]deviceDaysJSON, len(rows))}
	for i, x := range rows {
		j := deviceDaysJSON{Device: x.Device, Site: x.Site, Type: string(x.Kind), Mode: string(x.Mode), Rated: x.Rated,
			Days: make([]dayJSON, len(x.Days))}
		for k, d := range x.Days {
			j.Days[k] = dayJSON{Day: string(d.Day), Uses: d.Uses, InService: d.InService, Lent: d.Lent}
		}
		out.Devices[i] = j
	}
	return c.reply(out)
}
