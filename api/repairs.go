package api

import (
	"encoding/csv"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/vitalwatch/vitalwatch/usage"
)

// GET /utilisation/repairs: how long devices took to come back from repair, per month, centre
// and type, and the repairs still open.

// turnaroundJSON is the repairs of one type at one centre that ended in one month.
type turnaroundJSON struct {
	Month       string  `json:"month"` // YYYY-MM (UTC) the devices came back
	Site        string  `json:"site"`  // where they were under repair
	Type        string  `json:"type"`
	Repairs     int     `json:"repairs"`
	MedianHours float64 `json:"median_hours"` // from maintenance to active again
	P90Hours    float64 `json:"p90_hours"`    // the 90th percentile (empirical)
	DaysOut     float64 `json:"days_out"`     // device-days out of service: residents sent elsewhere
}

// openRepairJSON is a device still under repair.
type openRepairJSON struct {
	Device string    `json:"device"`
	Site   string    `json:"site"`
	Type   string    `json:"type"`
	Since  time.Time `json:"since"`
}

// repairsJSON is the answer of GET /utilisation/repairs.
type repairsJSON struct {
	From   string           `json:"from"`
	To     string           `json:"to"`
	Months []turnaroundJSON `json:"months"`
	Open   []openRepairJSON `json:"open"`
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
	out := repairsJSON{From: from.String(), To: to.String(), Months: []turnaroundJSON{}, Open: []openRepairJSON{}}
	for _, x := range done {
		out.Months = append(out.Months, turnaroundJSON{Month: x.Month.String(), Site: x.Site, Type: string(x.Kind), Repairs: x.Count,
			MedianHours: x.Median.Hours(), P90Hours: x.P90.Hours(), DaysOut: x.DaysOut})
	}
	for _, x := range open {
		out.Open = append(out.Open, openRepairJSON{Device: x.Device, Site: x.Site, Type: string(x.Kind), Since: x.From})
	}
	if format != "csv" {
		return c.reply(out)
	}
	w := c.w
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="repairs-`+out.From+`-`+out.To+`.csv"`)
	w.WriteHeader(http.StatusOK)
	cw := csv.NewWriter(w)
	cw.Write([]string{"month", "site", "type", "repairs", "median_hours", "p90_hours", "days_out"})
	num := func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
	for _, x := range out.Months {
		cw.Write([]string{x.Month, x.Site, x.Type, strconv.Itoa(x.Repairs), num(x.MedianHours), num(x.P90Hours), num(x.DaysOut)})
	}
	cw.Flush()
	return nil // the status is sent: a failed write means the client left
}
