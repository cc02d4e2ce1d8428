package api

import (
	"context"
	"strings"
	"testing"
	"time"
)

// A patient moves from team tA (site sA) to team tB (site sB) and takes the lent cuff dA2 along:
// the old team loses access at once, the new team has it, the cuff now belongs to site sB's
// fleet, and its readings are still credited to the patient.
func TestTransferDevicesTravel(t *testing.T) {
	f := newRegistryFixture(t)
	f.want(200, "docA", "GET", "/patients/pA1", "", nil)
	f.want(403, "docB", "GET", "/patients/pA1", "", nil)

	var tr transferJSON
	f.want(200, "docA", "POST", "/patients/pA1/transfer", `{"team": "tB", "device_policy": "travel", "at": "2026-11-10T08:00:00Z"}`, &tr)
	want := transferJSON{Patient: "pA1", FromTeam: "tA", ToTeam: "tB", At: time.Date(2026, 11, 10, 8, 0, 0, 0, time.UTC),
		Actor: "user:docA", DevicePolicy: "travel"}
	if tr != want {
		t.Errorf("transfer = %+v; want %+v", tr, want)
	}

	// No caching: the very next requests see the new team.
	f.want(403, "docA", "GET", "/patients/pA1", "", nil)
	f.want(403, "docA", "PATCH", "/patients/pA1", `{"plans": []}`, nil)
	f.want(403, "docA", "POST", "/patients/pA1/transfer", `{"team": "tA", "device_policy": "travel"}`, nil)
	var pt patientJSON
	f.want(200, "docB", "GET", "/patients/pA1", "", &pt)
	if pt.Team != "tB" || len(pt.Plans) != 1 {
		t.Errorf("patient after the transfer = %+v; want team tB with its plan", pt)
	}
	if got := itemIDs(t, f.want(200, "docA", "GET", "/patients", "", nil).Body.Bytes()); len(got) != 1 || got[0] != "pA2" {
		t.Errorf("docA's patients after the transfer = %v; want pA2 only", got)
	}
	var trs page[transferJSON]
	f.want(200, "docB", "GET", "/patients/pA1/transfers", "", &trs)
	if len(trs.Items) != 1 || trs.Items[0] != want {
		t.Errorf("transfers = %+v; want the one", trs.Items)
	}

	// The cuff went along: it is at sB, still lent to pA1.
	f.want(403, "fleetA", "GET", "/devices/dA2", "", nil)
	var d deviceJSON
	f.want(200, "fleetB", "GET", "/devices/dA2", "", &d)
	if d.Site != "sB" {
		t.Errorf("dA2 after travelling = %+v; want it at sB", d)
	}
	var as page[assignmentJSON]
	f.want(200, "fleetB", "GET", "/devices/dA2/assignments", "", &as)
	if len(as.Items) != 1 || !as.Items[0].Until.IsZero() || as.Items[0].Patient != "pA1" {
		t.Errorf("dA2's loans = %+v; want the one to pA1, still open", as.Items)
	}
	f.refresh()
	dir := f.view.Load()
	for _, at := range []time.Time{lentSince, want.At, time.Now()} {
		if got := dir.PatientAt("dA2", at); got != "pA1" {
			t.Errorf("Directory.PatientAt(dA2, %v) = %q; want pA1", at, got)
		}
	}
	if dev, _ := dir.Device("dA2"); dev == nil || dev.SiteID != "sB" {
		t.Errorf("Directory.Device(dA2) = %+v; want it at sB", dev)
	}
	// And its dead letters follow it to sB's fleet manager.
	f.want(403, "fleetA", "GET", "/deadletters?device=dA2", "", nil)
	f.want(200, "fleetB", "GET", "/deadletters?device=dA2", "", nil)

	// The audit log has the transfer and the device's move.
	var audit page[auditJSON]
	f.want(200, "admin", "GET", "/audit?actor=user:docA", "", &audit)
	var actions []string
	for _, e := range audit.Items {
		actions = append(actions, e.Action+" "+e.Subject)
	}
	if len(actions) != 2 || actions[0] != "device.update device/dA2" || actions[1] != "patient.transfer patient/pA1" {
		t.Errorf("audit by docA = %v; want the device's move and the transfer", actions)
	}
}

// With "return", the lent cuff's loan ends at the transfer and the cuff stays in sA's pool.
func TestTransferDevicesReturn(t *testing.T) {
	f := newRegistryFixture(t)
	at := time.Date(2026, 11, 10, 8, 0, 0, 0, time.UTC)
	f.want(200, "docA", "POST", "/patients/pA1/transfer", `{"team": "tB", "device_policy": "return", "at": "2026-11-10T16:00:00+08:00"}`, nil)
	f.want(403, "docA", "GET", "/patients/pA1", "", nil)
	f.want(200, "docB", "GET", "/patients/pA1", "", nil)

	var d deviceJSON
	f.want(200, "fleetA", "GET", "/devices/dA2", "", &d)
	if d.Site != "sA" {
		t.Errorf("dA2 after the return = %+v; want it at sA", d)
	}
	var as page[assignmentJSON]
	f.want(200, "fleetA", "GET", "/devices/dA2/assignments", "", &as)
	if len(as.Items) != 1 || !as.Items[0].Until.Equal(at) {
		t.Errorf("dA2's loans = %+v; want the one to pA1 ending at %v", as.Items, at)
	}
	f.refresh()
	dir := f.view.Load()
	if got := dir.PatientAt("dA2", at.Add(-time.Millisecond)); got != "pA1" {
		t.Errorf("PatientAt(dA2) before the transfer = %q; want pA1", got)
	}
	if got := dir.PatientAt("dA2", at); got != "" {
		t.Errorf("PatientAt(dA2) from the transfer on = %q; want none", got)
	}
	// It can be lent again from then on.
	f.want(200, "fleetA", "POST", "/devices/dA2/assign", `{"patient": "pA2", "from": "2026-11-10T08:00:00Z"}`, nil)
	if st, _ := f.store.GetPatient(context.Background(), "pA1"); st.TeamID != "tB" {
		t.Errorf("stored patient = %+v; want team tB", st)
	}
}

func TestTransferRefusals(t *testing.T) {
	f := newRegistryFixture(t)
	for _, tt := range []struct {
		name, body string
		status     int
		wantIn     string
	}{
		{"no team", `{"device_policy": "travel"}`, 400, "team: required"},
		{"no policy", `{"team": "tB"}`, 400, "device_policy: required"},
		{"unknown policy", `{"team": "tB", "device_policy": "keep"}`, 400, "device_policy"},
		{"unknown team", `{"team": "tZ", "device_policy": "travel"}`, 400, "team tZ does not exist"},
		{"own team", `{"team": "tA", "device_policy": "travel"}`, 400, "already in team tA"},
		{"bad time", `{"team": "tB", "device_policy": "travel", "at": "yesterday"}`, 400, "at: want an RFC 3339 time"},
		{"return before the loan", `{"team": "tB", "device_policy": "return", "at": "2026-10-01T00:00:00Z"}`, 400, "cannot return it"},
		{"unknown field", `{"team": "tB", "device_policy": "travel", "devices": ["dA2"]}`, 400, `unknown field "devices"`},
	} {
		w := f.call("docA", "POST", "/patients/pA1/transfer", tt.body)
		if msg := errorOf(w.Body.Bytes()); w.Code != tt.status || !strings.Contains(msg, tt.wantIn) {
			t.Errorf("%s: transfer %s = %d %s; want %d naming %q", tt.name, tt.body, w.Code, msg, tt.status, tt.wantIn)
		}
	}
	f.want(404, "docA", "POST", "/patients/nope/transfer", `{"team": "tB", "device_policy": "travel"}`, nil)
	// Nothing happened.
	var pt patientJSON
	f.want(200, "docA", "GET", "/patients/pA1", "", &pt)
	if pt.Team != "tA" {
		t.Errorf("patient after refused transfers = %+v; want still in tA", pt)
	}
}
