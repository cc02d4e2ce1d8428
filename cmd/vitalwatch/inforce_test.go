package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/internal/testsrv"
	"github.com/vitalwatch/vitalwatch/store"
)

// sendJSON sends a JSON body with the bearer token and decodes the answer into v (if not nil),
// failing the test unless the status is wantStatus.
func sendJSON(t *testing.T, method, url, token, body string, wantStatus int, v any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != wantStatus {
		t.Fatalf("%s %s = %d %s; want %d", method, url, resp.StatusCode, got, wantStatus)
	}
	if v != nil {
		if err := json.Unmarshal(got, v); err != nil {
			t.Fatalf("%s %s: %v\n%s", method, url, err, got)
		}
	}
}

// TestRegistryChangeInForceWhenTheAPIAnswers registers a device, lends it and has it send an SOS
// straight after each request answers, with a registry refresh interval far longer than the
// test: the broker takes the new secret at once, and the SOS is the patient's, raises an alert
// for their team and is stored with the patient.
func TestRegistryChangeInForceWhenTheAPIAnswers(t *testing.T) {
	ix := testsrv.StartInflux(t, testsrv.InfluxOptions{})
	dataDir := t.TempDir()
	seedDevices(t, dataDir) // the site
	ctx := audit.WithActor(context.Background(), "test")
	st, err := store.Open(ctx, filepath.Join(dataDir, dbFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{
		st.CreateTeam(ctx, devices.Team{ID: "team-1", SiteID: "test-site", Name: "Team 1"}),
		st.CreatePatient(ctx, devices.Patient{ID: "P-7", TeamID: "team-1"}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	token := adminToken(t, dataDir)
	srv := startServe(t, []string{"VITALWATCH_DATA_DIR=" + dataDir, "VITALWATCH_INFLUX_URL=" + ix.URL,
		"VITALWATCH_INFLUX_BUCKET=" + ix.Bucket, "VITALWATCH_STORE_REFRESH_INTERVAL=1h"})
	base := "http://" + srv.HTTP
	events := streamAlerts(t, base, token, "")

	var created struct {
		Secret string `json:"secret"`
	}
	sendJSON(t, "POST", base+"/api/v1/devices", token, `{"id": "fd-1", "kind": "wearable", "site": "test-site", "mode": "home"}`,
		http.StatusCreated, &created)
	sendJSON(t, "POST", base+"/api/v1/devices/fd-1/assign", token, `{"patient": "P-7"}`, http.StatusOK, nil)

	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + srv.Broker).SetClientID("fd-1").
		SetUsername("fd-1").SetPassword(created.Secret).SetAutoReconnect(false))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("a device registered a moment ago cannot connect with its secret: %v", tok.Error())
	}
	defer c.Disconnect(100)
	at := time.Now()
	payload := fmt.Sprintf(`{"ts":%d,"readings":[{"type":"sos"}]}`, at.UnixMilli())
	if tok := c.Publish("devices/fd-1/telemetry", 1, false, payload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	ev := nextEvent(t, events)
	if ev.typ != "raised" || ev.alert.Rule != "sos" || ev.alert.Patient != "P-7" || ev.alert.Team != "team-1" {
		t.Fatalf("first alert event = %s %+v; want sos raised for P-7 of team-1", ev.typ, ev.alert)
	}
	rows := ix.Query(t, `from(bucket: "`+ix.Bucket+`") |> range(start: -1h) |> filter(fn: (r) => r._measurement == "event") |> keep(columns: ["patient"]) |> distinct(column: "patient")`)
	if len(rows) != 1 || rows[0]["_value"] != "P-7" {
		t.Errorf("the SOS is stored for patients %v; want only P-7", rows)
	}
}
