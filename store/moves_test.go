package store

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/errcode"
)

// The actors of the moves tests: the donor site's fleet manager, the receiving site's, and the
// admin of asAdmin.
var (
	asDonor    = audit.WithActor(context.Background(), "user:usr_fleet_s1")
	asReceiver = audit.WithActor(context.Background(), "user:usr_fleet_s2")
)

// cuffMove proposes a move of bp cuffs from s1 to s2.
func cuffMove(ids ...string) devices.Move {
	return devices.Move{Kind: devices.BPCuff, From: "s1", To: "s2", Devices: ids, Reason: "s2 is short of bp cuffs"}
}

// moveDevice adds an active home device of kind at site.
func moveDevice(t *testing.T, s *Store, id string, kind devices.Kind, site string, status devices.Status) {
	t.Helper()
	must(t, "CreateDevice("+id+")", s.CreateDevice(asAdmin, devices.Device{ID: id, Kind: kind, SiteID: site,
		Mode: devices.Home, Status: status, SecretHash: "$7$101$c2FsdA==$a2V5" + id}))
}

// wantVersion fails the test unless the registry version is want.
func wantVersion(t *testing.T, s *Store, what string, want int64) {
	t.Helper()
	if v, err := s.RegistryVersion(context.Background()); err != nil || v != want {
		t.Errorf("RegistryVersion after %s = %d, %v; want %d", what, v, err, want)
	}
}

// wantDevice fails the test unless the device is at site with status.
func wantDevice(t *testing.T, s *Store, id, site string, status devices.Status) {
	t.Helper()
	if d, err := s.GetDevice(context.Background(), id); err != nil || d.SiteID != site || d.Status != status {
		t.Errorf("GetDevice(%s) = %s %s, %v; want %s at %s", id, d.Status, d.SiteID, err, status, site)
	}
}

// wantArrivals fails the test unless the open moves bring want.
func wantArrivals(t *testing.T, s *Store, when string, want []devices.Arrival) {
	t.Helper()
	if got, err := s.OpenMoveArrivals(context.Background()); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("OpenMoveArrivals %s = %+v, %v; want %+v", when, got, err, want)
	}
}

// wantRefused fails the test unless err is an *errcode.Error with the code whose message says
// each of says.
func wantRefused(t *testing.T, what string, err error, code string, says ...string) {
	t.Helper()
	wantCode(t, what, err, code)
	for _, s := range says {
		if err == nil || !strings.Contains(err.Error(), s) {
			t.Errorf("%s = %v; want it to say %q", what, err, s)
		}
	}
}

// A move of two cuffs goes through every step: each is one registry change with its audit row,
// the devices go in transit at the donor and become active at the receiver, and their periods
// say so with the boundaries at the times of dispatch and receipt.
func testMoveFlow(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	clk := withClock(s)
	seed(t, s) // at t0
	v, _ := s.RegistryVersion(ctx)

	clk.advance(day)
	m, err := s.ProposeMove(asDonor, cuffMove("cuff-2", "cuff-1"))
	must(t, "ProposeMove", err)
	want := devices.Move{ID: m.ID, Kind: devices.BPCuff, From: "s1", To: "s2", Devices: []string{"cuff-1", "cuff-2"},
		State: devices.MoveProposed, Reason: "s2 is short of bp cuffs", ProposedBy: "user:usr_fleet_s1", ProposedAt: t0.Add(day)}
	if m.ID <= 0 || !reflect.DeepEqual(m, want) {
		t.Fatalf("ProposeMove = %+v\nwant %+v", m, want)
	}
	wantVersion(t, s, "the proposal", v+1)
	wantArrivals(t, s, "proposed", []devices.Arrival{{Site: "s2", Kind: devices.BPCuff, Devices: 2}})
	if got, err := s.GetMove(ctx, m.ID); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("GetMove(%d) = %+v, %v\nwant %+v", m.ID, got, err, want)
	}

	clk.advance(day)
	m, err = s.ApproveMove(asDonor, m.ID, "both idle since spring")
	must(t, "ApproveMove", err)
	want.State, want.DecidedBy, want.DecidedAt, want.DecisionNote = devices.MoveApproved, "user:usr_fleet_s1", t0.Add(2*day), "both idle since spring"
	if !reflect.DeepEqual(m, want) {
		t.Errorf("ApproveMove = %+v\nwant %+v", m, want)
	}
	wantDevice(t, s, "cuff-1", "s1", devices.Active)

	clk.advance(day)
	m, err = s.DispatchMove(asDonor, m.ID)
	must(t, "DispatchMove", err)
	want.State, want.DispatchedBy, want.DispatchedAt = devices.MoveInTransit, "user:usr_fleet_s1", t0.Add(3*day)
	if !reflect.DeepEqual(m, want) {
		t.Errorf("DispatchMove = %+v\nwant %+v", m, want)
	}
	wantDevice(t, s, "cuff-1", "s1", devices.InTransit)
	wantDevice(t, s, "cuff-2", "s1", devices.InTransit)
	wantArrivals(t, s, "in transit", []devices.Arrival{{Site: "s2", Kind: devices.BPCuff, Devices: 2}})
	// Ingest and the alert engine see the status in the directory: a device in transit is
	// expected to be silent.
	dir, err := s.LoadDirectory(ctx)
	must(t, "LoadDirectory", err)
	if d, ok := dir.Device("cuff-1"); !ok || d.Status != devices.InTransit {
		t.Errorf("Directory.Device(cuff-1) in transit = %+v; want status in_transit", d)
	}
	// Its site and status change only by the move.
	moved := cuff1
	moved.Status = devices.InTransit
	moved.SiteID = "s2"
	wantRefused(t, "UpdateDevice(in transit, to s2)", s.UpdateDevice(asAdmin, moved), errcode.Invalid, "in transit")

	clk.advance(2 * day)
	m, err = s.ReceiveMove(asReceiver, m.ID)
	must(t, "ReceiveMove", err)
	if open, err := s.DevicesInOpenMoves(ctx); err != nil || len(open) != 0 {
		t.Errorf("DevicesInOpenMoves after receipt = %v, %v; want none", open, err)
	}
	wantArrivals(t, s, "received", []devices.Arrival{})
	want.State, want.ReceivedBy, want.ReceivedAt = devices.MoveReceived, "user:usr_fleet_s2", t0.Add(5*day)
	if !reflect.DeepEqual(m, want) {
		t.Errorf("ReceiveMove = %+v\nwant %+v", m, want)
	}
	if got, err := s.GetMove(ctx, m.ID); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("GetMove(%d) after receipt = %+v, %v\nwant %+v", m.ID, got, err, want)
	}
	wantDevice(t, s, "cuff-1", "s2", devices.Active)
	wantDevice(t, s, "cuff-2", "s2", devices.Active)
	wantVersion(t, s, "the four steps", v+4)

	for _, id := range []string{"cuff-1", "cuff-2"} {
		wantPeriods := []devices.Period{
			{DeviceID: id, SiteID: "s1", Status: devices.Active, From: t0, Until: t0.Add(3 * day)},
			{DeviceID: id, SiteID: "s1", Status: devices.InTransit, From: t0.Add(3 * day), Until: t0.Add(5 * day)},
			{DeviceID: id, SiteID: "s2", Status: devices.Active, From: t0.Add(5 * day)},
		}
		if got, err := s.DevicePeriods(ctx, t0.Add(-day), t0.Add(30*day), id); err != nil || !reflect.DeepEqual(got, wantPeriods) {
			t.Errorf("DevicePeriods(%s) = %+v, %v\nwant %+v", id, got, err, wantPeriods)
		}
	}

	// One audit row per step on the move, newest first, and one device.update per device at
	// dispatch and at receipt.
	log, err := s.AuditLog(ctx, audit.Filter{Subject: fmt.Sprintf("move/%d", m.ID)})
	must(t, "AuditLog", err)
	var steps []string
	for _, e := range log {
		steps = append(steps, e.Action+" by "+e.Actor+" at "+e.At.Format(time.DateOnly)+": "+e.Detail)
	}
	wantSteps := []string{
		`move.receive by user:usr_fleet_s2 at 2026-11-06: {"was":"in_transit","state":"received"}`,
		`move.dispatch by user:usr_fleet_s1 at 2026-11-04: {"was":"approved","state":"in_transit"}`,
		`move.approve by user:usr_fleet_s1 at 2026-11-03: {"was":"proposed","state":"approved","note":"both idle since spring"}`,
		`move.propose by user:usr_fleet_s1 at 2026-11-02: {"kind":"bp_cuff","from":"s1","to":"s2","devices":["cuff-1","cuff-2"],"reason":"s2 is short of bp cuffs"}`,
	}
	if !reflect.DeepEqual(steps, wantSteps) {
		t.Errorf("audit of the move =\n%s\nwant\n%s", strings.Join(steps, "\n"), strings.Join(wantSteps, "\n"))
	}
	log, err = s.AuditLog(ctx, audit.Filter{Subject: "device/cuff-2", Action: "device.update"})
	must(t, "AuditLog", err)
	if len(log) != 2 || !strings.Contains(log[0].Detail, `"site":"s2","mode":"home","status":"active"`) ||
		!strings.Contains(log[1].Detail, `"site":"s1","mode":"home","status":"in_transit"`) || log[0].Actor != "user:usr_fleet_s2" {
		t.Errorf("device.update rows of cuff-2 = %+v; want its dispatch at s1 and its receipt at s2", log)
	}

	// The devices are free again: the receiver can send one back.
	back := cuffMove("cuff-1")
	back.From, back.To = "s2", "s1"
	if _, err := s.ProposeMove(asReceiver, back); err != nil {
		t.Errorf("ProposeMove(cuff-1 back to s1) after receipt: %v", err)
	}
}

// Every proposal the rules refuse is refused with a message that names the device and why,
// and leaves nothing behind.
func testMoveRefusals(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	clk := withClock(s)
	seed(t, s)
	moveDevice(t, s, "cuff-s2", devices.BPCuff, "s2", devices.Active)
	moveDevice(t, s, "cuff-repair", devices.BPCuff, "s1", devices.Maintenance)
	moveDevice(t, s, "cuff-lent", devices.BPCuff, "s1", devices.Active)
	moveDevice(t, s, "cuff-until", devices.BPCuff, "s1", devices.Active)
	must(t, "AssignDevice", s.AssignDevice(asAdmin, "cuff-lent", "p1", t0))
	must(t, "AssignDevice", s.AssignDevice(asAdmin, "cuff-until", "p2", t0))
	must(t, "ReturnDevice", s.ReturnDevice(asAdmin, "cuff-until", t0.Add(3*day)))
	clk.advance(day) // the loan of cuff-until ends in two days
	held, err := s.ProposeMove(asDonor, cuffMove("cuff-2"))
	must(t, "ProposeMove(cuff-2)", err)
	v, _ := s.RegistryVersion(ctx)

	many := make([]string, devices.MaxMoveDevices+1)
	for i := range many {
		many[i] = fmt.Sprintf("cuff-%d", i)
	}
	tests := []struct {
		name   string
		ctx    context.Context
		change func(m *devices.Move)
		code   string
		says   []string
	}{
		{"same site", asDonor, func(m *devices.Move) { m.To = "s1" }, errcode.Invalid, []string{"both are s1"}},
		{"unknown donor", asDonor, func(m *devices.Move) { m.From = "s9" }, errcode.Invalid, []string{"site s9 does not exist"}},
		{"unknown receiver", asDonor, func(m *devices.Move) { m.To = "s9" }, errcode.Invalid, []string{"site s9 does not exist"}},
		{"unknown kind", asDonor, func(m *devices.Move) { m.Kind = "toaster" }, errcode.Invalid, []string{"toaster"}},
		{"no devices", asDonor, func(m *devices.Move) { m.Devices = nil }, errcode.Invalid, []string{"1-100 devices, not 0"}},
		{"101 devices", asDonor, func(m *devices.Move) { m.Devices = many }, errcode.Invalid, []string{"not 101"}},
		{"a device twice", asDonor, func(m *devices.Move) { m.Devices = []string{"cuff-1", "cuff-1"} }, errcode.Invalid, []string{"cuff-1 is in the move twice"}},
		{"unknown device", asDonor, func(m *devices.Move) { m.Devices = []string{"cuff-1", "ghost"} }, errcode.Invalid, []string{"device ghost does not exist"}},
		{"device at another site", asDonor, func(m *devices.Move) { m.Devices = []string{"cuff-s2"} }, errcode.Invalid, []string{"device cuff-s2 is at site s2"}},
		{"device of another kind", asDonor, func(m *devices.Move) { m.Devices = []string{"cuff-1", "st-1"} }, errcode.Invalid, []string{"device st-1 is a station"}},
		{"device under repair", asDonor, func(m *devices.Move) { m.Devices = []string{"cuff-repair"} }, errcode.Conflict, []string{"device cuff-repair is maintenance"}},
		{"device lent", asDonor, func(m *devices.Move) { m.Devices = []string{"cuff-1", "cuff-lent"} }, errcode.Conflict, []string{"device cuff-lent is lent to patient p1"}},
		{"device lent until later", asDonor, func(m *devices.Move) { m.Devices = []string{"cuff-until"} }, errcode.Conflict, []string{"device cuff-until is lent to patient p2 until 2026-11-04"}},
		{"device in another move", asReceiver, func(m *devices.Move) { m.Devices = []string{"cuff-1", "cuff-2"} }, errcode.Conflict,
			[]string{fmt.Sprintf("device cuff-2 is already in move %d, which is proposed", held.ID)}},
		{"reason too long", asDonor, func(m *devices.Move) { m.Reason = strings.Repeat("x", 1001) }, errcode.Invalid, []string{"at most 1000 characters"}},
		{"no actor", ctx, func(m *devices.Move) {}, errcode.Invalid, []string{"no actor"}},
	}
	for _, tt := range tests {
		m := cuffMove("cuff-1")
		tt.change(&m)
		_, err := s.ProposeMove(tt.ctx, m)
		wantRefused(t, tt.name+": ProposeMove", err, tt.code, tt.says...)
	}
	wantVersion(t, s, "refused proposals", v)
	if ms, err := s.ListMoves(ctx, devices.MoveFilter{}); err != nil || len(ms) != 1 || ms[0].ID != held.ID {
		t.Errorf("ListMoves after refused proposals = %+v, %v; want only move %d", ms, err, held.ID)
	}

	// Steps on a move that does not exist, and with a note too long.
	_, err = s.GetMove(ctx, 999)
	wantRefused(t, "GetMove(999)", err, errcode.NotFound, "move 999 not found")
	_, err = s.ApproveMove(asDonor, 999, "")
	wantRefused(t, "ApproveMove(999)", err, errcode.NotFound, "move 999 not found")
	_, err = s.ApproveMove(asDonor, held.ID, strings.Repeat("x", 1001))
	wantRefused(t, "ApproveMove(long note)", err, errcode.Invalid, "at most 1000 characters")
	_, err = s.ApproveMove(ctx, held.ID, "")
	wantRefused(t, "ApproveMove(no actor)", err, errcode.Invalid, "no actor")
	wantVersion(t, s, "refused steps", v)
}

// Only the legal steps are taken; approval and dispatch check the devices again; a move that
// ends (rejected, cancelled) frees its devices.
func testMoveSteps(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	clk := withClock(s)
	seed(t, s)
	m, err := s.ProposeMove(asDonor, cuffMove("cuff-2"))
	must(t, "ProposeMove", err)
	v, _ := s.RegistryVersion(ctx)
	for _, step := range []struct {
		name string
		do   func() (devices.Move, error)
	}{
		{"DispatchMove(proposed)", func() (devices.Move, error) { return s.DispatchMove(asDonor, m.ID) }},
		{"ReceiveMove(proposed)", func() (devices.Move, error) { return s.ReceiveMove(asReceiver, m.ID) }},
	} {
		_, err := step.do()
		wantRefused(t, step.name, err, errcode.Conflict, fmt.Sprintf("move %d is proposed", m.ID))
	}
	wantVersion(t, s, "illegal steps", v)

	// Approval checks again: the cuff was lent after the proposal.
	must(t, "AssignDevice", s.AssignDevice(asAdmin, "cuff-2", "p2", t0))
	_, err = s.ApproveMove(asDonor, m.ID, "")
	wantRefused(t, "ApproveMove(device lent since)", err, errcode.Conflict, "device cuff-2 is lent to patient p2")
	clk.advance(day)
	must(t, "ReturnDevice", s.ReturnDevice(asAdmin, "cuff-2", t0.Add(day)))
	// ... and it was taken to s2 by hand: a mismatch is now a conflict, not a bad request.
	atS2 := cuff2
	atS2.SiteID = "s2"
	must(t, "UpdateDevice(to s2)", s.UpdateDevice(asAdmin, atS2))
	_, err = s.ApproveMove(asDonor, m.ID, "")
	wantRefused(t, "ApproveMove(device moved since)", err, errcode.Conflict, "device cuff-2 is at site s2")
	must(t, "UpdateDevice(back to s1)", s.UpdateDevice(asAdmin, cuff2))
	m, err = s.ApproveMove(asDonor, m.ID, "")
	must(t, "ApproveMove", err)
	_, err = s.ApproveMove(asDonor, m.ID, "")
	wantRefused(t, "ApproveMove(approved)", err, errcode.Conflict, fmt.Sprintf("move %d is approved", m.ID))
	_, err = s.RejectMove(asDonor, m.ID, "")
	wantRefused(t, "RejectMove(approved)", err, errcode.Conflict, fmt.Sprintf("move %d is approved", m.ID))

	// Dispatch checks again: the cuff went for repair after the approval.
	repair := cuff2
	repair.Status = devices.Maintenance
	must(t, "UpdateDevice(maintenance)", s.UpdateDevice(asAdmin, repair))
	_, err = s.DispatchMove(asDonor, m.ID)
	wantRefused(t, "DispatchMove(device under repair)", err, errcode.Conflict, "device cuff-2 is maintenance")
	wantDevice(t, s, "cuff-2", "s1", devices.Maintenance)
	must(t, "UpdateDevice(active)", s.UpdateDevice(asAdmin, cuff2))
	m, err = s.DispatchMove(asDonor, m.ID)
	must(t, "DispatchMove", err)
	if open, err := s.DevicesInOpenMoves(ctx); err != nil || !reflect.DeepEqual(open, map[string]bool{"cuff-2": true}) {
		t.Errorf("DevicesInOpenMoves in transit = %v, %v; want cuff-2", open, err)
	}
	_, err = s.CancelMove(asDonor, m.ID, "")
	wantRefused(t, "CancelMove(in transit)", err, errcode.Conflict, fmt.Sprintf("move %d is in_transit; it can be cancelled only when proposed or approved", m.ID))
	m, err = s.ReceiveMove(asReceiver, m.ID)
	must(t, "ReceiveMove", err)
	for _, step := range []struct {
		name string
		do   func() (devices.Move, error)
	}{
		{"ReceiveMove(received)", func() (devices.Move, error) { return s.ReceiveMove(asReceiver, m.ID) }},
		{"DispatchMove(received)", func() (devices.Move, error) { return s.DispatchMove(asDonor, m.ID) }},
		{"CancelMove(received)", func() (devices.Move, error) { return s.CancelMove(asDonor, m.ID, "") }},
	} {
		_, err := step.do()
		wantRefused(t, step.name, err, errcode.Conflict, fmt.Sprintf("move %d is received", m.ID))
	}
	wantDevice(t, s, "cuff-2", "s2", devices.Active)

	// A rejected move frees its device, as does a cancelled one, proposed or approved.
	clk.advance(day)
	r, err := s.ProposeMove(asDonor, cuffMove("cuff-1"))
	must(t, "ProposeMove", err)
	r, err = s.RejectMove(asDonor, r.ID, "s1 needs it for the flu clinic")
	must(t, "RejectMove", err)
	if r.State != devices.MoveRejected || r.DecidedBy != "user:usr_fleet_s1" || !r.DecidedAt.Equal(t0.Add(2*day)) ||
		r.DecisionNote != "s1 needs it for the flu clinic" {
		t.Errorf("RejectMove = %+v; want rejected by the donor now, with the note", r)
	}
	_, err = s.ApproveMove(asDonor, r.ID, "")
	wantRefused(t, "ApproveMove(rejected)", err, errcode.Conflict, fmt.Sprintf("move %d is rejected", r.ID))
	c, err := s.ProposeMove(asReceiver, cuffMove("cuff-1"))
	must(t, "ProposeMove(after the rejection)", err)
	c, err = s.CancelMove(asReceiver, c.ID, "found one")
	must(t, "CancelMove(proposed)", err)
	if c.State != devices.MoveCancelled || c.CancelledBy != "user:usr_fleet_s2" || c.CancelNote != "found one" || !c.CancelledAt.Equal(t0.Add(2*day)) {
		t.Errorf("CancelMove = %+v; want cancelled by the receiver now, with the note", c)
	}
	a, err := s.ProposeMove(asDonor, cuffMove("cuff-1"))
	must(t, "ProposeMove(after the cancellation)", err)
	_, err = s.ApproveMove(asDonor, a.ID, "")
	must(t, "ApproveMove", err)
	a, err = s.CancelMove(asAdmin, a.ID, "")
	must(t, "CancelMove(approved)", err)
	if a.State != devices.MoveCancelled || a.DecidedBy != "user:usr_fleet_s1" || a.CancelledBy != "admin:test" {
		t.Errorf("CancelMove(approved) = %+v; want cancelled by the admin, the approval kept", a)
	}
	if _, err := s.ProposeMove(asDonor, cuffMove("cuff-1")); err != nil {
		t.Errorf("ProposeMove(after the approved move was cancelled): %v", err)
	}
	wantDevice(t, s, "cuff-1", "s1", devices.Active)
	if log, _ := s.AuditLog(ctx, audit.Filter{Subject: fmt.Sprintf("move/%d", a.ID)}); len(log) != 3 ||
		log[0].Action != "move.cancel" || log[0].Detail != `{"was":"approved","state":"cancelled"}` {
		t.Errorf("audit of the cancelled move = %+v; want propose, approve, cancel", log)
	}
}

// Concurrent proposals that share a device: exactly one is recorded, and every other is a
// conflict that names the device.
func testConcurrentMoveProposals(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	seed(t, s)
	const n = 8
	for i := range n {
		moveDevice(t, s, fmt.Sprintf("cuff-x%d", i), devices.BPCuff, "s1", devices.Active)
	}
	v, _ := s.RegistryVersion(ctx)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.ProposeMove(asDonor, cuffMove(fmt.Sprintf("cuff-x%d", i), "cuff-1"))
		}()
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		if err == nil {
			won++
			continue
		}
		wantRefused(t, fmt.Sprintf("ProposeMove #%d", i), err, errcode.Conflict, "device cuff-1 is already in move")
	}
	if won != 1 {
		t.Errorf("%d concurrent proposals of cuff-1 succeeded; want exactly 1", won)
	}
	ms, err := s.ListMoves(ctx, devices.MoveFilter{Device: "cuff-1"})
	if err != nil || len(ms) != 1 {
		t.Errorf("ListMoves(cuff-1) = %+v, %v; want the one that won", ms, err)
	}
	wantVersion(t, s, "the proposals", v+1)
}

// Lists are newest first, filtered by state, by sites (a move from or to one of them) and by
// device, page by page.
func testListMoves(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	seed(t, s)
	must(t, "CreateSite", s.CreateSite(asAdmin, devices.Site{ID: "s3", Name: "Lakeside CHC"}))
	for _, d := range []struct{ id, site string }{{"ox-1", "s1"}, {"ox-2", "s1"}, {"ox-3", "s2"}, {"ox-4", "s3"}} {
		moveDevice(t, s, d.id, devices.Oximeter, d.site, devices.Active)
	}
	propose := func(from, to string, ids ...string) int64 {
		t.Helper()
		m, err := s.ProposeMove(asAdmin, devices.Move{Kind: devices.Oximeter, From: from, To: to, Devices: ids})
		must(t, "ProposeMove", err)
		return m.ID
	}
	m1 := propose("s1", "s2", "ox-1")
	m2 := propose("s2", "s3", "ox-3")
	m3 := propose("s3", "s1", "ox-4")
	m4 := propose("s1", "s3", "ox-2")
	_, err := s.ApproveMove(asAdmin, m2, "")
	must(t, "ApproveMove", err)
	_, err = s.RejectMove(asAdmin, m4, "")
	must(t, "RejectMove", err)
	m5 := propose("s1", "s3", "ox-2")

	moveIDs := func(ms []devices.Move) []int64 {
		out := []int64{}
		for _, m := range ms {
			out = append(out, m.ID)
		}
		return out
	}
	for _, tt := range []struct {
		f    devices.MoveFilter
		want []int64
	}{
		{devices.MoveFilter{}, []int64{m5, m4, m3, m2, m1}},
		{devices.MoveFilter{State: "proposed"}, []int64{m5, m3, m1}},
		{devices.MoveFilter{State: "approved"}, []int64{m2}},
		{devices.MoveFilter{State: "received"}, []int64{}},
		{devices.MoveFilter{Sites: []string{"s2"}}, []int64{m2, m1}},
		{devices.MoveFilter{Sites: []string{"s3"}}, []int64{m5, m4, m3, m2}},
		{devices.MoveFilter{Sites: []string{"s2", "s3"}, State: "proposed"}, []int64{m5, m3, m1}},
		{devices.MoveFilter{Sites: []string{"s9"}}, []int64{}},
		{devices.MoveFilter{Device: "ox-2"}, []int64{m5, m4}},
		{devices.MoveFilter{Device: "ox-2", State: "rejected"}, []int64{m4}},
		{devices.MoveFilter{Limit: 2}, []int64{m5, m4}},
		{devices.MoveFilter{Limit: 2, Before: m4}, []int64{m3, m2}},
		{devices.MoveFilter{Before: m2}, []int64{m1}},
	} {
		got, err := s.ListMoves(ctx, tt.f)
		if err != nil || !reflect.DeepEqual(moveIDs(got), tt.want) {
			t.Errorf("ListMoves(%+v) = %v, %v; want %v", tt.f, moveIDs(got), err, tt.want)
		}
	}
	// Each comes with its devices.
	got, _ := s.ListMoves(ctx, devices.MoveFilter{Limit: 1})
	if len(got) != 1 || !reflect.DeepEqual(got[0].Devices, []string{"ox-2"}) || got[0].From != "s1" || got[0].To != "s3" {
		t.Errorf("ListMoves(limit 1) = %+v; want move %d of ox-2 from s1 to s3", got, m5)
	}
	_, err = s.ListMoves(ctx, devices.MoveFilter{State: "lost"})
	wantRefused(t, "ListMoves(state lost)", err, errcode.Invalid, `move state "lost"`)
}
