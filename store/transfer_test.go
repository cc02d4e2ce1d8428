package store

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/errcode"
)

// lendForTransfer seeds the fixture and lends devices around patient p1 of team t1 (site s1):
// cuff-1 is lent to p1 since t0; cuff-2 was lent to p1 and came back; a second home device,
// ox-1, is lent to p2, who stays.
func lendForTransfer(t *testing.T, s *Store) {
	t.Helper()
	seed(t, s)
	ox := cuff2
	ox.ID, ox.Kind = "ox-1", devices.Oximeter
	must(t, "CreateDevice", s.CreateDevice(asAdmin, ox))
	must(t, "AssignDevice", s.AssignDevice(asAdmin, "cuff-1", "p1", t0))
	must(t, "AssignDevice", s.AssignDevice(asAdmin, "cuff-2", "p1", t0))
	must(t, "ReturnDevice", s.ReturnDevice(asAdmin, "cuff-2", t0.Add(day)))
	must(t, "AssignDevice", s.AssignDevice(asAdmin, "ox-1", "p2", t0))
}

// wantTransferred checks what every transfer leaves behind: the patient in t2 with its plans,
// one transfer row and one patient.transfer audit row, the registry version one up.
func wantTransferred(t *testing.T, s *Store, versionBefore int64, policy string, at time.Time) {
	t.Helper()
	ctx := context.Background()
	want := devices.Patient{ID: "p1", TeamID: "t2", Plans: patient[0].Plans}
	if got, err := s.GetPatient(ctx, "p1"); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("GetPatient(p1) after the transfer = %+v, %v; want %+v", got, err, want)
	}
	trs, err := s.Transfers(ctx, "p1")
	if err != nil || len(trs) != 1 {
		t.Fatalf("Transfers(p1) = %+v, %v; want one", trs, err)
	}
	tr := trs[0]
	tr.ID = 0
	if wantTr := (devices.Transfer{PatientID: "p1", FromTeam: "t1", ToTeam: "t2", At: at, Actor: "admin:test", DevicePolicy: policy}); tr != wantTr {
		t.Errorf("Transfers(p1)[0] = %+v; want %+v", tr, wantTr)
	}
	if v, _ := s.RegistryVersion(ctx); v != versionBefore+1 {
		t.Errorf("RegistryVersion after the transfer = %d; want %d: one change", v, versionBefore+1)
	}
	log, _ := s.AuditLog(ctx, audit.Filter{Subject: "patient/p1", Action: "patient.transfer"})
	if len(log) != 1 || log[0].Actor != "admin:test" {
		t.Errorf("audit of the transfer = %+v; want one patient.transfer by admin:test", log)
	}
	if trs, err := s.Transfers(ctx, "p3"); err != nil || len(trs) != 0 {
		t.Errorf("Transfers(p3) = %+v, %v; want none", trs, err)
	}
	_, err = s.Transfers(ctx, "p9")
	wantCode(t, "Transfers(p9)", err, errcode.NotFound)
}

func testTransferTravel(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	lendForTransfer(t, s)
	v, _ := s.RegistryVersion(ctx)
	at := t0.Add(2 * day)

	must(t, "TransferPatient(travel)", s.TransferPatient(asAdmin, "p1", "t2", devices.PolicyTravel, at))
	wantTransferred(t, s, v, devices.PolicyTravel, at)

	// The lent cuff moved to the new team's site and is still lent; the returned one and the
	// one lent to someone else stayed.
	for id, site := range map[string]string{"cuff-1": "s2", "cuff-2": "s1", "ox-1": "s1"} {
		if d, err := s.GetDevice(ctx, id); err != nil || d.SiteID != site {
			t.Errorf("GetDevice(%s).SiteID = %q, %v; want %s", id, d.SiteID, err, site)
		}
	}
	wantAssignments(t, s, "cuff-1", devices.Assignment{DeviceID: "cuff-1", PatientID: "p1", From: t0})
	wantAssignments(t, s, "cuff-2", devices.Assignment{DeviceID: "cuff-2", PatientID: "p1", From: t0, Until: t0.Add(day)})
	dir, err := s.LoadDirectory(ctx)
	must(t, "LoadDirectory", err)
	for _, when := range []time.Time{t0, at, at.Add(30 * day)} {
		if got := dir.PatientAt("cuff-1", when); got != "p1" {
			t.Errorf("PatientAt(cuff-1, %v) after it travelled = %q; want p1", when, got)
		}
	}
	if d, _ := dir.Device("cuff-1"); d == nil || d.SiteID != "s2" {
		t.Errorf("Directory.Device(cuff-1) = %+v; want it at s2", d)
	}
	if log, _ := s.AuditLog(ctx, audit.Filter{Subject: "device/cuff-1", Action: "device.update"}); len(log) != 1 ||
		!strings.Contains(log[0].Detail, `"site":"s2"`) {
		t.Errorf("audit of cuff-1's move = %+v; want one device.update to site s2", log)
	}
	if log, _ := s.AuditLog(ctx, audit.Filter{Subject: "device/cuff-2"}); len(log) != 3 {
		t.Errorf("audit of cuff-2 = %d rows; want its create, assign and return only", len(log))
	}
}

func testTransferReturn(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	lendForTransfer(t, s)
	v, _ := s.RegistryVersion(ctx)
	at := t0.Add(2 * day)

	must(t, "TransferPatient(return)", s.TransferPatient(asAdmin, "p1", "t2", devices.PolicyReturn, at))
	wantTransferred(t, s, v, devices.PolicyReturn, at)

	// The cuff came back to its site's pool at the time of the transfer.
	if d, err := s.GetDevice(ctx, "cuff-1"); err != nil || d.SiteID != "s1" {
		t.Errorf("GetDevice(cuff-1).SiteID = %q, %v; want s1", d.SiteID, err)
	}
	wantAssignments(t, s, "cuff-1", devices.Assignment{DeviceID: "cuff-1", PatientID: "p1", From: t0, Until: at})
	wantAssignments(t, s, "ox-1", devices.Assignment{DeviceID: "ox-1", PatientID: "p2", From: t0})
	dir, err := s.LoadDirectory(ctx)
	must(t, "LoadDirectory", err)
	if got := dir.PatientAt("cuff-1", at.Add(-time.Millisecond)); got != "p1" {
		t.Errorf("PatientAt(cuff-1) just before the transfer = %q; want p1", got)
	}
	if got := dir.PatientAt("cuff-1", at); got != "" {
		t.Errorf("PatientAt(cuff-1) at the transfer = %q; want none: it was returned", got)
	}
	log, _ := s.AuditLog(ctx, audit.Filter{Subject: "device/cuff-1", Action: "device.return"})
	if len(log) != 1 || log[0].Detail != `{"patient":"p1","from":"2026-11-01T08:00:00Z","until":"2026-11-03T08:00:00Z"}` {
		t.Errorf("audit of cuff-1's return = %+v; want one device.return ending the loan at the transfer", log)
	}
	// Back in the pool, it can be lent to someone else from then on.
	must(t, "AssignDevice(after the return)", s.AssignDevice(asAdmin, "cuff-1", "p2", at))
}

func testTransferRefusals(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	lendForTransfer(t, s)
	v, _ := s.RegistryVersion(ctx)
	at := t0.Add(2 * day)
	tests := []struct {
		name     string
		ctx      context.Context
		patient  string
		team     string
		policy   string
		at       time.Time
		wantCode string
	}{
		{"unknown patient", asAdmin, "p9", "t2", devices.PolicyTravel, at, errcode.NotFound},
		{"unknown team", asAdmin, "p1", "t9", devices.PolicyTravel, at, errcode.Invalid},
		{"own team", asAdmin, "p1", "t1", devices.PolicyTravel, at, errcode.Invalid},
		{"unknown policy", asAdmin, "p1", "t2", "keep", at, errcode.Invalid},
		{"no time", asAdmin, "p1", "t2", devices.PolicyReturn, time.Time{}, errcode.Invalid},
		{"bad team id", asAdmin, "p1", "t 2", devices.PolicyTravel, at, errcode.Invalid},
		{"return before the loan began", asAdmin, "p1", "t2", devices.PolicyReturn, t0, errcode.Invalid},
		{"no actor", ctx, "p1", "t2", devices.PolicyTravel, at, errcode.Invalid},
	}
	for _, tt := range tests {
		err := s.TransferPatient(tt.ctx, tt.patient, tt.team, tt.policy, tt.at)
		wantCode(t, tt.name+": TransferPatient("+tt.patient+", "+tt.team+", "+tt.policy+")", err, tt.wantCode)
	}
	// Nothing of a refused transfer is kept.
	if got, _ := s.GetPatient(ctx, "p1"); got.TeamID != "t1" {
		t.Errorf("GetPatient(p1).TeamID after refused transfers = %s; want t1", got.TeamID)
	}
	if trs, _ := s.Transfers(ctx, "p1"); len(trs) != 0 {
		t.Errorf("Transfers(p1) after refused transfers = %+v; want none", trs)
	}
	wantAssignments(t, s, "cuff-1", devices.Assignment{DeviceID: "cuff-1", PatientID: "p1", From: t0})
	if v2, _ := s.RegistryVersion(ctx); v2 != v {
		t.Errorf("RegistryVersion after refused transfers = %d; want %d", v2, v)
	}
}

// A change of plans leaves the team alone, so one made on what was read before a transfer
// cannot undo it.
func testSetPatientPlans(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	seed(t, s)
	must(t, "TransferPatient", s.TransferPatient(asAdmin, "p1", "t2", devices.PolicyReturn, t0))
	must(t, "SetPatientPlans", s.SetPatientPlans(asAdmin, "p1", []string{"diabetes: glucose fasting"}))
	want := devices.Patient{ID: "p1", TeamID: "t2", Plans: []string{"diabetes: glucose fasting"}}
	if got, err := s.GetPatient(ctx, "p1"); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("GetPatient(p1) = %+v, %v; want %+v", got, err, want)
	}
	must(t, "SetPatientPlans(none)", s.SetPatientPlans(asAdmin, "p1", nil))
	if got, _ := s.GetPatient(ctx, "p1"); got.Plans != nil || got.TeamID != "t2" {
		t.Errorf("GetPatient(p1) after clearing the plans = %+v; want no plans, team t2", got)
	}
	v, _ := s.RegistryVersion(ctx)
	wantCode(t, "SetPatientPlans(p9)", s.SetPatientPlans(asAdmin, "p9", nil), errcode.NotFound)
	wantCode(t, "SetPatientPlans(empty plan)", s.SetPatientPlans(asAdmin, "p1", []string{""}), errcode.Invalid)
	wantCode(t, "SetPatientPlans(no actor)", s.SetPatientPlans(ctx, "p1", nil), errcode.Invalid)
	if v2, _ := s.RegistryVersion(ctx); v2 != v {
		t.Errorf("RegistryVersion after refused changes = %d; want %d", v2, v)
	}
	if log, _ := s.AuditLog(ctx, audit.Filter{Subject: "patient/p1", Action: "patient.update"}); len(log) != 2 ||
		log[1].Detail != `{"team":"t2","plans":["diabetes: glucose fasting"]}` {
		t.Errorf("audit of the plan changes = %+v; want two patient.update rows with the team", log)
	}
}
