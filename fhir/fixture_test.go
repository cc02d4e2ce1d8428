package fhir

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/access"
	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/api"
	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/influx"
	"github.com/vitalwatch/vitalwatch/internal/testsrv"
	"github.com/vitalwatch/vitalwatch/store"
)

// The fixture: a SQLite store with a registry, users with API tokens and clinical and fault
// alerts, a real influxd holding a patient's readings of every kind, and the server over them,
// reached over HTTP with the tokens, as an integration reaches it.

// now is the fixture's clock: 18:00 on 20 November 2026 at site sA (Asia/Shanghai).
var now = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

// cgmStart is the start of pA1's CGM readings: local midnight of the first of the 14 days
// before today at sA, the period of the CGM summary.
var cgmStart = time.Date(2026, 11, 5, 16, 0, 0, 0, time.UTC)

// longPatient is a patient id whose FHIR id is hashed.
var longPatient = strings.Repeat("q_", 32)

// fixture is the server and what it reads.
type fixture struct {
	t      *testing.T
	st     *store.Store
	srv    *Server
	tokens map[string]string // by user name: admin, docA, docB, fleetA, fleetB
	cookie string            // a session of docA
	alerts map[string]int64  // by name
	view   *devices.View
	reader *influx.Reader
}

// cgmValue is pA1's k-th CGM glucose (mmol/L), in slot j = k mod 288 of day k/288: per day 6
// readings below 3.0, 12 in 3.0-3.8, 210 in range (6.0, and 0.1 more each day, so that the mean
// tells the period), 52 in 10.1-13.9 and 8 above 13.9.
func cgmValue(k int) float64 {
	switch r := k % 288 % 100; {
	case r < 2:
		return 2.8
	case r < 6:
		return 3.5
	case r < 76:
		return 6.0 + 0.1*float64(k/288)
	case r < 96:
		return 12.0
	}
	return 15.0
}

// line is a point in line protocol at t (milliseconds).
func line(measurement, tags, fields string, t time.Time) string {
	return fmt.Sprintf("%s,%s %s %d", measurement, tags, fields, t.UnixMilli())
}

// fixtureLines are the readings in InfluxDB.
func fixtureLines() []string {
	var lines []string
	for k := range 14 * 288 {
		lines = append(lines, line("glucose", "device=cgmA,device_type=cgm,patient=pA1,site=sA", fmt.Sprintf("value=%g", cgmValue(k)),
			cgmStart.Add(time.Duration(k)*5*time.Minute)))
	}
	at := func(day, h, m int) time.Time { return time.Date(2026, 11, day, h, m, 0, 0, time.UTC) }
	lines = append(lines,
		// A CGM reading in doubt, between two slots: left out of the summary.
		line("glucose", "device=cgmA,device_type=cgm,patient=pA1,site=sA", `value=2,flags="sensor_malfunction"`, at(10, 0, 2)),
		line("bp", "device=cuffA,device_type=bp_cuff,patient=pA1,position=sitting,site=sA", "systolic=142,diastolic=91,pulse=74,seq=7i", at(20, 7, 0)),
		line("bp", "device=cuffA,device_type=bp_cuff,patient=pA1,site=sA", `systolic=185,diastolic=121,flags="cuff_loose,irregular_pulse"`, at(19, 7, 0)),
		line("glucose", "context=fasting,device=stA,device_type=station,patient=pA1,site=sA,source=fingerstick", "value=6.4", at(20, 1, 0)),
		line("spo2", "device=stA,device_type=station,patient=pA1,site=sA", "value=95", at(20, 1, 5)),
		line("temperature", "device=stA,device_type=station,patient=pA1,site=sA", "value=36.8", at(20, 1, 6)),
		line("weight", "device=stA,device_type=station,patient=pA1,site=sA", "value=72.5", at(20, 1, 7)),
		// Two readings in one millisecond, of two devices: a page may end between them.
		line("heart_rate", "device=wearA,device_type=wearable,patient=pA1,site=sA", "value=70", at(20, 1, 8)),
		line("spo2", "device=stA,device_type=station,patient=pA1,site=sA", "value=97", at(20, 1, 8)),
		line("steps", "device=wearA,device_type=wearable,patient=pA1,site=sA", "value=4200", at(20, 2, 0)),
		line("event", "device=wearA,device_type=wearable,kind=fall,patient=pA1,site=sA", "value=1", at(20, 2, 30)),
		line("bp", "device=cuffB,device_type=bp_cuff,patient=pB1,site=sB", "systolic=120,diastolic=80", at(20, 7, 0)),
		line("spo2", "device=stA,device_type=station,patient=pa_x,site=sA", "value=93", at(20, 3, 0)),
		line("spo2", "device=stA,device_type=station,patient="+longPatient+",site=sA", "value=94", at(20, 3, 1)),
	)
	return lines
}

// newFixture builds the fixture; it starts influxd (skipped under -short).
func newFixture(t *testing.T) *fixture {
	t.Helper()
	ix := testsrv.StartInflux(t, testsrv.InfluxOptions{})
	ctx, seed := context.Background(), seedCtx()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "vw.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.CreateSites(seed, []devices.Site{{ID: "sA", Name: "Riverside CHC", District: "East", Address: "1 River Road", TimeZone: "Asia/Shanghai"},
		{ID: "sB", Name: "Hilltop CHC", TimeZone: "Asia/Shanghai"}}))
	must(st.CreateTeams(seed, []devices.Team{{ID: "tA", SiteID: "sA", Name: "Team A"}, {ID: "tB", SiteID: "sB", Name: "Team B"}}))
	must(st.CreatePatients(seed, []devices.Patient{{ID: "pA1", TeamID: "tA", Plans: []string{"insulin-treated diabetes, older adult: CGM"}},
		{ID: "pA2", TeamID: "tA"}, {ID: "pa_x", TeamID: "tA"}, {ID: longPatient, TeamID: "tA"}, {ID: "pB1", TeamID: "tB"}}))
	dev := func(id string, k devices.Kind, site string) devices.Device {
		return devices.Device{ID: id, Kind: k, SiteID: site, Mode: devices.Home, Status: devices.Active, Model: "M-" + id,
			Serial: "SN-" + id, Firmware: "1.2.3", SecretHash: devices.HashSecret("secret of " + id)}
	}
	station := dev("stA", devices.Station, "sA")
	station.Mode, station.RatedUsesPerDay, station.Firmware = devices.StationMode, 40, ""
	spare := dev("cuffA2", devices.BPCuff, "sA")
	spare.Status = devices.Maintenance
	must(st.CreateDevices(seed, []devices.Device{dev("cuffA", devices.BPCuff, "sA"), dev("cgmA", devices.CGM, "sA"),
		dev("wearA", devices.Wearable, "sA"), station, spare, dev("cuffB", devices.BPCuff, "sB")}))
	lent := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for _, a := range [][2]string{{"cuffA", "pA1"}, {"cgmA", "pA1"}, {"wearA", "pA1"}, {"cuffB", "pB1"}} {
		must(st.AssignDevice(seed, a[0], a[1], lent))
	}

	f := &fixture{t: t, st: st, tokens: map[string]string{}, alerts: map[string]int64{}}
	for _, u := range []access.User{{Username: "admin", Role: access.Admin}, {Username: "doca", Role: access.Doctor, Teams: []string{"tA"}},
		{Username: "docb", Role: access.Doctor, Teams: []string{"tB"}}, {Username: "fleeta", Role: access.FleetManager, Sites: []string{"sA"}},
		{Username: "fleetb", Role: access.FleetManager, Sites: []string{"sB"}}} {
		made, err := st.CreateUser(seed, u)
		must(err)
		tok, _, err := st.CreateToken(seed, made.ID, "fhir test")
		must(err)
		f.tokens[u.Username] = tok
		if u.Username == "doca" {
			f.cookie, _, err = st.CreateSession(seed, made.ID)
			must(err)
		}
	}

	// Alerts: two of pA1 (one resolved), one of pB1, and a fault of cuffA, which is no Flag.
	evidence := func(m, device string, at time.Time) []alerts.Evidence {
		return []alerts.Evidence{{Device: device, Measurement: m, Time: at}}
	}
	low := cgmStart.Add(5 * time.Minute) // the second reading: 2.8 mmol/L
	for _, fd := range []struct {
		name string
		f    alerts.Finding
	}{
		{"low", alerts.Finding{Rule: alerts.RuleGlucoseVeryLow, RuleVersion: 1, Category: alerts.Clinical, Severity: alerts.Urgent,
			Subject: alerts.Subject{Kind: "patient", ID: "pA1"}, Patient: "pA1", Device: "cgmA", Team: "tA", At: low, Value: "2.8 mmol/L",
			Thresholds: map[string]float64{"below": 3}, Evidence: evidence("glucose", "cgmA", low)}},
		{"crisis", alerts.Finding{Rule: alerts.RuleBPCrisis, RuleVersion: 1, Category: alerts.Clinical, Severity: alerts.Urgent,
			Subject: alerts.Subject{Kind: "patient", ID: "pA1"}, Patient: "pA1", Device: "cuffA", Team: "tA",
			At: time.Date(2026, 11, 19, 7, 0, 0, 0, time.UTC), Value: "185/121 mm[Hg]",
			Thresholds: map[string]float64{"systolic_at_or_above": 180, "diastolic_at_or_above": 120, "retest_window": 900},
			Evidence:   evidence("bp", "cuffA", time.Date(2026, 11, 19, 7, 0, 0, 0, time.UTC)), Doubt: "cuff_loose"}},
		{"b", alerts.Finding{Rule: alerts.RuleBPLow, RuleVersion: 1, Category: alerts.Clinical, Severity: alerts.Warning,
			Subject: alerts.Subject{Kind: "patient", ID: "pB1"}, Patient: "pB1", Device: "cuffB", Team: "tB", At: now, Value: "85/55 mm[Hg]"}},
		{"fault", alerts.Finding{Rule: alerts.RuleDeviceOffline, RuleVersion: 1, Category: alerts.Fault, Severity: alerts.Warning,
			Subject: alerts.Subject{Kind: "device", ID: "cuffA"}, Device: "cuffA", Site: "sA", At: now}},
	} {
		a, _, _, err := st.ApplyFinding(ctx, fd.f)
		must(err)
		f.alerts[fd.name] = a.ID
	}
	_, _, err = st.ResolveAlert(seed, f.alerts["low"], "treated with glucose tablets")
	must(err)

	w := influx.NewWriter(influx.Config{URL: ix.URL, Bucket: ix.Bucket})
	defer w.Close()
	lines := fixtureLines()
	for len(lines) > 0 {
		n := min(len(lines), 5000)
		must(w.Write(ctx, []byte(strings.Join(lines[:n], "\n")+"\n")))
		lines = lines[n:]
	}
	r := influx.NewReader(influx.Config{URL: ix.URL, Bucket: ix.Bucket})
	t.Cleanup(r.Close)

	view := devices.NewView(devices.NewDirectory(-1, nil, nil, nil))
	must(devices.Refresh(ctx, view, st))
	f.view, f.reader = view, r
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	f.srv, err = New(Options{Auth: api.NewUserAuth(st, log), Registry: st, Devices: view, Alerts: st, Readings: r,
		Now: func() time.Time { return now }, Log: log})
	must(err)
	return f
}

// seedCtx is the context of the fixture's changes, as the audit log needs an actor.
func seedCtx() context.Context { return audit.WithActor(context.Background(), "test:seed") }

// do sends GET path (below Base) as user ("" for none) and returns the answer. Every answer,
// resource, Bundle or OperationOutcome, must pass the FHIR R4 JSON schema and be served as FHIR
// JSON.
func (f *fixture) do(user, path string) *httptest.ResponseRecorder {
	f.t.Helper()
	req := httptest.NewRequest("GET", "http://vitalwatch.test"+Base+path, nil)
	switch {
	case user == "cookie":
		req.AddCookie(&http.Cookie{Name: api.SessionCookie, Value: f.cookie})
	case user != "":
		req.Header.Set("Authorization", "Bearer "+f.tokens[user])
	}
	w := httptest.NewRecorder()
	f.srv.ServeHTTP(w, req)
	if ct := w.Header().Get("Content-Type"); ct != contentType {
		f.t.Errorf("GET %s: Content-Type %q; want %q", path, ct, contentType)
	}
	checkSchema(f.t, "GET "+path, w.Body.Bytes())
	return w
}

// get sends GET path as user, wants 200 and decodes the answer into v.
func (f *fixture) get(user, path string, v any) {
	f.t.Helper()
	w := f.do(user, path)
	if w.Code != http.StatusOK {
		f.t.Fatalf("GET %s as %s = %d %s", path, user, w.Code, w.Body)
	}
	if err := json.Unmarshal(w.Body.Bytes(), v); err != nil {
		f.t.Fatal(err)
	}
}

// outcome sends GET path as user and wants the status with an OperationOutcome whose issue has
// code issue and, when expression is set, names it.
func (f *fixture) outcome(user, path string, status int, issue, expression string) OperationOutcome {
	f.t.Helper()
	w := f.do(user, path)
	var oo OperationOutcome
	if err := json.Unmarshal(w.Body.Bytes(), &oo); err != nil {
		f.t.Fatalf("GET %s as %s: %v", path, user, err)
	}
	if w.Code != status || oo.ResourceType != "OperationOutcome" || len(oo.Issue) != 1 || oo.Issue[0].Code != issue ||
		expression != "" && strings.Join(oo.Issue[0].Expression, ",") != expression {
		f.t.Errorf("GET %s as %s = %d %s; want %d OperationOutcome %s naming %q", path, user, w.Code, w.Body, status, issue, expression)
	}
	return oo
}

// bundle is a searchset as the tests read it.
type bundle struct {
	ResourceType string `json:"resourceType"`
	Type         string `json:"type"`
	Total        *int   `json:"total"`
	Link         []BundleLink
	Entry        []struct {
		FullURL  string          `json:"fullUrl"`
		Resource json.RawMessage `json:"resource"`
		Search   BundleSearch    `json:"search"`
	} `json:"entry"`
}

// next is the bundle's next link below Base, "" at the end.
func (b bundle) next() string {
	for _, l := range b.Link {
		if l.Relation == "next" {
			return strings.TrimPrefix(l.URL, "http://vitalwatch.test"+Base)
		}
	}
	return ""
}

// all follows path's next links as user and returns every page's bundle.
func (f *fixture) all(user, path string) []bundle {
	f.t.Helper()
	var pages []bundle
	for path != "" && len(pages) < 1000 {
		var b bundle
		f.get(user, path, &b)
		pages = append(pages, b)
		path = b.next()
	}
	return pages
}

// resources returns the entries of pages decoded into T (the pages passed the schema as a
// whole), and checks that each entry's fullUrl names it.
func resources[T any](f *fixture, pages ...bundle) []T {
	f.t.Helper()
	var out []T
	for _, b := range pages {
		for _, e := range b.Entry {
			var head struct{ ResourceType, ID string }
			var v T
			if err := json.Unmarshal(e.Resource, &head); err != nil {
				f.t.Fatal(err)
			}
			if want := "http://vitalwatch.test" + Base + "/" + head.ResourceType + "/" + head.ID; e.FullURL != want {
				f.t.Errorf("fullUrl %s; want %s", e.FullURL, want)
			}
			if err := json.Unmarshal(e.Resource, &v); err != nil {
				f.t.Fatal(err)
			}
			out = append(out, v)
		}
	}
	return out
}
