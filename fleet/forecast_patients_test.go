package fleet

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/forecast"
	"github.com/vitalwatch/vitalwatch/reallocation"
	"github.com/vitalwatch/vitalwatch/usage"
)

// The day-by-day counts of patients on a plan for a kind are, at the end of each local day,
// those patientsOn replays up to that moment.
func TestAttachPatientsMatchesReplay(t *testing.T) {
	now := time.Date(2026, 11, 15, 0, 0, 0, 0, time.UTC)
	rs := growthRecords(now) // changes 13 months and 1 month before now
	// A patient whose changes the log holds out of their times' order: created with
	// hypertension at "flat" 20 days ago, but logged after a change to diabetes dated 30 days
	// ago, and one moved to "up" 10 days ago, logged last.
	rs = append(rs,
		devices.PatientRecord{Patient: "late", At: now.AddDate(0, 0, -20), Site: "flat", Plans: []string{"hypertension"}, PlansSet: true},
		devices.PatientRecord{Patient: "late", At: now.AddDate(0, 0, -30), Site: "flat", Plans: []string{"diabetes"}, PlansSet: true},
		devices.PatientRecord{Patient: "late", At: now.AddDate(0, 0, -10), Site: "up"})
	first := usage.DayOf(now.AddDate(0, -14, 0), time.UTC)
	last := usage.DayOf(now.AddDate(0, 0, -1), time.UTC)
	f, _ := first.Number()
	l, _ := last.Number()
	mk := func(site string, kind devices.Kind) Demand {
		return Demand{Site: site, Kind: kind, First: first, Last: last, Daily: make([]float64, l-f+1)}
	}
	hist := []Demand{mk("up", devices.BPCuff), mk("flat", devices.BPCuff), mk("up", devices.GlucoseMeter),
		mk("flat", devices.CGM), mk("up", devices.Station)}
	attachPatients(rs, hist, func(string) *time.Location { return time.UTC })
	if hist[4].Patients != nil || hist[4].Condition != "" {
		t.Errorf("stations: %q %v; want no condition and no patients", hist[4].Condition, hist[4].Patients)
	}
	if hist[0].Condition != "hypertension" || hist[2].Condition != "diabetes" {
		t.Errorf("conditions %q, %q; want hypertension, diabetes", hist[0].Condition, hist[2].Condition)
	}
	for _, h := range hist[:4] {
		for t0 := range h.Daily {
			end := usage.DayNumbered(f + t0 + 1).Start(time.UTC).Add(-time.Millisecond)
			on := patientsOn(rs, end)
			cond := map[devices.Kind]int{devices.BPCuff: 0, devices.GlucoseMeter: 1, devices.CGM: 1}[h.Kind]
			if want := float64(on[siteCondition{h.Site, cond}]); h.Patients[t0] != want {
				t.Fatalf("%s %s on %s: %v patients; want %v", h.Site, h.Kind, usage.DayNumbered(f+t0), h.Patients[t0], want)
			}
		}
	}
	if p := hist[0].Patients; p[0] != 0 || p[len(p)-1] != 120 {
		t.Errorf("up's hypertensive patients run %v..%v; want 0 (before the log) .. 120", p[0], p[len(p)-1])
	}
}

// patientLog is a fake registry log of patients.
type patientLog []devices.PatientRecord

func (p patientLog) EachPatientRecord(_ context.Context, each func(devices.PatientRecord) error) error {
	return eachOf(p, each)
}

// eachOf calls each with every record, as a registry's EachPatientRecord does.
func eachOf(records []devices.PatientRecord, each func(devices.PatientRecord) error) error {
	for _, r := range records {
		if err := each(r); err != nil {
			return err
		}
	}
	return nil
}

// patientsFixture: from 1 August to 14 November 2026 (106 days, Shanghai), three centres:
//
//	grow:   61 hypertensive patients on 1 July, one more each day from 2 August (61 + i at the
//	        end of day i); every patient measures with a cuff every day but Sunday
//	steady: 10 hypertensive patients since 1 July, measuring every day but Sunday
//	grow also has a station used 5 times a day, a kind no plan asks for
func patientsFixture(t *testing.T) *Reports {
	t.Helper()
	ctx := context.Background()
	st := openSQLite(t)
	admin := audit.WithActor(ctx, "test")
	if err := st.CreateSites(admin, []devices.Site{
		{ID: "grow", Name: "Growing CHC", Lat: 31.20, Lon: 121.40, TimeZone: shanghi},
		{ID: "steady", Name: "Steady CHC", Lat: 31.22, Lon: 121.42, TimeZone: shanghi},
	}); err != nil {
		t.Fatal(err)
	}
	loc, _ := time.LoadLocation(shanghi)
	day0 := time.Date(2026, 8, 1, 9, 0, 0, 0, loc)
	var ds []devices.Device
	var uses []usage.Use
	var log patientLog
	add := func(site string, patients func(i int) int, station bool) {
		for k := range patients(105) {
			at := time.Date(2026, 7, 1, 9, 0, 0, 0, loc)
			if k >= patients(0) {
				at = day0.AddDate(0, 0, k-patients(0)+1)
			}
			log = append(log, devices.PatientRecord{Patient: fmt.Sprintf("%s-%d", site, k), At: at.UTC(), Site: site,
				Plans: []string{"Hypertension: BP daily"}, PlansSet: true})
			ds = append(ds, devices.Device{ID: fmt.Sprintf("cuff-%s-%d", site, k), Kind: devices.BPCuff, SiteID: site, Mode: devices.Home,
				Status: devices.Active, InService: since, SecretHash: "$7$101$c2FsdA==$a2V5"})
		}
		if station {
			ds = append(ds, devices.Device{ID: "st-" + site, Kind: devices.Station, SiteID: site, Mode: devices.StationMode,
				Status: devices.Active, RatedUsesPerDay: 10, InService: since, SecretHash: "$7$101$c2FsdA==$a2V5"})
		}
		for i := range 106 {
			d := day0.AddDate(0, 0, i)
			if d.Weekday() != time.Sunday {
				for k := range patients(i) {
					uses = append(uses, usage.Use{Device: fmt.Sprintf("cuff-%s-%d", site, k), Site: site, At: d, Day: usage.DayOf(d, loc)})
				}
			}
			if station {
				for u := range 5 {
					at := d.Add(time.Duration(u) * time.Minute)
					uses = append(uses, usage.Use{Device: "st-" + site, Site: site, At: at, Day: usage.DayOf(at, loc)})
				}
			}
		}
	}
	add("grow", func(i int) int { return 61 + i }, true)
	add("steady", func(int) int { return 10 }, false)
	if err := st.CreateDevices(admin, ds); err != nil {
		t.Fatal(err)
	}
	if _, err := st.RecordUses(ctx, uses); err != nil {
		t.Fatal(err)
	}
	r, err := New(Deps{Store: st, Moves: st, Patients: log, Directory: st.LoadDirectory, Now: func() time.Time { return now }},
		reallocation.DefaultThresholds())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Every patient measuring every day but Sunday, and one more patient a day: the cuffs'
// forecast follows the patients, exactly; a centre whose patients hold steady, and stations,
// which no plan asks for, are forecast from their use alone.
func TestForecastFromPatients(t *testing.T) {
	r := patientsFixture(t)
	fs, err := r.Forecast(context.Background(), Scope{})
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]DemandForecast{}
	for _, f := range fs {
		by[f.Site+" "+string(f.Kind)] = f
	}
	g := by["grow bp_cuff"]
	if g.Driver != DriverPatients || g.Model != "ETS(A,N,A7)×patients" || g.Condition != "hypertension" || g.Patients != 166 || len(g.Months) != 3 {
		t.Fatalf("grow's cuffs: %+v; want the patient-driven ETS(A,N,A7)×patients, 166 hypertensive patients", g)
	}
	loc, _ := time.LoadLocation(shanghi)
	lastDay := time.Date(2026, 11, 14, 0, 0, 0, 0, loc)
	for _, m := range g.Months {
		// Day h after 14 November: 166 + h patients, all measuring but on Sundays.
		var want, patients float64
		days := 0
		for d := m.Month.FirstDay().Start(loc); d.Month() == m.Month.FirstDay().Start(loc).Month(); d = d.AddDate(0, 0, 1) {
			h := float64(int(d.Sub(lastDay).Hours()/24 + 0.5))
			patients += 166 + h
			if d.Weekday() != time.Sunday {
				want += 166 + h
			}
			days++
		}
		want /= float64(days)
		patients /= float64(days)
		if !near(m.Mean, want, 1e-6) || !near(m.Patients, patients, 1e-9) || m.Hi95-m.Lo95 > 1e-3*want {
			t.Errorf("grow's cuffs in %s: %+v; want %.4f a day, from %.1f patients", m.Month, m, want, patients)
		}
	}
	if s := by["steady bp_cuff"]; s.Driver != DriverUsage || s.Why != forecast.UsagePatientsSteady || s.Patients != 10 {
		t.Errorf("steady's cuffs: %+v; want usage-only, patients unchanged", s)
	} else if u, _ := forecast.Fit(mustHistory(t, r, "steady", devices.BPCuff)); s.Months[0].Point != u.Mean(17, 47) || s.Model != u.Name() {
		t.Errorf("steady's cuffs in December: %s %+v; want the usage-only %s %+v", s.Model, s.Months[0].Point, u.Name(), u.Mean(17, 47))
	}
	if s := by["grow station"]; s.Driver != DriverUsage || s.Why != forecast.UsageNoPatients || s.Condition != "" || !near(s.Months[0].Mean, 5, 1e-6) {
		t.Errorf("grow's station: %+v; want usage-only (no plan), 5 a day", s)
	}
}

func mustHistory(t *testing.T, r *Reports, site string, kind devices.Kind) []float64 {
	t.Helper()
	hist, err := r.DemandHistory(context.Background(), Scope{Sites: []string{site}, Kind: kind})
	if err != nil || len(hist) != 1 {
		t.Fatalf("DemandHistory(%s, %s) = %v, %v", site, kind, hist, err)
	}
	return hist[0].Daily
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// On a synthetic city whose home demand follows its patients (cityDemands: 8 centres, 42
// series), the forecast from the patients where they drive the demand better beats the
// usage-only one at every horizon, and both beat last week repeated.
func TestPatientDrivenBacktestCity(t *testing.T) {
	hist := cityDemands(8, 7)
	series := make([]forecast.Series, len(hist))
	for i, h := range hist {
		series[i] = forecast.Series{Demand: h.Daily, Patients: h.Patients}
	}
	o := forecast.BacktestOptions{MinTrain: 300, Step: 49}
	usageOnly, withPatients := forecast.BacktestSeries(series, false, o), forecast.BacktestSeries(series, true, o)
	driven := 0
	for m, n := range withPatients[0].Models {
		if strings.HasSuffix(m, "×patients") {
			driven += n
		}
	}
	for k := range usageOnly {
		u, p := usageOnly[k], withPatients[k]
		t.Logf("horizon %d: %d forecasts, MASE %.3f with patients, %.3f usage-only, %.3f baseline; MAPE %.1f%%, %.1f%%, %.1f%%; 80%%/95%% covered %.0f%%/%.0f%%",
			p.Horizon, p.Forecast, p.MASE, u.MASE, p.BaselineMASE, p.MAPE, u.MAPE, p.BaselineMAPE, 100*p.Covered80, 100*p.Covered95)
		if p.Forecast == 0 || !(p.MASE < u.MASE) || !u.Beats() || !p.Beats() {
			t.Errorf("horizon %d: MASE %.3f with patients, %.3f usage-only, %.3f baseline; want with patients < usage-only < baseline",
				p.Horizon, p.MASE, u.MASE, p.BaselineMASE)
		}
	}
	t.Logf("horizon 1: models %v; usage-only because %v", withPatients[0].Models, withPatients[0].Why)
	if driven < withPatients[0].Forecast/4 {
		t.Errorf("%d of %d forecasts patient-driven at horizon 1; want a good share", driven, withPatients[0].Forecast)
	}
}
