package api

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/vitalwatch/vitalwatch/devices"
)

// A sites file with a good row, one that cannot be read and one the store refuses.
const sitesCSV = "csv:id,name,lat,lon\n" +
	"sC,Lakeside CHC,31.2,121.5\n" + // line 2: good
	"sD,Bad CHC,north,121.5\n" + // line 3: not a number
	"sA,Riverside again,,\n" + // line 4: a duplicate
	"sE,Eastside CHC,,\n" // line 5: good

func TestImportKeepsGoodRows(t *testing.T) {
	f := newRegistryFixture(t)
	var rep importReport
	f.want(200, "admin", "POST", "/sites/import", sitesCSV, &rep)
	want := importReport{Imported: []string{"sC", "sE"}, Errors: []rowErrorJSON{
		{Line: 3, Column: "lat", Reason: `lat: "north" is not a number`},
		{Line: 4, Column: "id", Reason: "site sA already exists"},
	}}
	if !reflect.DeepEqual(rep, want) {
		t.Errorf("import = %+v; want %+v", rep, want)
	}
	for _, id := range []string{"sC", "sE"} {
		f.want(200, "admin", "GET", "/sites/"+id, "", nil)
	}
	f.want(404, "admin", "GET", "/sites/sD", "", nil)
}

func TestImportAtomic(t *testing.T) {
	f := newRegistryFixture(t)
	// Any bad row: nothing is stored, and every bad row is listed.
	var rep importReport
	f.want(200, "admin", "POST", "/sites/import?atomic=true", sitesCSV, &rep)
	if len(rep.Imported) != 0 || len(rep.Errors) != 1 || rep.Errors[0].Line != 3 {
		t.Errorf("atomic import with a bad row = %+v; want nothing imported and line 3 reported", rep)
	}
	// Every row readable, one refused by the store: still nothing.
	csv := "csv:id,name\nsC,Lakeside CHC\nsE,Eastside CHC\nsA,Riverside again\n"
	rep = importReport{}
	f.want(200, "admin", "POST", "/sites/import?atomic=true", csv, &rep)
	want := importReport{Imported: []string{}, Errors: []rowErrorJSON{{Line: 4, Column: "id", Reason: "site sA already exists"}}}
	if !reflect.DeepEqual(rep, want) {
		t.Errorf("atomic import refused by the store = %+v; want %+v", rep, want)
	}
	for _, id := range []string{"sC", "sE"} {
		f.want(404, "admin", "GET", "/sites/"+id, "", nil)
	}
	// All good: all stored.
	rep = importReport{}
	f.want(200, "admin", "POST", "/sites/import?atomic=true", "csv:id,name\nsC,Lakeside CHC\nsE,Eastside CHC\n", &rep)
	if !reflect.DeepEqual(rep.Imported, []string{"sC", "sE"}) || len(rep.Errors) != 0 {
		t.Errorf("atomic import of good rows = %+v; want sC, sE", rep)
	}
	// Patients and teams the same way.
	rep = importReport{}
	f.want(200, "admin", "POST", "/patients/import?atomic=true", "csv:id,team,plans\npA9,tA,bp daily;weight weekly\npZ,tZ,\n", &rep)
	if len(rep.Imported) != 0 || !reflect.DeepEqual(rep.Errors, []rowErrorJSON{{Line: 3, Column: "team", Reason: "team tZ does not exist"}}) {
		t.Errorf("atomic patients import with an unknown team = %+v", rep)
	}
	f.want(404, "admin", "GET", "/patients/pA9", "", nil)
	rep = importReport{}
	f.want(200, "admin", "POST", "/teams/import?atomic=1", "csv:id,site,name\ntC,sA,Team C\ntD,sB,Team D\n", &rep)
	if !reflect.DeepEqual(rep.Imported, []string{"tC", "tD"}) {
		t.Errorf("atomic teams import = %+v; want tC, tD", rep)
	}
}

// A fleet manager's row at another site is refused as forbidden; a device without a secret gets
// one, shown once, that matches the stored hash.
func TestImportDevicesAsFleetManager(t *testing.T) {
	f := newRegistryFixture(t)
	csv := "csv:id,kind,site,mode,secret\n" +
		"dA7,oximeter,sA,home,\n" + // line 2: gets a secret
		"dB7,oximeter,sB,home,\n" + // line 3: another site
		"dA8,scale,sA,home,provisioned-secret-0001\n" + // line 4: brings its own
		"dA9,toaster,sA,home,\n" // line 5: unknown kind
	var rep importReport
	f.want(200, "fleetA", "POST", "/devices/import", csv, &rep)
	if !reflect.DeepEqual(rep.Imported, []string{"dA7", "dA8"}) {
		t.Errorf("imported = %v; want dA7, dA8", rep.Imported)
	}
	if len(rep.Errors) != 2 || rep.Errors[0] != (rowErrorJSON{Line: 3, Reason: "forbidden"}) || rep.Errors[1].Line != 5 ||
		!strings.Contains(rep.Errors[1].Reason, "toaster") {
		t.Errorf("errors = %+v; want line 3 forbidden and line 5 naming the kind", rep.Errors)
	}
	if len(rep.Secrets) != 1 || rep.Secrets[0].Device != "dA7" {
		t.Fatalf("secrets = %+v; want one, for dA7", rep.Secrets)
	}
	for id, secret := range map[string]string{"dA7": rep.Secrets[0].Secret, "dA8": "provisioned-secret-0001"} {
		d, err := f.store.GetDevice(context.Background(), id)
		if err != nil || !devices.VerifySecret(d.SecretHash, secret) {
			t.Errorf("device %s: %v; want its secret to match the stored hash", id, err)
		}
	}
	f.want(404, "admin", "GET", "/devices/dB7", "", nil)

	// Atomic: the forbidden row stops everything.
	rep = importReport{}
	f.want(200, "fleetA", "POST", "/devices/import?atomic=true", "csv:id,kind,site,mode\ndA5,cgm,sA,home\ndB5,cgm,sB,home\n", &rep)
	if len(rep.Imported) != 0 || len(rep.Secrets) != 0 || !reflect.DeepEqual(rep.Errors, []rowErrorJSON{{Line: 3, Reason: "forbidden"}}) {
		t.Errorf("atomic import with a forbidden row = %+v; want nothing imported, no secret, line 3 forbidden", rep)
	}
	f.want(404, "admin", "GET", "/devices/dA5", "", nil)
	// Atomic and all good: every new device's secret is in the answer.
	rep = importReport{}
	f.want(200, "fleetA", "POST", "/devices/import?atomic=true", "csv:id,kind,site,mode\ndA5,cgm,sA,home\ndA6,cgm,sA,home\n", &rep)
	if len(rep.Secrets) != 2 || rep.Secrets[0].Device != "dA5" || rep.Secrets[1].Device != "dA6" {
		t.Errorf("atomic import secrets = %+v; want dA5's and dA6's", rep.Secrets)
	}
}

func TestImportPatientsAsDoctor(t *testing.T) {
	f := newRegistryFixture(t)
	var rep importReport
	f.want(200, "docA", "POST", "/patients/import", "csv:id,team\npA7,tA\npB7,tB\npA1,tA\n", &rep)
	want := importReport{Imported: []string{"pA7"}, Errors: []rowErrorJSON{
		{Line: 3, Reason: "forbidden"},
		{Line: 4, Column: "id", Reason: "patient pA1 already exists"},
	}}
	if !reflect.DeepEqual(rep, want) {
		t.Errorf("import = %+v; want %+v", rep, want)
	}
}

// A request that is not a CSV import at all is refused as a whole.
func TestImportRefusals(t *testing.T) {
	f := newRegistryFixture(t)
	for _, tt := range []struct {
		name, path, body, contentType string
		status                        int
		wantIn                        string
	}{
		{"JSON body", "/sites/import", `{"id": "x"}`, "application/json", 415, "Content-Type"},
		{"no Content-Type", "/sites/import", "id,name\nsC,x\n", "", 415, "Content-Type"},
		{"no header", "/sites/import", "", "text/csv", 400, "empty file"},
		{"unknown column", "/sites/import", "id,name,colour\nsC,x,red\n", "text/csv", 400, "colour"},
		{"missing column", "/teams/import", "id,name\ntC,x\n", "text/csv", 400, "site"},
		{"atomic not a bool", "/sites/import?atomic=maybe", "id,name\n", "text/csv", 400, "atomic"},
		{"unknown parameter", "/sites/import?dry_run=true", "id,name\n", "text/csv", 400, "dry_run"},
	} {
		req := strings.NewReader(tt.body)
		w := f.callRaw("admin", "POST", tt.path, req, tt.contentType)
		if msg := errorOf(w.Body.Bytes()); w.Code != tt.status || !strings.Contains(msg, tt.wantIn) {
			t.Errorf("%s: POST %s = %d %s; want %d naming %s", tt.name, tt.path, w.Code, msg, tt.status, tt.wantIn)
		}
	}
}
