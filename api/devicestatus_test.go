package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/devices"
	devstatus "github.com/vitalwatch/vitalwatch/devices/status"
)

// statusNow is the tracker's clock in the device status tests.
var statusNow = time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)

// serveDeviceStatus makes the fixture's API serve the devices' live status from tracker, with
// the store's alerts.
func serveDeviceStatus(f *registryFixture, tracker *devstatus.Tracker) {
	f.t.Helper()
	var err error
	f.api, err = New(Options{Gatherer: prometheus.NewRegistry(), DeadLetters: f.store, Registry: f.store, Devices: f.view,
		Alerts: f.store, DeviceStatus: tracker, Auth: registryPrincipals, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		f.t.Fatal(err)
	}
}

// statusFixture is the registry fixture (see registry_test.go) with live status:
//
//	dA1 (bp_cuff, sA): connected, heard 10 minutes ago, battery 15 %, firmware 2.1.0 where
//	    the registry says 2.0, clock 2 s behind, 5 readings and 1 dead letter in the last 24 h
//	    (and 9 readings 30 hours ago), an open battery_low alert: online, battery_low, faulty
//	dA2 (bp_cuff, sA): never heard: offline
//	stA (station, sA): heard 4 hours ago (its limit is 3 h), calibration due yesterday:
//	    offline, calibration_due
//	dB1 (bp_cuff, sB): dispatched in a move to sA, last will an hour ago: no state
//	dB2 (bp_cuff, sB): under maintenance, never heard: no state
func statusFixture(t *testing.T) (*registryFixture, *devstatus.Tracker) {
	t.Helper()
	f := newRegistryFixture(t)
	ctx := context.Background()
	seed := audit.WithActor(ctx, "test:seed")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	change := func(id string, fn func(*devices.Device)) {
		d, err := f.store.GetDevice(ctx, id)
		must(err)
		fn(&d)
		must(f.store.UpdateDevice(seed, d))
	}
	change("dA1", func(d *devices.Device) { d.Firmware = "2.0" })
	change("stA", func(d *devices.Device) { d.NextCalibration = statusNow.Add(-24 * time.Hour) })
	change("dB2", func(d *devices.Device) { d.Status = devices.Maintenance })
	m, err := f.store.ProposeMove(audit.WithActor(ctx, "user:fleetB"), devices.Move{Kind: devices.BPCuff, From: "sB", To: "sA", Devices: []string{"dB1"}})
	must(err)
	_, err = f.store.ApproveMove(seed, m.ID, "")
	must(err)
	_, err = f.store.DispatchMove(seed, m.ID)
	must(err)
	_, _, _, err = f.store.ApplyFinding(ctx, faultAt("battery_low", "dA1", "sA", alerts.Warning, 0))
	must(err)

	tr := devstatus.NewTracker(devstatus.DefaultLimits(), func() time.Time { return statusNow })
	heard := statusNow.Add(-10 * time.Minute)
	tr.Connection("dA1", devstatus.Connect, heard.Add(-time.Minute))
	tr.Observe([]devstatus.Message{
		{Device: "dA1", Received: statusNow.Add(-30 * time.Hour), Readings: 9},
		{Device: "dA1", Received: heard.Add(-time.Minute), Readings: 3, DeadLetters: 1},
		{Device: "dA1", Received: heard, Readings: 2, Measured: heard.Add(-2 * time.Second), OwnClock: true, Battery: 15, HasBattery: true},
		{Device: "dA1", Received: heard, Status: true, Measured: heard.Add(-2 * time.Second), OwnClock: true, Firmware: "2.1.0", Signal: -71, HasSignal: true},
		{Device: "stA", Received: statusNow.Add(-4 * time.Hour), Readings: 1},
		{Device: "dB1", Received: statusNow.Add(-time.Hour), Status: true, HasOnline: true},
	})
	f.refresh()
	serveDeviceStatus(f, tr)
	return f, tr
}

// ids returns the ids of a device page, and its next.
func ids(t *testing.T, w *httpResult) ([]string, string) {
	t.Helper()
	var page struct {
		Items []struct {
			ID     string    `json:"id"`
			States *[]string `json:"states"`
		} `json:"items"`
		Next string `json:"next"`
	}
	if err := json.Unmarshal(w.body, &page); err != nil {
		t.Fatalf("%v: %s", err, w.body)
	}
	out := []string{}
	for _, it := range page.Items {
		out = append(out, it.ID)
	}
	return out, page.Next
}

// httpResult is a status and a body.
type httpResult struct {
	code int
	body []byte
}

func (f *registryFixture) status(token, path string) *httpResult {
	w := f.call(token, "GET", path, "")
	return &httpResult{code: w.Code, body: w.Body.Bytes()}
}

func TestDeviceListStateFilter(t *testing.T) {
	f, _ := statusFixture(t)
	for _, tt := range []struct {
		token, path string
		want        []string
		next        string
	}{
		{"admin", "/devices?state=online", []string{"dA1"}, ""},
		{"admin", "/devices?state=offline", []string{"dA2", "stA"}, ""},
		{"admin", "/devices?state=battery_low", []string{"dA1"}, ""},
		{"admin", "/devices?state=calibration_due", []string{"stA"}, ""},
		{"admin", "/devices?state=faulty", []string{"dA1"}, ""},
		{"fleetA", "/devices?state=offline", []string{"dA2", "stA"}, ""},
		{"fleetB", "/devices?state=offline", []string{}, ""}, // dB1 is in transit, dB2 under maintenance
		{"fleetAB", "/devices?state=offline&kind=station", []string{"stA"}, ""},
		{"admin", "/devices?state=offline&limit=1", []string{"dA2"}, "dA2"},
		{"admin", "/devices?state=offline&limit=1&after=dA2", []string{"stA"}, "stA"},
		{"admin", "/devices?state=offline&limit=1&after=stA", []string{}, ""},
	} {
		w := f.status(tt.token, tt.path)
		if w.code != http.StatusOK {
			t.Errorf("GET %s as %s = %d %s; want 200", tt.path, tt.token, w.code, w.body)
			continue
		}
		got, next := ids(t, w)
		if !slices.Equal(got, tt.want) || next != tt.next {
			t.Errorf("GET %s as %s = %v next %q; want %v next %q", tt.path, tt.token, got, next, tt.want, tt.next)
		}
	}
	// Each item carries its states.
	var page struct {
		Items []struct {
			ID     string   `json:"id"`
			States []string `json:"states"`
		} `json:"items"`
	}
	w := f.status("admin", "/devices")
	if err := json.Unmarshal(w.body, &page); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{"dA1": {"online", "battery_low", "faulty"}, "dA2": {"offline"}, "stA": {"offline", "calibration_due"},
		"dB1": {}, "dB2": {}}
	for _, it := range page.Items {
		if !slices.Equal(it.States, want[it.ID]) {
			t.Errorf("%s in the list: states %v; want %v", it.ID, it.States, want[it.ID])
		}
	}
	if len(page.Items) != 5 {
		t.Errorf("the list holds %d devices; want 5", len(page.Items))
	}
	// A bad state is a 400 naming the parameter.
	w = f.status("admin", "/devices?state=sleepy")
	if w.code != http.StatusBadRequest || !strings.Contains(string(w.body), `"invalid"`) || !strings.Contains(string(w.body), "state") {
		t.Errorf("state=sleepy = %d %s; want 400 invalid naming state", w.code, w.body)
	}
	if w := f.status("fleetA", "/devices?state=online&site=sB"); w.code != http.StatusForbidden {
		t.Errorf("state=online&site=sB as fleetA = %d %s; want 403", w.code, w.body)
	}
}

func TestDeviceStatusOfOneDevice(t *testing.T) {
	f, _ := statusFixture(t)
	w := f.status("fleetA", "/devices/dA1/status")
	if w.code != http.StatusOK {
		t.Fatalf("GET /devices/dA1/status = %d %s", w.code, w.body)
	}
	var got deviceStatusJSON
	if err := json.Unmarshal(w.body, &got); err != nil {
		t.Fatal(err)
	}
	heard := statusNow.Add(-10 * time.Minute)
	if !slices.Equal(got.States, []string{"online", "battery_low", "faulty"}) || got.Status != "active" || got.Kind != "bp_cuff" || got.Site != "sA" {
		t.Errorf("dA1: %+v; want an active bp_cuff at sA, online, battery_low, faulty", got)
	}
	if c := got.Connection; c == nil || !c.Connected || c.Event != "connect" || !c.At.Equal(heard.Add(-time.Minute)) {
		t.Errorf("connection %+v; want connected by connect at %v", c, heard.Add(-time.Minute))
	}
	if !got.LastMessageAt.Equal(heard) || !got.LastTelemetryAt.Equal(heard) || got.OfflineAfterSeconds != 72*3600 {
		t.Errorf("last message %v, telemetry %v, offline after %d s; want %v, %v, 259200", got.LastMessageAt, got.LastTelemetryAt,
			got.OfflineAfterSeconds, heard, heard)
	}
	if b := got.Battery; b == nil || b.Percent != 15 || b.LowAtOrBelow != 20 || !b.At.Equal(heard.Add(-2*time.Second)) {
		t.Errorf("battery %+v; want 15 %% at %v, low at or below 20", b, heard.Add(-2*time.Second))
	}
	if s := got.Signal; s == nil || s.DBm != -71 {
		t.Errorf("signal %+v; want -71 dBm", s)
	}
	if fw := got.Firmware; fw.Reported != "2.1.0" || fw.Registry != "2.0" || !fw.Differs {
		t.Errorf("firmware %+v; want reported 2.1.0, registry 2.0, differs", fw)
	}
	if c := got.ClockOffset; c == nil || c.Ms != -2000 || !c.At.Equal(heard) {
		t.Errorf("clock offset %+v; want -2000 ms at %v", c, heard)
	}
	if fs := got.Faults; fs == nil || fs.Open != 1 || !slices.Equal(fs.Rules, []string{"battery_low"}) {
		t.Errorf("faults %+v; want 1 open, battery_low", fs)
	}
	if got.Last24h != (countsJSON{Readings: 5, DeadLetters: 1}) {
		t.Errorf("last 24 h %+v; want 5 readings and 1 dead letter (the 9 of 30 hours ago left out)", got.Last24h)
	}
	if !got.AsOf.Equal(statusNow) || got.Move != nil {
		t.Errorf("as of %v, move %+v; want %v and no move", got.AsOf, got.Move, statusNow)
	}

	// A device in transit says where it is going, and is not offline though its will came.
	w = f.status("admin", "/devices/dB1/status")
	got = deviceStatusJSON{}
	if err := json.Unmarshal(w.body, &got); err != nil || w.code != http.StatusOK {
		t.Fatalf("GET /devices/dB1/status = %d %s", w.code, w.body)
	}
	if got.Status != "in_transit" || len(got.States) != 0 || got.Move == nil || got.Move.From != "sB" || got.Move.To != "sA" ||
		got.Move.DispatchedAt.IsZero() || got.Connection == nil || got.Connection.Event != "last_will" || got.Connection.Connected {
		t.Errorf("dB1: %+v, move %+v; want in_transit, no state, its move from sB to sA, dispatched, last_will", got, got.Move)
	}
	// A device never heard of has empty counts, no battery, no connection, and is offline.
	w = f.status("admin", "/devices/dA2/status")
	got = deviceStatusJSON{}
	if err := json.Unmarshal(w.body, &got); err != nil || w.code != http.StatusOK {
		t.Fatalf("GET /devices/dA2/status = %d %s", w.code, w.body)
	}
	if !slices.Equal(got.States, []string{"offline"}) || got.Connection != nil || got.Battery != nil || got.Last24h != (countsJSON{}) ||
		got.Faults == nil || got.Faults.Open != 0 || got.Faults.Rules == nil {
		t.Errorf("dA2: %s; want offline, nothing seen, no open fault", w.body)
	}
	// The answer is codes, times and numbers: nothing in it is a sentence.
	var compact bytes.Buffer
	if err := json.Compact(&compact, w.body); err != nil || strings.Contains(compact.String(), " ") {
		t.Errorf("dA2's status %s holds a sentence (%v)", compact.String(), err)
	}
}

func TestSiteFleet(t *testing.T) {
	f, _ := statusFixture(t)
	w := f.status("fleetA", "/sites/sA/fleet")
	if w.code != http.StatusOK {
		t.Fatalf("GET /sites/sA/fleet = %d %s", w.code, w.body)
	}
	var got fleetJSON
	if err := json.Unmarshal(w.body, &got); err != nil {
		t.Fatal(err)
	}
	want := fleetJSON{Site: "sA", AsOf: statusNow, Devices: 3,
		States:   stateCountsJSON{Online: 1, Offline: 2, BatteryLow: 1, CalibrationDue: 1, Faulty: 1},
		Statuses: statusCountsJSON{Active: 3},
		Kinds: []kindCountsJSON{
			{Kind: "bp_cuff", Devices: 2, States: stateCountsJSON{Online: 1, Offline: 1, BatteryLow: 1, Faulty: 1}, Statuses: statusCountsJSON{Active: 2}},
			{Kind: "station", Devices: 1, States: stateCountsJSON{Offline: 1, CalibrationDue: 1}, Statuses: statusCountsJSON{Active: 1}},
		}}
	if !got.AsOf.Equal(want.AsOf) || got.Site != want.Site || got.Devices != want.Devices || got.States != want.States ||
		got.Statuses != want.Statuses || !slices.Equal(got.Kinds, want.Kinds) {
		t.Errorf("sA's fleet = %+v; want %+v", got, want)
	}
	// sB: dB1 in transit (still at sB until received) and dB2 under maintenance.
	w = f.status("admin", "/sites/sB/fleet")
	got = fleetJSON{}
	if err := json.Unmarshal(w.body, &got); err != nil || w.code != http.StatusOK {
		t.Fatalf("GET /sites/sB/fleet = %d %s", w.code, w.body)
	}
	if got.Devices != 2 || got.States != (stateCountsJSON{}) || got.Statuses != (statusCountsJSON{Maintenance: 1, InTransit: 1}) {
		t.Errorf("sB's fleet = %+v; want 2 devices in no state, 1 under maintenance and 1 in transit", got)
	}
}

// The routes are the device routes' access: a fleet manager of another site gets 403, a doctor
// 403 whatever the id, a missing id 404; and without live status the server says 503.
func TestDeviceStatusAccess(t *testing.T) {
	f, _ := statusFixture(t)
	for _, tt := range []struct {
		token, path string
		want        int
	}{
		{"fleetB", "/devices/dA1/status", http.StatusForbidden},
		{"fleetB", "/sites/sA/fleet", http.StatusForbidden},
		{"fleetB", "/devices?state=online&site=sA", http.StatusForbidden},
		{"docA", "/devices/dA1/status", http.StatusForbidden},
		{"docA", "/sites/sA/fleet", http.StatusForbidden},
		{"docA", "/devices?state=online", http.StatusForbidden},
		{"fleetA", "/devices/nope/status", http.StatusNotFound},
		{"fleetA", "/sites/nope/fleet", http.StatusNotFound},
		{"fleetAB", "/sites/sB/fleet", http.StatusOK},
		{"fleetA", "/devices/dA1/status?verbose=1", http.StatusBadRequest},
	} {
		if w := f.status(tt.token, tt.path); w.code != tt.want {
			t.Errorf("GET %s as %s = %d %s; want %d", tt.path, tt.token, w.code, w.body, tt.want)
		}
	}
	bare := newRegistryFixture(t)
	for _, path := range []string{"/devices/dA1/status", "/sites/sA/fleet", "/devices?state=online"} {
		if w := bare.status("admin", path); w.code != http.StatusServiceUnavailable {
			t.Errorf("GET %s without live status = %d %s; want 503", path, w.code, w.body)
		}
	}
	if w := bare.status("admin", "/devices"); w.code != http.StatusOK || strings.Contains(string(w.body), `"states"`) {
		t.Errorf("GET /devices without live status = %d %s; want 200 without states", w.code, w.body)
	}
}
