package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vitalwatch/vitalwatch/internal/testsrv"
	"github.com/vitalwatch/vitalwatch/store"
	deviceusage "github.com/vitalwatch/vitalwatch/usage"
)

// TestUsageRebuild runs serve with the real pipeline, lets devices send readings around
// midnight at a site in Asia/Shanghai, some twice, and stops it; then spoils the counts in the
// store, and `vitalwatch usage rebuild` puts back exactly what ingest had counted, and the keys
// that recognise a reading sent again.
func TestUsageRebuild(t *testing.T) {
	ix := testsrv.StartInflux(t, testsrv.InfluxOptions{})
	dataDir := t.TempDir()
	ids := []string{"ox-1", "ox-2", "ox-3"}
	secrets := seedDevices(t, dataDir, ids...) // at test-site, Asia/Shanghai
	env := []string{"VITALWATCH_DATA_DIR=" + dataDir, "VITALWATCH_INFLUX_URL=" + ix.URL, "VITALWATCH_INFLUX_BUCKET=" + ix.Bucket}
	srv := startServe(t, env)

	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	day := deviceusage.DayOf(time.Now().Add(-48*time.Hour), shanghai)
	midnight := day.Start(shanghai)
	sent := 0
	for i, id := range ids {
		c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + srv.Broker).SetClientID(id).
			SetUsername(id).SetPassword(secrets[id]).SetAutoReconnect(false))
		if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("connect %s: %v", id, tok.Error())
		}
		// 20 readings a minute apart from 10 minutes before midnight, each message sent twice
		// by the third device; and two readings in one message, at one time.
		for j := range 20 {
			at := midnight.Add(time.Duration(j-10)*time.Minute + time.Duration(i)*time.Second)
			payload := fmt.Sprintf(`{"ts":%d,"readings":[{"type":"spo2","value":97,"unit":"%%"},{"type":"heart_rate","value":70,"unit":"/min"}]}`, at.UnixMilli())
			for range 1 + i/2 {
				if tok := c.Publish("devices/"+id+"/telemetry", 1, false, payload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
					t.Fatalf("publish as %s: %v", id, tok.Error())
				}
				sent++
			}
		}
		c.Disconnect(100)
	}
	deadline := time.Now().Add(30 * time.Second)
	for acked(srv.HTTP) < float64(sent) {
		if time.Now().After(deadline) {
			t.Fatalf("acknowledged %v of %d messages", acked(srv.HTTP), sent)
		}
		time.Sleep(50 * time.Millisecond)
	}
	srv.stop(t)

	ctx := context.Background()
	prev, next := deviceusage.DayOf(midnight.Add(-time.Hour), shanghai), deviceusage.DayOf(midnight.Add(25*time.Hour), shanghai)
	q := deviceusage.Query{From: prev, To: next}
	st, err := store.Open(ctx, filepath.Join(dataDir, dbFile))
	if err != nil {
		t.Fatal(err)
	}
	counted, err := st.DayCounts(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	var want []deviceusage.DayCount
	for _, id := range ids {
		want = append(want, deviceusage.DayCount{Device: id, Site: "test-site", Day: prev, Uses: 10},
			deviceusage.DayCount{Device: id, Site: "test-site", Day: day, Uses: 10})
	}
	if !slices.Equal(counted, want) {
		t.Fatalf("ingest counted %v; want %v", counted, want)
	}
	// Spoil the counts: days lost, a day that never was, and keys forgotten.
	bogus := []deviceusage.DayCount{{Device: "ox-1", Site: "elsewhere", Day: day, Uses: 99}}
	if err := st.ReplaceUsage(ctx, prev, next, bogus, nil); err != nil {
		t.Fatal(err)
	}
	st.Close()

	// From 10 days before: two rebuilds of a week, the second holding the readings.
	var out, errOut strings.Builder
	longBefore := deviceusage.DayOf(midnight.AddDate(0, 0, -10), shanghai)
	if err := run(ctx, []string{"usage", "rebuild", "--from", string(longBefore), "--to", string(next)}, env, &out, &errOut); err != nil {
		t.Fatalf("usage rebuild: %v\n%s", err, errOut.String())
	}
	for _, line := range []string{"replaced: 99 uses of 1 devices on 1 device-days", "with:     60 uses of 3 devices on 6 device-days, 60 use keys"} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("usage rebuild printed\n%s\nwant a line %q", out.String(), line)
		}
	}
	st, err = store.Open(ctx, filepath.Join(dataDir, dbFile))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rebuilt, err := st.DayCounts(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rebuilt, counted) {
		t.Errorf("after usage rebuild the store holds %v; want what ingest counted, %v", rebuilt, counted)
	}
	// The keys are back: a reading delivered again counts nothing.
	again := deviceusage.Use{Device: "ox-1", Site: "test-site", At: midnight.Add(-10 * time.Minute).UTC(), Day: prev}
	if added, err := st.RecordUses(ctx, []deviceusage.Use{again}); err != nil || added != 0 {
		t.Errorf("RecordUses(a rebuilt use) = %d, %v; want 0 added", added, err)
	}
}

func TestUsageRebuildRefusesBadArguments(t *testing.T) {
	env := []string{"VITALWATCH_DATA_DIR=" + t.TempDir()}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"usage"}, "rebuild"},
		{[]string{"usage", "recount"}, "rebuild"},
		{[]string{"usage", "rebuild", "--to", "2026-11-30"}, "--from"},
		{[]string{"usage", "rebuild", "--from", "2026-11-01"}, "--to"},
		{[]string{"usage", "rebuild", "--from", "2026-11-31", "--to", "2026-12-01"}, "--from"},
		{[]string{"usage", "rebuild", "--from", "2026-12-01", "--to", "2026-11-01"}, "after"},
		{[]string{"usage", "rebuild", "--from", "2026-11-01", "--to", "2026-11-30", "extra"}, "extra"},
	}
	for _, tt := range tests {
		err := run(context.Background(), tt.args, env, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("vitalwatch %s = %v; want an error naming %s", strings.Join(tt.args, " "), err, tt.want)
		}
	}
	err := run(context.Background(), []string{"usage", "rebuild", "--from", "2026-11-01", "--to", "2026-11-02"},
		append(env, "VITALWATCH_INFLUX_URL=influx:8086"), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "influx.url") {
		t.Errorf("usage rebuild with a bad influx.url = %v; want an error naming influx.url", err)
	}
}
