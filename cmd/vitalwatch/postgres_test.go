package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vitalwatch/vitalwatch/internal/testsrv"
)

// TestServeOnPostgresSeesRegistryChangesMadeElsewhere runs serve with its store in PostgreSQL
// while the CLI, as another instance or an operator would, changes the registry in the same
// database: a device registered after start can publish within the refresh interval, and a
// device retired after start is cut off, without a restart.
func TestServeOnPostgresSeesRegistryChangesMadeElsewhere(t *testing.T) {
	pg := testsrv.StartPostgres(t)
	ix := testsrv.StartInflux(t, testsrv.InfluxOptions{})
	env := []string{"VITALWATCH_STORE_DSN=" + pg.NewDatabase(t), "VITALWATCH_DATA_DIR=" + t.TempDir(),
		"VITALWATCH_HTTP_LISTEN=127.0.0.1:0", "VITALWATCH_BROKER_LISTEN=127.0.0.1:0",
		"VITALWATCH_INFLUX_URL=" + ix.URL, "VITALWATCH_INFLUX_BUCKET=" + ix.Bucket, "VITALWATCH_STORE_REFRESH_INTERVAL=200ms"}
	cli := func(args ...string) string {
		t.Helper()
		var out, errOut strings.Builder
		if err := run(context.Background(), args, env, &out, &errOut); err != nil {
			t.Fatalf("vitalwatch %v: %v\n%s", args, err, errOut.String())
		}
		return out.String()
	}
	// The second line of `devices add` output is the secret.
	secretOf := func(out string) string { return strings.TrimSpace(strings.Split(out, "\n")[1]) }

	in := t.TempDir()
	writeFile(t, in+"/sites.csv", "id,name\ncentre-1,Centre One\n")
	cli("registry", "import", in)
	first := secretOf(cli("devices", "add", "--id", "ox-1", "--kind", "oximeter", "--site", "centre-1"))

	l := startServe(t, env)

	connect := func(id, secret string) (mqtt.Client, error) {
		c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + l.Broker).SetClientID(id).
			SetUsername(id).SetPassword(secret).SetAutoReconnect(false))
		tok := c.Connect()
		if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			return nil, fmt.Errorf("connect %s: %v", id, tok.Error())
		}
		return c, nil
	}
	publish := func(c mqtt.Client, id string, at time.Time) {
		t.Helper()
		tok := c.Publish("devices/"+id+"/telemetry", 1, false, fmt.Sprintf(`{"ts":%d,"readings":[{"type":"spo2","value":96,"unit":"%%"}]}`, at.UnixMilli()))
		if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("publish from %s: %v", id, tok.Error())
		}
	}
	ox1, err := connect("ox-1", first)
	if err != nil {
		t.Fatal(err)
	}
	defer ox1.Disconnect(0)
	base := time.Now().Add(-time.Hour)
	publish(ox1, "ox-1", base)

	// Registered by the CLI after serve started.
	second := secretOf(cli("devices", "add", "--id", "ox-2", "--kind", "oximeter", "--site", "centre-1"))
	var ox2 mqtt.Client
	deadline := time.Now().Add(10 * time.Second)
	for ox2, err = connect("ox-2", second); err != nil; ox2, err = connect("ox-2", second) {
		if time.Now().After(deadline) {
			t.Fatalf("a device registered after start could not connect within 10 s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	defer ox2.Disconnect(0)
	publish(ox2, "ox-2", base.Add(time.Second))
	// ox-2 posing as ox-1 (QoS 0, which the broker drops without a word): nothing may land.
	ox2.Publish("devices/ox-1/telemetry", 0, false,
		fmt.Sprintf(`{"ts":%d,"readings":[{"type":"spo2","value":51,"unit":"%%"}]}`, base.Add(2*time.Second).UnixMilli())).Wait()
	publish(ox2, "ox-2", base.Add(3*time.Second)) // still connected, and ordered after the forged one

	// Retired by the CLI: its connection is cut and it cannot come back.
	cli("devices", "retire", "ox-1")
	deadline = time.Now().Add(10 * time.Second)
	for ox1.IsConnected() {
		if time.Now().After(deadline) {
			t.Fatal("a retired device was still connected after 10 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := connect("ox-1", first); err == nil {
		t.Fatal("a retired device connected again")
	}

	deadline = time.Now().Add(20 * time.Second)
	for {
		rows := ix.Query(t, fmt.Sprintf(`from(bucket: %q) |> range(start: %s) |> filter(fn: (r) => r._measurement == "spo2")`,
			ix.Bucket, base.Add(-time.Minute).Format(time.RFC3339)))
		got := map[string]string{}
		for _, r := range rows {
			got[r["device"]] += r["site"] + "/" + r["device_type"] + "=" + r["_value"] + " "
		}
		want := map[string]string{"ox-1": "centre-1/oximeter=96 ", "ox-2": "centre-1/oximeter=96 centre-1/oximeter=96 "}
		if fmt.Sprint(got) == fmt.Sprint(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stored spo2 by device = %v; want %v (and nothing from the forged publish)", got, want)
		}
		time.Sleep(300 * time.Millisecond)
	}
	l.stop(t)
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}
