package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vitalwatch/vitalwatch/access"
	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/alerts/notify"
	"github.com/vitalwatch/vitalwatch/audit"
)

// alertTime is the measurement time of the seeded findings.
var alertTime = time.Date(2026, 11, 22, 7, 30, 0, 0, time.UTC)

func clinicalAt(rule, patient, team string, sev alerts.Severity, minutes int) alerts.Finding {
	at := alertTime.Add(time.Duration(minutes) * time.Minute)
	return alerts.Finding{Rule: rule, RuleVersion: 1, Category: alerts.Clinical, Severity: sev,
		Subject: alerts.Subject{Kind: "patient", ID: patient}, Patient: patient, Device: "dA2", Team: team, Site: "s" + team[1:],
		At: at, Value: "2.9 mmol/L", Thresholds: map[string]float64{"very_low": 3.0},
		Evidence: []alerts.Evidence{{Device: "dA2", Measurement: "glucose", Time: at, Value: 2.9, Flags: []string{"fasting"}}}}
}

func faultAt(rule, device, site string, sev alerts.Severity, minutes int) alerts.Finding {
	return alerts.Finding{Rule: rule, RuleVersion: 1, Category: alerts.Fault, Severity: sev,
		Subject: alerts.Subject{Kind: "device", ID: device}, Device: device, Site: site,
		At: alertTime.Add(time.Duration(minutes) * time.Minute), Value: "8%"}
}

// seedAlerts adds to the registry fixture, in this order (ids 1-4):
//
//	1 clinical glucose_very_low on pA1 (team tA), urgent   3 fault battery_low on dA1 (site sA)
//	2 clinical glucose_very_low on pB1 (team tB), urgent   4 fault battery_low on dB1 (site sB)
//
// and serves alerts and their feed with a running hub, to the fixture's principals.
func seedAlerts(f *registryFixture) *notify.Hub {
	f.t.Helper()
	for i, fd := range []alerts.Finding{
		clinicalAt("glucose_very_low", "pA1", "tA", alerts.Urgent, 0),
		clinicalAt("glucose_very_low", "pB1", "tB", alerts.Urgent, 1),
		faultAt("battery_low", "dA1", "sA", alerts.Warning, 2),
		faultAt("battery_low", "dB1", "sB", alerts.Warning, 3),
	} {
		a, _, _, err := f.store.ApplyFinding(context.Background(), fd)
		if err != nil || a.ID != int64(i+1) {
			f.t.Fatalf("seedAlerts: alert %d = %+v, %v", i+1, a, err)
		}
	}
	return serveAlerts(f, registryPrincipals, 20*time.Millisecond)
}

// serveAlerts starts a hub over the fixture's store that polls every poll, stopped when the
// test ends, and makes the fixture's API serve alerts with it, authenticating with auth.
func serveAlerts(f *registryFixture, auth Authenticator, poll time.Duration) *notify.Hub {
	f.t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	hub := notify.NewHub(f.store, notify.HubOptions{PollInterval: poll, Log: log})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- hub.Run(ctx) }()
	f.t.Cleanup(func() { cancel(); <-done })
	var err error
	f.api, err = New(Options{Gatherer: prometheus.NewRegistry(), DeadLetters: f.store, Registry: f.store, Devices: f.view,
		Alerts: f.store, AlertFeed: hub, AlertHeartbeat: 50 * time.Millisecond, Auth: auth, Users: f.store, Silences: f.store, Log: log})
	if err != nil {
		f.t.Fatal(err)
	}
	return hub
}

// callStream sends GET path (the alert stream) as the principal of token, with Last-Event-ID if
// given, and ends the request after d: the stream does not end by itself.
func (f *registryFixture) callStream(token, path, lastEventID string, d time.Duration) *httptest.ResponseRecorder {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	req := httptest.NewRequestWithContext(ctx, "GET", "/api/v1"+path, nil)
	req.RemoteAddr = "10.0.0.1:5000"
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	w := httptest.NewRecorder()
	f.api.ServeHTTP(w, req)
	return w
}

// alertFixture serves the registry fixture, with alerts, over a real HTTP server to real users
// who present API tokens: admin; docA and docB, doctors of tA and tB; fleetA and fleetB, fleet
// managers of sA and sB.
type alertFixture struct {
	*moveFixture
	hub    *notify.Hub
	life   *alerts.Lifecycle
	server *httptest.Server
}

func newAlertFixture(t *testing.T) *alertFixture {
	return newAlertFixturePolling(t, 20*time.Millisecond)
}

// newAlertFixturePolling is newAlertFixture whose hub polls every poll.
func newAlertFixturePolling(t *testing.T, poll time.Duration) *alertFixture {
	t.Helper()
	f := newRegistryFixture(t)
	// Registered first, so that it runs last: after the hub stopped, which ends every stream.
	server := httptest.NewUnstartedServer(nil)
	t.Cleanup(server.Close)
	ctx := audit.WithActor(context.Background(), "test:seed")
	af := &alertFixture{moveFixture: &moveFixture{registryFixture: f, tokens: map[string]string{}, users: map[string]string{}}, server: server}
	for name, u := range map[string]access.User{
		"admin":  {Username: "root", Role: access.Admin},
		"docA":   {Username: "dr.a", Role: access.Doctor, Teams: []string{"tA"}},
		"docB":   {Username: "dr.b", Role: access.Doctor, Teams: []string{"tB"}},
		"fleetA": {Username: "fleet-a", Role: access.FleetManager, Sites: []string{"sA"}},
		"fleetB": {Username: "fleet-b", Role: access.FleetManager, Sites: []string{"sB"}},
	} {
		u, err := f.store.CreateUser(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		token, _, err := f.store.CreateToken(ctx, u.ID, "tests")
		if err != nil {
			t.Fatal(err)
		}
		af.tokens[name], af.users[name] = token, u.ID
	}
	af.hub = serveAlerts(f, NewUserAuth(f.store, slog.New(slog.NewTextHandler(io.Discard, nil))), poll)
	af.life = alerts.NewLifecycle(f.store, af.hub, slog.New(slog.NewTextHandler(io.Discard, nil)))
	server.Config.Handler = f.api
	server.Start()
	return af
}

// apply records findings through the lifecycle, as the engine does, and returns their events.
func (af *alertFixture) apply(fs ...alerts.Finding) []alerts.Event {
	af.t.Helper()
	changes, err := af.life.Apply(context.Background(), fs)
	if err != nil {
		af.t.Fatal(err)
	}
	var out []alerts.Event
	for _, c := range changes {
		out = append(out, c.Event)
	}
	return out
}

func alertIDs(t *testing.T, body []byte) []int64 {
	t.Helper()
	var p page[alertJSON]
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("list answer %s: %v", body, err)
	}
	out := []int64{}
	for _, a := range p.Items {
		out = append(out, a.ID)
	}
	return out
}

// A doctor sees and acts on the clinical alerts of their team, a fleet manager on the faults of
// their sites; the detail holds the evidence and the history, with who did what.
func TestAlertsOverAPI(t *testing.T) {
	af := newAlertFixture(t)
	doc := loadOpenAPI(t)
	af.apply(clinicalAt("glucose_very_low", "pA1", "tA", alerts.Urgent, 0), clinicalAt("glucose_very_low", "pB1", "tB", alerts.Urgent, 1),
		faultAt("battery_low", "dA1", "sA", alerts.Warning, 2), faultAt("battery_low", "dB1", "sB", alerts.Warning, 3),
		clinicalAt("glucose_very_low", "pA1", "tA", alerts.Critical, 5))
	for _, tt := range []struct {
		name string
		want []int64
	}{
		{"admin", []int64{4, 3, 2, 1}},
		{"docA", []int64{1}},
		{"docB", []int64{2}},
		{"fleetA", []int64{3}},
		{"fleetB", []int64{4}},
	} {
		if got := alertIDs(t, af.do(200, tt.name, "GET", "/alerts", "", nil).Body.Bytes()); !slices.Equal(got, tt.want) {
			t.Errorf("GET /alerts as %s = %v; want %v", tt.name, got, tt.want)
		}
	}

	var d alertDetailJSON
	w := af.do(200, "docA", "GET", "/alerts/1", "", &d)
	if err := doc.checkAnswer("GET", "/alerts/{id}", 200, w.Body.Bytes()); err != nil {
		t.Errorf("detail does not fit the OpenAPI document: %v\n%s", err, w.Body)
	}
	if d.Subject != "patient/pA1" || d.Severity != "critical" || d.Count != 2 || d.State != "open" || d.Team != "tA" ||
		len(d.Evidence) != 2 || d.Evidence[0].Measurement != "glucose" || d.Evidence[0].Value != 2.9 ||
		d.Thresholds["very_low"] != 3.0 || !d.FirstSeen.Equal(alertTime) || len(d.Events) != 2 ||
		d.Events[0].Type != "raised" || d.Events[1].Type != "severity_raised" || !d.Events[1].Notify || d.Events[0].Actor != "system" {
		t.Errorf("detail of alert 1 = %+v", d)
	}

	// Out of scope: 403 saying why; no such alert: 404.
	for _, tt := range []struct {
		name, method, path, says string
		status                   int
	}{
		{"docA", "GET", "/alerts/2", "alert 2 is for team tB, not one of yours", 403},
		{"docA", "POST", "/alerts/3/acknowledge", "alert 3 is a device fault", 403},
		{"fleetA", "GET", "/alerts/1", "alert 1 is clinical", 403},
		{"fleetA", "POST", "/alerts/4/resolve", "alert 4 is about a device at site sB", 403},
		{"docB", "GET", "/alerts/99", "alert 99 not found", 404},
		{"fleetB", "POST", "/alerts/99/acknowledge", "alert 99 not found", 404},
	} {
		af.refused(tt.status, tt.name, tt.method, tt.path, "", tt.says)
	}

	var a alertJSON
	af.do(200, "docA", "POST", "/alerts/1/acknowledge", `{"note": "calling the patient"}`, &a)
	if a.State != "acknowledged" || a.AcknowledgedBy != af.actor("docA") || a.AcknowledgeNote != "calling the patient" || a.AcknowledgedAt.IsZero() {
		t.Errorf("acknowledged alert = %+v", a)
	}
	af.refused(409, "docA", "POST", "/alerts/1/acknowledge", "", "alert 1 is acknowledged; it can be acknowledged only when open")
	af.refused(400, "docA", "POST", "/alerts/1/resolve", "", "note: required to resolve a clinical alert")
	// The error names the field, so that a form can show it next to the note.
	for _, body := range []string{`{"note": " "}`, `{"note": 5}`} {
		var e struct{ Error struct{ Code, Field string } }
		if err := json.Unmarshal(af.do(400, "docA", "POST", "/alerts/1/resolve", body, nil).Body.Bytes(), &e); err != nil ||
			e.Error.Code != "invalid" || e.Error.Field != "note" {
			t.Errorf("resolve with %s: error %+v (%v); want invalid naming the field note", body, e.Error, err)
		}
	}
	af.do(200, "docA", "POST", "/alerts/1/resolve", `{"note": "ate; retest 5.8 mmol/L"}`, &a)
	if a.State != "resolved" || a.ResolvedBy != af.actor("docA") || a.ResolutionNote != "ate; retest 5.8 mmol/L" {
		t.Errorf("resolved alert = %+v", a)
	}
	af.refused(409, "docA", "POST", "/alerts/1/resolve", `{"note": "again"}`, "alert 1 is resolved")
	af.do(200, "fleetA", "POST", "/alerts/3/resolve", "", &a) // a fault needs no note
	if a.State != "resolved" || a.ResolvedBy != af.actor("fleetA") {
		t.Errorf("resolved fault = %+v", a)
	}

	af.do(200, "admin", "GET", "/alerts/1", "", &d)
	var history []string
	for _, ev := range d.Events {
		history = append(history, ev.Type+" by "+ev.Actor)
	}
	if want := []string{"raised by system", "severity_raised by system", "acknowledged by " + af.actor("docA"),
		"resolved by " + af.actor("docA")}; !slices.Equal(history, want) {
		t.Errorf("history of alert 1 = %v; want %v", history, want)
	}
	var audit page[auditJSON]
	af.do(200, "admin", "GET", "/audit?subject=alert/1", "", &audit)
	var actions []string
	for _, e := range audit.Items {
		actions = append(actions, e.Action+" by "+e.Actor)
	}
	if want := []string{"alert.resolve by " + af.actor("docA"), "alert.acknowledge by " + af.actor("docA")}; !slices.Equal(actions, want) {
		t.Errorf("audit of alert 1 = %v; want %v", actions, want)
	}
}

// Lists filter, page newest first, and refuse a filter outside the caller's scope.
func TestListAlertsFilters(t *testing.T) {
	f := newRegistryFixture(t)
	seedAlerts(f)
	for _, fd := range []alerts.Finding{
		clinicalAt("glucose_low", "pA2", "tA", alerts.Warning, 60), // 5
		faultAt("offline", "stA", "sA", alerts.Urgent, 120),        // 6
	} {
		if _, _, _, err := f.store.ApplyFinding(context.Background(), fd); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := f.store.ResolveAlert(audit.WithActor(context.Background(), "user:admin"), 3, ""); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		token, query string
		want         []int64
	}{
		{"admin", "", []int64{6, 5, 4, 3, 2, 1}},
		{"admin", "?state=open", []int64{6, 5, 4, 2, 1}},
		{"admin", "?state=resolved", []int64{3}},
		{"admin", "?severity=urgent", []int64{6, 2, 1}},
		{"admin", "?category=clinical&rule=glucose_very_low", []int64{2, 1}},
		{"admin", "?patient=pA2", []int64{5}},
		{"admin", "?device=stA", []int64{6}},
		{"admin", "?since=2026-11-22T08:00:00Z", []int64{6, 5}},
		{"admin", "?until=2026-11-22T07:32:00Z", []int64{2, 1}},
		{"admin", "?limit=2&before=5", []int64{4, 3}},
		{"docA", "", []int64{5, 1}},
		{"docA", "?team=tA&severity=urgent", []int64{1}},
		{"docA", "?category=clinical", []int64{5, 1}},
		{"fleetA", "", []int64{6, 3}},
		{"fleetA", "?site=sA&state=open", []int64{6}},
		{"fleetAB", "?category=fault", []int64{6, 4, 3}},
	} {
		if got := alertIDs(t, f.want(200, tt.token, "GET", "/alerts"+tt.query, "", nil).Body.Bytes()); !slices.Equal(got, tt.want) {
			t.Errorf("GET /alerts%s as %s = %v; want %v", tt.query, tt.token, got, tt.want)
		}
	}
	var p page[alertJSON]
	f.want(200, "admin", "GET", "/alerts?limit=4", "", &p)
	if p.Next != "3" || len(p.Items) != 4 || p.Items[0].Evidence != nil {
		t.Errorf("first page of 4: next %q, %d items, evidence %v; want next 3, 4 items, no evidence in a list", p.Next, len(p.Items), p.Items[0].Evidence)
	}
	var rest page[alertJSON]
	f.want(200, "admin", "GET", "/alerts?limit=4&before="+p.Next, "", &rest)
	if len(rest.Items) != 2 || rest.Items[0].ID != 2 || rest.Next != "" {
		t.Errorf("second page of 4 = %+v, next %q; want alerts 2 and 1 and no next", rest.Items, rest.Next)
	}
	for _, tt := range []struct {
		token, method, path, body string
		status                    int
		says                      string
	}{
		{"docA", "GET", "/alerts?team=tB", "", 403, "team tB is not one of yours"},
		{"docA", "GET", "/alerts?site=sA", "", 403, "site sA is not one of yours"},
		{"docA", "GET", "/alerts?category=fault", "", 403, "a doctor sees the clinical alerts"},
		{"fleetA", "GET", "/alerts?category=clinical", "", 403, "a fleet manager sees the device faults"},
		{"fleetA", "GET", "/alerts?team=tA", "", 403, "team tA is not one of yours"},
		{"admin", "GET", "/alerts?state=lost", "", 400, `state: "lost" is not one of open, acknowledged, resolved`},
		{"admin", "GET", "/alerts?severity=high", "", 400, "severity: "},
		{"admin", "GET", "/alerts?category=both", "", 400, "category: "},
		{"admin", "GET", "/alerts?since=yesterday", "", 400, "since: want an RFC 3339 time"},
		{"admin", "GET", "/alerts?before=x", "", 400, "before: not a cursor"},
		{"admin", "GET", "/alerts?limit=0", "", 400, "limit: must be an integer from 1 to 1000"},
		{"admin", "GET", "/alerts?patient=p%20A", "", 400, "patient: "},
		{"admin", "GET", "/alerts?colour=red", "", 400, `unknown parameter "colour"`},
		{"admin", "GET", "/alerts/abc", "", 400, `id "abc" in the path is not an alert id`},
		{"admin", "GET", "/alerts/1?full=1", "", 400, `unknown parameter "full"`},
		{"admin", "POST", "/alerts/1/acknowledge", `{"reason": "x"}`, 400, `unknown field "reason"; the fields are note`},
		{"admin", "POST", "/alerts/1/acknowledge", `{"note": 5}`, 400, "note: want a string"},
		{"admin", "POST", "/alerts/1/resolve", `{"note": "` + strings.Repeat("x", 1001) + `"}`, 400, "at most 1000 characters"},
		{"admin", "GET", "/alerts/stream?since=1", "", 400, `unknown parameter "since"`},
	} {
		w := f.call(tt.token, tt.method, tt.path, tt.body)
		if msg := errorOf(w.Body.Bytes()); w.Code != tt.status || !strings.Contains(msg, tt.says) {
			t.Errorf("%s %s %.60s as %s = %d %s; want %d saying %q", tt.method, tt.path, tt.body, tt.token, w.Code, msg, tt.status, tt.says)
		}
	}
	w := f.callStream("admin", "/alerts/stream", "abc", time.Second)
	if msg := errorOf(w.Body.Bytes()); w.Code != 400 || !strings.Contains(msg, "Last-Event-ID") {
		t.Errorf("stream with Last-Event-ID abc = %d %s; want 400 naming the header", w.Code, msg)
	}
}

// Without an alert store or feed, the alert routes answer 503.
func TestAlertsNotConfigured(t *testing.T) {
	f := newRegistryFixture(t)
	for _, path := range []string{"/alerts", "/alerts/1", "/alerts/stream"} {
		if w := f.call("admin", "GET", path, ""); w.Code != 503 {
			t.Errorf("GET %s without alerts = %d %s; want 503", path, w.Code, w.Body)
		}
	}
	var err error
	f.api, err = New(Options{Gatherer: prometheus.NewRegistry(), Registry: f.store, Alerts: f.store, Auth: registryPrincipals,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if w := f.call("admin", "GET", "/alerts/stream", ""); w.Code != 503 || !strings.Contains(w.Body.String(), "live alert feed") {
		t.Errorf("GET /alerts/stream without a feed = %d %s; want 503", w.Code, w.Body)
	}
}
