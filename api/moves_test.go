package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vitalwatch/vitalwatch/access"
	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/devices"
)

// seedMoves adds to the registry fixture a third site, sC, oximeters mA1-mA3 at sA and mB1-mB5
// at sB, and eight moves of one oximeter each, in this order (ids 1-8):
//
//	1 sA->sB proposed by fleetA    5 sA->sB in transit
//	2 sB->sA proposed by fleetB    6 sB->sA in transit
//	3 sA->sB approved              7 sB->sC proposed by fleetB
//	4 sB->sA approved              8 sB->sA proposed by fleetA
func seedMoves(f *registryFixture) {
	f.t.Helper()
	ctx := context.Background()
	seed := audit.WithActor(ctx, "test:seed")
	must := func(err error) {
		f.t.Helper()
		if err != nil {
			f.t.Fatal(err)
		}
	}
	must(f.store.CreateSite(seed, devices.Site{ID: "sC", Name: "Lakeside CHC"}))
	var ds []devices.Device
	for _, id := range []string{"mA1", "mA2", "mA3", "mB1", "mB2", "mB3", "mB4", "mB5"} {
		ds = append(ds, devices.Device{ID: id, Kind: devices.Oximeter, SiteID: "s" + id[1:2], Mode: devices.Home,
			Status: devices.Active, SecretHash: devices.HashSecret("secret of " + id)})
	}
	must(f.store.CreateDevices(seed, ds))
	for i, m := range []struct {
		by, from, to, device string
		steps                []devices.MoveAction
	}{
		{"fleetA", "sA", "sB", "mA1", nil},
		{"fleetB", "sB", "sA", "mB1", nil},
		{"admin", "sA", "sB", "mA2", []devices.MoveAction{devices.ApproveMove}},
		{"admin", "sB", "sA", "mB2", []devices.MoveAction{devices.ApproveMove}},
		{"admin", "sA", "sB", "mA3", []devices.MoveAction{devices.ApproveMove, devices.DispatchMove}},
		{"admin", "sB", "sA", "mB3", []devices.MoveAction{devices.ApproveMove, devices.DispatchMove}},
		{"fleetB", "sB", "sC", "mB4", nil},
		{"fleetA", "sB", "sA", "mB5", nil},
	} {
		by := audit.WithActor(ctx, "user:"+m.by)
		got, err := f.store.ProposeMove(by, devices.Move{Kind: devices.Oximeter, From: m.from, To: m.to, Devices: []string{m.device}})
		must(err)
		if got.ID != int64(i+1) {
			f.t.Fatalf("seedMoves: move of %s has id %d; want %d", m.device, got.ID, i+1)
		}
		for _, step := range m.steps {
			if step == devices.ApproveMove {
				_, err = f.store.ApproveMove(seed, got.ID, "")
			} else {
				_, err = f.store.DispatchMove(seed, got.ID)
			}
			must(err)
		}
	}
}

// moveFixture is the registry fixture with site sC, served to real users who present API
// tokens: admin; docA, a doctor of tA; fleetA, fleetB and fleetC, fleet managers of sA, sB and
// sC.
type moveFixture struct {
	*registryFixture
	tokens map[string]string // by name
	users  map[string]string // user ids, by name
}

func newMoveFixture(t *testing.T) *moveFixture {
	t.Helper()
	f := newRegistryFixture(t)
	ctx := audit.WithActor(context.Background(), "test:seed")
	if err := f.store.CreateSite(ctx, devices.Site{ID: "sC", Name: "Lakeside CHC"}); err != nil {
		t.Fatal(err)
	}
	mf := &moveFixture{registryFixture: f, tokens: map[string]string{}, users: map[string]string{}}
	for name, u := range map[string]access.User{
		"admin":  {Username: "root", Role: access.Admin},
		"docA":   {Username: "dr.a", Role: access.Doctor, Teams: []string{"tA"}},
		"fleetA": {Username: "fleet-a", Role: access.FleetManager, Sites: []string{"sA"}},
		"fleetB": {Username: "fleet-b", Role: access.FleetManager, Sites: []string{"sB"}},
		"fleetC": {Username: "fleet-c", Role: access.FleetManager, Sites: []string{"sC"}},
	} {
		u, err := f.store.CreateUser(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		token, _, err := f.store.CreateToken(ctx, u.ID, "tests")
		if err != nil {
			t.Fatal(err)
		}
		mf.tokens[name], mf.users[name] = token, u.ID
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var err error
	f.api, err = New(Options{Gatherer: prometheus.NewRegistry(), DeadLetters: f.store, Registry: f.store, Devices: f.view,
		Auth: NewUserAuth(f.store, log), Users: f.store, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	return mf
}

// do calls as the user of name and fails the test unless the status is status; it decodes the
// answer into v (if not nil), refusing unknown fields, and returns the recorder.
func (mf *moveFixture) do(status int, name, method, path, body string, v any) *httptest.ResponseRecorder {
	mf.t.Helper()
	w := mf.call(mf.tokens[name], method, path, body)
	if w.Code != status {
		mf.t.Fatalf("%s %s %s as %s = %d %s; want %d", method, path, body, name, w.Code, w.Body, status)
	}
	if v != nil {
		dec := json.NewDecoder(bytes.NewReader(w.Body.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			mf.t.Fatalf("%s %s: answer %s: %v", method, path, w.Body, err)
		}
	}
	return w
}

// refused calls as name and fails the test unless the answer is an error of the status whose
// message says each of says.
func (mf *moveFixture) refused(status int, name, method, path, body string, says ...string) {
	mf.t.Helper()
	w := mf.do(status, name, method, path, body, nil)
	msg := errorOf(w.Body.Bytes())
	for _, s := range says {
		if !strings.Contains(msg, s) {
			mf.t.Errorf("%s %s %s as %s = %d %s; want it to say %q", method, path, body, name, w.Code, msg, s)
		}
	}
}

// actor is how moves name the user of name.
func (mf *moveFixture) actor(name string) string { return "user:" + mf.users[name] }

func moveIDs(t *testing.T, body []byte) []int64 {
	t.Helper()
	var p page[moveJSON]
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("list answer %s: %v", body, err)
	}
	out := []int64{}
	for _, m := range p.Items {
		out = append(out, m.ID)
	}
	return out
}

// A move from sA to sB, proposed by the receiver: only the donor's fleet manager approves and
// dispatches it, only the receiver's confirms receipt, a doctor and an unrelated fleet manager
// are kept out; once received, the device belongs to sB.
func TestMoveCustodyFlow(t *testing.T) {
	mf := newMoveFixture(t)

	var m moveJSON
	w := mf.do(201, "fleetB", "POST", "/moves", `{"kind": "bp_cuff", "from": "sA", "to": "sB", "devices": ["dA1"],
		"reason": "move 1 bp_cuff from sA to sB (12.0 km)"}`, &m)
	if loc := w.Header().Get("Location"); loc != fmt.Sprintf("/api/v1/moves/%d", m.ID) {
		t.Errorf("Location = %q; want /api/v1/moves/%d", loc, m.ID)
	}
	if m.State != "proposed" || m.ProposedBy != mf.actor("fleetB") || m.From != "sA" || m.To != "sB" ||
		!slices.Equal(m.Devices, []string{"dA1"}) || m.Reason != "move 1 bp_cuff from sA to sB (12.0 km)" || m.ProposedAt.IsZero() {
		t.Errorf("proposed move = %+v; want it proposed by fleetB", m)
	}
	path := fmt.Sprintf("/moves/%d", m.ID)

	// A doctor has no business with moves; a fleet manager of neither site may not see it.
	mf.refused(403, "docA", "GET", "/moves", "", "doctor")
	mf.refused(403, "docA", "GET", path, "", "doctor")
	mf.refused(403, "docA", "POST", path+"/approve", "", "doctor")
	mf.refused(403, "fleetC", "GET", path, "", "neither from nor to one of your sites")
	mf.refused(403, "fleetC", "POST", path+"/approve", "", "neither from nor to one of your sites")
	mf.refused(404, "fleetC", "GET", "/moves/999", "", "move 999 not found")
	mf.refused(404, "fleetC", "POST", "/moves/999/approve", "", "move 999 not found")
	if got := moveIDs(t, mf.do(200, "fleetC", "GET", "/moves", "", nil).Body.Bytes()); len(got) != 0 {
		t.Errorf("fleetC's moves = %v; want none", got)
	}

	// The receiver proposed it but may not approve or dispatch it.
	mf.refused(403, "fleetB", "POST", path+"/approve", "", "only a fleet manager of sA, the donor site")
	mf.do(200, "fleetA", "POST", path+"/approve", `{"note": "idle since June"}`, &m)
	if m.State != "approved" || m.DecidedBy != mf.actor("fleetA") || m.DecisionNote != "idle since June" || m.DecidedAt.IsZero() {
		t.Errorf("approved move = %+v; want it approved by fleetA with the note", m)
	}
	mf.refused(403, "fleetB", "POST", path+"/dispatch", "", "only a fleet manager of sA, the donor site")
	mf.do(200, "fleetA", "POST", path+"/dispatch", "", &m)
	if m.State != "in_transit" || m.DispatchedBy != mf.actor("fleetA") || m.DispatchedAt.IsZero() {
		t.Errorf("dispatched move = %+v; want it in transit, dispatched by fleetA", m)
	}

	// In transit: still sA's, out of service, and no one changes its site or status by hand.
	var d deviceJSON
	mf.do(200, "fleetA", "GET", "/devices/dA1", "", &d)
	if d.Site != "sA" || d.Status != "in_transit" {
		t.Errorf("dA1 in transit = %+v; want in_transit at sA", d)
	}
	mf.refused(400, "fleetA", "PATCH", "/devices/dA1", `{"status": "active"}`, "invalid: ", "device dA1 is in transit")
	mf.refused(400, "admin", "PATCH", "/devices/dA1", `{"site": "sB"}`, "invalid: ", "device dA1 is in transit")
	mf.refused(409, "fleetA", "POST", path+"/cancel", "", "is in_transit; it can be cancelled only when proposed or approved")

	// The donor cannot confirm receipt; the receiver does.
	mf.refused(403, "fleetA", "POST", path+"/receive", "", "only a fleet manager of sB, the receiving site")
	mf.do(200, "fleetB", "POST", path+"/receive", "", &m)
	if m.State != "received" || m.ReceivedBy != mf.actor("fleetB") || m.ReceivedAt.IsZero() {
		t.Errorf("received move = %+v; want it received by fleetB", m)
	}
	mf.do(200, "fleetB", "GET", "/devices/dA1", "", &d)
	if d.Site != "sB" || d.Status != "active" {
		t.Errorf("dA1 after receipt = %+v; want active at sB", d)
	}
	mf.refused(403, "fleetA", "GET", "/devices/dA1", "", "not at one of your sites")
	mf.refused(409, "fleetA", "POST", path+"/approve", "", fmt.Sprintf("move %d is received", m.ID))

	// Both sides see it in their lists, and the admin reads each step in the audit log.
	var got moveJSON
	mf.do(200, "fleetA", "GET", path, "", &got)
	if !got.ReceivedAt.Equal(m.ReceivedAt) || got.State != "received" || got.DecisionNote != "idle since June" {
		t.Errorf("GET %s = %+v; want %+v", path, got, m)
	}
	for _, tt := range []struct {
		name, query string
		want        []int64
	}{
		{"fleetA", "", []int64{m.ID}},
		{"fleetB", "?state=received", []int64{m.ID}},
		{"fleetB", "?state=proposed", []int64{}},
		{"admin", "?device=dA1", []int64{m.ID}},
	} {
		if ids := moveIDs(t, mf.do(200, tt.name, "GET", "/moves"+tt.query, "", nil).Body.Bytes()); !slices.Equal(ids, tt.want) {
			t.Errorf("GET /moves%s as %s = %v; want %v", tt.query, tt.name, ids, tt.want)
		}
	}
	var audit page[auditJSON]
	mf.do(200, "admin", "GET", "/audit?subject=move/"+fmt.Sprint(m.ID), "", &audit)
	var steps []string
	for _, e := range audit.Items {
		steps = append(steps, e.Action+" by "+e.Actor)
	}
	wantSteps := []string{"move.receive by " + mf.actor("fleetB"), "move.dispatch by " + mf.actor("fleetA"),
		"move.approve by " + mf.actor("fleetA"), "move.propose by " + mf.actor("fleetB")}
	if !slices.Equal(steps, wantSteps) {
		t.Errorf("audit of the move = %v; want %v", steps, wantSteps)
	}
}

// Who may reject and cancel: the donor rejects; whoever proposed a move, or the donor, cancels
// it; the receiver who did not propose it may not.
func TestMoveRejectAndCancel(t *testing.T) {
	mf := newMoveFixture(t)
	propose := func(name string) string {
		t.Helper()
		var m moveJSON
		mf.do(201, name, "POST", "/moves", `{"kind": "station", "from": "sA", "to": "sB", "devices": ["stA"]}`, &m)
		return fmt.Sprintf("/moves/%d", m.ID)
	}
	var m moveJSON

	byReceiver := propose("fleetB")
	mf.refused(403, "fleetC", "POST", byReceiver+"/cancel", "", "neither from nor to one of your sites")
	mf.do(200, "fleetB", "POST", byReceiver+"/cancel", `{"note": "found one nearer"}`, &m)
	if m.State != "cancelled" || m.CancelledBy != mf.actor("fleetB") || m.CancelNote != "found one nearer" {
		t.Errorf("move cancelled by its proposer = %+v", m)
	}

	byAdmin := propose("admin")
	mf.refused(403, "fleetB", "POST", byAdmin+"/cancel", "", "only whoever proposed move")
	mf.do(200, "fleetA", "POST", byAdmin+"/approve", "", nil)
	mf.do(200, "fleetA", "POST", byAdmin+"/cancel", "", &m)
	if m.State != "cancelled" || m.CancelledBy != mf.actor("fleetA") || m.DecidedBy != mf.actor("fleetA") {
		t.Errorf("approved move cancelled by the donor = %+v", m)
	}

	byDonor := propose("fleetA")
	mf.refused(403, "fleetB", "POST", byDonor+"/reject", "", "only a fleet manager of sA, the donor site")
	mf.do(200, "fleetA", "POST", byDonor+"/reject", `{"note": "needed for the flu clinic"}`, &m)
	if m.State != "rejected" || m.DecidedBy != mf.actor("fleetA") || m.DecisionNote != "needed for the flu clinic" {
		t.Errorf("rejected move = %+v", m)
	}
	mf.refused(409, "fleetA", "POST", byDonor+"/cancel", "", "is rejected; it can be cancelled only when proposed or approved")
	// The station is free again.
	propose("fleetB")
}

// Bad requests get a 400 that names what is wrong; a device that cannot move, a 409 that names
// it and why.
func TestMoveBadRequests(t *testing.T) {
	f := newRegistryFixture(t)
	seedMoves(f)
	for _, tt := range []struct {
		method, path, body string
		status             int
		says               string
	}{
		{"POST", "/moves", `{"kind": "bp_cuff", "from": "sA", "to": "sB", "devices": ["dA1"], "colour": "red"}`, 400, `unknown field "colour"`},
		{"POST", "/moves", `{"kind": "bp_cuff", "from": "sA", "to": "sB"}`, 400, "devices: required"},
		{"POST", "/moves", `{"kind": "bp_cuff", "from": "sA", "to": "sB", "devices": "dA1"}`, 400, "devices: want an array of strings"},
		{"POST", "/moves", `{"kind": "bp_cuff", "from": "sA", "to": "sB", "devices": []}`, 400, "1-100 devices, not 0"},
		{"POST", "/moves", `{"kind": "bp_cuff", "from": "sA", "to": "sA", "devices": ["dA1"]}`, 400, "both are sA"},
		{"POST", "/moves", `{"kind": "bp_cuff", "from": "sA", "to": "sB", "devices": ["dA1", "dA1"]}`, 400, "device dA1 is in the move twice"},
		{"POST", "/moves", `{"kind": "bp_cuff", "from": "sA", "to": "sB", "devices": ["dB1"]}`, 400, "device dB1 is at site sB"},
		{"POST", "/moves", `{"kind": "bp_cuff", "from": "sA", "to": "sB", "devices": ["dA2"]}`, 409, "device dA2 is lent to patient pA1"},
		{"POST", "/moves", `{"kind": "oximeter", "from": "sA", "to": "sB", "devices": ["mA1"]}`, 409, "device mA1 is already in move 1, which is proposed"},
		{"POST", "/moves", `{"kind": "oximeter", "from": "sA", "to": "sB", "devices": ["mA3"]}`, 409, "device mA3 is in_transit"},
		{"POST", "/moves", `{"kind": "bp_cuff", "from": "sA", "to": "sB", "devices": ["dA1"], "reason": "` + strings.Repeat("x", 1001) + `"}`, 400, "at most 1000 characters"},
		{"POST", "/moves?dry=1", `{}`, 400, `unknown parameter "dry"`},
		{"GET", "/moves?state=lost", "", 400, `state: "lost" is not a move state`},
		{"GET", "/moves?before=x", "", 400, "before: not a cursor"},
		{"GET", "/moves?limit=0", "", 400, "limit: must be an integer from 1 to 1000"},
		{"GET", "/moves?site=s%20A", "", 400, "site:"},
		{"GET", "/moves?colour=red", "", 400, `unknown parameter "colour"`},
		{"GET", "/moves/abc", "", 400, `id "abc" in the path is not a move id`},
		{"POST", "/moves/1/approve", `{"note": 5}`, 400, "note: want a string"},
		{"POST", "/moves/1/approve", `{"reason": "x"}`, 400, `unknown field "reason"; the fields are note`},
		{"POST", "/moves/1/approve", `{"note": "` + strings.Repeat("x", 1001) + `"}`, 400, "at most 1000 characters"},
		{"POST", "/moves/3/dispatch", `{"note": "x"}`, 400, "this request takes no body"},
		{"POST", "/moves/1/dispatch", "", 409, "move 1 is proposed; it can be dispatched only when approved"},
		{"POST", "/moves/6/receive?now=1", "", 400, `unknown parameter "now"`},
	} {
		w := f.call("admin", tt.method, tt.path, tt.body)
		if msg := errorOf(w.Body.Bytes()); w.Code != tt.status || !strings.Contains(msg, tt.says) {
			t.Errorf("%s %s %.80s = %d %s; want %d saying %q", tt.method, tt.path, tt.body, w.Code, msg, tt.status, tt.says)
		}
	}
	// Nothing of those was kept.
	if ids := moveIDs(t, f.want(200, "admin", "GET", "/moves", "", nil).Body.Bytes()); len(ids) != 8 {
		t.Errorf("moves after bad requests = %v; want the 8 seeded", ids)
	}
}

// Lists: newest first, scoped to a fleet manager's sites, filtered and paged with before.
func TestListMoves(t *testing.T) {
	f := newRegistryFixture(t)
	seedMoves(f)
	for _, tt := range []struct {
		token, query string
		want         []int64
	}{
		{"admin", "", []int64{8, 7, 6, 5, 4, 3, 2, 1}},
		{"fleetA", "", []int64{8, 6, 5, 4, 3, 2, 1}},
		{"fleetA", "?state=approved", []int64{4, 3}},
		{"fleetA", "?site=sA&device=mB5", []int64{8}},
		{"fleetB", "?state=proposed", []int64{8, 7, 2, 1}},
		{"admin", "?site=sC", []int64{7}},
		{"admin", "?limit=3", []int64{8, 7, 6}},
		{"admin", "?limit=3&before=6", []int64{5, 4, 3}},
		{"fleetAB", "?state=in_transit", []int64{6, 5}},
	} {
		if got := moveIDs(t, f.want(200, tt.token, "GET", "/moves"+tt.query, "", nil).Body.Bytes()); !slices.Equal(got, tt.want) {
			t.Errorf("GET /moves%s as %s = %v; want %v", tt.query, tt.token, got, tt.want)
		}
	}
	var p page[moveJSON]
	f.want(200, "fleetA", "GET", "/moves?limit=2", "", &p)
	if p.Next != "6" {
		t.Errorf("next of fleetA's first page of 2 = %q; want 6", p.Next)
	}
	f.want(200, "fleetA", "GET", "/moves?limit=2&before="+p.Next, "", &p)
	if len(p.Items) != 2 || p.Items[0].ID != 5 || p.Items[1].ID != 4 {
		t.Errorf("fleetA's second page of 2 = %+v; want moves 5 and 4", p.Items)
	}
}
