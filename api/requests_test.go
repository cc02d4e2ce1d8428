package api

import (
	"context"
	"strings"
	"testing"

	"github.com/vitalwatch/vitalwatch/devices"
)

// Bad requests get a 400 (or the registry's code) whose message names what is wrong.
func TestRegistryBadRequests(t *testing.T) {
	f := newRegistryFixture(t)
	for _, tt := range []struct {
		name, method, path, body string
		status                   int
		wantIn                   string
	}{
		{"unknown field", "POST", "/sites", `{"id": "sC", "name": "x", "colour": "red"}`, 400, `unknown field "colour"`},
		{"wrong type", "POST", "/sites", `{"id": "sC", "name": "x", "lat": "north"}`, 400, "lat: want a number"},
		{"wrong type of a list", "PATCH", "/patients/pA1", `{"plans": "daily"}`, 400, "plans: want an array of strings"},
		{"whole number", "PATCH", "/devices/stA", `{"rated_uses_per_day": 1.5}`, 400, "rated_uses_per_day: want a whole number"},
		{"bad time", "PATCH", "/devices/dA1", `{"next_calibration": "soon"}`, 400, "next_calibration: want an RFC 3339 time"},
		{"malformed JSON", "POST", "/sites", `{"id": "sC",`, 400, "malformed JSON"},
		{"not an object", "POST", "/sites", `["sC"]`, 400, "must be a JSON object"},
		{"two values", "POST", "/sites", `{"id": "sC", "name": "x"} {}`, 400, "malformed JSON"},
		{"missing field", "POST", "/sites", `{"id": "sC"}`, 400, "name: required"},
		{"invalid value", "POST", "/sites", `{"id": "sC", "name": "x", "time_zone": "Mars/Olympus"}`, 400, "Mars/Olympus"},
		{"bad id", "POST", "/teams", `{"id": "t C", "site": "sA", "name": "x"}`, 400, "team id"},
		{"duplicate", "POST", "/sites", `{"id": "sA", "name": "x"}`, 409, "site sA already exists"},
		{"duplicate device", "POST", "/devices", `{"id": "dA1", "kind": "scale", "site": "sA", "mode": "home"}`, 409, "already exists"},
		{"id cannot change", "PATCH", "/sites/sA", `{"id": "sZ"}`, 400, "id: an id cannot change"},
		{"team only by transfer", "PATCH", "/patients/pA1", `{"team": "tB"}`, 400, "/transfer"},
		{"no secret by PATCH", "PATCH", "/devices/dA1", `{"secret": "0123456789abcdef"}`, 400, "/secret"},
		{"unknown query parameter", "GET", "/devices?colour=red", "", 400, `unknown parameter "colour"`},
		{"filter that does not apply", "GET", "/sites?site=sA", "", 400, `unknown parameter "site"`},
		{"limit too big", "GET", "/patients?limit=1001", "", 400, "limit"},
		{"limit zero", "GET", "/teams?limit=0", "", 400, "limit"},
		{"twice", "GET", "/devices?site=sA&site=sB", "", 400, "site: give it once"},
		{"bad kind", "GET", "/devices?kind=toaster", "", 400, "toaster"},
		{"bad cursor", "GET", "/audit?before=x", "", 400, "before"},
		{"bad path id", "GET", "/devices/a%20b", "", 400, "id"},
		{"body to rotate", "POST", "/devices/dA1/secret", `{"secret": "mine"}`, 400, `unknown field "secret"`},
		{"assign without patient", "POST", "/devices/dA1/assign", `{}`, 400, "patient: required"},
		{"assign to unknown patient", "POST", "/devices/dA1/assign", `{"patient": "pZ"}`, 400, "patient pZ does not exist"},
		{"assign a station", "POST", "/devices/stA/assign", `{"patient": "pA1"}`, 400, "station"},
		{"return a device not lent", "POST", "/devices/dA1/return", ``, 404, "not lent"},
		{"retire a lent device", "PATCH", "/devices/dA2", `{"status": "retired"}`, 400, "return it"},
		{"empty body", "POST", "/sites", "", 400, "id: required"},
	} {
		w := f.call("admin", tt.method, tt.path, tt.body)
		if msg := errorOf(w.Body.Bytes()); w.Code != tt.status || !strings.Contains(msg, tt.wantIn) || msg == w.Body.String() {
			t.Errorf("%s: %s %s %s = %d %s; want a %d error naming %q", tt.name, tt.method, tt.path, tt.body, w.Code, msg, tt.status, tt.wantIn)
		}
	}
	if w := f.callRaw("admin", "POST", "/sites", strings.NewReader(`{"id": "sC", "name": "x"}`), "text/plain"); w.Code != 415 {
		t.Errorf("POST /sites as text/plain = %d; want 415 (see TestJSONBodyContentType)", w.Code)
	}
}

// What a PATCH leaves out stays as it was; null clears a field.
func TestRegistryPatch(t *testing.T) {
	f := newRegistryFixture(t)
	var d deviceJSON
	f.want(200, "fleetA", "PATCH", "/devices/dA1", `{"firmware": "2.1", "next_calibration": "2027-03-01T00:00:00+08:00"}`, &d)
	if d.Firmware != "2.1" || d.Kind != "bp_cuff" || d.Site != "sA" || d.NextCalibration.IsZero() {
		t.Errorf("after PATCH = %+v; want the new firmware and calibration, the rest as before", d)
	}
	d = deviceJSON{}
	f.want(200, "fleetA", "PATCH", "/devices/dA1", `{"next_calibration": null}`, &d)
	if d.Firmware != "2.1" || !d.NextCalibration.IsZero() {
		t.Errorf("after PATCH with null = %+v; want the calibration cleared and the firmware kept", d)
	}
	stored, _ := f.store.GetDevice(context.Background(), "dA1")
	if stored.Firmware != "2.1" || !stored.NextCalibration.IsZero() || !devices.VerifySecret(stored.SecretHash, "secret of dA1") {
		t.Errorf("stored after PATCH = %+v; want it as answered, with its secret unchanged", stored)
	}
	// A fleet manager of both sites may move a device between them.
	f.want(200, "fleetAB", "PATCH", "/devices/dA1", `{"site": "sB"}`, nil)
	f.want(403, "fleetA", "GET", "/devices/dA1", "", nil)
}

// A new device and a rotated secret each show the secret once; the store keeps only its hash.
func TestDeviceSecrets(t *testing.T) {
	f := newRegistryFixture(t)
	var created newDeviceJSON
	w := f.want(201, "fleetA", "POST", "/devices", `{"id": "dA7", "kind": "oximeter", "site": "sA", "mode": "home"}`, &created)
	if w.Header().Get("Location") != "/api/v1/devices/dA7" || created.Status != "active" || len(created.Secret) < 16 {
		t.Errorf("created = %+v at %q; want an active device with a secret at /api/v1/devices/dA7", created, w.Header().Get("Location"))
	}
	got, _ := f.store.GetDevice(context.Background(), "dA7")
	if !devices.VerifySecret(got.SecretHash, created.Secret) {
		t.Errorf("the secret in the answer does not match the stored hash")
	}
	if w := f.want(200, "fleetA", "GET", "/devices/dA7", "", nil); strings.Contains(w.Body.String(), "secret") {
		t.Errorf("GET shows a secret: %s", w.Body)
	}
	var rotated deviceSecretJSON
	f.want(200, "fleetA", "POST", "/devices/dA7/secret", "", &rotated)
	got, _ = f.store.GetDevice(context.Background(), "dA7")
	if rotated.Device != "dA7" || rotated.Secret == created.Secret || !devices.VerifySecret(got.SecretHash, rotated.Secret) ||
		devices.VerifySecret(got.SecretHash, created.Secret) {
		t.Errorf("after rotation: %+v; want a new secret that works, and the old one not", rotated)
	}
	var assigned assignmentJSON
	f.want(200, "fleetA", "POST", "/devices/dA7/assign", `{"patient": "pB1", "from": "2026-11-05T00:00:00Z"}`, &assigned)
	if assigned.Device != "dA7" || assigned.Patient != "pB1" || !assigned.Until.IsZero() {
		t.Errorf("assigned = %+v; want dA7 lent to pB1, open", assigned)
	}
	var returned assignmentJSON
	f.want(200, "fleetA", "POST", "/devices/dA7/return", `{}`, &returned)
	if returned.Until.IsZero() {
		t.Errorf("returned = %+v; want the loan ended", returned)
	}
}
