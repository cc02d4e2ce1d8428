package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/alerts/rules"
	"github.com/vitalwatch/vitalwatch/fleet"
	"github.com/vitalwatch/vitalwatch/influx"
	"github.com/vitalwatch/vitalwatch/reading"
	"github.com/vitalwatch/vitalwatch/reallocation"
)

// The OpenAPI document is checked by a validator of its own, kin-openapi: it loads and
// validates as OpenAPI 3, and the answers of the API to a set of representative requests (each
// kind of resource listed, read, created and changed, readings, the summary, device status,
// alerts, webhooks, and errors 400 to 415) validate against it with openapi3filter, status,
// headers and body, and so do the requests that succeed.

// kinDocument loads the served document with kin-openapi, validates it as OpenAPI 3, and
// returns it with a router that finds the operation of a request.
func kinDocument(t *testing.T) (*openapi3.T, routers.Router) {
	t.Helper()
	raw, err := json.Marshal(loadOpenAPI(t).raw)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		t.Fatalf("kin-openapi cannot load the document: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the document is not valid OpenAPI 3: %v", err)
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return doc, router
}

// validateExchange validates the answer w to req against the document, and req too when
// checkRequest; it returns every disagreement.
func validateExchange(router routers.Router, req *http.Request, reqBody []byte, w *httptest.ResponseRecorder, checkRequest bool) error {
	route, params, err := router.FindRoute(req)
	if err != nil {
		return err
	}
	ctx := context.Background()
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}}
	if checkRequest {
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			return err
		}
	}
	return openapi3filter.ValidateResponse(ctx, &openapi3filter.ResponseValidationInput{RequestValidationInput: in,
		Status: w.Code, Header: w.Header(), Body: io.NopCloser(bytes.NewReader(w.Body.Bytes())),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}})
}

// seriesOfTheFixture are readings in memory for the readings and summary routes: every
// reading of the patient pA1 or the device dA2 (a cuff lent to pA1 at site sA) is of its type,
// hourly over the range, with flags on one in ten.
type seriesOfTheFixture struct{}

func (seriesOfTheFixture) point(typ reading.Type, at time.Time, i int) influx.Point {
	p := influx.Point{Measurement: influx.Measurement(typ), Time: at,
		Tags: map[string]string{"device": "dA2", "device_type": "bp_cuff", "site": "sA", "patient": "pA1"}, Fields: map[string]any{}}
	switch typ {
	case reading.BP:
		p.Tags["position"] = "sitting"
		p.Fields["systolic"], p.Fields["diastolic"], p.Fields["pulse"] = 128.0+float64(i%7), 82.0, 70.0
	case reading.Glucose:
		p.Tags["context"], p.Tags["source"] = "fasting", "fingerstick"
		p.Fields["value"] = 6.1
	default:
		p.Fields["value"] = 97.0
	}
	if i%10 == 0 {
		p.Fields["flags"] = "cuff_loose"
	}
	return p
}

func (s seriesOfTheFixture) SeriesPoints(_ context.Context, q influx.Series, limit int) ([]influx.Point, bool, error) {
	var out []influx.Point
	for at, i := q.From.Truncate(time.Hour).Add(time.Hour), 0; at.Before(q.To); at, i = at.Add(time.Hour), i+1 {
		if len(out) == limit {
			return out, true, nil
		}
		out = append(out, s.point(q.Type, at, i))
	}
	return out, false, nil
}

func (seriesOfTheFixture) SeriesWindows(_ context.Context, q influx.Series, every time.Duration) ([]influx.Window, error) {
	var out []influx.Window
	for at := q.From.Truncate(every); at.Before(q.To); at = at.Add(every) {
		fields := map[string]float64{"value": 6.1}
		if q.Type == reading.BP {
			fields = map[string]float64{"systolic": 130, "diastolic": 82, "pulse": 70}
		}
		out = append(out, influx.Window{Start: at, Count: 2, Fields: fields})
	}
	return out, nil
}

func (seriesOfTheFixture) PatientReadings(_ context.Context, patient string, start, stop time.Time, each func(reading.Message)) error {
	if patient != "pA1" {
		return nil
	}
	for at := start.Truncate(time.Hour).Add(time.Hour); at.Before(stop); at = at.Add(6 * time.Hour) {
		each(reading.Message{Device: "dA2", Patient: patient, Readings: []reading.Reading{
			{Type: reading.BP, Time: at, Systolic: 142, Diastolic: 91, Pulse: 72, HasPulse: true, Position: "sitting"},
			{Type: reading.Glucose, Time: at.Add(time.Minute), Value: 7.2, Context: "fasting", Source: "fingerstick"},
			{Type: reading.SpO2, Time: at.Add(2 * time.Minute), Value: 96},
		}})
	}
	return nil
}

// openAPIFixture is the status fixture (devicestatus_test.go) with an open clinical alert of
// pA1 (alert 2, after the fault of dA1), the webhooks of seedWebhooks and the silences of
// seedSettings, and an API that serves all of it, readings from seriesOfTheFixture included.
func openAPIFixture(t *testing.T) *registryFixture {
	t.Helper()
	f, tracker := statusFixture(t)
	if _, _, _, err := f.store.ApplyFinding(context.Background(), clinicalAt("glucose_very_low", "pA1", "tA", alerts.Urgent, 0)); err != nil {
		t.Fatal(err)
	}
	seedWebhooks(f)
	seedSettings(f)
	reports, err := fleet.New(fleet.Deps{Store: f.store, Moves: f.store, Directory: f.store.LoadDirectory}, reallocation.DefaultThresholds())
	if err != nil {
		t.Fatal(err)
	}
	f.api, err = New(Options{Gatherer: prometheus.NewRegistry(), DeadLetters: f.store, Registry: f.store, Devices: f.view,
		Fleet: reports, Alerts: f.store, DeviceStatus: tracker, Series: seriesOfTheFixture{}, Auth: registryPrincipals,
		Overrides: f.store, OverrideRules: rules.DefaultRules(), Silences: f.store, Webhooks: f.store,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestAnswersFitTheOpenAPIDocument sends representative requests, in order, to one fixture
// (a request may see what an earlier one made) and validates each exchange with kin-openapi.
func TestAnswersFitTheOpenAPIDocument(t *testing.T) {
	_, router := kinDocument(t)
	f := openAPIFixture(t)
	for _, c := range []struct {
		token, method, path, body string
		want                      int
	}{
		// The registry: lists, one of each, creations and changes.
		{"admin", "GET", "/sites", "", 200},
		{"admin", "GET", "/sites/sA", "", 200},
		{"admin", "POST", "/sites", `{"id":"sN","name":"Northgate CHC","time_zone":"Asia/Shanghai"}`, 201},
		{"admin", "PATCH", "/sites/sN", `{"opening_hours":"Mon-Fri 08:00-17:30"}`, 200},
		{"admin", "GET", "/teams?site=sA", "", 200},
		{"admin", "GET", "/teams/tA", "", 200},
		{"admin", "POST", "/teams", `{"id":"tN","site":"sN","name":"Team N"}`, 201},
		{"docA", "GET", "/patients", "", 200},
		{"docA", "GET", "/patients/pA1", "", 200},
		{"docA", "POST", "/patients", `{"id":"pA9","team":"tA","birth_year":1950,"plans":["diabetes: glucose daily"]}`, 201},
		{"docA", "PATCH", "/patients/pA9", `{"birth_year":null}`, 200},
		{"docA", "GET", "/patients/pA1/transfers", "", 200},
		{"fleetA", "GET", "/devices", "", 200},
		{"fleetA", "GET", "/devices?state=online", "", 200},
		{"fleetA", "GET", "/devices/dA1", "", 200},
		{"fleetA", "POST", "/devices", `{"id":"oxA","kind":"oximeter","site":"sA","mode":"home","model":"PO-1","serial":"S-1"}`, 201},
		{"fleetA", "PATCH", "/devices/oxA", `{"firmware":"1.2.0"}`, 200},
		{"fleetA", "POST", "/devices/oxA/assign", `{"patient":"pA2"}`, 200},
		{"fleetA", "GET", "/devices/oxA/assignments", "", 200},
		{"fleetA", "POST", "/devices/oxA/secret", "", 200},
		{"admin", "GET", "/deadletters?limit=2", "", 200},
		{"admin", "GET", "/audit?limit=3", "", 200},
		// Device status and a site's fleet.
		{"fleetA", "GET", "/devices/dA1/status", "", 200},
		{"fleetA", "GET", "/devices/dA2/status", "", 200},
		{"fleetA", "GET", "/sites/sA/fleet", "", 200},
		// Readings and the summary.
		{"docA", "GET", "/patients/pA1/readings?type=bp", "", 200},
		{"docA", "GET", "/patients/pA1/readings?type=glucose&every=6h", "", 200},
		{"fleetA", "GET", "/devices/dA2/readings?type=bp&from=2026-11-20T00:00:00Z&to=2026-11-21T00:00:00Z", "", 200},
		{"docA", "GET", "/patients/pA1/summary", "", 200},
		{"docA", "GET", "/patients/pA1/summary?glucose_unit=mg/dL&days=7", "", 200},
		{"docA", "GET", "/patients/pA1/thresholds", "", 200},
		{"docA", "GET", "/patients/pA1/devices", "", 200},
		// Alerts, overrides, silences, webhooks.
		{"admin", "GET", "/alerts", "", 200},
		{"docA", "GET", "/alerts?state=open", "", 200},
		{"docA", "GET", "/alerts/2", "", 200},
		{"docA", "POST", "/alerts/2/acknowledge", `{"note":"calling the patient"}`, 200},
		{"admin", "GET", "/alerts/burden", "", 200},
		{"docA", "PUT", "/patients/pA1/overrides", `{"overrides":{"glucose_low":{"below":4.2}}}`, 200},
		{"docA", "GET", "/patients/pA1/overrides", "", 200},
		{"docA", "GET", "/silences", "", 200},
		{"docA", "POST", "/silences", `{"subject":"patient/pA2","until":"in two days","reason":"in hospital"}`, 201},
		{"admin", "GET", "/webhooks", "", 200},
		{"admin", "GET", "/webhooks/1", "", 200},
		{"admin", "GET", "/webhooks/1/deliveries", "", 200},
		{"docA", "POST", "/alerts/2/resolve", `{"note":"treated"}`, 200},
		{"fleetA", "POST", "/alerts/1/snooze", `{"for":"30m","reason":"a technician is on the way"}`, 201},
		{"docA", "DELETE", "/silences/1", "", 204},
		{"admin", "PATCH", "/webhooks/1", `{"min_severity":"urgent"}`, 200},
		{"admin", "GET", "/utilisation", "", 200},
		{"admin", "GET", "/utilisation/days?site=sA", "", 200},
		{"admin", "GET", "/reallocation/assessment", "", 200},
		{"admin", "GET", "/reallocation/plan", "", 200},
		{"fleetA", "GET", "/devices/stA/alternatives", "", 200},
		{"fleetA", "POST", "/devices/oxA/return", "", 200},
		{"docA", "POST", "/patients/pA2/transfer", `{"team":"tB","device_policy":"return"}`, 200},
		{"docA", "GET", "/patients/pA2", "", 403},
		// Errors: each a JSON error the document gives for the route.
		{"admin", "GET", "/sites?colour=red", "", 400},
		{"admin", "POST", "/sites", `{"id":"sA","name":"again"}`, 409},
		{"admin", "GET", "/sites/nowhere", "", 404},
		{"docA", "GET", "/patients/pB1", "", 403},
		{"docA", "GET", "/devices", "", 403},
		{"", "GET", "/sites", "", 401},
		{"fleetA", "GET", "/devices?state=asleep", "", 400},
		{"docA", "GET", "/patients/pA1/readings?type=mood", "", 400},
		{"docA", "GET", "/patients/pA1/summary?days=91", "", 400},
		{"docA", "GET", "/alerts/99", "", 404},
		{"docA", "POST", "/alerts/2/resolve", `{"note":"again"}`, 409},
		{"docA", "POST", "/alerts/2/acknowledge", `{"note":1}`, 400},
		{"docA", "POST", "/patients", `{"id":"pA8","team":"tA","colour":"red"}`, 400},
	} {
		name := c.method + " " + c.path + " as " + c.token
		c.body = strings.ReplaceAll(c.body, "in two days", time.Now().Add(48*time.Hour).UTC().Format(time.RFC3339))
		req := httptest.NewRequest(c.method, "/api/v1"+c.path, strings.NewReader(c.body))
		req.RemoteAddr = "10.0.0.1:5000"
		if c.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		w := httptest.NewRecorder()
		f.api.ServeHTTP(w, req)
		if w.Code != c.want {
			t.Errorf("%s = %d %s; want %d", name, w.Code, w.Body, c.want)
			continue
		}
		// The handler read the body: a copy of the request, with it, for the validator.
		vreq := httptest.NewRequest(c.method, "/api/v1"+c.path, nil)
		vreq.Header = req.Header.Clone()
		if err := validateExchange(router, vreq, []byte(c.body), w, c.want < 300); err != nil {
			t.Errorf("%s: the exchange does not fit the OpenAPI document: %v\nanswer %d: %s", name, err, w.Code, w.Body)
		}
	}
}

// The validator tells: an answer with a field the document does not give, or without one it
// requires, or with a status it does not list, fails.
func TestOpenAPIValidatorRefusesWhatTheDocumentDoesNot(t *testing.T) {
	_, router := kinDocument(t)
	for _, c := range []struct {
		path   string
		status int
		body   string
	}{
		{"/sites/sA", 200, `{"id":"sA","name":"Riverside CHC","colour":"red"}`},
		{"/sites/sA", 200, `{"name":"Riverside CHC"}`},
		{"/sites/sA", 418, `{"error":{"code":"internal","message":"teapot"}}`},
		{"/sites/sA", 404, `{"error":{"message":"no code"}}`},
	} {
		req := httptest.NewRequest("GET", "/api/v1"+c.path, nil)
		w := httptest.NewRecorder()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(c.status)
		w.WriteString(c.body)
		if err := validateExchange(router, req, nil, w, false); err == nil {
			t.Errorf("answer %d %s to GET %s validated; want an error", c.status, c.body, c.path)
		}
	}
}
