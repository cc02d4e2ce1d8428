package api

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/vitalwatch/vitalwatch/errcode"
)

// A device id is also the device's MQTT username, client id and topic level on every broker
// the platform supports, and the platform's own MQTT users are named vitalwatch-...: creating a
// device that no broker could take, or that would be named like the ingest client, is refused
// with a 400 that names the field and the reason, through the API and through its CSV import.
func TestCreateDeviceRefusesIDsNoBrokerCanTake(t *testing.T) {
	f := newRegistryFixture(t)
	for _, tt := range []struct{ id, why string }{
		{"site:1", "':'"},
		{"vitalwatch-ingest", "reserved"},
		{"VitalWatch-Ingest-2", "reserved"},
		{"a/b", "A-Z a-z 0-9 . _ -"},
		{"a+", "A-Z a-z 0-9 . _ -"},
	} {
		w := f.want(400, "fleetA", "POST", "/devices", fmt.Sprintf(`{"id": %q, "kind": "oximeter", "site": "sA", "mode": "home"}`, tt.id), nil)
		var e struct {
			Error errorJSON `json:"error"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
			t.Fatalf("POST /devices %q: answer %s is not a JSON error: %v", tt.id, w.Body, err)
		}
		if e.Error.Code != errcode.Invalid || !strings.HasPrefix(e.Error.Message, "id: ") || !strings.Contains(e.Error.Message, tt.why) {
			t.Errorf("POST /devices %q: error %+v; want code invalid and a message naming the field id and saying %q", tt.id, e.Error, tt.why)
		}
		if _, err := f.store.GetDevice(context.Background(), tt.id); err == nil {
			t.Errorf("POST /devices %q was refused, yet the device is in the registry", tt.id)
		}
	}
	// Ids that every broker takes are still fine.
	f.want(201, "fleetA", "POST", "/devices", `{"id": "ox.7_a-B", "kind": "oximeter", "site": "sA", "mode": "home"}`, nil)

	var rep importReport
	f.want(200, "fleetA", "POST", "/devices/import", "csv:id,kind,site,mode\ndA8,oximeter,sA,home\nsA:9,oximeter,sA,home\nvitalwatch-ingest,oximeter,sA,home\n", &rep)
	if len(rep.Imported) != 1 || rep.Imported[0] != "dA8" || len(rep.Errors) != 2 ||
		rep.Errors[0].Line != 3 || !strings.Contains(rep.Errors[0].Reason, "':'") ||
		rep.Errors[1].Line != 4 || !strings.Contains(rep.Errors[1].Reason, "reserved") {
		t.Errorf("devices import = %+v; want dA8 imported, line 3 refused for its ':' and line 4 as reserved", rep)
	}
}
