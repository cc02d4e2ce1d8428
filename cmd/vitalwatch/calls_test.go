package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/internal/testsrv"
	"github.com/vitalwatch/vitalwatch/store"
)

// TestCallsForHelpWithNoPatientReachTheSite: an SOS from a home device lent to nobody, and one
// from a station that names no registered resident, are stored and raised to the device's site
// with the device named; the station's other readings, which nobody can be credited with, are
// dead letters.
func TestCallsForHelpWithNoPatientReachTheSite(t *testing.T) {
	ix := testsrv.StartInflux(t, testsrv.InfluxOptions{})
	dataDir := t.TempDir()
	secrets := seedDevices(t, dataDir, "hd-9")
	ctx := audit.WithActor(context.Background(), "test")
	st, err := store.Open(ctx, filepath.Join(dataDir, dbFile))
	if err != nil {
		t.Fatal(err)
	}
	secrets["st-9"] = devices.NewSecret()
	if err := st.CreateDevice(ctx, devices.Device{ID: "st-9", Kind: devices.Station, SiteID: "test-site", Mode: devices.StationMode,
		Status: devices.Active, RatedUsesPerDay: 40, SecretHash: devices.HashSecret(secrets["st-9"])}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	token := adminToken(t, dataDir)
	srv := startServe(t, []string{"VITALWATCH_DATA_DIR=" + dataDir, "VITALWATCH_INFLUX_URL=" + ix.URL, "VITALWATCH_INFLUX_BUCKET=" + ix.Bucket})
	base := "http://" + srv.HTTP

	now := time.Now()
	for dev, payload := range map[string]string{
		"hd-9": fmt.Sprintf(`{"ts":%d,"readings":[{"type":"sos","lat":31.23,"lon":121.47}]}`, now.UnixMilli()),
		"st-9": fmt.Sprintf(`{"ts":%d,"readings":[{"type":"glucose","value":2.1,"unit":"mmol/L"},{"type":"sos"}]}`, now.UnixMilli()),
	} {
		c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + srv.Broker).SetClientID(dev).
			SetUsername(dev).SetPassword(secrets[dev]).SetAutoReconnect(false))
		if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("connect %s: %v", dev, tok.Error())
		}
		if tok := c.Publish("devices/"+dev+"/telemetry", 1, false, payload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("publish %s: %v", dev, tok.Error())
		}
		c.Disconnect(100)
	}

	type alertPage struct {
		Items []struct {
			Rule, Severity, Device, Site, Patient, LastValue string
		} `json:"items"`
	}
	var page alertPage
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		page = alertPage{}
		getJSON(t, base+"/api/v1/alerts?rule=sos_unassigned", token, http.StatusOK, &page)
		if len(page.Items) >= 2 || time.Now().After(deadline) {
			break
		}
	}
	got := map[string]bool{}
	for _, a := range page.Items {
		if a.Severity != "critical" || a.Site != "test-site" || a.Patient != "" {
			t.Errorf("alert %+v; want critical, routed to test-site, no patient", a)
		}
		got[a.Device] = true
	}
	if len(page.Items) != 2 || !got["hd-9"] || !got["st-9"] {
		t.Fatalf("sos_unassigned alerts = %+v; want one for hd-9 and one for st-9", page.Items)
	}
	if n := ix.Count(t, "event"); n != 2 {
		t.Errorf("InfluxDB holds %d events; want both SOS", n)
	}
	if n := ix.Count(t, "glucose"); n != 0 {
		t.Errorf("InfluxDB holds %d glucose readings; want none from a station that named nobody", n)
	}
	var dls struct {
		Items []struct{ Device, Reason string } `json:"items"`
	}
	getJSON(t, base+"/api/v1/deadletters?device=st-9", token, http.StatusOK, &dls)
	if len(dls.Items) != 1 || dls.Items[0].Reason != "unknown_patient" {
		t.Errorf("dead letters of st-9 = %+v; want one unknown_patient", dls.Items)
	}
}
