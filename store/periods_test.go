package store

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/errcode"
)

// testDevicePeriods follows one device through registration, a repair, a move to another site
// and retirement, and a patient transfer that takes a lent device along: each change of site or
// status ends one period and starts the next at the store's clock.
func testDevicePeriods(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	clk := withClock(s)
	seed(t, s) // at t0

	since := t0.Add(-90 * day)
	st := devices.Device{ID: "st-2", Kind: devices.Station, SiteID: "s1", Mode: devices.StationMode,
		Status: devices.Active, RatedUsesPerDay: 30, InService: since, SecretHash: "$7$101$c2FsdA==$a2V5OQ=="}
	must(t, "CreateDevice", s.CreateDevice(asAdmin, st))
	if got, _ := s.GetDevice(ctx, "st-2"); !got.InService.Equal(since) {
		t.Errorf("GetDevice(st-2).InService = %v; want %v", got.InService, since)
	}

	clk.advance(2 * day)
	repair := st
	repair.Status = devices.Maintenance
	must(t, "UpdateDevice(maintenance)", s.UpdateDevice(asAdmin, repair))
	clk.advance(day)
	repair.Firmware = "2.0" // neither site nor status: no new period
	must(t, "UpdateDevice(firmware)", s.UpdateDevice(asAdmin, repair))
	clk.advance(2 * day)
	moved := repair
	moved.Status, moved.SiteID = devices.Active, "s2"
	must(t, "UpdateDevice(active at s2)", s.UpdateDevice(asAdmin, moved))
	clk.advance(5 * day)
	gone := moved
	gone.Status = devices.Retired
	must(t, "UpdateDevice(retired)", s.UpdateDevice(asAdmin, gone))

	want := []devices.Period{
		{DeviceID: "st-2", SiteID: "s1", Status: devices.Active, From: since, Until: t0.Add(2 * day)},
		{DeviceID: "st-2", SiteID: "s1", Status: devices.Maintenance, From: t0.Add(2 * day), Until: t0.Add(5 * day)},
		{DeviceID: "st-2", SiteID: "s2", Status: devices.Active, From: t0.Add(5 * day), Until: t0.Add(10 * day)},
		{DeviceID: "st-2", SiteID: "s2", Status: devices.Retired, From: t0.Add(10 * day)},
	}
	got, err := s.DevicePeriods(ctx, since.Add(-day), t0.Add(20*day), "st-2")
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("DevicePeriods(st-2) = %+v, %v\nwant %+v", got, err, want)
	}
	// Only the periods that overlap the window: [t0+3d, t0+6d) touches the repair and the move.
	got, err = s.DevicePeriods(ctx, t0.Add(3*day), t0.Add(6*day), "st-2")
	if err != nil || !reflect.DeepEqual(got, want[1:3]) {
		t.Errorf("DevicePeriods(window) = %+v, %v\nwant %+v", got, err, want[1:3])
	}
	// A window that ends where a period starts does not include it.
	got, err = s.DevicePeriods(ctx, t0.Add(-day), t0.Add(2*day), "st-2")
	if err != nil || !reflect.DeepEqual(got, want[:1]) {
		t.Errorf("DevicePeriods(up to the repair) = %+v, %v\nwant %+v", got, err, want[:1])
	}

	// A device registered without an in-service time starts when it is registered; moving its
	// start earlier is allowed, but not past the end of its first period.
	clk.advance(day)
	cuff := devices.Device{ID: "cuff-9", Kind: devices.BPCuff, SiteID: "s1", Mode: devices.Home,
		Status: devices.Active, SecretHash: "$7$101$c2FsdA==$a2V5OA=="}
	must(t, "CreateDevice(cuff-9)", s.CreateDevice(asAdmin, cuff))
	registered := clk.now()
	got, err = s.DevicePeriods(ctx, registered, registered.Add(time.Millisecond), "cuff-9")
	if err != nil || len(got) != 1 || !got[0].From.Equal(registered) {
		t.Fatalf("DevicePeriods(cuff-9) = %+v, %v; want one open period from %v", got, err, registered)
	}
	cuff.InService = registered.Add(-30 * day)
	must(t, "UpdateDevice(in service earlier)", s.UpdateDevice(asAdmin, cuff))
	got, _ = s.DevicePeriods(ctx, registered.Add(-31*day), registered, "cuff-9")
	if len(got) != 1 || !got[0].From.Equal(cuff.InService) {
		t.Errorf("after moving in_service: %+v; want the period to start at %v", got, cuff.InService)
	}
	clk.advance(day)
	cuff.Status = devices.Maintenance
	must(t, "UpdateDevice(cuff-9 maintenance)", s.UpdateDevice(asAdmin, cuff))
	cuff.InService = clk.now().Add(time.Hour)
	wantCode(t, "UpdateDevice(in service after its first period)", s.UpdateDevice(asAdmin, cuff), errcode.Invalid)

	// Nobody sets in_transit by hand, and an in-transit device's site and status are its move's.
	cuff.InService, cuff.Status = time.Time{}, devices.InTransit
	wantCode(t, "UpdateDevice(in_transit)", s.UpdateDevice(asAdmin, cuff), errcode.Invalid)

	// A transfer that takes a lent device along moves it at the transfer's time.
	must(t, "AssignDevice", s.AssignDevice(asAdmin, "cuff-1", "p1", t0))
	at := t0.Add(3 * day)
	must(t, "TransferPatient", s.TransferPatient(asAdmin, "p1", "t2", devices.PolicyTravel, at))
	got, err = s.DevicePeriods(ctx, t0, t0.Add(30*day), "cuff-1")
	if err != nil || len(got) != 2 || got[0].SiteID != "s1" || !got[0].Until.Equal(at) ||
		got[1].SiteID != "s2" || !got[1].From.Equal(at) || got[1].Status != devices.Active {
		t.Errorf("DevicePeriods(cuff-1) after the transfer = %+v, %v; want s1 until %v, then s2", got, err, at)
	}
}

// testDevicesChangedSince checks that each registry change that touches a device's row, its
// periods or its loans records the device at the change's version, whatever the path (a device
// update, a loan, a return, a transfer that takes a lent device along), and that a change of
// something else (a centre's address) records none.
func testDevicesChangedSince(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	clk := withClock(s)
	seed(t, s)
	changed := func(since int64) []string {
		t.Helper()
		ids, err := s.DevicesChangedSince(ctx, since, 0)
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	v0, err := s.RegistryVersion(ctx)
	must(t, "RegistryVersion", err)
	if got := changed(0); !reflect.DeepEqual(got, []string{"cuff-1", "cuff-2", "gm-old", "st-1"}) {
		t.Errorf("changed since 0 = %v; want the four seeded devices", got)
	}
	if got := changed(v0); len(got) != 0 {
		t.Errorf("changed since the current version = %v; want none", got)
	}
	site := site1
	site.Address = "2 River Rd"
	must(t, "UpdateSite", s.UpdateSite(asAdmin, site))
	if got := changed(v0); len(got) != 0 {
		t.Errorf("after a centre's address: %v; want none", got)
	}
	v1, _ := s.RegistryVersion(ctx)
	clk.advance(day)
	must(t, "AssignDevice", s.AssignDevice(asAdmin, "cuff-2", "p1", clk.now()))
	v2, _ := s.RegistryVersion(ctx)
	st := station1
	st.Status = devices.Maintenance
	must(t, "UpdateDevice", s.UpdateDevice(asAdmin, st))
	if got := changed(v1); !reflect.DeepEqual(got, []string{"cuff-2", "st-1"}) {
		t.Errorf("changed since %d = %v; want cuff-2 and st-1", v1, got)
	}
	if got := changed(v2); !reflect.DeepEqual(got, []string{"st-1"}) {
		t.Errorf("changed since %d = %v; want st-1", v2, got)
	}
	if got, _ := s.DevicesChangedSince(ctx, v1, 1); len(got) != 1 || got[0] != "cuff-2" && got[0] != "st-1" {
		t.Errorf("changed since %d, at most 1 = %v; want cuff-2 or st-1", v1, got)
	}
	v3, _ := s.RegistryVersion(ctx)
	clk.advance(day)
	must(t, "ReturnDevice", s.ReturnDevice(asAdmin, "cuff-2", clk.now()))
	if got := changed(v3); !reflect.DeepEqual(got, []string{"cuff-2"}) {
		t.Errorf("after a return: %v; want cuff-2", got)
	}
	v4, _ := s.RegistryVersion(ctx)
	must(t, "AssignDevice", s.AssignDevice(asAdmin, "cuff-1", "p1", clk.now()))
	v5, _ := s.RegistryVersion(ctx)
	must(t, "TransferPatient", s.TransferPatient(asAdmin, "p1", "t2", devices.PolicyTravel, clk.now().Add(time.Hour)))
	if got := changed(v5); !reflect.DeepEqual(got, []string{"cuff-1"}) {
		t.Errorf("after a transfer taking cuff-1 along: %v; want cuff-1", got)
	}
	if got := changed(v4); !reflect.DeepEqual(got, []string{"cuff-1"}) {
		t.Errorf("since %d: %v; want cuff-1", v4, got)
	}
}
