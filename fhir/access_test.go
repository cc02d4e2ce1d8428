package fhir

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/vitalwatch/vitalwatch/devices"
)

// TestAccessByRole: the API's rules, per role, on every kind of resource: a doctor sees their
// teams' patients (and the devices lent to them), a fleet manager their sites' devices, an
// admin everything; no or bad credentials are a 401, a wrong role or scope a 403, an unknown id
// a 404, each an OperationOutcome.
func TestAccessByRole(t *testing.T) {
	f := newFixture(t)
	bpA := "/Observation/bp-20261120T070000Z-cuffA"
	flagA := "/Flag/" + strconv.FormatInt(f.alerts["crisis"], 10)
	issueA := "/DetectedIssue/" + strconv.FormatInt(f.alerts["crisis"], 10)
	flagB := "/Flag/" + strconv.FormatInt(f.alerts["b"], 10)
	for _, c := range []struct {
		path  string
		codes map[string]int // by user; 200 unless said
	}{
		{"/Patient/pA1", map[string]int{"docb": 403, "fleeta": 403, "fleetb": 403}},
		{"/Patient/pB1", map[string]int{"doca": 403, "fleeta": 403, "fleetb": 403}},
		{"/Patient/pa.5fx", map[string]int{"docb": 403, "fleeta": 403, "fleetb": 403}},
		{"/Patient/" + registryID("", longPatient), map[string]int{"docb": 403, "fleeta": 403, "fleetb": 403}},
		{"/Patient/$everything", map[string]int{"admin": 404, "doca": 404, "docb": 404, "fleeta": 403, "fleetb": 403}},
		{"/Patient/pA1/$everything", map[string]int{"docb": 403, "fleeta": 403, "fleetb": 403}},
		{"/Observation?patient=pA1&code=85354-9", map[string]int{"docb": 403, "fleeta": 403, "fleetb": 403}},
		{bpA, map[string]int{"docb": 403, "fleeta": 403, "fleetb": 403}},
		{"/Observation/spo2-20261120T030000Z-stA", map[string]int{"docb": 403, "fleeta": 403, "fleetb": 403}}, // pa_x's
		{"/Device/cuffA", map[string]int{"docb": 403, "fleetb": 403}},                                         // lent to pA1
		{"/Device/cuffA2", map[string]int{"doca": 403, "docb": 403, "fleetb": 403}},                           // lent to nobody
		{"/Device/stA", map[string]int{"doca": 403, "docb": 403, "fleetb": 403}},
		{"/Device/cuffB", map[string]int{"doca": 403, "fleeta": 403}},
		{"/Device?patient=pA1", map[string]int{"docb": 403, "fleeta": 403, "fleetb": 403}},
		{"/Device", map[string]int{"doca": 400, "docb": 400}},
		{"/Organization/team-tA", nil},
		{"/Organization/site-sB", nil},
		{flagA, map[string]int{"docb": 403, "fleeta": 403, "fleetb": 403}},
		{issueA, map[string]int{"docb": 403, "fleeta": 403, "fleetb": 403}},
		{flagB, map[string]int{"doca": 403, "fleeta": 403, "fleetb": 403}},
		{"/Flag?patient=pA1", map[string]int{"fleeta": 403, "fleetb": 403}},
		{"/Flag/" + strconv.FormatInt(f.alerts["fault"], 10), map[string]int{"admin": 404, "doca": 404, "docb": 404, "fleeta": 403, "fleetb": 403}},
		{"/Patient/nobody", map[string]int{"admin": 404, "doca": 404, "docb": 404, "fleeta": 403, "fleetb": 403}},
		{"/Device/nothing", map[string]int{"admin": 404, "doca": 404, "docb": 404, "fleeta": 404, "fleetb": 404}},
		{"/Organization/team-none", map[string]int{"admin": 404, "doca": 404, "docb": 404, "fleeta": 404, "fleetb": 404}},
		{"/Flag/999999", map[string]int{"admin": 404, "doca": 404, "docb": 404, "fleeta": 403, "fleetb": 403}},
		{"/metadata", nil},
	} {
		for _, user := range []string{"admin", "doca", "docb", "fleeta", "fleetb"} {
			want := http.StatusOK
			if code, ok := c.codes[user]; ok {
				want = code
			}
			w := f.do(user, c.path)
			if w.Code != want {
				t.Errorf("GET %s as %s = %d %s; want %d", c.path, user, w.Code, w.Body, want)
			}
			if want != 200 && !strings.Contains(w.Body.String(), `"resourceType":"OperationOutcome"`) {
				t.Errorf("GET %s as %s: %s; want an OperationOutcome", c.path, user, w.Body)
			}
		}
	}

	// Without credentials, with a wrong token: 401, but for the CapabilityStatement.
	f.outcome("", "/Patient/pA1", 401, "login", "")
	w := f.do("", "/Observation?patient=pA1")
	if w.Code != 401 || !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("no credentials: %d, WWW-Authenticate %q", w.Code, w.Header().Get("WWW-Authenticate"))
	}
	f.tokens["forged"] = "vwt_forged"
	f.outcome("forged", "/Patient/pA1", 401, "login", "")
	if w := f.do("", "/metadata"); w.Code != 200 {
		t.Errorf("metadata without credentials = %d", w.Code)
	}
	// The web app's session cookie works as a token does.
	var p Patient
	f.get("cookie", "/Patient/pA1", &p)
	if p.ID != "pA1" {
		t.Errorf("Patient/pA1 by cookie = %+v", p)
	}

	// Read-only, JSON only, unknown endpoints: OperationOutcomes.
	req := httptest.NewRequest("POST", "http://vitalwatch.test"+Base+"/Patient/pA1", strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer "+f.tokens["admin"])
	rec := httptest.NewRecorder()
	f.srv.ServeHTTP(rec, req)
	checkSchema(t, "POST", rec.Body.Bytes())
	if rec.Code != 405 || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST = %d (Allow %q); want 405", rec.Code, rec.Header().Get("Allow"))
	}
	f.outcome("admin", "/Patient/pA1?_format=xml", 406, "not-supported", "_format")
	f.outcome("admin", "/Encounter?patient=pA1", 404, "not-found", "")
	f.outcome("admin", "/Patient/pA1?name=x", 400, "not-supported", "name")
	if w := f.do("admin", "/Patient/pA1?_format=json&_pretty=true"); w.Code != 200 || !strings.Contains(w.Body.String(), "\n  \"id\"") {
		t.Errorf("_pretty: %d %s", w.Code, w.Body)
	}
}

// TestTransferEndsAccess: the access is read from the registry on each request, so that a
// transfer ends the old team's access at once.
func TestTransferEndsAccess(t *testing.T) {
	f := newFixture(t)
	f.get("doca", "/Patient/pA2", new(Patient))
	if err := f.st.TransferPatient(seedCtx(), "pA2", "tB", "return", now); err != nil {
		t.Fatal(err)
	}
	f.outcome("doca", "/Patient/pA2", 403, "forbidden", "")
	var p Patient
	f.get("docb", "/Patient/pA2", &p)
	if p.GeneralPractitioner[0].Reference != "Organization/team-tB" {
		t.Errorf("transferred patient's team %v; want team-tB", p.GeneralPractitioner)
	}
}

// TestUnknownEndpoints: the base itself and anything not served are 404 OperationOutcomes, with
// or without credentials.
func TestUnknownEndpoints(t *testing.T) {
	s, err := New(Options{Auth: noAuth{}, Registry: noRegistry{}, Devices: devices.NewView(devices.NewDirectory(-1, nil, nil, nil))})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{Base, Base + "/", Base + "/Patient", Base + "/Observation/x/y", Base + "/Encounter?patient=p"} {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest("GET", "http://vitalwatch.test"+path, nil))
		checkSchema(t, path, w.Body.Bytes())
		if w.Code != 404 || !strings.Contains(w.Body.String(), `"code":"not-found"`) {
			t.Errorf("GET %s = %d %s; want 404", path, w.Code, w.Body)
		}
	}
}

// TestJSONOnly: an Accept that takes no JSON is a 406; a browser's, or none, gets JSON.
func TestJSONOnly(t *testing.T) {
	s, err := New(Options{Auth: noAuth{}, Registry: noRegistry{}, Devices: devices.NewView(devices.NewDirectory(-1, nil, nil, nil))})
	if err != nil {
		t.Fatal(err)
	}
	for accept, want := range map[string]int{
		"application/fhir+xml": 406, "application/xml, text/xml": 406,
		"application/fhir+json": 200, "application/json; q=0.9": 200, "text/html,application/xhtml+xml,*/*;q=0.8": 200, "": 200,
	} {
		req := httptest.NewRequest("GET", "http://vitalwatch.test"+Base+"/metadata", nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		checkSchema(t, "metadata as "+accept, w.Body.Bytes())
		if w.Code != want {
			t.Errorf("Accept %q: %d; want %d", accept, w.Code, want)
		}
	}
}
