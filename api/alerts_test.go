package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vitalwatch/vitalwatch/access"
	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/alerts/notify"
	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/influx"
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

// sseEvent is one event of a Server-Sent Events stream.
type sseEvent struct {
	ID    int64
	Event string
	Data  string
}

// sseClient reads an alert stream over HTTP.
type sseClient struct {
	t          *testing.T
	resp       *http.Response
	cancel     context.CancelFunc
	events     chan sseEvent
	heartbeats atomic.Int64
	done       chan struct{}
}

// stream connects to the alert stream as the user of name, with Last-Event-ID if given.
func (af *alertFixture) stream(name, lastEventID string) *sseClient {
	af.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", af.server.URL+"/api/v1/alerts/stream", nil)
	if err != nil {
		af.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+af.tokens[name])
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	resp, err := af.server.Client().Do(req)
	if err != nil {
		cancel()
		af.t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		af.t.Fatalf("GET /alerts/stream as %s = %d %s %s; want 200 text/event-stream", name, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	c := &sseClient{t: af.t, resp: resp, cancel: cancel, events: make(chan sseEvent, 100), done: make(chan struct{})}
	go c.read()
	af.t.Cleanup(c.close)
	return c
}

// read parses the stream (id:, event:, data: lines; a blank line ends an event; a line that
// starts with a colon is a comment) until it ends.
func (c *sseClient) read() {
	defer close(c.done)
	defer close(c.events)
	sc := bufio.NewScanner(c.resp.Body)
	var ev sseEvent
	for sc.Scan() {
		line := sc.Text()
		field, value, _ := strings.Cut(line, ": ")
		switch {
		case line == "":
			if ev.Event != "" {
				c.events <- ev
			}
			ev = sseEvent{}
		case strings.HasPrefix(line, ":"):
			c.heartbeats.Add(1)
		case field == "id":
			ev.ID, _ = strconv.ParseInt(value, 10, 64)
		case field == "event":
			ev.Event = value
		case field == "data":
			ev.Data = value
		}
	}
}

// close disconnects and waits for the reader.
func (c *sseClient) close() {
	c.cancel()
	c.resp.Body.Close()
	<-c.done
}

// next returns the next event, failing the test if none comes within 5 s.
func (c *sseClient) next() sseEvent {
	c.t.Helper()
	select {
	case ev, ok := <-c.events:
		if !ok {
			c.t.Fatal("the stream ended")
		}
		return ev
	case <-time.After(5 * time.Second):
		c.t.Fatal("no event within 5 s")
	}
	return sseEvent{}
}

// nothing fails the test if an event comes within d.
func (c *sseClient) nothing(d time.Duration) {
	c.t.Helper()
	select {
	case ev, ok := <-c.events:
		if ok {
			c.t.Errorf("unexpected event %d %s %s", ev.ID, ev.Event, ev.Data)
		}
	case <-time.After(d):
	}
}

// alert decodes an event's data, strictly.
func (ev sseEvent) alert(t *testing.T) alertJSON {
	t.Helper()
	var a alertJSON
	dec := json.NewDecoder(strings.NewReader(ev.Data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		t.Fatalf("event %d data %s: %v", ev.ID, ev.Data, err)
	}
	return a
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

// The live feed: each user receives, as it happens, what they may see; a client that reconnects
// with Last-Event-ID receives exactly the events it missed, including those another instance
// wrote, and then the live ones, none twice.
func TestAlertStream(t *testing.T) {
	af := newAlertFixture(t)
	docA := af.stream("docA", "")
	fleetA := af.stream("fleetA", "")

	evs := af.apply(clinicalAt("glucose_very_low", "pB1", "tB", alerts.Urgent, 0), faultAt("battery_low", "dA1", "sA", alerts.Warning, 0),
		clinicalAt("glucose_very_low", "pA1", "tA", alerts.Urgent, 0))
	got := docA.next()
	a := got.alert(t)
	if got.ID != evs[2].ID || got.Event != "raised" || a.Subject != "patient/pA1" || a.State != "open" || a.Severity != "urgent" || a.Evidence != nil {
		t.Errorf("docA received %d %s %+v; want %d raised, the open alert of pA1 without evidence", got.ID, got.Event, a, evs[2].ID)
	}
	if got := fleetA.next(); got.ID != evs[1].ID || got.alert(t).Device != "dA1" {
		t.Errorf("fleetA received %d %s; want %d, the fault of dA1", got.ID, got.Data, evs[1].ID)
	}
	docA.nothing(100 * time.Millisecond)
	fleetA.nothing(0)

	// docA goes away; meanwhile the alert repeats, docA acknowledges it (from another device),
	// and another instance writes to the store directly (no publish here): a new alert of tA
	// and a repeat of tB's.
	docA.close()
	missed := af.apply(clinicalAt("glucose_very_low", "pA1", "tA", alerts.Urgent, 5))
	af.do(200, "docA", "POST", fmt.Sprintf("/alerts/%d/acknowledge", evs[2].AlertID), `{"note": "on my way"}`, nil)
	for _, fd := range []alerts.Finding{clinicalAt("glucose_low", "pA2", "tA", alerts.Warning, 6), clinicalAt("glucose_very_low", "pB1", "tB", alerts.Urgent, 6)} {
		if _, _, _, err := af.store.ApplyFinding(context.Background(), fd); err != nil {
			t.Fatal(err)
		}
	}
	tA, err := af.store.AlertEvents(context.Background(), evs[2].ID, alerts.Scope{Teams: []string{"tA"}}, 100)
	if err != nil || len(tA) != 3 || tA[0].ID != missed[0].ID {
		t.Fatalf("tA's events after %d = %d, %v; want 3, from %d", evs[2].ID, len(tA), err, missed[0].ID)
	}

	again := af.stream("docA", strconv.FormatInt(got.ID, 10))
	var types []string
	for i := range tA {
		ev := again.next()
		if ev.ID != tA[i].ID {
			t.Errorf("resumed event %d is %d; want %d", i, ev.ID, tA[i].ID)
		}
		types = append(types, ev.Event+" "+ev.alert(t).State)
	}
	if want := []string{"updated open", "acknowledged acknowledged", "raised open"}; !slices.Equal(types, want) {
		t.Errorf("resumed events = %v; want %v", types, want)
	}
	// Then live, with nothing repeated at the seam.
	live := af.apply(clinicalAt("glucose_very_low", "pA1", "tA", alerts.Critical, 10))
	if ev := again.next(); ev.ID != live[0].ID || ev.Event != "severity_raised" || ev.alert(t).Severity != "critical" {
		t.Errorf("live event after resuming = %d %s %s; want %d severity_raised, critical", ev.ID, ev.Event, ev.Data, live[0].ID)
	}
	again.nothing(100 * time.Millisecond)

	// Resuming from 0 replays everything in scope: docB's two events of pB1, in order.
	docB := af.stream("docB", "0")
	first, second := docB.next(), docB.next()
	if first.ID != evs[0].ID || second.Event != "updated" || second.alert(t).Subject != "patient/pB1" || second.ID <= first.ID {
		t.Errorf("docB from 0 = %d %s, %d %s; want %d raised, then the update of pB1", first.ID, first.Event, second.ID, second.Event, evs[0].ID)
	}
	docB.nothing(100 * time.Millisecond)

	// A quiet stream sends heartbeats (every 50 ms in this fixture).
	if n := again.heartbeats.Load(); n < 2 {
		t.Errorf("%d heartbeats on a stream open for over 200 ms; want some", n)
	}
}

// The seam between replay and live, made deterministic: the hub polls only when a publish
// finds it behind. A stream resuming from 0 replays what the hub had delivered when it
// subscribed, and receives the rest live: events the hub had not read yet when the stream
// began come once, in order, after the replayed ones.
func TestAlertStreamSeam(t *testing.T) {
	af := newAlertFixturePolling(t, time.Hour)
	direct := func(fd alerts.Finding) int64 { // another instance's write: not published here
		t.Helper()
		_, ev, _, err := af.store.ApplyFinding(context.Background(), fd)
		if err != nil {
			t.Fatal(err)
		}
		return ev.ID
	}
	watcher := af.stream("admin", "")
	e1 := direct(faultAt("offline", "dA1", "sA", alerts.Warning, 0))
	e2 := af.apply(faultAt("offline", "dB1", "sB", alerts.Warning, 0))[0].ID // behind: the hub reads e1 and e2
	if a, b := watcher.next(), watcher.next(); a.ID != e1 || b.ID != e2 {
		t.Fatalf("watcher received %d, %d; want %d, %d", a.ID, b.ID, e1, e2)
	}

	e3 := direct(faultAt("offline", "stA", "sA", alerts.Warning, 0)) // the hub has not read it
	resumed := af.stream("admin", "0")                               // replays e1, e2 (up to the hub's last)
	var got []int64
	for range 2 {
		got = append(got, resumed.next().ID)
	}
	resumed.nothing(50 * time.Millisecond) // e3 is not the replay's: it comes live
	e4 := af.apply(faultAt("battery_low", "dA1", "sA", alerts.Warning, 0))[0].ID
	for range 2 {
		got = append(got, resumed.next().ID)
	}
	if want := []int64{e1, e2, e3, e4}; !slices.Equal(got, want) {
		t.Errorf("resumed from 0 = %v; want %v, each once", got, want)
	}
	resumed.nothing(100 * time.Millisecond)
	if a, b := watcher.next(), watcher.next(); a.ID != e3 || b.ID != e4 {
		t.Errorf("watcher received %d, %d; want %d, %d", a.ID, b.ID, e3, e4)
	}
}

// A stream's events fit the alert schema of the OpenAPI document.
func TestAlertStreamDataFitsTheDocument(t *testing.T) {
	af := newAlertFixture(t)
	doc := loadOpenAPI(t)
	s := af.stream("admin", "")
	af.apply(faultAt("offline", "dB1", "sB", alerts.Urgent, 0))
	ev := s.next()
	var v any
	if err := json.Unmarshal([]byte(ev.Data), &v); err != nil {
		t.Fatal(err)
	}
	if err := doc.check("data", v, map[string]any{"$ref": "#/components/schemas/Alert"}); err != nil {
		t.Errorf("event data %s does not fit the Alert schema: %v", ev.Data, err)
	}
	if !bytes.Contains([]byte(ev.Data), []byte(`"escalation_level":0`)) {
		t.Errorf("event data %s has no escalation level", ev.Data)
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

// fakeReadings is an InfluxDB that holds points, for the logic of an alert's evidence; err
// makes it unreachable. It records the ranges asked for.
type fakeReadings struct {
	points []influx.Point
	err    error
	ranges []influx.Range
}

func (fr *fakeReadings) PointsAt(_ context.Context, keys []influx.PointKey) ([]influx.Point, error) {
	if fr.err != nil {
		return nil, fr.err
	}
	var out []influx.Point
	for _, p := range fr.points {
		for _, k := range keys {
			if k.Device == p.Tags["device"] && k.Time.Equal(p.Time) && (k.Measurement == p.Measurement || k.Measurement == "") {
				out = append(out, p)
				break
			}
		}
	}
	return out, nil
}

func (fr *fakeReadings) PointsIn(_ context.Context, rg influx.Range) ([]influx.Point, bool, error) {
	fr.ranges = append(fr.ranges, rg)
	if fr.err != nil {
		return nil, false, fr.err
	}
	var out []influx.Point
	for _, p := range fr.points {
		if slices.Contains(rg.Measurements, p.Measurement) && p.Tags["patient"] == rg.Patient && !p.Time.Before(rg.From) && !p.Time.After(rg.To) {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b influx.Point) int { return a.Time.Compare(b.Time) })
	more := len(out) > rg.Limit
	if more {
		out = out[len(out)-rg.Limit:]
	}
	return out, more, nil
}

// glucosePoint is a glucose point of patient from device, minutes after alertTime.
func glucosePoint(device, patient string, minutes int, value float64) influx.Point {
	return influx.Point{Measurement: "glucose", Time: alertTime.Add(time.Duration(minutes) * time.Minute),
		Tags:   map[string]string{"device": device, "patient": patient, "site": "sA", "context": "fasting"},
		Fields: map[string]any{"value": value, "seq": int64(minutes), "flags": "fasting"}}
}

// serveEvidence makes the fixture's API read evidence with readings (none if nil).
func serveEvidence(f *registryFixture, readings ReadingReader) {
	f.t.Helper()
	var err error
	f.api, err = New(Options{Gatherer: prometheus.NewRegistry(), Registry: f.store, Alerts: f.store, Readings: readings,
		Auth: registryPrincipals, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.t.Fatal(err)
	}
}

// An alert's detail reads its evidence back from InfluxDB: the recorded readings as InfluxDB
// has them, marked when it no longer has one, and the patient's other readings of the
// measurement from first to last seen; without InfluxDB, the evidence as recorded, with a
// warning, and still 200.
func TestAlertEvidenceFromInfluxDB(t *testing.T) {
	f := newRegistryFixture(t)
	doc := loadOpenAPI(t)
	for _, fd := range []alerts.Finding{
		clinicalAt("glucose_very_low", "pA1", "tA", alerts.Urgent, 0), // 1: evidence dA2 at 0 and 5
		faultAt("battery_low", "dA1", "sA", alerts.Warning, 0),        // 2: no evidence
		clinicalAt("glucose_very_low", "pA1", "tA", alerts.Urgent, 5),
	} {
		if _, _, _, err := f.store.ApplyFinding(context.Background(), fd); err != nil {
			t.Fatal(err)
		}
	}
	fr := &fakeReadings{points: []influx.Point{
		glucosePoint("dA2", "pA1", 0, 2.8),  // recorded, as InfluxDB has it
		glucosePoint("stA", "pA1", 2, 3.4),  // another reading of pA1 in the window
		glucosePoint("dA2", "pA2", 3, 2.0),  // another patient's
		glucosePoint("dA2", "pA1", 10, 6.0), // after last seen
		{Measurement: "bp", Time: alertTime.Add(time.Minute), Tags: map[string]string{"device": "dA1", "patient": "pA1"},
			Fields: map[string]any{"systolic": 120.0, "diastolic": 80.0}}, // another measurement
		// dA2's reading at 5 is not there any more.
	}}
	serveEvidence(f, fr)

	type entry struct {
		device          string
		minute          int
		value           float64
		recorded, inDB  bool
		hasTags, hasSeq bool
	}
	entries := func(d alertDetailJSON) []entry {
		var out []entry
		for _, e := range d.Evidence {
			x := entry{device: e.Device, minute: int(e.Time.Sub(alertTime) / time.Minute), value: e.Value, recorded: e.Recorded,
				inDB: e.InInfluxDB != nil && *e.InInfluxDB, hasTags: e.Tags["site"] == "sA", hasSeq: e.Fields["seq"] != nil}
			if e.InInfluxDB == nil {
				x.device += " (not read)"
			}
			out = append(out, x)
		}
		return out
	}
	var d alertDetailJSON
	w := f.want(200, "docA", "GET", "/alerts/1", "", &d)
	if err := doc.checkAnswer("GET", "/alerts/{id}", 200, w.Body.Bytes()); err != nil {
		t.Errorf("detail does not fit the OpenAPI document: %v\n%s", err, w.Body)
	}
	want := []entry{
		{"dA2", 0, 2.8, true, true, true, true},
		{"stA", 2, 3.4, false, true, true, true},
		{"dA2", 5, 2.9, true, false, false, false},
	}
	if got := entries(d); !slices.Equal(got, want) || d.EvidenceSource != "influxdb" || d.EvidenceWarning != "" || d.EvidenceTruncated {
		t.Errorf("evidence of alert 1 = %+v from %q (warning %q); want %+v from influxdb", got, d.EvidenceSource, d.EvidenceWarning, want)
	}
	if len(d.Evidence) == 3 && (!slices.Equal(d.Evidence[0].Flags, []string{"fasting"}) || d.Evidence[0].Tags["context"] != "fasting") {
		t.Errorf("evidence read back = %+v; want its flags and tags", d.Evidence[0])
	}
	if len(fr.ranges) != 1 || fr.ranges[0].Patient != "pA1" || !slices.Equal(fr.ranges[0].Measurements, []string{"glucose"}) ||
		!fr.ranges[0].From.Equal(alertTime) || !fr.ranges[0].To.Equal(alertTime.Add(5*time.Minute)) || fr.ranges[0].Limit != 100 {
		t.Errorf("ranges read = %+v; want pA1's glucose from first to last seen, at most 100", fr.ranges)
	}

	// The window holds more than 100 readings: the newest 100, and it says so.
	for i := range 150 {
		fr.points = append(fr.points, glucosePoint("stA", "pA1", 1, 4+float64(i)/100))
		fr.points[len(fr.points)-1].Time = alertTime.Add(time.Minute + time.Duration(i)*time.Millisecond)
	}
	d = alertDetailJSON{}
	f.want(200, "docA", "GET", "/alerts/1", "", &d)
	if !d.EvidenceTruncated || len(d.Evidence) != 102 {
		t.Errorf("a window of 151 readings: %d shown, truncated %v; want the 2 recorded and the newest 100, truncated", len(d.Evidence), d.EvidenceTruncated)
	}

	// A fault without evidence reads nothing.
	fr.ranges = nil
	d = alertDetailJSON{}
	f.want(200, "fleetA", "GET", "/alerts/2", "", &d)
	if d.Evidence != nil || d.EvidenceSource != "recorded" || d.EvidenceWarning != "" || len(fr.ranges) != 0 {
		t.Errorf("detail of a fault without evidence: %+v from %q, warning %q, ranges %v; want nothing read", d.Evidence, d.EvidenceSource, d.EvidenceWarning, fr.ranges)
	}

	// InfluxDB down (a fake, then a real reader of a closed port), or not configured: the
	// evidence as recorded, with a warning.
	port := 0
	if l, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		port = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	closed := influx.NewReader(influx.Config{URL: fmt.Sprintf("http://127.0.0.1:%d", port), Bucket: "vitalwatch/autogen", Timeout: 2 * time.Second})
	defer closed.Close()
	for _, tt := range []struct {
		name     string
		readings ReadingReader
		warning  string
	}{
		{"unreachable", &fakeReadings{err: errors.New("dial tcp 127.0.0.1:8086: connection refused")}, "InfluxDB could not be read"},
		{"closed port", closed, "InfluxDB could not be read"},
		{"not configured", nil, "InfluxDB is not configured"},
	} {
		serveEvidence(f, tt.readings)
		d = alertDetailJSON{}
		w := f.want(200, "docA", "GET", "/alerts/1", "", &d)
		want := []entry{{"dA2 (not read)", 0, 2.9, true, false, false, false}, {"dA2 (not read)", 5, 2.9, true, false, false, false}}
		if got := entries(d); !slices.Equal(got, want) || d.EvidenceSource != "recorded" || !strings.Contains(d.EvidenceWarning, tt.warning) {
			t.Errorf("%s: evidence %+v from %q, warning %q; want %+v as recorded, warning %q", tt.name, got, d.EvidenceSource, d.EvidenceWarning, want, tt.warning)
		}
		if strings.Contains(w.Body.String(), "8086") || strings.Contains(w.Body.String(), strconv.Itoa(port)) {
			t.Errorf("%s: the answer tells where InfluxDB is: %s", tt.name, w.Body)
		}
		if err := doc.checkAnswer("GET", "/alerts/{id}", 200, w.Body.Bytes()); err != nil {
			t.Errorf("%s: detail does not fit the OpenAPI document: %v", tt.name, err)
		}
	}
}
