package store

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/vitalwatch/vitalwatch/devices"
)

// The patient records replay the audit log: creation with the team's site and plans, a change
// of plans, and a transfer, which moves the patient to the new team's site and keeps the plans.
func testPatientRecords(t *testing.T, newDSN func(t *testing.T) string) {
	s := newStore(t, newDSN)
	clk := withClock(s)
	seed(t, s) // p1, p2 at s1 (t1), p3 at s2 (t2), at t0
	clk.advance(day)
	must(t, "SetPatientPlans", s.SetPatientPlans(asAdmin, "p2", []string{"diabetes: insulin, glucose daily"}))
	clk.advance(day)
	must(t, "TransferPatient", s.TransferPatient(asAdmin, "p1", "t2", devices.PolicyReturn, t0.Add(2*day)))
	var got []devices.PatientRecord
	must(t, "EachPatientRecord", s.EachPatientRecord(asAdmin, func(r devices.PatientRecord) error {
		got = append(got, r)
		return nil
	}))
	want := []devices.PatientRecord{
		{Patient: "p1", At: t0, Site: "s1", Plans: []string{"hypertension: BP daily"}, PlansSet: true},
		{Patient: "p2", At: t0, Site: "s1", Plans: nil, PlansSet: true},
		{Patient: "p3", At: t0, Site: "s2", Plans: []string{"diabetes: glucose fasting", "weight weekly"}, PlansSet: true},
		{Patient: "p2", At: t0.Add(day), Site: "s1", Plans: []string{"diabetes: insulin, glucose daily"}, PlansSet: true},
		{Patient: "p1", At: t0.Add(2 * day), Site: "s2"},
	}
	for i := range got {
		if len(got[i].Plans) == 0 {
			got[i].Plans = nil
		}
	}
	// An error from each stops the read, and is what it returns.
	stop := errors.New("enough")
	calls := 0
	if err := s.EachPatientRecord(asAdmin, func(devices.PatientRecord) error {
		calls++
		return stop
	}); err != stop || calls != 1 {
		t.Errorf("EachPatientRecord with each failing = %v after %d calls; want %v after 1", err, calls, stop)
	}
	// A detail that cannot be read stops the read with an error that names its entry, neither
	// the patient nor the detail.
	if _, err := s.db.ExecContext(asAdmin, `INSERT INTO audit_log (at_ms, actor, action, subject, detail)
		VALUES ($1, 'admin:test', 'patient.update', 'patient/p-secret', '{"plans": "hypertension"}')`, t0.Add(3*day).UnixMilli()); err != nil {
		t.Fatal(err)
	}
	err := s.EachPatientRecord(asAdmin, func(devices.PatientRecord) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "audit log entry") || strings.Contains(err.Error(), "p-secret") ||
		strings.Contains(err.Error(), "hypertension") {
		t.Errorf("EachPatientRecord over a detail with plans of the wrong type = %v; want an error naming the entry, not the patient or the detail", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("EachPatientRecord gave\n%+v\nwant\n%+v", got, want)
	}
}
