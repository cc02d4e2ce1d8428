package ingest_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/internal/testsrv"
)

// TestEnrichmentFollowsTheRegistry checks that readings are credited by the registry: a cuff
// reassigned from one patient to another writes each reading to whoever had it at measurement
// time (even within one backlog message), a station's reading must name a registered patient,
// and unknown or retired devices are dead-lettered.
func TestEnrichmentFollowsTheRegistry(t *testing.T) {
	mq := testsrv.StartMosquitto(t, testsrv.MosquittoOptions{})
	ix := testsrv.StartInflux(t, testsrv.InfluxOptions{})
	swap := time.Now().Add(-2 * time.Hour).Truncate(time.Second)
	before, after := swap.Add(-30*time.Minute), swap.Add(30*time.Minute)
	devs := []devices.Device{
		{ID: "cuff-1", Kind: devices.BPCuff, SiteID: "centre-a", Mode: devices.Home, Status: devices.Active},
		{ID: "st-1", Kind: devices.Station, SiteID: "centre-b", Mode: devices.StationMode, Status: devices.Active, RatedUsesPerDay: 40},
		{ID: "old-1", Kind: devices.Oximeter, SiteID: "centre-a", Mode: devices.Home, Status: devices.Retired},
	}
	assigns := []devices.Assignment{
		{DeviceID: "cuff-1", PatientID: "P-A", From: swap.Add(-24 * time.Hour), Until: swap},
		{DeviceID: "cuff-1", PatientID: "P-B", From: swap},
	}
	view := devices.NewView(devices.NewDirectory(1, devs, assigns, []string{"P-A", "P-B"}))
	r := startRigWith(t, mq.URL, ix, "ingest-enrich", "", view, false)

	bp := func(at time.Time, sys int) string {
		return fmt.Sprintf(`{"type":"bp","systolic":%d,"diastolic":80,"unit":"mm[Hg]","ts":%d}`, sys, at.UnixMilli())
	}
	msg := func(dev, body string) testsrv.Message {
		return testsrv.Message{Topic: "devices/" + dev + "/telemetry", Payload: []byte(body)}
	}
	testsrv.Publish(t, mq.URL, []testsrv.Message{
		// Names a patient, which a home device's payload cannot decide: the registry does.
		msg("cuff-1", `{"patient":"P-B","readings":[`+bp(before, 121)+`]}`),
		msg("cuff-1", `{"readings":[`+bp(after, 122)+`]}`),
		// A backlog spanning the swap: each reading goes to its own patient.
		msg("cuff-1", `{"readings":[`+bp(before.Add(time.Minute), 123)+`,`+bp(after.Add(time.Minute), 124)+`]}`),
		msg("st-1", `{"patient":"P-A","readings":[`+bp(after, 130)+`]}`),
		msg("st-1", `{"readings":[`+bp(after.Add(time.Minute), 131)+`]}`),                     // no patient
		msg("st-1", `{"patient":"P-ZZZ","readings":[`+bp(after.Add(2*time.Minute), 132)+`]}`), // unregistered
		msg("ghost-9", `{"readings":[`+bp(after, 140)+`]}`),                                   // unknown device
		msg("old-1", `{"readings":[{"type":"spo2","value":97,"unit":"%"}]}`),                  // retired
	})
	waitFor(t, 30*time.Second, "8 messages acknowledged", func() bool { return r.metric(t, "vitalwatch_ingest_acked_total") == 8 })

	rows := ix.Query(t, fmt.Sprintf(`from(bucket: %q) |> range(start: %s) |> filter(fn: (r) => r._measurement == "bp" and r._field == "systolic")`,
		ix.Bucket, swap.Add(-time.Hour).Format(time.RFC3339)))
	got := map[string]string{}
	for _, row := range rows {
		got[row["_value"]] = row["patient"] + "@" + row["site"] + "/" + row["device_type"]
	}
	want := map[string]string{
		"121": "P-A@centre-a/bp_cuff", "122": "P-B@centre-a/bp_cuff",
		"123": "P-A@centre-a/bp_cuff", "124": "P-B@centre-a/bp_cuff",
		"130": "P-A@centre-b/station",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("bp systolic -> patient@site/type = %v; want %v", got, want)
	}
	dead := countDead(t, r.store)
	if dead["unknown_patient"] != 2 || dead["unknown_device"] != 2 || len(dead) != 2 {
		t.Errorf("dead letters = %v; want unknown_patient 2, unknown_device 2", dead)
	}

	// The registry changes (a new device is registered): the next directory takes effect
	// without a restart.
	view.Store(devices.NewDirectory(2, append(devs, devices.Device{ID: "ghost-9", Kind: devices.BPCuff, SiteID: "centre-c",
		Mode: devices.Home, Status: devices.Active}), assigns, []string{"P-A", "P-B"}))
	testsrv.Publish(t, mq.URL, []testsrv.Message{msg("ghost-9", `{"readings":[`+bp(after.Add(5*time.Minute), 141)+`]}`)})
	waitFor(t, 30*time.Second, "the newly registered device's reading", func() bool {
		rows := ix.Query(t, fmt.Sprintf(`from(bucket: %q) |> range(start: %s) |> filter(fn: (r) => r.device == "ghost-9")`,
			ix.Bucket, swap.Add(-time.Hour).Format(time.RFC3339)))
		return len(rows) > 0 && rows[0]["site"] == "centre-c" && rows[0]["patient"] == ""
	})
}
