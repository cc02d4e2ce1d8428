package api

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/usage"
)

// The utilisation report over HTTP: JSON and CSV give the same figures, a fleet manager's
// report covers their sites only, and bad parameters get a 400 that says what is wrong.
func TestUtilisationReport(t *testing.T) {
	f := newRegistryFixture(t)
	now := time.Now().UTC()
	// Station stA at sA (UTC) entered service 40 days ago and was used 5 times yesterday.
	f.want(http.StatusOK, "admin", "PATCH", "/devices/stA", fmt.Sprintf(`{"in_service": %q}`, now.Add(-40*24*time.Hour).Format(time.RFC3339)), nil)
	yesterday := now.Add(-24 * time.Hour)
	var uses []usage.Use
	for i := range 5 {
		at := yesterday.Add(time.Duration(i) * time.Second)
		uses = append(uses, usage.Use{Device: "stA", Site: "sA", At: at, Day: usage.DayOf(at, time.UTC)})
	}
	uses = append(uses, usage.Use{Device: "dB1", Site: "sB", At: yesterday, Day: usage.DayOf(yesterday, time.UTC)})
	if _, err := f.store.RecordUses(context.Background(), uses); err != nil {
		t.Fatal(err)
	}
	month := usage.MonthOf(yesterday).String()

	var j utilisationJSON
	f.want(http.StatusOK, "fleetA", "GET", "/utilisation?by=device&from="+month+"&to="+month, "", &j)
	var st *figureJSON
	for i, fig := range j.Figures {
		if fig.Site != "sA" {
			t.Errorf("fleetA's report has a figure of site %s: %+v", fig.Site, fig)
		}
		if fig.Device == "stA" {
			st = &j.Figures[i]
		}
	}
	if st == nil {
		t.Fatalf("no figure for stA in %+v", j)
	}
	if st.Used != 5 || st.DaysInService < 2 || st.Capacity != float64(40*st.DaysInService) || st.Utilisation != 5/st.Capacity {
		t.Errorf("stA = %+v; want 5 uses over 40 x days in service", *st)
	}

	w := f.want(http.StatusOK, "fleetA", "GET", "/utilisation?by=device&format=csv&from="+month+"&to="+month, "", nil)
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Errorf("Content-Type = %q; want text/csv", ct)
	}
	rows, err := csv.NewReader(w.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(rows[0], ","); got != "month,district,site,type,device,mode,devices,days_in_service,used,capacity,utilisation,service_days,uncounted" {
		t.Errorf("CSV header = %s", got)
	}
	if len(rows) != len(j.Figures)+1 {
		t.Errorf("CSV has %d rows; want %d figures and a header", len(rows)-1, len(j.Figures))
	}
	found := false
	for _, r := range rows[1:] {
		if r[4] == "stA" {
			found = true
			want := []string{month, "", "sA", "station", "stA", "station", "1", strconv.Itoa(st.DaysInService), "5",
				strconv.Itoa(40 * st.DaysInService), strconv.FormatFloat(st.Utilisation, 'f', 4, 64), strconv.Itoa(st.DaysInService), "0"}
			if strings.Join(r, ",") != strings.Join(want, ",") {
				t.Errorf("CSV row = %v; want %v", r, want)
			}
		}
	}
	if !found {
		t.Errorf("no CSV row for stA: %v", rows)
	}

	// Rolled up by site, the admin sees both sites; sB's home cuffs have one day of use.
	j = utilisationJSON{}
	f.want(http.StatusOK, "admin", "GET", "/utilisation?by=site&from="+month+"&to="+month, "", &j)
	sites := map[string]bool{}
	for _, fig := range j.Figures {
		sites[fig.Site] = true
		if fig.Device != "" || fig.Type != "" {
			t.Errorf("a by=site figure names a device or type: %+v", fig)
		}
	}
	if !sites["sA"] || !sites["sB"] {
		t.Errorf("admin's by=site report covers %v; want sA and sB", sites)
	}

	for _, bad := range []struct{ query, says string }{
		{"by=week", "device, type, site"},
		{"from=2026-13", "from"},
		{"to=next", "to"},
		{"from=2026-10&to=2026-09", "before it starts"},
		{"from=2020-01&to=2026-01", "at most"},
		{"type=toaster", "type"},
		{"format=xml", "json or csv"},
		{"team=tA", "unknown parameter"},
	} {
		w := f.call("fleetA", "GET", "/utilisation?"+bad.query, "")
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), bad.says) || !strings.Contains(w.Body.String(), `"code"`) {
			t.Errorf("GET /utilisation?%s = %d %s; want 400 saying %q", bad.query, w.Code, w.Body, bad.says)
		}
	}
}

// The days of a month over HTTP: a station's uses on the day they were made, the days it was in
// service, none after today; a fleet manager's devices are their sites'; a bad month is a 400
// naming it.
func TestUtilisationDays(t *testing.T) {
	f := newRegistryFixture(t)
	now := time.Now().UTC()
	f.want(http.StatusOK, "admin", "PATCH", "/devices/stA", fmt.Sprintf(`{"in_service": %q}`, now.Add(-40*24*time.Hour).Format(time.RFC3339)), nil)
	yesterday := now.Add(-24 * time.Hour)
	var uses []usage.Use
	for i := range 5 {
		at := yesterday.Add(time.Duration(i) * time.Second)
		uses = append(uses, usage.Use{Device: "stA", Site: "sA", At: at, Day: usage.DayOf(at, time.UTC)})
	}
	if _, err := f.store.RecordUses(context.Background(), uses); err != nil {
		t.Fatal(err)
	}
	month := usage.MonthOf(yesterday).String()
	var j utilisationDaysJSON
	f.want(http.StatusOK, "fleetA", "GET", "/utilisation/days?type=station&month="+month, "", &j)
	if j.Month != month || len(j.Devices) != 1 || j.Devices[0].Device != "stA" || j.Devices[0].Site != "sA" {
		t.Fatalf("fleetA's station days of %s = %+v; want stA at sA only", month, j)
	}
	d := j.Devices[0]
	for _, day := range d.Days {
		switch {
		case day.Day == string(usage.DayOf(yesterday, time.UTC)):
			if day.Uses != 5 || !day.InService {
				t.Errorf("yesterday = %+v; want 5 uses, in service", day)
			}
		case day.Day > string(usage.DayOf(now, time.UTC)):
			if day.InService || day.Uses != 0 {
				t.Errorf("%s, after today, = %+v; want not in service", day.Day, day)
			}
		case day.Uses != 0:
			t.Errorf("%s = %+v; want no uses", day.Day, day)
		}
	}
	if d.Type != "station" || d.Rated != 40 || len(d.Days) < 28 || d.Days[0].Day != month+"-01" {
		t.Errorf("stA = %s rated %d with %d days from %s", d.Type, d.Rated, len(d.Days), d.Days[0].Day)
	}
	var all utilisationDaysJSON
	f.want(http.StatusOK, "admin", "GET", "/utilisation/days?month="+month, "", &all)
	sites := map[string]bool{}
	for _, x := range all.Devices {
		sites[x.Site] = true
	}
	if !sites["sA"] || !sites["sB"] {
		t.Errorf("the admin's days cover %v; want sA and sB", sites)
	}
	for _, bad := range []struct {
		user, query string
		code        int
		says        string
	}{
		{"fleetA", "month=2026-13", 400, "month"},
		{"fleetA", "type=toaster", 400, "type"},
		{"fleetA", "site=sB", 403, "sB"},
		{"fleetA", "from=2026-01", 400, "unknown parameter"},
	} {
		w := f.call(bad.user, "GET", "/utilisation/days?"+bad.query, "")
		if w.Code != bad.code || !strings.Contains(w.Body.String(), bad.says) {
			t.Errorf("GET /utilisation/days?%s = %d %s; want %d saying %q", bad.query, w.Code, w.Body, bad.code, bad.says)
		}
	}
}

// The plan on either basis says which it used; on the forecast it names the forecast month and
// gives each centre's forecast; a bad basis is a 400 naming the parameter.
func TestPlanBasis(t *testing.T) {
	f := newRegistryFixture(t)
	now := time.Now().UTC()
	f.want(http.StatusOK, "admin", "PATCH", "/devices/stA", fmt.Sprintf(`{"in_service": %q}`, now.Add(-40*24*time.Hour).Format(time.RFC3339)), nil)
	var uses []usage.Use
	for d := 1; d <= 30; d++ {
		day := now.Add(-time.Duration(d) * 24 * time.Hour)
		for i := range 50 {
			at := day.Truncate(24 * time.Hour).Add(8*time.Hour + time.Duration(i)*time.Minute)
			uses = append(uses, usage.Use{Device: "stA", Site: "sA", At: at, Day: usage.DayOf(at, time.UTC)})
		}
	}
	if _, err := f.store.RecordUses(context.Background(), uses); err != nil {
		t.Fatal(err)
	}
	var p planJSON
	f.want(http.StatusOK, "admin", "GET", "/reallocation/plan", "", &p)
	if p.Basis != "history" || p.ForecastMonth != "" {
		t.Errorf("plan = basis %q, forecast month %q; want history and none", p.Basis, p.ForecastMonth)
	}
	p = planJSON{}
	f.want(http.StatusOK, "admin", "GET", "/reallocation/plan?basis=forecast&type=station", "", &p)
	if want := usage.MonthOf(now).Next().String(); p.Basis != "forecast" || p.ForecastMonth != want {
		t.Errorf("plan = basis %q, forecast month %q; want forecast and %s", p.Basis, p.ForecastMonth, want)
	}
	// stA, 50 uses a day on its 40 rated, every day: short by one on the forecast too, whose
	// demand is 50 a day.
	if len(p.Short) != 1 || p.Short[0].Forecast == nil || p.Short[0].Forecast.Month != p.ForecastMonth ||
		p.Short[0].Forecast.Mean < 49.9 || p.Short[0].Forecast.Mean > 50.1 || p.Short[0].Demand != p.Short[0].Forecast.Mean {
		t.Errorf("plan on the forecast's short centres = %+v; want sA, forecast 50 a day", p.Short)
	}
	w := f.call("admin", "GET", "/reallocation/plan?basis=next", "")
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "basis") {
		t.Errorf("GET /reallocation/plan?basis=next = %d %s; want 400 naming basis", w.Code, w.Body)
	}
}

// Repairs over HTTP: a station under maintenance and back is a repair of this month at its
// site, in JSON and CSV; another still under maintenance is open; a fleet manager of another
// site sees neither; a bad format is a 400.
func TestRepairsRoute(t *testing.T) {
	f := newRegistryFixture(t)
	f.want(http.StatusOK, "admin", "PATCH", "/devices/stA", `{"status": "maintenance"}`, nil)
	time.Sleep(5 * time.Millisecond)
	f.want(http.StatusOK, "admin", "PATCH", "/devices/stA", `{"status": "active"}`, nil)
	f.want(http.StatusOK, "admin", "PATCH", "/devices/dB1", `{"status": "maintenance"}`, nil)
	m := usage.MonthOf(time.Now().UTC()).String()
	var j repairsJSON
	f.want(http.StatusOK, "admin", "GET", "/utilisation/repairs?from="+m+"&to="+m, "", &j)
	if len(j.Months) != 1 || j.Months[0].Site != "sA" || j.Months[0].Type != "station" || j.Months[0].Repairs != 1 ||
		!(j.Months[0].MedianHours > 0) || len(j.Open) != 1 || j.Open[0].Device != "dB1" {
		t.Errorf("repairs = %+v; want stA's one repair at sA and dB1 open", j)
	}
	j = repairsJSON{}
	f.want(http.StatusOK, "fleetA", "GET", "/utilisation/repairs?to="+m, "", &j)
	if len(j.Months) != 1 || len(j.Open) != 0 {
		t.Errorf("fleetA's repairs = %+v; want sA's only", j)
	}
	w := f.want(http.StatusOK, "admin", "GET", "/utilisation/repairs?format=csv&to="+m, "", nil)
	rows, err := csv.NewReader(w.Body).ReadAll()
	if err != nil || len(rows) != 2 || strings.Join(rows[0], ",") != "month,site,type,repairs,median_hours,p90_hours,days_out,from_fault,redirected_hours" || rows[1][1] != "sA" {
		t.Errorf("CSV = %v, %v; want the header and sA's row", rows, err)
	}
	if w := f.call("admin", "GET", "/utilisation/repairs?format=xml", ""); w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "format") {
		t.Errorf("format=xml = %d %s; want 400 naming format", w.Code, w.Body)
	}
}
