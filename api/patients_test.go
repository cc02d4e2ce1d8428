package api

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/vitalwatch/vitalwatch/audit"
)

// A patient's birth year goes in with POST, comes out of GET and lists, changes by PATCH on
// its own (plans and team stay), is cleared by 0 or null, and is absent while unknown.
func TestPatientBirthYear(t *testing.T) {
	f := newRegistryFixture(t)
	var p patientJSON
	f.want(201, "docA", "POST", "/patients", `{"id": "pA7", "team": "tA", "plans": ["hypertension: BP daily"], "birth_year": 1948}`, &p)
	want := patientJSON{ID: "pA7", Team: "tA", Plans: []string{"hypertension: BP daily"}, BirthYear: 1948}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("POST /patients = %+v; want %+v", p, want)
	}
	p = patientJSON{}
	f.want(200, "docA", "GET", "/patients/pA7", "", &p)
	if !reflect.DeepEqual(p, want) {
		t.Errorf("GET /patients/pA7 = %+v; want %+v", p, want)
	}
	if w := f.want(200, "docA", "GET", "/patients/pA2", "", nil); strings.Contains(w.Body.String(), "birth_year") {
		t.Errorf("GET /patients/pA2 = %s; want no birth_year while it is unknown", w.Body)
	}
	var page struct {
		Items []patientJSON `json:"items"`
	}
	f.want(200, "docA", "GET", "/patients?team=tA", "", &page)
	if len(page.Items) != 3 || page.Items[2].ID != "pA7" || page.Items[2].BirthYear != 1948 || page.Items[0].BirthYear != 0 {
		t.Errorf("GET /patients?team=tA = %+v; want pA1, pA2 without and pA7 with its birth year", page.Items)
	}

	// PATCH changes what it names and nothing else.
	p = patientJSON{}
	f.want(200, "docA", "PATCH", "/patients/pA7", `{"birth_year": 1950}`, &p)
	want.BirthYear = 1950
	if !reflect.DeepEqual(p, want) {
		t.Errorf("PATCH birth_year 1950 = %+v; want %+v", p, want)
	}
	p = patientJSON{}
	f.want(200, "docA", "PATCH", "/patients/pA7", `{"plans": []}`, &p)
	want.Plans = []string{}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("PATCH plans [] = %+v; want the birth year kept: %+v", p, want)
	}
	for _, clear := range []string{`{"birth_year": null}`, `{"birth_year": 0}`} {
		f.want(200, "docA", "PATCH", "/patients/pA7", `{"birth_year": 1931}`, nil)
		p = patientJSON{}
		f.want(200, "docA", "PATCH", "/patients/pA7", clear, &p)
		if p.BirthYear != 0 {
			t.Errorf("PATCH %s = %+v; want the birth year unknown", clear, p)
		}
	}
	if got, _ := f.store.GetPatient(context.Background(), "pA7"); got.BirthYear != 0 || got.TeamID != "tA" {
		t.Errorf("stored pA7 = %+v; want team tA, birth year unknown", got)
	}

	// Bad birth years are 400s that name the field, and change nothing.
	f.want(200, "docA", "PATCH", "/patients/pA7", `{"birth_year": 1948}`, nil)
	for _, tt := range []struct {
		method, path, body string
	}{
		{"POST", "/patients", `{"id": "pA8", "team": "tA", "birth_year": 1899}`},
		{"POST", "/patients", `{"id": "pA8", "team": "tA", "birth_year": 3000}`},
		{"POST", "/patients", `{"id": "pA8", "team": "tA", "birth_year": "1948"}`},
		{"POST", "/patients", `{"id": "pA8", "team": "tA", "birth_year": 1948.5}`},
		{"PATCH", "/patients/pA7", `{"birth_year": 1850}`},
		{"PATCH", "/patients/pA7", `{"birth_year": -1948}`},
		{"PATCH", "/patients/pA7", `{"birth_year": "1948-05-01"}`},
		{"PATCH", "/patients/pA7", `{"plans": ["diabetes: glucose fasting"], "birth_year": 2999}`},
	} {
		w := f.call("docA", tt.method, tt.path, tt.body)
		if msg := errorOf(w.Body.Bytes()); w.Code != 400 || !strings.Contains(msg, "birth_year") {
			t.Errorf("%s %s %s = %d %s; want a 400 naming birth_year", tt.method, tt.path, tt.body, w.Code, msg)
		}
	}
	f.want(404, "docA", "GET", "/patients/pA8", "", nil)
	want = patientJSON{ID: "pA7", Team: "tA", Plans: []string{}, BirthYear: 1948}
	p = patientJSON{}
	if f.want(200, "docA", "GET", "/patients/pA7", "", &p); !reflect.DeepEqual(p, want) {
		t.Errorf("GET /patients/pA7 after refused changes = %+v; want %+v", p, want)
	}

	// The audit log records the change as it records the plans.
	log, err := f.store.AuditLog(context.Background(), audit.Filter{Subject: "patient/pA7", Action: "patient.update", Limit: 1})
	if err != nil || len(log) != 1 || log[0].Detail != `{"team":"tA","plans":[],"birth_year":1948}` {
		t.Errorf("latest audit of pA7 = %+v, %v; want the birth year with the team and plans", log, err)
	}
}

func TestImportPatientsWithBirthYear(t *testing.T) {
	f := newRegistryFixture(t)
	var rep importReport
	f.want(200, "docA", "POST", "/patients/import", "csv:id,team,plans,birth_year\npA7,tA,,1948\npA8,tA,,\npA9,tA,,1848\n", &rep)
	want := importReport{Imported: []string{"pA7", "pA8"}, Errors: []rowErrorJSON{{Line: 4, Column: "birth_year", Reason: "birth_year 1848 is not a year from 1900 to "}}}
	if len(rep.Errors) == 1 && strings.HasPrefix(rep.Errors[0].Reason, want.Errors[0].Reason) {
		rep.Errors[0].Reason = want.Errors[0].Reason
	}
	if !reflect.DeepEqual(rep, want) {
		t.Errorf("import = %+v; want %+v", rep, want)
	}
	for id, year := range map[string]int{"pA7": 1948, "pA8": 0} {
		if got, _ := f.store.GetPatient(context.Background(), id); got.BirthYear != year {
			t.Errorf("imported %s birth year = %d; want %d", id, got.BirthYear, year)
		}
	}
}
