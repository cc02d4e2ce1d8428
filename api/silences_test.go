package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/alerts/rules"
	"github.com/vitalwatch/vitalwatch/audit"
)

// seedSettings makes the fixture's API serve overrides (checked against the default rules) and
// silences, and keeps four silences: 1 of pA1, 2 of pB1, 3 of dA1, 4 of dB1.
func seedSettings(f *registryFixture) {
	f.t.Helper()
	seed := audit.WithActor(context.Background(), "test:seed")
	for _, s := range []string{"patient/pA1", "patient/pB1", "device/dA1", "device/dB1"} {
		subject, _ := alerts.ParseSubject(s)
		if _, err := f.store.CreateSilence(seed, alerts.Silence{Subject: subject, From: lentSince,
			Until: lentSince.Add(72 * time.Hour), Reason: "seeded"}); err != nil {
			f.t.Fatal(err)
		}
	}
	var err error
	f.api, err = New(Options{Gatherer: prometheus.NewRegistry(), Registry: f.store, Devices: f.view, Auth: registryPrincipals,
		Overrides: f.store, OverrideRules: rules.DefaultRules(), Silences: f.store, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		f.t.Fatal(err)
	}
}

// A bad override is refused naming the rule and the key; a good one is shown as set, durations
// as durations, and stays the patient's after a transfer.
func TestOverridesAPI(t *testing.T) {
	f := newRegistryFixture(t)
	seedSettings(f)
	for _, tt := range []struct{ body, want string }{
		{`{"overrides": {"glucose_low": {"blow": 4.5}}}`, "glucose_low.blow: unknown threshold"},
		{`{"overrides": {"glucose_low": {"below": 99}}}`, "glucose_low.below: 99 mmol/L is outside"},
		{`{"overrides": {"battery_low": {"low_at_or_below": 30}}}`, "battery_low: a fault rule"},
		{`{"overrides": {"glucose_low": {"below": 2.5}}}`, "glucose_low.below"},
		{`{"overrides": {"cgm_low_episode": {"duration": "soon"}}}`, "cgm_low_episode.duration"},
		{`{}`, "overrides"},
	} {
		w := f.want(400, "docA", "PUT", "/patients/pA1/overrides", tt.body, nil)
		if !strings.Contains(w.Body.String(), tt.want) {
			t.Errorf("PUT %s = %s; want a message naming %q", tt.body, w.Body, tt.want)
		}
	}
	var got overridesJSON
	f.want(200, "docA", "PUT", "/patients/pA1/overrides", `{"overrides": {"glucose_low": {"below": 4.5}, "cgm_low_episode": {"duration": "20m"}}}`, &got)
	want := `{"cgm_low_episode":{"duration":"20m0s"},"glucose_low":{"below":4.5}}`
	if got.Subject != "patient/pA1" || compact(got.Overrides) != want {
		t.Errorf("PUT the patient's overrides = %s %s; want patient/pA1 %s", got.Subject, got.Overrides, want)
	}
	f.want(200, "docA", "POST", "/patients/pA1/transfer", `{"team": "tB", "device_policy": "travel"}`, nil)
	f.want(403, "docA", "GET", "/patients/pA1/overrides", "", nil) // no longer docA's
	f.want(200, "docB", "GET", "/patients/pA1/overrides", "", &got)
	if compact(got.Overrides) != want {
		t.Errorf("the patient's overrides after the transfer = %s; want %s", got.Overrides, want)
	}
	var audit page[auditJSON]
	f.want(200, "admin", "GET", "/audit?subject=patient/pA1&action=overrides.set", "", &audit)
	if len(audit.Items) != 1 {
		t.Errorf("audit of the patient's overrides = %+v; want one overrides.set", audit.Items)
	}
}

// Lists of silences hold what the caller may see; one made through the API says who made it.
func TestSilencesAPI(t *testing.T) {
	f := newRegistryFixture(t)
	seedSettings(f)
	subjects := func(token, query string) []string {
		var p silencePage
		f.want(200, token, "GET", "/silences"+query, "", &p)
		out := []string{}
		for _, s := range p.Items {
			out = append(out, s.Subject)
		}
		return out
	}
	for _, tt := range []struct {
		token, query string
		want         []string
	}{
		{"admin", "", []string{"device/dB1", "device/dA1", "patient/pB1", "patient/pA1"}},
		{"docA", "", []string{"patient/pA1"}},
		{"fleetAB", "", []string{"device/dB1", "device/dA1"}},
		{"admin", "?limit=1&before=4", []string{"device/dA1"}},
		{"admin", "?active=true", []string{}}, // the seeded ones ended in 2026-11
	} {
		if got := subjects(tt.token, tt.query); strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("GET /silences%s as %s = %v; want %v", tt.query, tt.token, got, tt.want)
		}
	}
	var si silenceJSON
	f.want(201, "docA", "POST", "/silences", `{"subject": "patient/pA2", "until": "2099-01-01T00:00:00Z", "from": "2098-12-01T00:00:00Z", "reason": "in hospital"}`, &si)
	if si.CreatedBy != "user:docA" || si.Reason != "in hospital" || si.ID != 5 {
		t.Errorf("POST /silences = %+v; want silence 5 by user:docA", si)
	}
	if got := subjects("docA", "?active=true"); len(got) != 1 || got[0] != "patient/pA2" {
		t.Errorf("docA's active silences = %v; want pA2's", got)
	}
	w := f.want(400, "docA", "POST", "/silences", `{"subject": "patient/pA2", "until": "2098-01-01T00:00:00Z", "from": "2098-12-01T00:00:00Z", "reason": "x"}`, nil)
	if !strings.Contains(w.Body.String(), "until") {
		t.Errorf("a silence that ends before it starts = %s; want a message naming until", w.Body)
	}
	f.want(400, "docA", "POST", "/silences", `{"subject": "team/tA", "until": "2098-01-01T00:00:00Z", "reason": "x"}`, nil)
	f.want(204, "docA", "DELETE", "/silences/5", "", nil)
	f.want(404, "docA", "DELETE", "/silences/5", "", nil)
}

// compact is JSON without insignificant space.
func compact(raw []byte) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return b.String()
}

// Snoozing an alert silences its subject from now: for a duration or until a time, with a
// reason; the silence is listed like any other, and a later finding on the subject is recorded
// silenced. A bad body is a 400 that names what is wrong.
func TestSnoozeAlert(t *testing.T) {
	f := newRegistryFixture(t)
	seedAlerts(f)
	before := time.Now()
	var si silenceJSON
	w := f.want(201, "docA", "POST", "/alerts/1/snooze", `{"for": "72h", "reason": "in hospital"}`, &si)
	if si.Subject != "patient/pA1" || si.Reason != "in hospital" || si.CreatedBy != "user:docA" ||
		si.From.Before(before.Add(-time.Second)) || si.Until.Sub(si.From) != 72*time.Hour {
		t.Errorf("snooze of alert 1 = %+v; want pA1 silenced for 72h from now by user:docA", si)
	}
	if loc := w.Header().Get("Location"); loc != "/api/v1/silences/"+strconv.FormatInt(si.ID, 10) {
		t.Errorf("Location = %q; want the silence's address", loc)
	}
	until := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	f.want(201, "fleetA", "POST", "/alerts/3/snooze", `{"until": "`+until.Format(time.RFC3339)+`", "reason": "sent for repair"}`, &si)
	if si.Subject != "device/dA1" || !si.Until.Equal(until) {
		t.Errorf("snooze of alert 3 = %+v; want dA1 silenced until %v", si, until)
	}
	active, err := f.store.ListSilences(context.Background(), alerts.SilenceFilter{Scope: alerts.Scope{All: true}, EndsAfter: time.Now()})
	if err != nil || len(active) != 2 {
		t.Fatalf("active silences = %+v, %v; want the two snoozes", active, err)
	}
	// The next finding on pA1 is recorded, silenced with the snooze's reason.
	fd := clinicalAt("glucose_very_low", "pA1", "tA", alerts.Urgent, 0)
	fd.At = time.Now()
	if got := alerts.SilenceReason(fd, active); got != "in hospital" {
		t.Errorf("a finding on pA1 after the snooze is silenced for %q; want \"in hospital\"", got)
	}
	for _, tt := range []struct{ body, want string }{
		{`{"reason": "in hospital"}`, "until or for"},
		{`{"for": "72h", "until": "2099-01-01T00:00:00Z", "reason": "x"}`, "until or for"},
		{`{"for": "three days", "reason": "x"}`, "three days\\\" is not a positive duration"},
		{`{"for": "-1h", "reason": "x"}`, "-1h\\\" is not a positive duration"},
		{`{"for": "72h"}`, "reason"},
		{`{"for": "10000h", "reason": "x"}`, "until"},
	} {
		w := f.want(400, "docA", "POST", "/alerts/1/snooze", tt.body, nil)
		if !strings.Contains(w.Body.String(), tt.want) {
			t.Errorf("snooze %s = %s; want a message naming %s", tt.body, w.Body, tt.want)
		}
	}
}
