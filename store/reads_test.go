package store

import (
	"context"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/devices"
)

// testRequestReadsWhileWriting holds a write transaction open, as ingest does while it records a
// batch, and checks that what the API reads on every request (the session and its user, lists,
// single records), what an instance reads when the registry changes and what the escalator
// reads at each tick are answered meanwhile instead of waiting for it: in SQLite, the store's
// one writing connection is busy until the transaction ends.
func testRequestReadsWhileWriting(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	seed(t, s)
	mustCreateUser(t, s, drWang)
	session, _, err := s.CreateSession(ctx, "usr_wang")
	must(t, "CreateSession", err)
	raised, _, _, err := s.ApplyFinding(ctx, clinicalFinding("glucose_low", patient[0].ID, team1.ID, alerts.Warning, 0, "3.5 mmol/L"))
	must(t, "ApplyFinding", err)

	tx, err := s.db.BeginTx(ctx, nil)
	must(t, "BeginTx", err)
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `UPDATE sites SET name = name`); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if u, err := s.UserBySession(ctx, session); err != nil || u.ID != "usr_wang" {
		t.Errorf("UserBySession while a write is open = %q, %v", u.ID, err)
	}
	if as, err := s.ListAlerts(ctx, alerts.Filter{Scope: alerts.Scope{Teams: []string{team1.ID}}, State: alerts.Open}); err != nil || len(as) != 1 {
		t.Errorf("ListAlerts while a write is open = %d alerts, %v; want 1", len(as), err)
	}
	if a, err := s.GetAlert(ctx, raised.ID); err != nil || a.ID != raised.ID {
		t.Errorf("GetAlert while a write is open = %d, %v", a.ID, err)
	}
	if ds, err := s.ListDevices(ctx, devices.ListOptions{}); err != nil || len(ds) != 4 {
		t.Errorf("ListDevices while a write is open = %d devices, %v; want 4", len(ds), err)
	}
	if d, err := s.GetDevice(ctx, cuff1.ID); err != nil || d.ID != cuff1.ID {
		t.Errorf("GetDevice while a write is open = %q, %v", d.ID, err)
	}
	if p, err := s.GetPatient(ctx, patient[0].ID); err != nil || p.ID != patient[0].ID {
		t.Errorf("GetPatient while a write is open = %q, %v", p.ID, err)
	}

	// What the instance reads when the registry changes: its version, the directory, the
	// periods that the fleet's reports count, the sites.
	version, err := s.RegistryVersion(ctx)
	if err != nil || version == 0 {
		t.Errorf("RegistryVersion while a write is open = %d, %v", version, err)
	}
	if dir, err := s.LoadDirectory(ctx); err != nil || dir.Version() != version {
		t.Errorf("LoadDirectory while a write is open: %v", err)
	}
	if ps, err := s.DevicePeriods(ctx, time.Unix(0, 0), time.Now().Add(time.Hour)); err != nil || len(ps) == 0 {
		t.Errorf("DevicePeriods while a write is open = %d periods, %v", len(ps), err)
	}
	if sites, err := s.AllSites(ctx); err != nil || len(sites) != 2 {
		t.Errorf("AllSites while a write is open = %d sites, %v; want 2", len(sites), err)
	}
	// The escalator's reading of every unacknowledged urgent alert, at each of its ticks.
	if _, err := s.UnacknowledgedAlerts(ctx); err != nil {
		t.Errorf("UnacknowledgedAlerts while a write is open: %v", err)
	}
}
