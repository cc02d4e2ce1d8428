package ingest_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/influx"
	"github.com/vitalwatch/vitalwatch/internal/testsrv"
	"github.com/vitalwatch/vitalwatch/usage"
)

// TestUsageCountedByIngestMatchesRebuild sends readings through Mosquitto, ingest and a real
// influxd, with the registry consulted and uses counted in the store, and checks the counts per
// device and local day exactly; then rebuilds the same days from InfluxDB and gets the same
// counts. The readings include a message delivered twice and a reading sent again in another
// message, messages of several readings at one time and at several times, readings on both
// sides of local midnight at a site in Asia/Shanghai and at one in UTC, a station and home
// devices (one lent to nobody), status, rejected messages, and a message InfluxDB refuses part of.
func TestUsageCountedByIngestMatchesRebuild(t *testing.T) {
	mq := testsrv.StartMosquitto(t, testsrv.MosquittoOptions{})
	ix := testsrv.StartInflux(t, testsrv.InfluxOptions{})
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	day := usage.DayOf(time.Now().Add(-72*time.Hour), time.UTC) // D, three days ago
	prev := usage.DayOf(day.Start(time.UTC).Add(-time.Hour), time.UTC)
	shMidnight, utcMidnight := day.Start(shanghai), day.Start(time.UTC)

	sites := []devices.Site{{ID: "sh", Name: "Shanghai centre", TimeZone: "Asia/Shanghai"}, {ID: "utc", Name: "UTC centre", TimeZone: "UTC"}}
	devs := []devices.Device{
		{ID: "cuff-1", Kind: devices.BPCuff, SiteID: "sh", Mode: devices.Home, Status: devices.Active}, // lent to nobody
		{ID: "cuff-2", Kind: devices.BPCuff, SiteID: "utc", Mode: devices.Home, Status: devices.Active},
		{ID: "st-1", Kind: devices.Station, SiteID: "utc", Mode: devices.StationMode, Status: devices.Active, RatedUsesPerDay: 40},
		{ID: "old-1", Kind: devices.Oximeter, SiteID: "sh", Mode: devices.Home, Status: devices.Retired},
	}
	// The bulk of fleetMessages, from registered home devices at both sites.
	const fleet, perDevice = 16, 30
	for d := range fleet {
		devs = append(devs, devices.Device{ID: fmt.Sprintf("e2e-%03d", d), Kind: devices.Wearable, SiteID: []string{"sh", "utc"}[d%2],
			Mode: devices.Home, Status: devices.Active})
	}
	assigns := []devices.Assignment{{DeviceID: "cuff-2", PatientID: "P-2", From: utcMidnight.Add(-30 * 24 * time.Hour)}}
	dir := devices.NewDirectory(1, devs, assigns, []string{"P-1", "P-2"}).WithSites(sites)
	r := startRigWith(t, mq.URL, ix, "ingest-usage", "", devices.NewView(dir), true)

	// A string temperature in the shard: InfluxDB refuses float temperatures there.
	w := influx.NewWriter(influx.Config{URL: ix.URL, Bucket: ix.Bucket})
	defer w.Close()
	if err := w.Write(context.Background(), fmt.Appendf(nil, "temperature,device=other value=\"text\" %d\n", utcMidnight.Add(11*time.Hour).UnixMilli())); err != nil {
		t.Fatal(err)
	}

	rd := func(typ string, at time.Time, value float64) string {
		unit := map[string]string{"heart_rate": "/min", "spo2": "%", "weight": "kg", "temperature": "Cel"}[typ]
		return fmt.Sprintf(`{"type":%q,"value":%g,"unit":%q,"ts":%d}`, typ, value, unit, at.UnixMilli())
	}
	bp := func(at time.Time) string {
		return fmt.Sprintf(`{"type":"bp","systolic":130,"diastolic":85,"unit":"mm[Hg]","ts":%d}`, at.UnixMilli())
	}
	msg := func(dev, body string) testsrv.Message {
		return testsrv.Message{Topic: "devices/" + dev + "/telemetry", Payload: []byte(body)}
	}
	readings := func(rs ...string) string { return `{"readings":[` + strings.Join(rs, ",") + `]}` }
	twice := msg("cuff-1", `{"seq":5,"readings":[`+rd("heart_rate", shMidnight.Add(4*time.Hour), 70)+`]}`)
	msgs := []testsrv.Message{
		// cuff-1 at sh (UTC+8): the last millisecond of the day before, and midnight.
		msg("cuff-1", readings(rd("heart_rate", shMidnight.Add(-time.Millisecond), 60))),
		msg("cuff-1", readings(rd("heart_rate", shMidnight, 61))),
		// Two readings at two times: two uses; two at one time: one.
		msg("cuff-1", readings(rd("heart_rate", shMidnight.Add(time.Hour), 62), rd("heart_rate", shMidnight.Add(2*time.Hour), 63))),
		msg("cuff-1", readings(bp(shMidnight.Add(3*time.Hour)), rd("heart_rate", shMidnight.Add(3*time.Hour), 64))),
		// Delivered twice, and the same reading sent again in another message: one use.
		twice, twice,
		msg("cuff-1", `{"seq":6,"readings":[`+rd("heart_rate", shMidnight.Add(4*time.Hour), 70)+`]}`),
		// One good reading and one implausible: the good one counts.
		msg("cuff-1", readings(rd("heart_rate", shMidnight.Add(5*time.Hour), 65), rd("spo2", shMidnight.Add(5*time.Hour+time.Minute), 140))),
		msg("cuff-1", readings(rd("spo2", shMidnight.Add(6*time.Hour), 140))), // nothing accepted

		// st-1, a station at utc: blood pressure and weight measured at once; the day before.
		msg("st-1", `{"patient":"P-1","readings":[`+bp(utcMidnight.Add(time.Hour))+`,`+rd("weight", utcMidnight.Add(time.Hour), 70)+`]}`),
		msg("st-1", `{"patient":"P-1","readings":[`+rd("weight", utcMidnight.Add(-time.Millisecond), 71)+`]}`),
		msg("st-1", readings(rd("weight", utcMidnight.Add(2*time.Hour), 72))), // no patient: unknown_patient

		// cuff-2, home at utc: a reading with battery (and so a status point), a status message.
		msg("cuff-2", `{"battery":80,"readings":[`+rd("spo2", utcMidnight.Add(12*time.Hour), 97)+`]}`),
		{Topic: "devices/cuff-2/status", Payload: fmt.Appendf(nil, `{"ts":%d,"battery":79}`, utcMidnight.Add(12*time.Hour+time.Minute).UnixMilli())},
		// InfluxDB refuses the temperature but stores the spo2 of the same message: write_rejected,
		// and one use for the spo2.
		msg("cuff-2", readings(rd("temperature", utcMidnight.Add(13*time.Hour), 36.6), rd("spo2", utcMidnight.Add(13*time.Hour+time.Second), 96))),
		msg("cuff-2", readings(rd("temperature", utcMidnight.Add(14*time.Hour), 36.7))), // refused: no use

		// Not registered, retired: nothing.
		msg("ghost-1", readings(rd("spo2", utcMidnight.Add(time.Hour), 97))),
		msg("old-1", readings(rd("spo2", utcMidnight.Add(time.Hour), 97))),
	}
	testsrv.Publish(t, mq.URL, msgs)
	// The fleet's bulk, every fifth message twice.
	bulk := publish(t, mq.URL, fleetMessages(fleet, perDevice, utcMidnight.Add(-2*time.Hour)), 5)
	total := float64(len(msgs) + len(bulk))
	waitFor(t, 60*time.Second, fmt.Sprintf("%v messages acknowledged", total), func() bool {
		return r.metric(t, "vitalwatch_ingest_acked_total") == total
	})

	dead := countDead(t, r.store)
	for reason, want := range map[string]int{"implausible_value": 2, "unknown_patient": 1, "write_rejected": 2} {
		if dead[reason] < want {
			t.Errorf("dead letters %s = %d; want at least %d (of %v)", reason, dead[reason], want, dead)
		}
	}

	// The hand-counted devices, exactly.
	ctx := context.Background()
	got, err := r.store.DayCounts(ctx, usage.Query{From: prev, To: day, Devices: []string{"cuff-1", "cuff-2", "st-1", "old-1", "ghost-1"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []usage.DayCount{
		{Device: "cuff-1", Site: "sh", Day: prev, Uses: 1},
		{Device: "cuff-1", Site: "sh", Day: day, Uses: 6},
		{Device: "cuff-2", Site: "utc", Day: day, Uses: 2},
		{Device: "st-1", Site: "utc", Day: prev, Uses: 1},
		{Device: "st-1", Site: "utc", Day: day, Uses: 1},
	}
	if !slices.Equal(got, want) {
		t.Errorf("day counts kept by ingest =\n%v\nwant\n%v", got, want)
	}

	// Everything, against the rebuild from InfluxDB.
	from, to := usage.DayOf(utcMidnight.Add(-48*time.Hour), time.UTC), usage.DayOf(utcMidnight.Add(48*time.Hour), time.UTC)
	counted, err := r.store.DayCounts(ctx, usage.Query{From: from, To: to})
	if err != nil {
		t.Fatal(err)
	}
	var bulkUses int
	for _, c := range counted {
		if strings.HasPrefix(c.Device, "e2e-") {
			bulkUses += c.Uses
		}
	}
	if bulkUses < fleet*perDevice/2 {
		t.Fatalf("the fleet's bulk counted %d uses; want hundreds", bulkUses)
	}
	reader := influx.NewReader(influx.Config{URL: ix.URL, Bucket: ix.Bucket})
	defer reader.Close()
	rebuilt, err := usage.Rebuild(ctx, reader, from, to, dir.Location)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rebuilt.Counts, counted) {
		t.Errorf("rebuilt from InfluxDB =\n%v\ncounted by ingest =\n%v", rebuilt.Counts, counted)
	}
	if n := r.metric(t, "vitalwatch_usage_uses_added_total"); int(n) != rebuilt.Uses() {
		t.Errorf("vitalwatch_usage_uses_added_total = %v; want %d", n, rebuilt.Uses())
	}
	if n := r.metric(t, "vitalwatch_ingest_uses_total"); int(n) <= rebuilt.Uses() {
		t.Errorf("vitalwatch_ingest_uses_total = %v; want more than the %d counted (repeats were sent)", n, rebuilt.Uses())
	}
}

// TestUsageStoreOutageHoldsAcks makes recording uses fail: the batch's points are in InfluxDB,
// but its messages are not acknowledged until the uses are recorded, and then they count once.
func TestUsageStoreOutageHoldsAcks(t *testing.T) {
	mq := testsrv.StartMosquitto(t, testsrv.MosquittoOptions{})
	ix := testsrv.StartInflux(t, testsrv.InfluxOptions{})
	devs := []devices.Device{{ID: "hr-1", Kind: devices.Wearable, SiteID: "utc", Mode: devices.Home, Status: devices.Active}}
	dir := devices.NewDirectory(1, devs, nil, nil).WithSites([]devices.Site{{ID: "utc", Name: "UTC centre", TimeZone: "UTC"}})
	r := startRigWith(t, mq.URL, ix, "ingest-usage-outage", "", devices.NewView(dir), true)
	r.usesDown.Store(true)

	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	var msgs []testsrv.Message
	for i := range 50 {
		msgs = append(msgs, testsrv.Message{Topic: "devices/hr-1/telemetry",
			Payload: fmt.Appendf(nil, `{"readings":[{"type":"heart_rate","value":70,"unit":"/min","ts":%d}]}`, base.Add(time.Duration(i)*time.Second).UnixMilli())})
	}
	testsrv.Publish(t, mq.URL, msgs)
	waitFor(t, 30*time.Second, "the points in InfluxDB", func() bool { return ix.Count(t, "heart_rate") == 50 })
	waitFor(t, 30*time.Second, "failed attempts to record uses", func() bool {
		return r.metric(t, "vitalwatch_ingest_usage_errors_total") >= 2
	})
	if n := r.metric(t, "vitalwatch_ingest_acked_total"); n != 0 {
		t.Fatalf("acknowledged %v messages while their uses could not be recorded; want 0", n)
	}

	r.usesDown.Store(false)
	waitFor(t, 30*time.Second, "50 messages acknowledged", func() bool { return r.metric(t, "vitalwatch_ingest_acked_total") == 50 })
	day := usage.DayOf(base, time.UTC)
	got, err := r.store.DayCounts(context.Background(), usage.Query{From: day, To: usage.DayOf(base.Add(time.Minute), time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	sum := 0
	for _, c := range got {
		sum += c.Uses
	}
	if sum != 50 {
		t.Errorf("counted %d uses (%v); want 50", sum, got)
	}
}
