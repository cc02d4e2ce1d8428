package store

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts/rules"
	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/errcode"
)

// Overrides are set, read, replaced and deleted per team and per patient, each change audited
// and bumping the registry version; a patient's stay theirs through a transfer.
func testOverrides(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	seed(t, s)

	team := rules.Overrides{"glucose_low": {"below": 4.2}}
	mine := rules.Overrides{"glucose_low": {"below": 4.5}, "cgm_low_episode": {"duration": (20 * time.Minute).Seconds()}}
	if got, err := s.Overrides(ctx, rules.PatientOverrides, "p1"); err != nil || len(got) != 0 || got == nil {
		t.Errorf("Overrides(patient, p1) before any = %v, %v; want empty", got, err)
	}
	v0, _ := s.RegistryVersion(ctx)
	must(t, "SetOverrides(team t1)", s.SetOverrides(asAdmin, rules.TeamOverrides, "t1", team))
	must(t, "SetOverrides(patient p1)", s.SetOverrides(asAdmin, rules.PatientOverrides, "p1", mine))
	if v, _ := s.RegistryVersion(ctx); v != v0+2 {
		t.Errorf("RegistryVersion after two sets = %d; want %d", v, v0+2)
	}
	if got, err := s.Overrides(ctx, rules.PatientOverrides, "p1"); err != nil || !reflect.DeepEqual(got, mine) {
		t.Errorf("Overrides(patient, p1) = %v, %v; want %v", got, err, mine)
	}
	log, _ := s.AuditLog(ctx, audit.Filter{Subject: "patient/p1", Action: "overrides.set"})
	if len(log) != 1 || log[0].Actor != "admin:test" || log[0].Detail != `{"cgm_low_episode":{"duration":"20m0s"},"glucose_low":{"below":4.5}}` {
		t.Errorf("audit of the patient's overrides = %+v; want one overrides.set by admin:test with them", log)
	}

	// Replace, then check every team's and patient's.
	mine = rules.Overrides{"glucose_low": {"below": 4.6}}
	must(t, "SetOverrides(patient p1) again", s.SetOverrides(asAdmin, rules.PatientOverrides, "p1", mine))
	teams, people, err := s.AllOverrides(ctx)
	if err != nil || !reflect.DeepEqual(teams, map[string]rules.Overrides{"t1": team}) ||
		!reflect.DeepEqual(people, map[string]rules.Overrides{"p1": mine}) {
		t.Errorf("AllOverrides = %v, %v, %v; want t1's and p1's", teams, people, err)
	}

	// A transfer moves the patient, not their overrides.
	must(t, "TransferPatient", s.TransferPatient(asAdmin, "p1", "t2", devices.PolicyReturn, t0))
	if got, err := s.Overrides(ctx, rules.PatientOverrides, "p1"); err != nil || !reflect.DeepEqual(got, mine) {
		t.Errorf("Overrides(patient, p1) after the transfer = %v, %v; want %v", got, err, mine)
	}
	if _, people, _ := s.AllOverrides(ctx); !reflect.DeepEqual(people["p1"], mine) {
		t.Errorf("AllOverrides after the transfer has p1's = %v; want %v", people["p1"], mine)
	}

	// Delete: audited once; deleting nothing changes nothing.
	v1, _ := s.RegistryVersion(ctx)
	must(t, "DeleteOverrides(team t1)", s.DeleteOverrides(asAdmin, rules.TeamOverrides, "t1"))
	must(t, "DeleteOverrides(team t1) again", s.DeleteOverrides(asAdmin, rules.TeamOverrides, "t1"))
	if v, _ := s.RegistryVersion(ctx); v != v1+1 {
		t.Errorf("RegistryVersion after deleting once and nothing = %d; want %d", v, v1+1)
	}
	if log, _ := s.AuditLog(ctx, audit.Filter{Subject: "team/t1", Action: "overrides.delete"}); len(log) != 1 ||
		log[0].Detail != `{"was":{"glucose_low":{"below":4.2}}}` {
		t.Errorf("audit of deleting t1's overrides = %+v; want one with what they were", log)
	}
	must(t, "SetOverrides(patient p1) empty", s.SetOverrides(asAdmin, rules.PatientOverrides, "p1", rules.Overrides{}))
	if teams, people, err := s.AllOverrides(ctx); err != nil || len(teams)+len(people) != 0 {
		t.Errorf("AllOverrides after deleting both = %v, %v, %v; want none", teams, people, err)
	}

	// Refusals.
	wantCode(t, "SetOverrides(team nope)", s.SetOverrides(asAdmin, rules.TeamOverrides, "nope", team), errcode.NotFound)
	wantCode(t, "SetOverrides(patient nope)", s.SetOverrides(asAdmin, rules.PatientOverrides, "nope", team), errcode.NotFound)
	wantCode(t, "SetOverrides(site s1)", s.SetOverrides(asAdmin, "site", "s1", team), errcode.Invalid)
	_, err = s.Overrides(ctx, rules.TeamOverrides, "nope")
	wantCode(t, "Overrides(team nope)", err, errcode.NotFound)
	wantCode(t, "SetOverrides without an actor", s.SetOverrides(ctx, rules.TeamOverrides, "t1", team), errcode.Invalid)
}
