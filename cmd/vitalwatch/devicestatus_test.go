package main

import (
	"fmt"
	"net"
	"net/http"
	neturl "net/url"
	"slices"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vitalwatch/vitalwatch/internal/testsrv"
)

// liveStatus is what the test reads of GET /api/v1/devices/{id}/status.
type liveStatus struct {
	States     []string `json:"states"`
	Connection *struct {
		Connected bool   `json:"connected"`
		Event     string `json:"event"`
	} `json:"connection"`
	Battery *struct {
		Percent float64 `json:"percent"`
	} `json:"battery"`
	Firmware struct {
		Reported string `json:"reported"`
	} `json:"firmware"`
	Last24h struct {
		Readings    int `json:"readings"`
		DeadLetters int `json:"dead_letters"`
	} `json:"last_24h"`
}

// waitStatus polls the device's status until ok says it is what the test waits for.
func waitStatus(t *testing.T, base, token, device string, ok func(liveStatus) bool) liveStatus {
	t.Helper()
	var s liveStatus
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		s = liveStatus{}
		getJSON(t, base+"/api/v1/devices/"+device+"/status", token, http.StatusOK, &s)
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s's status stayed %+v (connection %+v)", device, s, s.Connection)
		}
	}
}

// TestDeviceStatusThroughTheEmbeddedBroker connects devices to serve's embedded broker: one
// publishes readings (one of them implausible) and a status, and is online with its counts
// and battery; its connection breaks and its will makes it offline at once; another connects
// and stays connected. After a restart the counts come back from the store, and the device
// that was connected is recorded as cut off by the stopped broker.
func TestDeviceStatusThroughTheEmbeddedBroker(t *testing.T) {
	ix := testsrv.StartInflux(t, testsrv.InfluxOptions{})
	dataDir := t.TempDir()
	secrets := seedDevices(t, dataDir, "ox-1", "ox-2", "ox-3")
	token := adminToken(t, dataDir)
	env := []string{"VITALWATCH_DATA_DIR=" + dataDir, "VITALWATCH_INFLUX_URL=" + ix.URL, "VITALWATCH_INFLUX_BUCKET=" + ix.Bucket,
		"VITALWATCH_DEVICE_STATUS_SAVE_INTERVAL=200ms"}
	srv := startServe(t, env)
	base := "http://" + srv.HTTP

	// ox-1 connects with the contract's last will over a connection the test can cut.
	var conn net.Conn
	ox1 := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://"+srv.Broker).SetClientID("ox-1").SetUsername("ox-1").
		SetPassword(secrets["ox-1"]).SetAutoReconnect(false).SetWill("devices/ox-1/status", `{"online": false}`, 1, false).
		SetCustomOpenConnectionFn(func(u *neturl.URL, _ mqtt.ClientOptions) (net.Conn, error) {
			c, err := net.Dial("tcp", u.Host)
			conn = c
			return c, err
		}))
	if tok := ox1.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect ox-1: %v", tok.Error())
	}
	now := time.Now()
	for i, payload := range []string{
		fmt.Sprintf(`{"ts":%d,"readings":[{"type":"spo2","value":97},{"type":"heart_rate","value":70}]}`, now.Add(-2*time.Second).UnixMilli()),
		fmt.Sprintf(`{"ts":%d,"readings":[{"type":"spo2","value":96}],"battery":15}`, now.Add(-time.Second).UnixMilli()),
		fmt.Sprintf(`{"ts":%d,"readings":[{"type":"spo2","value":250}]}`, now.UnixMilli()), // implausible: a dead letter
	} {
		if tok := ox1.Publish("devices/ox-1/telemetry", 1, false, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish %d: %v", i, tok.Error())
		}
	}
	if tok := ox1.Publish("devices/ox-1/status", 1, false, fmt.Sprintf(`{"ts":%d,"signal":-70,"firmware":"3.2.1"}`, now.UnixMilli())); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish status: %v", tok.Error())
	}
	s := waitStatus(t, base, token, "ox-1", func(s liveStatus) bool { return s.Last24h.Readings == 3 && s.Firmware.Reported != "" })
	// The battery raised battery_low, an open fault alert: faulty too.
	if !slices.Equal(s.States, []string{"online", "battery_low", "faulty"}) || s.Connection == nil || !s.Connection.Connected ||
		s.Connection.Event != "connect" || s.Battery == nil || s.Battery.Percent != 15 || s.Last24h.DeadLetters != 1 ||
		s.Firmware.Reported != "3.2.1" {
		t.Fatalf("ox-1 after publishing: %+v, connection %+v, battery %+v; want online, battery_low and faulty, connected, 3 readings and 1 dead letter, battery 15, firmware 3.2.1",
			s, s.Connection, s.Battery)
	}

	// ox-2 connects and stays; ox-3 never does.
	ox2 := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + srv.Broker).SetClientID("ox-2").SetUsername("ox-2").
		SetPassword(secrets["ox-2"]).SetAutoReconnect(false))
	if tok := ox2.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect ox-2: %v", tok.Error())
	}
	defer ox2.Disconnect(0)
	waitStatus(t, base, token, "ox-2", func(s liveStatus) bool { return slices.Equal(s.States, []string{"online"}) })
	var fleet struct {
		Devices int `json:"devices"`
		States  struct {
			Online, Offline int
			BatteryLow      int `json:"battery_low"`
			Faulty          int
		} `json:"states"`
	}
	getJSON(t, base+"/api/v1/sites/test-site/fleet", token, http.StatusOK, &fleet)
	if fleet.Devices != 3 || fleet.States.Online != 2 || fleet.States.Offline != 1 || fleet.States.BatteryLow != 1 || fleet.States.Faulty != 1 {
		t.Errorf("test-site's fleet = %+v; want 3 devices, 2 online, 1 offline, 1 battery_low, 1 faulty", fleet)
	}
	var page struct {
		Items []struct{ ID string } `json:"items"`
	}
	getJSON(t, base+"/api/v1/devices?state=offline", token, http.StatusOK, &page)
	if len(page.Items) != 1 || page.Items[0].ID != "ox-3" {
		t.Errorf("devices?state=offline = %+v; want ox-3", page.Items)
	}

	// ox-1's connection breaks: the broker publishes its will, and it is offline at once.
	conn.Close()
	s = waitStatus(t, base, token, "ox-1", func(s liveStatus) bool { return s.Connection != nil && s.Connection.Event == "last_will" })
	if !slices.Equal(s.States, []string{"offline", "battery_low", "faulty"}) || s.Connection.Connected {
		t.Errorf("ox-1 after its will: %+v, connection %+v; want offline, battery_low and faulty, not connected", s, s.Connection)
	}

	// A restart: what was saved comes back, and ox-2's connection ended with the broker.
	if err := srv.shutdown(); err != nil {
		t.Fatalf("serve stopped with %v", err)
	}
	srv = startServe(t, env)
	base = "http://" + srv.HTTP
	s = waitStatus(t, base, token, "ox-1", func(liveStatus) bool { return true })
	if s.Last24h.Readings != 3 || s.Last24h.DeadLetters != 1 || s.Battery == nil || s.Battery.Percent != 15 || s.Firmware.Reported != "3.2.1" {
		t.Errorf("ox-1 after a restart: %+v; want the 3 readings, 1 dead letter, battery 15 and firmware saved before", s)
	}
	s = waitStatus(t, base, token, "ox-2", func(liveStatus) bool { return true })
	if s.Connection == nil || s.Connection.Event != "broker_stopped" || s.Connection.Connected || !slices.Equal(s.States, []string{"offline"}) {
		t.Errorf("ox-2 after a restart: %+v, connection %+v; want offline, its connection ended by broker_stopped", s, s.Connection)
	}
}
