package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vitalwatch/vitalwatch/alerts/notify"
	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/internal/testsrv"
	"github.com/vitalwatch/vitalwatch/store"
)

// TestWebhookReceiverDownForAWhile runs the whole path from a device to a team's webhook whose
// receiver answers 503 twice before it recovers: the alert is delivered once it is back, every
// attempt carries the same idempotency key and a valid signature, the retries follow the
// backoff (10 s, then 20 s more, on serve's clock), and the delivery log tells the story.
func TestWebhookReceiverDownForAWhile(t *testing.T) {
	ix := testsrv.StartInflux(t, testsrv.InfluxOptions{})
	dataDir := t.TempDir()
	secrets := seedDevices(t, dataDir, "ox-1")
	ctx := audit.WithActor(context.Background(), "test")
	st, err := store.Open(ctx, filepath.Join(dataDir, dbFile))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Truncate(time.Second)
	for _, err := range []error{
		st.CreateTeam(ctx, devices.Team{ID: "team-1", SiteID: "test-site", Name: "Team 1"}),
		st.CreatePatient(ctx, devices.Patient{ID: "P-1", TeamID: "team-1"}),
		st.AssignDevice(ctx, "ox-1", "P-1", start.Add(-time.Hour)),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	token := adminToken(t, dataDir)

	// The receiver: 503 for the first two requests, then 200.
	type request struct {
		at       time.Time // serve's clock when it arrived
		key, sig string
		body     []byte
	}
	clock := &virtualClock{now: start}
	var mu sync.Mutex
	var got []request
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		got = append(got, request{clock.Now(), r.Header.Get("X-VitalWatch-Delivery"), r.Header.Get("X-VitalWatch-Signature"), body})
		if len(got) <= 2 {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		}
	}))
	defer receiver.Close()
	requests := func() []request {
		mu.Lock()
		defer mu.Unlock()
		return append([]request(nil), got...)
	}
	waitRequests := func(n int) []request {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if r := requests(); len(r) >= n {
				return r
			} else if time.Now().After(deadline) {
				t.Fatalf("the receiver got %d requests; want %d", len(r), n)
			}
		}
	}

	srv := startServe(t, []string{"VITALWATCH_DATA_DIR=" + dataDir, "VITALWATCH_INFLUX_URL=" + ix.URL,
		"VITALWATCH_INFLUX_BUCKET=" + ix.Bucket, "VITALWATCH_ALERTS_WEBHOOKS_ALLOW_PRIVATE=true"}, withClock(clock.Now))
	base := "http://" + srv.HTTP

	var hook struct {
		ID     int64  `json:"id"`
		Secret string `json:"secret"`
	}
	body, _ := json.Marshal(map[string]any{"team": "team-1", "url": receiver.URL})
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/webhooks", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.NewDecoder(resp.Body).Decode(&hook); err != nil || resp.StatusCode != http.StatusCreated || hook.Secret == "" {
		t.Fatalf("POST /webhooks = %d, %+v, %v; want 201 with a secret", resp.StatusCode, hook, err)
	}
	resp.Body.Close()

	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + srv.Broker).SetClientID("ox-1").
		SetUsername("ox-1").SetPassword(secrets["ox-1"]).SetAutoReconnect(false))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	payload := fmt.Sprintf(`{"ts":%d,"readings":[{"type":"spo2","value":88,"unit":"%%"}]}`, start.UnixMilli())
	if tok := c.Publish("devices/ox-1/telemetry", 1, false, payload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}

	// attempted waits until the delivery log holds n failed attempts: the deliverer schedules
	// the next from the clock when it records a failure, so the clock moves only after that.
	attempted := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			var log struct {
				Items []struct {
					Attempts int `json:"attempts"`
				} `json:"items"`
			}
			getJSON(t, fmt.Sprintf("%s/api/v1/webhooks/%d/deliveries", base, hook.ID), token, http.StatusOK, &log)
			if len(log.Items) == 1 && log.Items[0].Attempts >= n {
				return
			} else if time.Now().After(deadline) {
				t.Fatalf("delivery log %+v; want one delivery with %d attempts", log.Items, n)
			}
		}
	}

	first := waitRequests(1)[0]
	attempted(1)
	// The retry is due 10 s later on serve's clock, not before.
	clock.set(start.Add(9 * time.Second))
	time.Sleep(2500 * time.Millisecond) // more than the deliverer's poll interval (1 s)
	if n := len(requests()); n != 1 {
		t.Fatalf("the receiver got %d requests 9 s after the first; want 1: the retry is due at 10 s", n)
	}
	clock.set(start.Add(10 * time.Second))
	waitRequests(2)
	attempted(2)
	clock.set(start.Add(30 * time.Second))
	all := waitRequests(3)
	time.Sleep(2500 * time.Millisecond)
	if all = requests(); len(all) != 3 {
		t.Fatalf("the receiver got %d requests; want 3: two refused, one taken", len(all))
	}
	for i, r := range all {
		if r.key != first.key || r.key == "" {
			t.Errorf("request %d: X-VitalWatch-Delivery %q; want the first's, %q, on every attempt", i, r.key, first.key)
		}
		if want := notify.Sign(hook.Secret, r.body); r.sig != want {
			t.Errorf("request %d: X-VitalWatch-Signature %q; want %q", i, r.sig, want)
		}
		if !bytes.Equal(r.body, first.body) {
			t.Errorf("request %d: body %s; want the first's, %s", i, r.body, first.body)
		}
	}
	var sent struct {
		ID    string `json:"id"`
		Event struct {
			Type string `json:"type"`
		} `json:"event"`
		Alert struct {
			Rule     string `json:"rule"`
			Severity string `json:"severity"`
			Patient  string `json:"patient"`
		} `json:"alert"`
	}
	if err := json.Unmarshal(first.body, &sent); err != nil || sent.ID != first.key || sent.Event.Type != "raised" ||
		sent.Alert.Rule != "spo2_low" || sent.Alert.Patient != "P-1" {
		t.Errorf("delivered body %s (%v); want the raised spo2_low alert of P-1 with id %q", first.body, err, first.key)
	}

	var log struct {
		Items []struct {
			Key        string    `json:"key"`
			State      string    `json:"state"`
			Attempts   int       `json:"attempts"`
			LastStatus int       `json:"last_status"`
			Delivered  time.Time `json:"delivered_at"`
		} `json:"items"`
	}
	getJSON(t, fmt.Sprintf("%s/api/v1/webhooks/%d/deliveries", base, hook.ID), token, http.StatusOK, &log)
	if len(log.Items) != 1 {
		t.Fatalf("delivery log %+v; want one delivery", log.Items)
	}
	if d := log.Items[0]; d.Key != first.key || d.State != "delivered" || d.Attempts != 3 || d.LastStatus != http.StatusOK ||
		!d.Delivered.Equal(start.Add(30*time.Second)) {
		t.Errorf("delivery %+v; want %s delivered on the 3rd attempt, status 200, at %v", d, first.key, start.Add(30*time.Second))
	}
}
