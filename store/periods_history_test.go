package store

import (
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/errcode"
	"github.com/vitalwatch/vitalwatch/internal/testsrv"
)

// testPastMaintenance records repairs from a device's history: each splits the active period
// that holds it, in any order, and leaves the device's status as it is; a repair that overlaps
// another, a later status change, or the time before the device entered service is refused.
func testPastMaintenance(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	clk := withClock(s)
	seed(t, s) // at t0
	since := t0.Add(-90 * day)
	st := devices.Device{ID: "st-2", Kind: devices.Station, SiteID: "s1", Mode: devices.StationMode,
		Status: devices.Active, RatedUsesPerDay: 30, InService: since, SecretHash: "$7$101$c2FsdA==$a2V5OQ=="}
	must(t, "CreateDevice", s.CreateDevice(asAdmin, st))
	clk.advance(10 * day)
	v0, _ := s.RegistryVersion(ctx)

	at := func(days float64) time.Time { return t0.Add(time.Duration(days * float64(day))) }
	must(t, "RecordPastMaintenance(-60, -55.5)", s.RecordPastMaintenance(asAdmin, "st-2", at(-60), at(-55.5)))
	must(t, "RecordPastMaintenance(-30, -28)", s.RecordPastMaintenance(asAdmin, "st-2", at(-30), at(-28)))
	must(t, "RecordPastMaintenance(-80, -79), earlier than those before", s.RecordPastMaintenance(asAdmin, "st-2", at(-80), at(-79)))
	// A repair that ends where another starts touches it and is refused too: the device was
	// never active between them.
	for _, tt := range []struct {
		name        string
		id          string
		from, until time.Time
		code, says  string
	}{
		{"overlapping a repair", "st-2", at(-57), at(-50), errcode.Invalid, "was maintenance at s1 from " + at(-60).Format(time.RFC3339)},
		{"inside a repair", "st-2", at(-59), at(-58), errcode.Invalid, "overlaps"},
		{"before it entered service", "st-2", since.Add(-day), since.Add(day), errcode.Invalid, "entered service at " + since.Format(time.RFC3339)},
		{"ending in the future", "st-2", at(9), at(11), errcode.Invalid, "in the future"},
		{"ending before it starts", "st-2", at(-20), at(-21), errcode.Invalid, "before it starts"},
		{"of no device", "st-404", at(-20), at(-19), errcode.NotFound, "st-404"},
	} {
		err := s.RecordPastMaintenance(asAdmin, tt.id, tt.from, tt.until)
		wantCode(t, "RecordPastMaintenance "+tt.name, err, tt.code)
		if err == nil || !strings.Contains(err.Error(), tt.says) {
			t.Errorf("RecordPastMaintenance %s = %v; want it to say %q", tt.name, err, tt.says)
		}
	}

	want := []devices.Period{
		{DeviceID: "st-2", SiteID: "s1", Status: devices.Active, From: since, Until: at(-80)},
		{DeviceID: "st-2", SiteID: "s1", Status: devices.Maintenance, From: at(-80), Until: at(-79)},
		{DeviceID: "st-2", SiteID: "s1", Status: devices.Active, From: at(-79), Until: at(-60)},
		{DeviceID: "st-2", SiteID: "s1", Status: devices.Maintenance, From: at(-60), Until: at(-55.5)},
		{DeviceID: "st-2", SiteID: "s1", Status: devices.Active, From: at(-55.5), Until: at(-30)},
		{DeviceID: "st-2", SiteID: "s1", Status: devices.Maintenance, From: at(-30), Until: at(-28)},
		{DeviceID: "st-2", SiteID: "s1", Status: devices.Active, From: at(-28)},
	}
	got, err := s.DevicePeriods(ctx, since.Add(-day), at(20), "st-2")
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("DevicePeriods(st-2) = %+v, %v\nwant %+v", got, err, want)
	}
	if d, _ := s.GetDevice(ctx, "st-2"); d.Status != devices.Active || d.SiteID != "s1" {
		t.Errorf("st-2 after its past repairs is %s at %s; want active at s1, as it was", d.Status, d.SiteID)
	}
	if v, _ := s.RegistryVersion(ctx); v != v0+3 {
		t.Errorf("registry version %d after 3 repairs from %d; want %d", v, v0, v0+3)
	}
	log, err := s.AuditLog(ctx, audit.Filter{Subject: "device/st-2", Action: "device.history_import"})
	if err != nil || len(log) != 3 || !strings.Contains(log[2].Detail, `"imported":"history"`) ||
		!strings.Contains(log[2].Detail, `"status":"maintenance"`) || !strings.Contains(log[2].Detail, `"from":"`+at(-60).Format(time.RFC3339)) {
		t.Errorf("audit of the imported repairs = %+v, %v; want 3 entries saying they are an import of history", log, err)
	}

	// A later change of status bounds the past: a repair over it is refused.
	clk.advance(day) // t0+11d
	down := st
	down.Status = devices.Maintenance
	must(t, "UpdateDevice(maintenance)", s.UpdateDevice(asAdmin, down))
	clk.advance(day)
	must(t, "UpdateDevice(active)", s.UpdateDevice(asAdmin, st))
	err = s.RecordPastMaintenance(asAdmin, "st-2", at(10), at(11.5))
	wantCode(t, "RecordPastMaintenance over a later repair", err, errcode.Invalid)

	// A repair from the moment the device entered service leaves no active time before it.
	cuff := devices.Device{ID: "cuff-9", Kind: devices.BPCuff, SiteID: "s2", Mode: devices.Home,
		Status: devices.Active, InService: since, SecretHash: "$7$101$c2FsdA==$a2V5OA=="}
	must(t, "CreateDevice(cuff-9)", s.CreateDevice(asAdmin, cuff))
	must(t, "RecordPastMaintenance(cuff-9 from its start)", s.RecordPastMaintenance(asAdmin, "cuff-9", since, since.Add(2*day)))
	got, err = s.DevicePeriods(ctx, since.Add(-day), at(20), "cuff-9")
	want = []devices.Period{
		{DeviceID: "cuff-9", SiteID: "s2", Status: devices.Maintenance, From: since, Until: since.Add(2 * day)},
		{DeviceID: "cuff-9", SiteID: "s2", Status: devices.Active, From: since.Add(2 * day)},
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("DevicePeriods(cuff-9) = %+v, %v\nwant %+v", got, err, want)
	}
}

func TestPastMaintenanceSQLite(t *testing.T) {
	testPastMaintenance(t, func(t *testing.T) string { return filepath.Join(t.TempDir(), "vw.db") })
}

func TestPastMaintenancePostgres(t *testing.T) {
	pg := testsrv.StartPostgres(t)
	testPastMaintenance(t, func(t *testing.T) string { return pg.NewDatabase(t) })
}
