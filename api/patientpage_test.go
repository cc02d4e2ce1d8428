package api

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts/rules"
	"github.com/vitalwatch/vitalwatch/audit"
	devstatus "github.com/vitalwatch/vitalwatch/devices/status"
)

// The thresholds in force for a patient: each clinical threshold with the guideline default,
// the file's value, the team's and the patient's overrides where they have one, and the value
// in force (the patient's beats the team's).
func TestPatientThresholds(t *testing.T) {
	f := newRegistryFixture(t)
	seedSettings(f)
	seed := audit.WithActor(context.Background(), "test:seed")
	if err := f.store.SetOverrides(seed, rules.TeamOverrides, "tA", rules.Overrides{"glucose_low": {"below": 4.2}, "spo2_low": {"low_at_or_below": 93}}); err != nil {
		t.Fatal(err)
	}
	if err := f.store.SetOverrides(seed, rules.PatientOverrides, "pA1", rules.Overrides{"glucose_low": {"below": 4.5}, "cgm_low_episode": {"duration": 1200}}); err != nil {
		t.Fatal(err)
	}
	var got patientThresholdsJSON
	f.get("docA", "/patients/pA1/thresholds", &got)
	if err := loadOpenAPI(t).checkAnswer("GET", "/patients/{id}/thresholds", 200, f.call("docA", "GET", "/patients/pA1/thresholds", "").Body.Bytes()); err != nil {
		t.Error(err)
	}
	if got.Patient != "pA1" || got.Team != "tA" || got.RulesVersion != rules.DefaultVersion || fmt.Sprint(got.Overrides) != "[team patient]" {
		t.Errorf("thresholds of pA1: patient %q team %q version %d overrides %v", got.Patient, got.Team, got.RulesVersion, got.Overrides)
	}
	str := func(p *float64) string {
		if p == nil {
			return "-"
		}
		return fmt.Sprint(*p)
	}
	byKey := map[string]string{}
	for _, th := range got.Thresholds {
		byKey[th.Rule+"."+th.Key] = fmt.Sprintf("%s %s guideline %v default %v team %s patient %s in force %v",
			th.Kind, th.Unit, th.Guideline, th.Default, str(th.Team), str(th.Patient), th.InForce)
	}
	for key, want := range map[string]string{
		"glucose_low.below":           "number mmol/L guideline 3.9 default 3.9 team 4.2 patient 4.5 in force 4.5",
		"spo2_low.low_at_or_below":    "number % guideline 94 default 94 team 93 patient - in force 93",
		"cgm_low_episode.duration":    "duration  guideline 900 default 900 team - patient 1200 in force 1200",
		"heart_rate.high_at_or_above": "number /min guideline 111 default 111 team - patient - in force 111",
	} {
		if byKey[key] != want {
			t.Errorf("%s = %q; want %q", key, byKey[key], want)
		}
	}
	if _, ok := byKey["battery_low.low_at_or_below"]; ok {
		t.Error("a fault rule's threshold is listed for a patient")
	}
}

// A refused override names the threshold at fault in field, overrides.<rule>.<key>, so that a
// form can show it next to that threshold.
func TestOverrideErrorField(t *testing.T) {
	f := newRegistryFixture(t)
	seedSettings(f)
	for _, tt := range []struct{ body, field string }{
		{`{"overrides": {"glucose_low": {"below": 99}}}`, "overrides.glucose_low.below"},
		{`{"overrides": {"cgm_low_episode": {"duration": "a while"}}}`, "overrides.cgm_low_episode.duration"},
		{`{"overrides": {"glucose_very_low": {"below": 5}}}`, "overrides.glucose_very_low.below"},
		{`{"overrides": {"battery_low": {"low_at_or_below": 30}}}`, "overrides.battery_low"},
	} {
		w := f.call("docA", "PUT", "/patients/pA1/overrides", tt.body)
		var e struct{ Error errorJSON }
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
			t.Fatalf("PUT %s: %s: %v", tt.body, w.Body, err)
		}
		if w.Code != 400 || e.Error.Field != tt.field || !strings.HasPrefix(e.Error.Message, "overrides: ") {
			t.Errorf("PUT %s = %d %+v; want 400 with field %s", tt.body, w.Code, e.Error, tt.field)
		}
	}
}

// The devices lent to a patient now, with when the loan began and, with live status, their
// states; a patient with none has an empty list.
func TestPatientDevices(t *testing.T) {
	f := newRegistryFixture(t)
	tracker := devstatus.NewTracker(devstatus.DefaultLimits(), nil)
	serveDeviceStatus(f, tracker)
	var got page[patientDeviceJSON]
	f.get("docA", "/patients/pA1/devices", &got)
	if err := loadOpenAPI(t).checkAnswer("GET", "/patients/{id}/devices", 200, f.call("docA", "GET", "/patients/pA1/devices", "").Body.Bytes()); err != nil {
		t.Error(err)
	}
	if len(got.Items) != 1 {
		t.Fatalf("pA1's devices = %+v; want dA2", got.Items)
	}
	d := got.Items[0]
	if d.ID != "dA2" || d.Kind != "bp_cuff" || d.Site != "sA" || !d.LentFrom.Equal(lentSince) || fmt.Sprint(d.States) != "[offline]" {
		t.Errorf("pA1's device = %+v; want dA2, a bp_cuff of sA lent since %v, offline", d, lentSince)
	}
	f.get("docA", "/patients/pA2/devices", &got)
	if len(got.Items) != 0 {
		t.Errorf("pA2's devices = %+v; want none", got.Items)
	}
	// Returned: no longer the patient's.
	if err := f.store.ReturnDevice(audit.WithActor(context.Background(), "test"), "dA2", time.Now()); err != nil {
		t.Fatal(err)
	}
	f.refresh()
	f.get("docA", "/patients/pA1/devices", &got)
	if len(got.Items) != 0 {
		t.Errorf("after the return, pA1's devices = %+v; want none", got.Items)
	}
}

// source=cgm and source=meter split a patient's glucose as the summary's reports do: a CGM's
// readings (tagged cgm, or measured by a CGM without a source) and every other one.
func TestPatientReadingsBySource(t *testing.T) {
	at := func(m int) time.Time { return time.Date(2026, 11, 20, 8, m, 0, 0, time.UTC) }
	lines := []string{
		line("glucose", "device=cgmA,device_type=cgm,patient=pA1,site=sA", "value=6.1", at(0)),
		line("glucose", "device=cgmA,device_type=cgm,patient=pA1,site=sA", "value=6.2", at(5)),
		line("glucose", "device=hub,device_type=station,patient=pA1,site=sA,source=cgm", "value=6.3", at(10)),
		line("glucose", "device=stA,device_type=station,patient=pA1,site=sA,source=fingerstick,context=fasting", "value=5.4", at(15)),
		line("glucose", "device=m1,device_type=glucose_meter,patient=pA1,site=sA", "value=7.5", at(20)),
	}
	f := influxFixture(t, lines)
	base := "/patients/pA1/readings?type=glucose&from=2026-11-20T08:00:00Z&to=2026-11-20T09:00:00Z"
	values := func(q string) string {
		var s readingSeriesJSON
		f.get("docA", base+q, &s)
		var out []string
		for _, r := range s.Readings {
			out = append(out, fmt.Sprint(*r.Value))
		}
		return s.Source + " " + strings.Join(out, ",")
	}
	for q, want := range map[string]string{
		"":              " 6.1,6.2,6.3,5.4,7.5",
		"&source=cgm":   "cgm 6.1,6.2,6.3",
		"&source=meter": "meter 5.4,7.5",
	} {
		if got := values(q); got != want {
			t.Errorf("GET readings%s = %q; want %q", q, got, want)
		}
	}
	for _, q := range []string{"&source=pump", "&source=cgm&type=bp"} {
		path := base + q
		if q == "&source=cgm&type=bp" {
			path = strings.Replace(base, "type=glucose", "type=bp", 1) + "&source=cgm"
		}
		if w := f.call("docA", "GET", path, ""); w.Code != 400 || !strings.Contains(w.Body.String(), "source") {
			t.Errorf("GET %s = %d %s; want 400 naming source", path, w.Code, w.Body)
		}
	}
}
