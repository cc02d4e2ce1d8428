package api

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vitalwatch/vitalwatch/alerts/rules"
	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/devices"
)

// The summary judges by the thresholds in force for the patient (the team's and their own
// overrides), leaves the readings in doubt out and says how many and why, and takes the
// glucose period in days.
func TestPatientSummaryThresholdsAndDoubt(t *testing.T) {
	var lines []string
	at := func(d, h, m int) time.Time { return time.Date(2026, 11, d, h, m, 0, 0, time.UTC) }
	// cgmB's calibration fell due on Nov 19 at 12:00: its readings after that are in doubt.
	// 36 readings every 5 minutes 10:00-12:55 at 6.0; 12:05-12:55 (11) after the due date,
	// and the one at 10:30 flagged: 24 count.
	for i := range 36 {
		fields := "value=6"
		if i == 6 {
			fields = `value=2.1,flags="sensor_malfunction,battery_low"`
		}
		lines = append(lines, line("glucose", "device=cgmB,patient=pA1,site=sA", fields, at(19, 10, 5*i)))
	}
	// Meter readings at the station: 4.2 6.0 9.5 12.0 and a flagged 30.0. With the team's
	// glucose_low below 4.4, 6.0 and 9.5 are in the target range 4.4-10.0: 50%.
	for i, v := range []string{"value=4.2", "value=6", "value=9.5", "value=12", `value=30,flags="strip_error"`} {
		lines = append(lines, line("glucose", "device=stA,patient=pA1,site=sA,source=fingerstick", v, at(10, 8+i, 0)))
	}
	// Home BP 128/80 every morning Nov 10-19; one more on Nov 16 at 210/120 with cuff_loose.
	for d := 10; d <= 19; d++ {
		lines = append(lines, line("bp", "device=dA2,patient=pA1,site=sA", "systolic=128,diastolic=80", at(d, 7, 0)))
	}
	lines = append(lines, line("bp", "device=dA2,patient=pA1,site=sA", `systolic=210,diastolic=120,flags="cuff_loose"`, at(16, 7, 5)))
	f := influxFixture(t, lines)
	seed := audit.WithActor(context.Background(), "test:seed")
	if err := f.store.CreateDevices(seed, []devices.Device{{ID: "cgmB", Kind: devices.CGM, SiteID: "sA", Mode: devices.Home,
		Status: devices.Active, NextCalibration: at(19, 12, 0), SecretHash: devices.HashSecret("secret of cgmB")}}); err != nil {
		t.Fatal(err)
	}
	if err := f.store.SetOverrides(seed, rules.TeamOverrides, "tA", rules.Overrides{"glucose_low": {"below": 4.4}}); err != nil {
		t.Fatal(err)
	}
	series := f.api.opts.Series
	api, err := New(Options{Gatherer: prometheus.NewRegistry(), Registry: f.store, Devices: f.view, Series: series,
		Overrides: f.store, OverrideRules: rules.DefaultRules(), Auth: registryPrincipals, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	f.api = api
	doc := loadOpenAPI(t)
	path := "/patients/pA1/summary?to=2026-11-20T12:00:00Z"

	var got summaryJSON
	f.get("docA", path, &got)
	if err := doc.checkAnswer("GET", "/patients/{id}/summary", 200, f.call("docA", "GET", path, "").Body.Bytes()); err != nil {
		t.Error(err)
	}
	excl := func(e excludedJSON) string { return fmt.Sprint(e.Readings, e.ByReason) }
	if c := got.CGM; c.Readings != 24 || c.Mean != 6 || excl(c.Excluded) != "12 [{calibration_overdue 11} {sensor_malfunction 1}]" {
		t.Errorf("CGM = %d readings, mean %v, excluded %s; want 24 of 6.0, 12 excluded (11 calibration_overdue, 1 sensor_malfunction)",
			c.Readings, c.Mean, excl(c.Excluded))
	}
	m := got.Meter
	if m.Readings != 4 || m.Targets.Low != 4.4 || m.Targets.High != 10 || m.Targets.VeryHigh != 16.7 ||
		m.InTarget.Readings != 2 || m.InTarget.Percent != 50 || m.VeryHigh.Readings != 0 || excl(m.Excluded) != "1 [{strip_error 1}]" {
		t.Errorf("Meter = %+v; want 4 readings, 2 (50%%) in 4.4-10.0, none very high, one strip_error left out", m)
	}
	h := got.HomeBP
	if h.Mean.Systolic != 128 || h.Readings != 7 || h.AtOrAboveTarget || h.Target.Systolic != 135 || excl(h.Excluded) != "1 [{cuff_loose 1}]" {
		t.Errorf("HomeBP = %+v; want 128/80 over 7, below 135/85, one cuff_loose left out", h)
	}
	if fmt.Sprint(got.Overrides) != "[team]" {
		t.Errorf("overrides = %v; want [team]", got.Overrides)
	}

	// The patient's own bp_home_average target of 125 systolic puts 128 above it.
	if err := f.store.SetOverrides(seed, rules.PatientOverrides, "pA1", rules.Overrides{"bp_home_average": {"systolic_at_or_above": 125}}); err != nil {
		t.Fatal(err)
	}
	f.get("docA", path+"&glucose_unit=mg/dL", &got)
	if h := got.HomeBP; !h.AtOrAboveTarget || h.Target.Systolic != 125 || h.Target.Diastolic != 85 || fmt.Sprint(got.Overrides) != "[team patient]" {
		t.Errorf("with the patient's 125: HomeBP above %v, target %+v, overrides %v; want above 125/85, [team patient]", h.AtOrAboveTarget, h.Target, got.Overrides)
	}
	if lo := got.Meter.Targets.LowMgdL; lo == nil || *lo != 4.4*18.016 {
		t.Errorf("meter target low in mg/dL = %v; want %v", lo, 4.4*18.016)
	}

	// 90 days of glucose reach the meter readings of Nov 10 as 14 do; the period says 90.
	f.get("docA", path+"&days=90", &got)
	if got.CGM.Period.Days != 90 || !got.CGM.Period.From.Equal(time.Date(2026, 8, 22, 0, 0, 0, 0, time.UTC)) || got.Meter.Readings != 4 {
		t.Errorf("days=90: CGM period %+v, meter readings %d; want 90 days from Aug 22, 4", got.CGM.Period, got.Meter.Readings)
	}
	for _, q := range []string{"&days=0", "&days=91", "&days=two"} {
		if w := f.call("docA", "GET", path+q, ""); w.Code != 400 || !strings.Contains(w.Body.String(), "days") {
			t.Errorf("GET summary%s = %d %s; want 400 naming days", q, w.Code, w.Body)
		}
	}
}
