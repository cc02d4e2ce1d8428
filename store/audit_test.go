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

func testAuditLog(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	alice := audit.WithActor(ctx, "user:alice")
	bob := audit.WithActor(ctx, "token:fleet-sync")
	start := time.Now().Add(-time.Second)
	rotated := devices.HashSecret("rotated")

	must(t, "CreateSite", s.CreateSite(alice, site1))
	must(t, "CreateTeam", s.CreateTeam(alice, team1))
	must(t, "CreatePatient", s.CreatePatient(alice, patient[0]))
	must(t, "CreatePatient", s.CreatePatient(alice, patient[1]))
	must(t, "CreateDevice", s.CreateDevice(bob, cuff1))
	must(t, "UpdateDevice", s.UpdateDevice(bob, cuff1))
	must(t, "SetDeviceSecret", s.SetDeviceSecret(bob, "cuff-1", rotated))
	must(t, "AssignDevice", s.AssignDevice(alice, "cuff-1", "p1", t0))
	must(t, "AssignDevice", s.AssignDevice(alice, "cuff-1", "p2", t0.Add(day)))
	must(t, "ReturnDevice", s.ReturnDevice(alice, "cuff-1", t0.Add(2*day)))
	must(t, "UpdatePatient", s.UpdatePatient(alice, devices.Patient{ID: "p1", TeamID: "t1"}))
	s.CreateSite(bob, site1) // refused: not audited

	all, err := s.AuditLog(ctx, audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	type row struct{ actor, action, subject string }
	want := []row{
		{"user:alice", "patient.update", "patient/p1"},
		{"user:alice", "device.return", "device/cuff-1"},
		{"user:alice", "device.assign", "device/cuff-1"},
		{"user:alice", "device.assign", "device/cuff-1"},
		{"token:fleet-sync", "device.secret_rotate", "device/cuff-1"},
		{"token:fleet-sync", "device.update", "device/cuff-1"},
		{"token:fleet-sync", "device.create", "device/cuff-1"},
		{"user:alice", "patient.create", "patient/p2"},
		{"user:alice", "patient.create", "patient/p1"},
		{"user:alice", "team.create", "team/t1"},
		{"user:alice", "site.create", "site/s1"},
	}
	var got []row
	for _, e := range all {
		got = append(got, row{e.Actor, e.Action, e.Subject})
		if e.At.Before(start) || e.At.After(time.Now().Add(time.Second)) {
			t.Errorf("entry %d %s at %v; want about now", e.ID, e.Action, e.At)
		}
		for _, secret := range []string{cuff1.SecretHash, rotated, "secret"} {
			if strings.Contains(e.Detail, secret) {
				t.Errorf("entry %d %s detail %s contains %q; a secret hash must never be audited", e.ID, e.Action, e.Detail, secret)
			}
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("AuditLog() =\n%v\nwant, newest first,\n%v", got, want)
	}
	if len(all) != len(want) {
		t.FailNow()
	}
	for i, w := range map[int]string{
		0:  `{"team":"t1","plans":[]}`,
		1:  `{"patient":"p2","from":"2026-11-02T08:00:00Z","until":"2026-11-03T08:00:00Z"}`,
		2:  `{"patient":"p2","from":"2026-11-02T08:00:00Z","ended":{"patient":"p1","from":"2026-11-01T08:00:00Z","until":"2026-11-02T08:00:00Z"}}`,
		4:  `{}`,
		6:  `{"kind":"bp_cuff","model":"BP-7","serial":"A1","firmware":"1.2","site":"s1","mode":"home","status":"active","rated_uses_per_day":0,"next_calibration":"2027-03-01T00:00:00Z"}`,
		10: `{"name":"Riverside CHC","district":"North","address":"1 River Rd","lat":31.23,"lon":121.47,"time_zone":"Asia/Shanghai","opening_hours":"Mon-Fri 08:00-17:30"}`,
	} {
		if all[i].Detail != w {
			t.Errorf("%s detail = %s; want %s", all[i].Action, all[i].Detail, w)
		}
	}

	for _, tt := range []struct {
		f    audit.Filter
		want int
	}{
		{audit.Filter{Subject: "device/cuff-1"}, 6},
		{audit.Filter{Actor: "token:fleet-sync"}, 3},
		{audit.Filter{Action: "device.assign"}, 2},
		{audit.Filter{Actor: "user:alice", Subject: "patient/p1"}, 2},
		{audit.Filter{Before: all[4].ID}, 6},
		{audit.Filter{Limit: 3}, 3},
	} {
		got, err := s.AuditLog(ctx, tt.f)
		if err != nil || len(got) != tt.want {
			t.Errorf("AuditLog(%+v) = %d entries, %v; want %d", tt.f, len(got), err, tt.want)
		}
	}
}

func testMutationWithoutActor(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	seed(t, s)
	version, _ := s.RegistryVersion(ctx)
	for _, ctx := range []context.Context{ctx, audit.WithActor(ctx, " ")} {
		for name, err := range map[string]error{
			"CreateSite":      s.CreateSite(ctx, devices.Site{ID: "s9", Name: "x"}),
			"UpdateSite":      s.UpdateSite(ctx, site1),
			"CreateTeam":      s.CreateTeam(ctx, devices.Team{ID: "t9", SiteID: "s1", Name: "x"}),
			"UpdateTeam":      s.UpdateTeam(ctx, team1),
			"CreatePatient":   s.CreatePatient(ctx, devices.Patient{ID: "p9", TeamID: "t1"}),
			"UpdatePatient":   s.UpdatePatient(ctx, patient[0]),
			"CreateDevice":    s.CreateDevice(ctx, devices.Device{ID: "d9", Kind: devices.Scale, SiteID: "s1", Mode: devices.Home, Status: devices.Active, SecretHash: "h"}),
			"UpdateDevice":    s.UpdateDevice(ctx, cuff1),
			"SetDeviceSecret": s.SetDeviceSecret(ctx, "cuff-1", "h"),
			"AssignDevice":    s.AssignDevice(ctx, "cuff-1", "p1", t0),
			"ReturnDevice":    s.ReturnDevice(ctx, "cuff-1", t0),
		} {
			wantCode(t, name+" without an actor", err, errcode.Invalid)
		}
	}
	if v, _ := s.RegistryVersion(ctx); v != version {
		t.Errorf("RegistryVersion() = %d; want %d: changes without an actor must not happen", v, version)
	}
	if _, err := s.GetSite(ctx, "s9"); err == nil {
		t.Errorf("GetSite(s9) found the site created without an actor")
	}
}
