package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vitalwatch/vitalwatch/access"
	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/fleet"
	"github.com/vitalwatch/vitalwatch/ingest/deadletter"
	"github.com/vitalwatch/vitalwatch/reallocation"
	"github.com/vitalwatch/vitalwatch/store"
)

// The registry tests run the API against a real SQLite store seeded with two of everything:
//
//	site sA: team tA (patients pA1, pA2), devices dA1, dA2 (lent to pA1), stA (a station)
//	site sB: team tB (patient pB1), devices dB1, dB2 (lent to pB1)
//
// and dead letters of dA1, dB1 and an unregistered device. The principals, by bearer token:
// admin; docA, a doctor of tA; docB, of tB; fleetA, a fleet manager of sA; fleetB, of sB;
// fleetAB, of both.
var registryPrincipals = fakeAuth{
	"admin":   {UserID: "admin", Role: access.Admin},
	"docA":    {UserID: "docA", Role: access.Doctor, Teams: []string{"tA"}},
	"docB":    {UserID: "docB", Role: access.Doctor, Teams: []string{"tB"}},
	"fleetA":  {UserID: "fleetA", Role: access.FleetManager, Sites: []string{"sA"}},
	"fleetB":  {UserID: "fleetB", Role: access.FleetManager, Sites: []string{"sB"}},
	"fleetAB": {UserID: "fleetAB", Role: access.FleetManager, Sites: []string{"sB", "sA"}},
}

// lentSince is when dA2 and dB2 were lent.
var lentSince = time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)

// registryFixture is an API over a seeded store.
type registryFixture struct {
	t     *testing.T
	api   *API
	store *store.Store
	view  *devices.View
}

func newRegistryFixture(t *testing.T) *registryFixture {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "vw.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	seed := audit.WithActor(ctx, "test:seed")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.CreateSites(seed, []devices.Site{{ID: "sA", Name: "Riverside CHC"}, {ID: "sB", Name: "Hilltop CHC"}}))
	must(st.CreateTeams(seed, []devices.Team{{ID: "tA", SiteID: "sA", Name: "Team A"}, {ID: "tB", SiteID: "sB", Name: "Team B"}}))
	must(st.CreatePatients(seed, []devices.Patient{{ID: "pA1", TeamID: "tA", Plans: []string{"hypertension: BP daily"}},
		{ID: "pA2", TeamID: "tA"}, {ID: "pB1", TeamID: "tB"}}))
	home := func(id, site string) devices.Device {
		return devices.Device{ID: id, Kind: devices.BPCuff, SiteID: site, Mode: devices.Home, Status: devices.Active,
			SecretHash: devices.HashSecret("secret of " + id)}
	}
	station := home("stA", "sA")
	station.Kind, station.Mode, station.RatedUsesPerDay = devices.Station, devices.StationMode, 40
	must(st.CreateDevices(seed, []devices.Device{home("dA1", "sA"), home("dA2", "sA"), station, home("dB1", "sB"), home("dB2", "sB")}))
	must(st.AssignDevice(seed, "dA2", "pA1", lentSince))
	must(st.AssignDevice(seed, "dB2", "pB1", lentSince))
	var dls []deadletter.DeadLetter
	for i, dev := range []string{"dA1", "dB1", "ghost", "dA1", "dB1"} {
		dls = append(dls, deadletter.DeadLetter{Received: lentSince.Add(time.Duration(i) * time.Minute), Device: dev,
			Topic: "devices/" + dev + "/telemetry", Reason: "malformed_json", Index: -1, Payload: []byte("{"), PayloadSize: 1})
	}
	must(st.AddDeadLetters(ctx, dls, 0))

	f := &registryFixture{t: t, store: st, view: devices.NewView(devices.NewDirectory(-1, nil, nil, nil))}
	f.refresh()
	reports, err := fleet.New(fleet.Deps{Store: st, Moves: st, Faults: st, Directory: st.LoadDirectory}, reallocation.DefaultThresholds())
	if err != nil {
		t.Fatal(err)
	}
	f.api, err = New(Options{Gatherer: prometheus.NewRegistry(), DeadLetters: st, Registry: st, Devices: f.view,
		Fleet: reports, Auth: registryPrincipals, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// refresh loads the registry into the view, as serve does every refresh interval.
func (f *registryFixture) refresh() {
	f.t.Helper()
	if err := devices.Refresh(context.Background(), f.view, f.store); err != nil {
		f.t.Fatal(err)
	}
}

// call sends a request as the principal of token (none if empty) to /api/v1+path. A body that
// starts with "csv:" is sent as text/csv, any other as JSON.
func (f *registryFixture) call(token, method, path, body string) *httptest.ResponseRecorder {
	switch {
	case strings.HasPrefix(body, "csv:"):
		return f.callRaw(token, method, path, strings.NewReader(strings.TrimPrefix(body, "csv:")), "text/csv")
	case body != "":
		return f.callRaw(token, method, path, strings.NewReader(body), "application/json")
	}
	return f.callRaw(token, method, path, nil, "")
}

// callRaw sends a request with the body and Content-Type given.
func (f *registryFixture) callRaw(token, method, path string, body io.Reader, contentType string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "/api/v1"+path, body)
	req.RemoteAddr = "10.0.0.1:5000"
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	f.api.ServeHTTP(w, req)
	return w
}

// want calls and fails the test unless the status is status; it decodes the answer into v (if
// not nil) and returns the recorder.
func (f *registryFixture) want(status int, token, method, path, body string, v any) *httptest.ResponseRecorder {
	f.t.Helper()
	w := f.call(token, method, path, body)
	if w.Code != status {
		f.t.Fatalf("%s %s %s as %s = %d %s; want %d", method, path, body, token, w.Code, w.Body, status)
	}
	if v != nil {
		dec := json.NewDecoder(bytes.NewReader(w.Body.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			f.t.Fatalf("%s %s: answer %s: %v", method, path, w.Body, err)
		}
	}
	return w
}

// ids returns the ids of a list's items.
func itemIDs(t *testing.T, body []byte) []string {
	t.Helper()
	var p struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("list answer %s: %v", body, err)
	}
	out := []string{}
	for _, it := range p.Items {
		out = append(out, it.ID)
	}
	return out
}

// errorOf returns "code: message" of an error answer, or the body as it is.
func errorOf(body []byte) string {
	var e errorBody
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Code == "" {
		return string(body)
	}
	return e.Error.Code + ": " + e.Error.Message
}
