package store

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/errcode"
)

// A patient's birth year is stored, read back by every path that reads patients (get, list,
// the directory), changed by itself without touching the plans or the team, checked against
// the store's clock, and audited; an unknown one is NULL and reads as 0.
func testPatientBirthYear(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	s.now = func() time.Time { return t0 } // 2026
	seed(t, s)

	old := devices.Patient{ID: "p7", TeamID: "t1", Plans: []string{"hypertension: BP daily"}, BirthYear: 1948}
	must(t, "CreatePatient(born 1948)", s.CreatePatient(asAdmin, old))
	if got, err := s.GetPatient(ctx, "p7"); err != nil || !reflect.DeepEqual(got, old) {
		t.Errorf("GetPatient(p7) = %+v, %v; want %+v", got, err, old)
	}
	if got, _ := s.GetPatient(ctx, "p2"); got.BirthYear != 0 {
		t.Errorf("GetPatient(p2) birth year = %d; want 0 (unknown)", got.BirthYear)
	}
	var stored any
	if err := s.db.QueryRowContext(ctx, `SELECT birth_year FROM patients WHERE id = 'p2'`).Scan(&stored); err != nil || stored != nil {
		t.Errorf("birth_year column of p2 = %v, %v; want NULL", stored, err)
	}
	list, err := s.ListPatients(ctx, devices.ListOptions{Team: "t1"})
	if err != nil || len(list) != 3 || list[2].ID != "p7" || list[2].BirthYear != 1948 {
		t.Errorf("ListPatients(t1) = %+v, %v; want p7 last, born 1948", list, err)
	}
	dir, err := s.LoadDirectory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := dir.Patient("p7"); !ok || p.BirthYear != 1948 {
		t.Errorf("directory's p7 = %+v, %v; want born 1948", p, ok)
	}

	// Changing the birth year leaves the plans and the team alone, and the other way round.
	must(t, "TransferPatient", s.TransferPatient(asAdmin, "p7", "t2", devices.PolicyReturn, t0))
	year := 1950
	must(t, "PatchPatient(birth year)", s.PatchPatient(asAdmin, "p7", devices.PatientChange{BirthYear: &year}))
	want := devices.Patient{ID: "p7", TeamID: "t2", Plans: []string{"hypertension: BP daily"}, BirthYear: 1950}
	if got, _ := s.GetPatient(ctx, "p7"); !reflect.DeepEqual(got, want) {
		t.Errorf("after PatchPatient(birth year 1950), GetPatient(p7) = %+v; want %+v", got, want)
	}
	must(t, "SetPatientPlans", s.SetPatientPlans(asAdmin, "p7", nil))
	want.Plans = nil
	if got, _ := s.GetPatient(ctx, "p7"); !reflect.DeepEqual(got, want) {
		t.Errorf("after SetPatientPlans(none), GetPatient(p7) = %+v; want %+v", got, want)
	}
	plans := []string{"fever watch: temperature daily"}
	unknown := 0
	must(t, "PatchPatient(both)", s.PatchPatient(asAdmin, "p7", devices.PatientChange{Plans: &plans, BirthYear: &unknown}))
	want.Plans, want.BirthYear = plans, 0
	if got, _ := s.GetPatient(ctx, "p7"); !reflect.DeepEqual(got, want) {
		t.Errorf("after PatchPatient(plans, unknown birth year), GetPatient(p7) = %+v; want %+v", got, want)
	}
	moved := devices.Patient{ID: "p7", TeamID: "t1", BirthYear: 1931}
	must(t, "UpdatePatient(born 1931)", s.UpdatePatient(asAdmin, moved))
	if got, _ := s.GetPatient(ctx, "p7"); !reflect.DeepEqual(got, moved) {
		t.Errorf("after UpdatePatient, GetPatient(p7) = %+v; want %+v", got, moved)
	}

	// Refusals name the field and change nothing.
	v, _ := s.RegistryVersion(ctx)
	for _, bad := range []int{1899, 2027, -5} {
		wantCode(t, "CreatePatient(born "+strconv.Itoa(bad)+")", s.CreatePatient(asAdmin, devices.Patient{ID: "p8", TeamID: "t1", BirthYear: bad}), errcode.Invalid)
		wantCode(t, "CreatePatients(born "+strconv.Itoa(bad)+")", s.CreatePatients(asAdmin, []devices.Patient{{ID: "p8", TeamID: "t1", BirthYear: bad}}), errcode.Invalid)
		wantCode(t, "UpdatePatient(born "+strconv.Itoa(bad)+")", s.UpdatePatient(asAdmin, devices.Patient{ID: "p7", TeamID: "t1", BirthYear: bad}), errcode.Invalid)
		err := s.PatchPatient(asAdmin, "p7", devices.PatientChange{BirthYear: &bad})
		wantCode(t, "PatchPatient(born "+strconv.Itoa(bad)+")", err, errcode.Invalid)
		if de := (*errcode.Error)(nil); errors.As(err, &de) && !strings.Contains(de.Message, "birth_year") {
			t.Errorf("PatchPatient(born %d) = %q; want the message to name birth_year", bad, de.Message)
		}
	}
	wantCode(t, "PatchPatient(p9)", s.PatchPatient(asAdmin, "p9", devices.PatientChange{BirthYear: &year}), errcode.NotFound)
	if v2, _ := s.RegistryVersion(ctx); v2 != v {
		t.Errorf("RegistryVersion after refused changes = %d; want %d", v2, v)
	}
	if got, _ := s.GetPatient(ctx, "p7"); !reflect.DeepEqual(got, moved) {
		t.Errorf("after refused changes, GetPatient(p7) = %+v; want %+v", got, moved)
	}

	// The audit log records the birth year as it records the other fields: the new values,
	// with an unknown year left out.
	log, err := s.AuditLog(ctx, audit.Filter{Subject: "patient/p7"})
	if err != nil {
		t.Fatal(err)
	}
	var details []string
	for i := len(log) - 1; i >= 0; i-- {
		if log[i].Action != "patient.transfer" {
			details = append(details, log[i].Action+" "+log[i].Detail)
		}
	}
	wantLog := []string{
		`patient.create {"team":"t1","plans":["hypertension: BP daily"],"birth_year":1948}`,
		`patient.update {"team":"t2","plans":["hypertension: BP daily"],"birth_year":1950}`,
		`patient.update {"team":"t2","plans":[],"birth_year":1950}`,
		`patient.update {"team":"t2","plans":["fever watch: temperature daily"]}`,
		`patient.update {"team":"t1","plans":[],"birth_year":1931}`,
	}
	if !reflect.DeepEqual(details, wantLog) {
		t.Errorf("audit of p7 =\n%q\nwant\n%q", details, wantLog)
	}
}
