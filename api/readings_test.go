package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/fleet"
	"github.com/vitalwatch/vitalwatch/influx"
	"github.com/vitalwatch/vitalwatch/internal/testsrv"
	"github.com/vitalwatch/vitalwatch/reading"
	"github.com/vitalwatch/vitalwatch/reallocation"
)

// noReadings is an InfluxDB without readings, for the access checks of the readings routes.
type noReadings struct{}

func (noReadings) SeriesPoints(context.Context, influx.Series, int) ([]influx.Point, bool, error) {
	return nil, false, nil
}

func (noReadings) SeriesWindows(context.Context, influx.Series, time.Duration) ([]influx.Window, error) {
	return nil, nil
}

func (noReadings) PatientReadings(context.Context, string, time.Time, time.Time, func(reading.Message)) error {
	return nil
}

// serveSeries makes the fixture's API read readings from series.
func serveSeries(f *registryFixture, series ReadingSeries) {
	f.t.Helper()
	reports, err := fleet.New(fleet.Deps{Store: f.store, Moves: f.store, Directory: f.store.LoadDirectory}, reallocation.DefaultThresholds())
	if err != nil {
		f.t.Fatal(err)
	}
	f.api, err = New(Options{Gatherer: prometheus.NewRegistry(), DeadLetters: f.store, Registry: f.store, Devices: f.view,
		Fleet: reports, Series: series, Auth: registryPrincipals, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		f.t.Fatal(err)
	}
}

// influxFixture is the registry fixture with a real InfluxDB holding lines, and a CGM cgmA at
// site sA.
func influxFixture(t *testing.T, lines []string) *registryFixture {
	t.Helper()
	f := newRegistryFixture(t)
	seed := audit.WithActor(context.Background(), "test:seed")
	if err := f.store.CreateDevices(seed, []devices.Device{{ID: "cgmA", Kind: devices.CGM, SiteID: "sA", Mode: devices.Home,
		Status: devices.Active, SecretHash: devices.HashSecret("secret of cgmA")}}); err != nil {
		t.Fatal(err)
	}
	f.refresh()
	ix := testsrv.StartInflux(t, testsrv.InfluxOptions{})
	w := influx.NewWriter(influx.Config{URL: ix.URL, Bucket: ix.Bucket})
	defer w.Close()
	for len(lines) > 0 {
		n := min(len(lines), 5000)
		if err := w.Write(context.Background(), []byte(strings.Join(lines[:n], "\n")+"\n")); err != nil {
			t.Fatal(err)
		}
		lines = lines[n:]
	}
	r := influx.NewReader(influx.Config{URL: ix.URL, Bucket: ix.Bucket})
	t.Cleanup(r.Close)
	serveSeries(f, r)
	return f
}

// get calls GET path as token, wants 200 and decodes the answer into v.
func (f *registryFixture) get(token, path string, v any) {
	f.t.Helper()
	w := f.call(token, "GET", path, "")
	if w.Code != http.StatusOK {
		f.t.Fatalf("GET %s as %s = %d %s", path, token, w.Code, w.Body)
	}
	if err := json.Unmarshal(w.Body.Bytes(), v); err != nil {
		f.t.Fatal(err)
	}
}

// line is a line of line protocol at t (milliseconds).
func line(measurement, tags, fields string, t time.Time) string {
	return fmt.Sprintf("%s,%s %s %d", measurement, tags, fields, t.UnixMilli())
}

var readingsDay = time.Date(2026, 11, 19, 8, 0, 0, 0, time.UTC)

// A patient's readings of one type come from every device that measured them, as stored, with
// context and quality flags; a device's name no patient; the parameters are checked.
func TestPatientAndDeviceReadings(t *testing.T) {
	at := func(m int) time.Time { return readingsDay.Add(time.Duration(m) * time.Minute) }
	f := influxFixture(t, []string{
		line("glucose", "context=fasting,device=dA2,device_type=bp_cuff,patient=pA1,site=sA", "value=5.4", at(0)),
		line("glucose", "device=stA,patient=pA1,site=sA,source=fingerstick", `value=7.25,flags="strip_error,battery_low"`, at(10)),
		line("glucose", "device=dA2,patient=pA2,site=sA", "value=9", at(20)),                       // another patient's
		line("bp", "device=dA2,patient=pA1,site=sA", "systolic=128,diastolic=82,pulse=70", at(30)), // another type
		line("glucose", "device=dA2,patient=pA1,site=sA", "value=6", at(120)),                      // after to
	})
	doc := loadOpenAPI(t)
	q := "?type=glucose&from=2026-11-19T08:00:00Z&to=2026-11-19T10:00:00Z"
	var got readingSeriesJSON
	f.get("docA", "/patients/pA1/readings"+q, &got)
	type row struct {
		min       int
		device    string
		value     float64
		context   string
		flags     string
		hasSource bool
	}
	var rows []row
	for _, r := range got.Readings {
		rows = append(rows, row{int(r.Time.Sub(readingsDay) / time.Minute), r.Device, *r.Value, r.Context, strings.Join(r.Flags, ","), r.Source != ""})
	}
	want := []row{{0, "dA2", 5.4, "fasting", "", false}, {10, "stA", 7.25, "", "strip_error,battery_low", true}}
	if fmt.Sprint(rows) != fmt.Sprint(want) || got.Patient != "pA1" || got.Type != "glucose" || len(got.Windows) != 0 || got.Every != 0 {
		t.Errorf("patient readings = %+v %+v; want %+v", got, rows, want)
	}
	w := f.call("docA", "GET", "/patients/pA1/readings"+q, "")
	if err := doc.checkAnswer("GET", "/patients/{id}/readings", 200, w.Body.Bytes()); err != nil {
		t.Error(err)
	}

	w = f.call("fleetA", "GET", "/devices/dA2/readings?type=bp&from=2026-11-19T08:00:00Z&to=2026-11-19T10:00:00Z", "")
	if w.Code != 200 || strings.Contains(w.Body.String(), "pA1") || strings.Contains(w.Body.String(), "patient") {
		t.Errorf("device readings = %d %s; want 200 without the patient", w.Code, w.Body)
	}
	var dev readingSeriesJSON
	json.Unmarshal(w.Body.Bytes(), &dev)
	if len(dev.Readings) != 1 || dev.Device != "dA2" || *dev.Readings[0].Systolic != 128 || *dev.Readings[0].Diastolic != 82 ||
		*dev.Readings[0].Pulse != 70 || len(dev.Readings[0].Flags) != 0 {
		t.Errorf("device readings = %s", w.Body)
	}

	for q, param := range map[string]string{
		"":                        "type",
		"?type=sugar":             "type",
		"?type=bp&from=yesterday": "from",
		"?type=bp&to=2026-11-19":  "to",
		"?type=bp&from=2026-11-19T10:00:00Z&to=2026-11-19T08:00:00Z": "from",
		"?type=bp&from=2025-01-01T00:00:00Z&to=2026-11-19T08:00:00Z": "from",
		"?type=bp&every=-1h":  "every",
		"?type=bp&every=soon": "every",
		"?type=bp&every=1s":   "every", // 86400 windows in the default day
		"?type=bp&limit=5":    "limit",
	} {
		w := f.call("docA", "GET", "/patients/pA1/readings"+q, "")
		if w.Code != 400 || !strings.Contains(w.Body.String(), `"`+param) && !strings.Contains(w.Body.String(), param+":") {
			t.Errorf("GET readings%s = %d %s; want 400 naming %s", q, w.Code, w.Body, param)
		}
	}
}

// A range of more than 2000 readings comes as windows of whole minutes, at most 2000 of them,
// each the mean of its readings with their count; every chooses the width.
func TestReadingsDownsampled(t *testing.T) {
	from := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	// A reading every 3 minutes for 200 hours: 4000. The 6-minute window k holds two, 60+k%10
	// and 70+k%10: mean 65+k%10.
	var lines []string
	for i := range 4000 {
		v := 60 + (i/2)%10 + (i%2)*10
		lines = append(lines, line("heart_rate", "device=dA2,patient=pA1,site=sA", fmt.Sprintf("value=%d", v), from.Add(time.Duration(i)*3*time.Minute)))
	}
	f := influxFixture(t, lines)
	q := "?type=heart_rate&from=2026-10-01T00:00:00Z&to=" + from.Add(200*time.Hour).Format(time.RFC3339)

	var got readingSeriesJSON
	f.get("docA", "/patients/pA1/readings"+q, &got)
	if got.Every != 360 || len(got.Windows) != 2000 || len(got.Readings) != 0 {
		t.Fatalf("auto: every %d s, %d windows, %d readings; want 360 s, 2000 windows, no readings", got.Every, len(got.Windows), len(got.Readings))
	}
	for k, w := range got.Windows {
		if !w.Start.Equal(from.Add(time.Duration(k)*6*time.Minute)) || w.Count != 2 || w.Value == nil || *w.Value != float64(65+k%10) {
			t.Fatalf("auto window %d = %+v (value %v); want start %v, count 2, value %d", k, w, w.Value, from.Add(time.Duration(k)*6*time.Minute), 65+k%10)
		}
	}

	f.get("fleetA", "/devices/dA2/readings"+q+"&every=1h", &got)
	if got.Every != 3600 || len(got.Windows) != 200 {
		t.Fatalf("every=1h: every %d s, %d windows; want 3600 s, 200", got.Every, len(got.Windows))
	}
	for k, w := range got.Windows {
		if !w.Start.Equal(from.Add(time.Duration(k)*time.Hour)) || w.Count != 20 || *w.Value != 69.5 {
			t.Fatalf("hourly window %d = %+v (value %v); want count 20, value 69.5", k, w, *w.Value)
		}
	}
}

// The summary reads the patient's readings: a CGM's glucose without source counts as CGM,
// readings in doubt count for nothing, the home BP average takes only the home devices'.
func TestPatientSummaryFromInfluxDB(t *testing.T) {
	var lines []string
	cgm := func(at time.Time, tags, fields string) {
		lines = append(lines, line("glucose", "device=cgmA,device_type=cgm,patient=pA1,site=sA"+tags, fields, at))
	}
	// 12 CGM readings 5 minutes apart on Nov 19: 9 in range, 2 above 10.0, 1 below 3.9: 75% in
	// range, each covering 5 minutes; a reading in doubt between two would take half of one's.
	for i, v := range []float64{5, 5, 5, 12, 5, 5, 3.5, 5, 5, 12, 5, 5} {
		cgm(readingsDay.Add(time.Duration(i)*5*time.Minute), "", fmt.Sprintf("value=%v", v))
	}
	cgm(readingsDay.Add(150*time.Second), "", `value=2,flags="sensor_malfunction"`)
	// Home BP every morning Nov 10-19 (the series began before the 7-day window Nov 13-19):
	// 180/110 before the window, 120+2k/80 on its day k: mean 126/80 over 7.
	for d := 10; d <= 19; d++ {
		at := time.Date(2026, 11, d, 7, 0, 0, 0, time.UTC)
		sys, dia := 180, 110
		if d >= 13 {
			sys, dia = 120+2*(d-13), 80
		}
		lines = append(lines, line("bp", "device=dA2,device_type=bp_cuff,patient=pA1,site=sA", fmt.Sprintf("systolic=%d,diastolic=%d", sys, dia), at))
	}
	lines = append(lines,
		line("bp", "device=stA,patient=pA1,site=sA", "systolic=200,diastolic=120", time.Date(2026, 11, 15, 9, 0, 0, 0, time.UTC)), // office
		line("bp", "device=dA2,patient=pA1,site=sA", `systolic=190,diastolic=100,flags="cuff_loose"`, time.Date(2026, 11, 16, 9, 0, 0, 0, time.UTC)),
		line("bp", "device=dA2,patient=pA2,site=sA", "systolic=170,diastolic=100", time.Date(2026, 11, 17, 9, 0, 0, 0, time.UTC)), // another patient
	)
	f := influxFixture(t, lines)
	doc := loadOpenAPI(t)

	path := "/patients/pA1/summary?to=2026-11-20T12:00:00Z&glucose_unit=mg/dL"
	var got summaryJSON
	f.get("docA", path, &got)
	if err := doc.checkAnswer("GET", "/patients/{id}/summary", 200, f.call("docA", "GET", path, "").Body.Bytes()); err != nil {
		t.Error(err)
	}
	bands := map[string]float64{}
	for _, b := range got.CGM.Bands {
		bands[b.Band] = b.Percent
	}
	if got.CGM.Readings != 12 || got.CGM.CoveredMinutes != 60 || bands["3.9-10.0"] != 75 || bands["10.1-13.9"] != 100.0*2/12 ||
		bands["3.0-3.8"] != 100.0/12 {
		t.Errorf("CGM = %d readings, %v min covered, bands %v; want 12, 60, 75%% in range", got.CGM.Readings, got.CGM.CoveredMinutes, bands)
	}
	mean := (9*5 + 2*12 + 3.5) / 12
	if d := got.CGM.Mean - mean; d > 1e-9 || d < -1e-9 || got.CGM.MeanMgdL == nil || *got.CGM.MeanMgdL-mean*18.016 > 1e-9 {
		t.Errorf("CGM mean = %v (%v mg/dL); want %v", got.CGM.Mean, got.CGM.MeanMgdL, mean)
	}
	if got.Meter.Readings != 0 {
		t.Errorf("meter readings = %d; want 0: a CGM's glucose is CGM glucose", got.Meter.Readings)
	}
	h := got.HomeBP
	if h.Mean.Systolic != 126 || h.Mean.Diastolic != 80 || h.Readings != 7 || h.Days != 7 || h.Day1 != nil || !h.Enough || len(h.Used) != 7 {
		t.Errorf("home BP = %+v; want 126/80 over 7 readings on 7 days", h)
	}
	if got.TimeZone != "UTC" || !got.AsOf.Equal(time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("as of %v in %s", got.AsOf, got.TimeZone)
	}

	var plain map[string]any
	f.get("docA", "/patients/pA1/summary?to=2026-11-20T12:00:00Z", &plain)
	if strings.Contains(fmt.Sprint(plain), "mgdl") {
		t.Errorf("without glucose_unit=mg/dL the answer has mg/dL fields: %v", plain)
	}
	for q, param := range map[string]string{"?glucose_unit=mg": "glucose_unit", "?to=later": "to",
		"?from=2026-11-21T00:00:00Z&to=2026-11-20T00:00:00Z": "from"} {
		if w := f.call("docA", "GET", "/patients/pA1/summary"+q, ""); w.Code != 400 || !strings.Contains(w.Body.String(), param) {
			t.Errorf("GET summary%s = %d %s; want 400 naming %s", q, w.Code, w.Body, param)
		}
	}
}
