package api

import (
	"encoding/csv"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/vitalwatch/vitalwatch/fleet"
	"github.com/vitalwatch/vitalwatch/usage"
)

// GET /utilisation/repairs: how long devices took to come back from repair, per month, centre
// and type, and the repairs still open; GET /devices/{id}/repairs: one device's repairs.

// turnaroundJSON is the repairs of one type at one centre that ended in one month.
type turnaroundJSON struct {
	Month       string  `json:"month"` // YYYY-MM (UTC) the devices came back
	Site        string  `json:"site"`  // where they were under repair
	Type        string  `json:"type"`
	Repairs     int     `json:"repairs"`
	FromFault   int     `json:"from_fault"`   // of those, the repairs that started at a fault alert
	MedianHours float64 `json:"median_hours"` // from the fault (or maintenance) to active again
	P90Hours    float64 `json:"p90_hours"`    // the 90th percentile (empirical)
	DaysOut     float64 `json:"days_out"`     // device-days out of service
	// RedirectedHours is the time during the repairs when the centre had no other working
	// device of the type, so its residents went to another centre (repairs out at once count
	// their common hours once).
	RedirectedHours float64 `json:"redirected_hours"`
}

// repairJSON is one repair: still open (no until), or ended.
type repairJSON struct {
	Device string `json:"device"`
	Site   string `json:"site"` // where it was under repair
	Type   string `json:"type"`
	// Since is when the repair started: the fault alert's first seen, or maintenance.
	Since       time.Time `json:"since"`
	Maintenance time.Time `json:"maintenance"` // when the device was put under maintenance
	Until       time.Time `json:"until,omitzero"`
	StartedBy   string    `json:"started_by"`
	Alert       int64     `json:"alert,omitempty"` // the fault alert it started at
	Hours       float64   `json:"hours,omitempty"` // since to until, for an ended repair
	// RedirectedHours is the time from since to until (or now) when the centre had no other
	// working device of the type.
	RedirectedHours float64 `json:"redirected_hours"`
}

func repairOf(x fleet.Repair) repairJSON {
	j := repairJSON{Device: x.Device, Site: x.Site, Type: string(x.Kind), Since: x.From, Maintenance: x.Maintenance,
		Until: x.Until, StartedBy: x.StartedBy(), Alert: x.Alert, RedirectedHours: hours(x.Redirected)}
	if !x.Until.IsZero() {
		j.Hours = hours(x.Until.Sub(x.From))
	}
	return j
}

// hours is d in hours, to the second.
func hours(d time.Duration) float64 { return d.Round(time.Second).Hours() }

// repairsJSON is the answer of GET /utilisation/repairs.
type repairsJSON struct {
	From   string           `json:"from"`
	To     string           `json:"to"`
	Months []turnaroundJSON `json:"months"`
	Open   []repairJSON     `json:"open"`
}

// deviceRepairsJSON is the answer of GET /devices/{id}/repairs.
type deviceRepairsJSON struct {
	Device  string       `json:"device"`
	Site    string       `json:"site"`
	Type    string       `json:"type"`
	Repairs []repairJSON `json:"repairs"` // newest first, an open one first
}

// startedByNames are the values of started_by.
func startedByNames() []string { return []string{fleet.StartedByFault, fleet.StartedByMaintenance} }

// deviceRepairs lists a device's repairs, at any centre: whoever may see the device may see its
// history.
func (a *API) deviceRepairs(c *call) error {
	d, err := a.devices().one(c)
	if err != nil {
		return err
	}
	rep, err := a.reports()
	if err != nil {
		return err
	}
	repairs, err := rep.DeviceRepairs(c.Context(), d.ID)
	if err != nil {
		return err
	}
	out := deviceRepairsJSON{Device: d.ID, Site: d.SiteID, Type: string(d.Kind), Repairs: []repairJSON{}}
	for _, x := range repairs {
		out.Repairs = append(out.Repairs, repairOf(x))
	}
	return c.reply(out)
}

func (a *API) repairs(c *call) error {
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
	if v := c.q.Get("to"); v != "" {
		if to, err = usage.ParseMonth(v); err != nil {
			return invalid("to: " + err.Error())
		}
		from = to
	}
	if v := c.q.Get("from"); v != "" {
		if from, err = usage.ParseMonth(v); err != nil {
			return invalid("from: " + err.Error())
		}
	}
	format := c.q.Get("format")
	if format == "" && strings.Contains(c.Header.Get("Accept"), "text/csv") {
		format = "csv"
	}
	if format != "" && format != "json" && format != "csv" {
		return invalid("format " + strconv.Quote(format) + " is not json or csv")
	}
	done, open, err := rep.Repairs(c.Context(), from, to, scope)
	if err != nil {
		return err
	}
	out := repairsJSON{From: from.String(), To: to.String(), Months: []turnaroundJSON{}, Open: []repairJSON{}}
	for _, x := range done {
		out.Months = append(out.Months, turnaroundJSON{Month: x.Month.String(), Site: x.Site, Type: string(x.Kind), Repairs: x.Count,
			FromFault: x.FromFault, MedianHours: x.Median.Hours(), P90Hours: x.P90.Hours(), DaysOut: x.DaysOut,
			RedirectedHours: hours(x.Redirected)})
	}
	for _, x := range open {
		out.Open = append(out.Open, repairOf(x))
	}
	if format != "csv" {
		return c.reply(out)
	}
	w := c.w
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="repairs-`+out.From+`-`+out.To+`.csv"`)
	w.WriteHeader(http.StatusOK)
	cw := csv.NewWriter(w)
	cw.Write([]string{"month", "site", "type", "repairs", "median_hours", "p90_hours", "days_out", "from_fault", "redirected_hours"})
	num := func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
	for _, x := range out.Months {
		cw.Write([]string{x.Month, x.Site, x.Type, strconv.Itoa(x.Repairs), num(x.MedianHours), num(x.P90Hours), num(x.DaysOut),
			strconv.Itoa(x.FromFault), num(x.RedirectedHours)})
	}
	cw.Flush()
	return nil // the status is sent: a failed write means the client left
}
