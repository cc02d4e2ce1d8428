package api

import (
	"encoding/json"
	"reflect"
	"testing"
)

// A registry change the API refuses because of one input names that input in "field", so that
// a form can show the message next to it: a value the registry cannot take, an id that is
// taken, a site or team that does not exist.
func TestRegistryErrorsNameTheField(t *testing.T) {
	f := newRegistryFixture(t)
	for _, c := range []struct {
		name, path, body string
		status           int
		field            string
	}{
		{"site id with a space", "/sites", `{"id":"bad id","name":"x"}`, 400, "id"},
		{"site without a name", "/sites", `{"id":"s9"}`, 400, "name"},
		{"site latitude", "/sites", `{"id":"s9","name":"x","lat":91}`, 400, "lat"},
		{"site longitude", "/sites", `{"id":"s9","name":"x","lon":-181}`, 400, "lon"},
		{"site time zone", "/sites", `{"id":"s9","name":"x","time_zone":"Mars/Olympus"}`, 400, "time_zone"},
		{"site id taken", "/sites", `{"id":"sA","name":"x"}`, 409, "id"},
		{"team of no site", "/teams", `{"id":"t9","site":"nowhere","name":"T"}`, 400, "site"},
		{"team response target", "/teams", `{"id":"t9","site":"sA","name":"T","ack_within":"5s"}`, 400, "ack_within"},
		{"team lead not of the team", "/teams", `{"id":"t9","site":"sA","name":"T","lead":"nobody"}`, 400, "lead"},
		{"patient of no team", "/patients", `{"id":"p9","team":"nowhere"}`, 400, "team"},
		{"patient birth year", "/patients", `{"id":"p9","team":"tA","birth_year":1800}`, 400, "birth_year"},
		{"device id reserved", "/devices", `{"id":"vitalwatch-x","kind":"bp_cuff","site":"sA","mode":"home"}`, 400, "id"},
		{"device kind", "/devices", `{"id":"d9","kind":"toaster","site":"sA","mode":"home"}`, 400, "kind"},
		{"device of no site", "/devices", `{"id":"d9","kind":"bp_cuff","site":"nowhere","mode":"home"}`, 400, "site"},
		{"station without its rate", "/devices", `{"id":"d9","kind":"station","site":"sA","mode":"station"}`, 400, "rated_uses_per_day"},
		{"device id taken", "/devices", `{"id":"dA1","kind":"bp_cuff","site":"sA","mode":"home"}`, 409, "id"},
	} {
		w := f.call("admin", "POST", c.path, c.body)
		var e errorBody
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
			t.Fatalf("%s: %s: %v", c.name, w.Body, err)
		}
		if w.Code != c.status || e.Error.Field != c.field {
			t.Errorf("%s: POST %s %s = %d, field %q (%s); want %d, field %q", c.name, c.path, c.body, w.Code, e.Error.Field,
				e.Error.Message, c.status, c.field)
		}
	}
	// A change: the same.
	w := f.call("admin", "PATCH", "/sites/sA", `{"time_zone":"Nowhere/Else"}`)
	if e := fieldOfAnswer(t, w.Body.Bytes()); w.Code != 400 || e != "time_zone" {
		t.Errorf("PATCH a site's time zone = %d, field %q; want 400, time_zone", w.Code, e)
	}
}

func fieldOfAnswer(t *testing.T, body []byte) string {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	return e.Error.Field
}

// An import's bad rows name the column at fault when the reason is about one cell, both the
// rows that cannot be read and those the store refuses; with atomic=true nothing is stored.
func TestImportRowErrorsNameTheColumn(t *testing.T) {
	f := newRegistryFixture(t)
	var rep importReport
	f.want(200, "admin", "POST", "/sites/import?atomic=true",
		"csv:id,name,time_zone\nsC,Lakeside CHC,Asia/Shanghai\nbad id,Bad CHC,\nsD,Other CHC,Moon/Base\nsE,Short,UTC,extra\n", &rep)
	want := importReport{Imported: []string{}, Errors: []rowErrorJSON{
		{Line: 3, Column: "id", Reason: `site id "bad id" is not 1-64 characters of A-Z a-z 0-9 . _ : -`},
		{Line: 4, Column: "time_zone", Reason: `site time zone "Moon/Base" is not an IANA zone name`},
		{Line: 5, Reason: "4 fields; the header has 3"},
	}}
	if !reflect.DeepEqual(rep, want) {
		t.Errorf("import = %+v;\nwant %+v", rep, want)
	}
	f.want(404, "admin", "GET", "/sites/sC", "", nil)

	rep = importReport{}
	f.want(200, "admin", "POST", "/devices/import", "csv:id,kind,site,mode,secret\ndZ1,bp_cuff,nowhere,home,\ndZ2,bp_cuff,sA,home,short\n", &rep)
	want = importReport{Imported: []string{}, Errors: []rowErrorJSON{
		{Line: 2, Column: "site", Reason: "site nowhere does not exist"},
		{Line: 3, Column: "secret", Reason: "secret: at least 16 characters"},
	}}
	if !reflect.DeepEqual(rep, want) {
		t.Errorf("devices import = %+v;\nwant %+v", rep, want)
	}
}
