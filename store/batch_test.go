package store

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/errcode"
)

// Each batch stores all its rows or none; a refused batch names the row that failed it.
func testCreateBatches(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	seed(t, s)
	newSite := func(id string) devices.Site { return devices.Site{ID: id, Name: "Centre " + id} }
	newTeam := func(id string) devices.Team { return devices.Team{ID: id, SiteID: "s1", Name: "Team " + id} }
	newPatient := func(id string) devices.Patient { return devices.Patient{ID: id, TeamID: "t1"} }
	newDevice := func(id string) devices.Device {
		return devices.Device{ID: id, Kind: devices.Scale, SiteID: "s2", Mode: devices.Home, Status: devices.Active, SecretHash: "$7$101$c2FsdA==$eA=="}
	}
	type batch struct {
		name   string
		create func([]string) error
		get    func(string) error
		bad    func(id string) error // a batch of [ok-1, id] whose second row is invalid
	}
	batches := []batch{
		{"sites",
			func(ids []string) error { return s.CreateSites(asAdmin, mapIDs(ids, newSite)) },
			func(id string) error { _, err := s.GetSite(ctx, id); return err },
			func(id string) error { return s.CreateSites(asAdmin, []devices.Site{newSite("ok-1"), {ID: id}}) }},
		{"teams",
			func(ids []string) error { return s.CreateTeams(asAdmin, mapIDs(ids, newTeam)) },
			func(id string) error { _, err := s.GetTeam(ctx, id); return err },
			func(id string) error {
				return s.CreateTeams(asAdmin, []devices.Team{newTeam("ok-1"), {ID: id, SiteID: "s9", Name: "x"}})
			}},
		{"patients",
			func(ids []string) error { return s.CreatePatients(asAdmin, mapIDs(ids, newPatient)) },
			func(id string) error { _, err := s.GetPatient(ctx, id); return err },
			func(id string) error {
				return s.CreatePatients(asAdmin, []devices.Patient{newPatient("ok-1"), {ID: id, TeamID: "t1", Plans: []string{""}}})
			}},
		{"devices",
			func(ids []string) error { return s.CreateDevices(asAdmin, mapIDs(ids, newDevice)) },
			func(id string) error { _, err := s.GetDevice(ctx, id); return err },
			func(id string) error {
				d := newDevice(id)
				d.SecretHash = ""
				return s.CreateDevices(asAdmin, []devices.Device{newDevice("ok-1"), d})
			}},
	}
	for _, b := range batches {
		v0, _ := s.RegistryVersion(ctx)
		// The third row repeats the first: the whole batch is refused, naming row 2.
		err := b.create([]string{"new-a", "new-b", "new-a"})
		wantBatchError(t, "Create "+b.name+"(new-a, new-b, new-a)", err, 2, errcode.Conflict)
		// A row that is not valid is refused before anything is written.
		wantBatchError(t, "Create "+b.name+"(ok-1, invalid)", b.bad("bad-1"), 1, errcode.Invalid)
		for _, id := range []string{"new-a", "new-b", "ok-1"} {
			wantCode(t, fmt.Sprintf("after refused batches of %s, get %s", b.name, id), b.get(id), errcode.NotFound)
		}
		if v, _ := s.RegistryVersion(ctx); v != v0 {
			t.Errorf("refused batches of %s moved the version from %d to %d", b.name, v0, v)
		}

		must(t, "Create "+b.name, b.create([]string{"new-a", "new-b"}))
		for _, id := range []string{"new-a", "new-b"} {
			must(t, "get "+id+" of "+b.name, b.get(id))
		}
		what := b.name[:len(b.name)-1]
		for _, id := range []string{"new-a", "new-b"} {
			if log, _ := s.AuditLog(ctx, audit.Filter{Subject: what + "/" + id}); len(log) != 1 || log[0].Action != what+".create" || log[0].Actor != "admin:test" {
				t.Errorf("audit of %s/%s = %+v; want one %s.create by admin:test", what, id, log, what)
			}
		}
		if v, _ := s.RegistryVersion(ctx); v != v0+1 {
			t.Errorf("a batch of %s moved the version from %d to %d; want one change", b.name, v0, v)
		}
		// A row that exists already fails the next batch.
		wantBatchError(t, "Create "+b.name+"(new-c, new-b)", b.create([]string{"new-c", "new-b"}), 1, errcode.Conflict)
	}
	for name, err := range map[string]error{
		"CreateSites":    s.CreateSites(ctx, []devices.Site{newSite("z")}),
		"CreateTeams":    s.CreateTeams(ctx, []devices.Team{newTeam("z")}),
		"CreatePatients": s.CreatePatients(ctx, []devices.Patient{newPatient("z")}),
		"CreateDevices":  s.CreateDevices(ctx, []devices.Device{newDevice("z")}),
	} {
		wantCode(t, name+" without an actor", err, errcode.Invalid)
	}
	must(t, "CreateSites(none)", s.CreateSites(asAdmin, nil))
}

func mapIDs[T any](ids []string, f func(string) T) []T {
	out := make([]T, len(ids))
	for i, id := range ids {
		out[i] = f(id)
	}
	return out
}

// wantBatchError fails the test unless err is a *devices.BatchError for row index with the code.
func wantBatchError(t *testing.T, what string, err error, index int, code string) {
	t.Helper()
	var be *devices.BatchError
	if !errors.As(err, &be) || be.Index != index || be.Err.Code != code {
		t.Errorf("%s = %v; want a devices.BatchError at row %d with code %s", what, err, index, code)
	}
	wantCode(t, what, err, code)
}
