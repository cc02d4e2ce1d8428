package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/influx"
	"github.com/vitalwatch/vitalwatch/ingest"
	"github.com/vitalwatch/vitalwatch/ingest/deadletter"
	"github.com/vitalwatch/vitalwatch/ingest/spool"
	"github.com/vitalwatch/vitalwatch/internal/testsrv"
	"github.com/vitalwatch/vitalwatch/store"
	"github.com/vitalwatch/vitalwatch/usage"
)

// rig is an ingester wired to real servers, run in-process.
type rig struct {
	store    *store.Store
	spool    *spool.Spool
	pipeline *ingest.Pipeline
	sub      *ingest.Subscriber
	reg      *prometheus.Registry
	// stopPipeline and stopSub end the pipeline's and the subscriber's Run and wait for it.
	stopPipeline, stopSub func() error
	// uses counts device uses into store, when the rig was started with a directory and
	// countUses; while usesDown is set, recording fails as in a store outage.
	uses     *usage.Recorder
	usesDown atomic.Bool
}

// outageRecorder is the rig's recorder, failing while the rig's usesDown is set.
type outageRecorder struct{ r *rig }

func (o outageRecorder) Record(ctx context.Context, uses []usage.Use) error {
	if o.r.usesDown.Load() {
		return errors.New("store down (test)")
	}
	return o.r.uses.Record(ctx, uses)
}

func startRig(t *testing.T, brokerURL string, ix *testsrv.Influx, clientID string) *rig {
	t.Helper()
	return startRigWith(t, brokerURL, ix, clientID, "", nil, false)
}

// startGroupRig is startRig for one instance of a shared-subscription group.
func startGroupRig(t *testing.T, brokerURL string, ix *testsrv.Influx, clientID, group string) *rig {
	t.Helper()
	return startRigWith(t, brokerURL, ix, clientID, group, nil, false)
}

// startRigWith starts a rig in a shared-subscription group (if group is set) that consults
// directory (if set) and with countUses counts device uses in its store.
func startRigWith(t *testing.T, brokerURL string, ix *testsrv.Influx, clientID, group string, directory *devices.View, countUses bool) *rig {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(context.Background(), filepath.Join(dir, "vw.db"))
	if err != nil {
		t.Fatal(err)
	}
	sp, err := spool.Open(spool.Options{Dir: filepath.Join(dir, "spool"), MaxBytes: 256 << 20})
	if err != nil {
		t.Fatal(err)
	}
	w := influx.NewWriter(influx.Config{URL: ix.URL, Bucket: ix.Bucket, Timeout: 2 * time.Second})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	r := &rig{store: st, spool: sp, reg: prometheus.NewRegistry()}
	deps := ingest.Deps{Points: w, DeadLetters: st, Spool: sp, Directory: directory,
		Metrics: ingest.NewMetrics(r.reg), Log: log, Now: time.Now}
	recorded := make(chan struct{})
	if countUses {
		r.uses = usage.NewRecorder(st, r.reg, log)
		deps.Uses = outageRecorder{r}
		go func() {
			defer close(recorded)
			r.uses.Run(context.Background())
		}()
	} else {
		close(recorded)
	}
	r.pipeline = ingest.NewPipeline(ingest.Config{WriteTimeout: 2 * time.Second, RetryInterval: 200 * time.Millisecond,
		MaxRetryInterval: time.Second}, deps)
	r.sub = ingest.NewSubscriber(ingest.SubscriberConfig{BrokerURL: brokerURL, ClientID: clientID,
		SharedGroup: group, WatchdogInterval: time.Second}, r.pipeline, r.reg, log, time.Now)
	r.stopPipeline = running(r.pipeline.Run)
	r.stopSub = running(r.sub.Run)
	waitFor(t, 20*time.Second, "subscriber ready", func() bool { return r.sub.Ready() == nil })
	t.Cleanup(func() {
		r.stop()
		if r.uses != nil {
			r.uses.Close()
		}
		<-recorded
		w.Close()
		sp.Close()
		st.Close()
	})
	return r
}

// stop stops the rig as serve does: the pipeline flushes and acknowledges what it holds, then
// the subscriber disconnects.
func (r *rig) stop() {
	r.stopPipeline()
	r.stopSub()
}

// running runs run until the returned function is called, which ends its context and returns
// what run returned.
func running(run func(context.Context) error) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	return func() error {
		cancel()
		return <-done
	}
}

func (r *rig) metric(t *testing.T, name string) float64 {
	t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			}
		}
	}
	return sum
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func waitFor(t *testing.T, limit time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// msg is one message the test publishes, with what must come of it.
type msg struct {
	topic   string
	payload string
	points  []point  // good readings it carries
	dead    []string // dead-letter reasons it must produce
}

// point is an expected stored point: measurement, device, time and fields.
type point struct {
	measurement string
	device      string
	at          time.Time
	tags        map[string]string
	fields      map[string]float64
}

// fleetMessages builds a deterministic mix: every reading type, unit conversions, multi-reading
// messages, events with location, status messages, and bad input of every kind.
func fleetMessages(devices, perDevice int, base time.Time) []msg {
	var out []msg
	for d := 0; d < devices; d++ {
		dev := fmt.Sprintf("e2e-%03d", d)
		for j := 0; j < perDevice; j++ {
			at := base.Add(time.Duration(j) * time.Minute).Add(time.Duration(d) * time.Millisecond)
			ms := at.UnixMilli()
			ts := strconv.FormatInt(ms, 10)
			if j%2 == 0 {
				ts = strconv.Quote(at.Format(time.RFC3339Nano))
			}
			p := func(m string, fields map[string]float64, tags map[string]string) point {
				return point{measurement: m, device: dev, at: at, tags: tags, fields: fields}
			}
			var m msg
			m.topic = "devices/" + dev + "/telemetry"
			switch (d + j) % 9 {
			case 0:
				mmol := 4.0 + float64(j%50)/10
				m.payload = fmt.Sprintf(`{"ts":%s,"seq":%d,"patient":"P-%03d","readings":[{"type":"glucose","value":%g,"unit":"mg/dL","context":"fasting"}]}`, ts, j, d, mmol*18.016)
				m.points = []point{p("glucose", map[string]float64{"value": mmol}, map[string]string{"context": "fasting", "patient": fmt.Sprintf("P-%03d", d)})}
			case 1:
				sys, dia := 110+float64(j%60), 70+float64(j%30)
				m.payload = fmt.Sprintf(`{"ts":%s,"seq":%d,"readings":[{"type":"bp","systolic":%g,"diastolic":%g,"pulse":72,"unit":"mm[Hg]"},{"type":"heart_rate","value":72,"unit":"/min"}],"battery":80}`, ts, j, sys, dia)
				m.points = []point{p("bp", map[string]float64{"systolic": sys, "diastolic": dia, "pulse": 72}, nil),
					p("heart_rate", map[string]float64{"value": 72}, nil),
					p("device_status", map[string]float64{"battery": 80}, nil)}
			case 2:
				m.payload = fmt.Sprintf(`{"ts":%s,"seq":%d,"readings":[{"type":"spo2","value":%d,"unit":"%%"}],"flags":["low_perfusion"]}`, ts, j, 90+j%10)
				m.points = []point{p("spo2", map[string]float64{"value": float64(90 + j%10)}, nil)}
			case 3:
				c := 36.0 + float64(j%30)/10
				m.payload = fmt.Sprintf(`{"ts":%s,"readings":[{"type":"temperature","value":%g,"unit":"[degF]"}]}`, ts, c*9/5+32)
				m.points = []point{p("temperature", map[string]float64{"value": c}, nil)}
			case 4:
				kg := 60 + float64(j%40)
				m.payload = fmt.Sprintf(`{"ts":%s,"readings":[{"type":"weight","value":%g,"unit":"[lb_av]"}]}`, ts, kg/0.45359237)
				m.points = []point{p("weight", map[string]float64{"value": kg}, nil)}
			case 5:
				m.payload = fmt.Sprintf(`{"ts":%s,"readings":[{"type":"steps","value":%d,"unit":"count"},{"type":"glucose","value":5.5,"unit":"mmol/L","source":"cgm"}]}`, ts, 100*j)
				m.points = []point{p("steps", map[string]float64{"value": float64(100 * j)}, nil),
					p("glucose", map[string]float64{"value": 5.5}, map[string]string{"source": "cgm"})}
			case 6:
				m.payload = fmt.Sprintf(`{"ts":%s,"readings":[{"type":"fall","lat":31.23,"lon":121.47}]}`, ts)
				m.points = []point{p("event", map[string]float64{"value": 1, "lat": 31.23, "lon": 121.47}, map[string]string{"kind": "fall"})}
			case 7:
				m.topic = "devices/" + dev + "/status"
				m.payload = fmt.Sprintf(`{"ts":%s,"battery":%d,"signal":-70,"firmware":"1.4.2"}`, ts, 50+j%50)
				m.points = []point{p("device_status", map[string]float64{"battery": float64(50 + j%50), "signal": -70}, nil)}
			case 8:
				// One good reading and one implausible one: the good one is kept.
				m.payload = fmt.Sprintf(`{"ts":%s,"readings":[{"type":"heart_rate","value":64,"unit":"/min"},{"type":"spo2","value":140,"unit":"%%"}]}`, ts)
				m.points = []point{p("heart_rate", map[string]float64{"value": 64}, nil)}
				m.dead = []string{"implausible_value"}
			}
			out = append(out, m)
		}
	}
	future := time.Now().Add(48 * time.Hour).UnixMilli()
	bad := []msg{
		{topic: "devices/bad-1/telemetry", payload: `{"readings":[`, dead: []string{"malformed_json"}},
		{topic: "devices/bad-1/telemetry", payload: `{"readings":[{"type":"cholesterol","value":5,"unit":"mmol/L"}]}`, dead: []string{"unknown_type"}},
		{topic: "devices/bad-1/telemetry", payload: `{"readings":[{"type":"glucose","value":5,"unit":"g/L"}]}`, dead: []string{"unknown_unit"}},
		{topic: "devices/bad-1/telemetry", payload: `{"readings":[{"type":"temperature","value":98.6,"unit":"Cel"}]}`, dead: []string{"implausible_value"}},
		{topic: "devices/bad-1/telemetry", payload: fmt.Sprintf(`{"ts":%d,"readings":[{"type":"spo2","value":97,"unit":"%%"}]}`, future), dead: []string{"future_timestamp"}},
		{topic: "devices/bad-1/telemetry", payload: `{"device":"someone-else","readings":[{"type":"spo2","value":97,"unit":"%"}]}`, dead: []string{"topic_mismatch"}},
		{topic: "devices/bad-1/telemetry", payload: `{"readings":[{"type":"spo2","value":97,"unit":"%"}],"x":"` + strings.Repeat("a", 70<<10) + `"}`, dead: []string{"oversized_payload"}},
	}
	// Interleave the bad ones through the stream.
	for i, b := range bad {
		pos := (i + 1) * len(out) / (len(bad) + 1)
		out = append(out[:pos], append([]msg{b}, out[pos:]...)...)
	}
	return out
}

// publish sends msgs at QoS 1, every dupEvery-th twice (0: none), and returns what was sent,
// duplicates included.
func publish(t *testing.T, url string, msgs []msg, dupEvery int) []msg {
	t.Helper()
	var sent []msg
	var out []testsrv.Message
	for i, m := range msgs {
		n := 1
		if dupEvery > 0 && i%dupEvery == 0 {
			n = 2
		}
		for range n {
			sent = append(sent, m)
			out = append(out, testsrv.Message{Topic: m.topic, Payload: []byte(m.payload)})
		}
	}
	testsrv.Publish(t, url, out)
	return sent
}

// expected tallies distinct points per measurement (a redelivered reading overwrites its own
// point) and dead letters per reason (one per delivery: every rejected delivery is kept).
func expected(msgs []msg) (points map[string]int, dead map[string]int) {
	points, dead = map[string]int{}, map[string]int{}
	seen := map[string]bool{}
	for _, m := range msgs {
		for _, p := range m.points {
			key := p.measurement + "/" + p.device + "/" + p.at.String()
			if !seen[key] {
				seen[key] = true
				points[p.measurement]++
			}
		}
		for _, r := range m.dead {
			dead[r]++
		}
	}
	return points, dead
}

func countDead(t *testing.T, st *store.Store) map[string]int {
	t.Helper()
	got := map[string]int{}
	var before int64
	for {
		page, err := st.ListDeadLetters(context.Background(), deadletter.Filter{Before: before, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range page {
			got[d.Reason]++
		}
		if len(page) < 1000 {
			return got
		}
		before = page[len(page)-1].ID
	}
}

func waitForPoints(t *testing.T, ix *testsrv.Influx, want map[string]int, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		got := map[string]int{}
		same := true
		for m, n := range want {
			got[m] = ix.Count(t, m)
			if got[m] != n {
				same = false
			}
		}
		if same {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("points per measurement = %v; want %v", got, want)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// TestEndToEndMosquittoInflux publishes thousands of readings of every type, some twice and some
// bad, through a real Mosquitto, and checks every good reading is in InfluxDB once with the right
// measurement, tags, canonical value and time, and every bad one is a dead letter with its reason.
func TestEndToEndMosquittoInflux(t *testing.T) {
	mq := testsrv.StartMosquitto(t, testsrv.MosquittoOptions{})
	ix := testsrv.StartInflux(t, testsrv.InfluxOptions{})
	r := startRig(t, mq.URL, ix, "ingest-e2e")

	base := time.Now().Add(-72 * time.Hour).Truncate(time.Minute)
	msgs := fleetMessages(40, 60, base) // 2,400 messages, ~2,900 readings
	sent := publish(t, mq.URL, msgs, 7)
	if len(sent) == len(msgs) {
		t.Fatal("no duplicates sent")
	}
	wantPoints, wantDead := expected(sent)
	waitForPoints(t, ix, wantPoints, 60*time.Second)
	var got map[string]int
	deadline := time.Now().Add(30 * time.Second)
	for got = countDead(t, r.store); fmt.Sprint(got) != fmt.Sprint(wantDead) && time.Now().Before(deadline); got = countDead(t, r.store) {
		time.Sleep(200 * time.Millisecond)
	}
	if fmt.Sprint(got) != fmt.Sprint(wantDead) {
		t.Fatalf("dead letters by reason = %v; want %v", got, wantDead)
	}

	// Every expected point, field by field, with its tags, from a Flux query per measurement.
	byMeasurement := map[string][]point{}
	for _, m := range msgs {
		for _, p := range m.points {
			byMeasurement[p.measurement] = append(byMeasurement[p.measurement], p)
		}
	}
	for meas, pts := range byMeasurement {
		rows := ix.Query(t, fmt.Sprintf(`from(bucket: %q)
  |> range(start: %s, stop: %s)
  |> filter(fn: (r) => r._measurement == %q)
  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")`,
			ix.Bucket, base.Add(-time.Hour).Format(time.RFC3339), base.Add(24*time.Hour).Format(time.RFC3339), meas))
		stored := map[string]map[string]string{}
		for _, row := range rows {
			at, err := time.Parse(time.RFC3339Nano, row["_time"])
			if err != nil {
				t.Fatalf("%s: bad _time %q", meas, row["_time"])
			}
			stored[row["device"]+"@"+strconv.FormatInt(at.UnixMilli(), 10)] = row
		}
		for _, p := range pts {
			key := p.device + "@" + strconv.FormatInt(p.at.UnixMilli(), 10)
			row, ok := stored[key]
			if !ok {
				t.Errorf("%s point of %s at %v missing", meas, p.device, p.at)
				continue
			}
			for f, want := range p.fields {
				got, err := strconv.ParseFloat(row[f], 64)
				if err != nil || math.Abs(got-want) > 0.006 {
					t.Errorf("%s %s at %v: %s = %q; want %v", meas, p.device, p.at, f, row[f], want)
				}
			}
			for k, want := range p.tags {
				if row[k] != want {
					t.Errorf("%s %s at %v: tag %s = %q; want %q", meas, p.device, p.at, k, row[k], want)
				}
			}
		}
	}
	if got := r.metric(t, "vitalwatch_ingest_spool_batches"); got != 0 {
		t.Errorf("spool holds %v batches; want 0 with InfluxDB up", got)
	}
}

// TestInfluxOutage stops InfluxDB for 30 seconds while devices keep sending: readings go to the
// spool, messages are still acknowledged, and when InfluxDB is back the spool drains and every
// reading is stored exactly once.
func TestInfluxOutage(t *testing.T) {
	mq := testsrv.StartMosquitto(t, testsrv.MosquittoOptions{})
	ix := testsrv.StartInflux(t, testsrv.InfluxOptions{})
	r := startRig(t, mq.URL, ix, "ingest-outage")

	base := time.Now().Add(-24 * time.Hour).Truncate(time.Minute)
	msgs := fleetMessages(30, 40, base)
	third := len(msgs) / 3
	publish(t, mq.URL, msgs[:third], 0)

	ix.Stop()
	outage := time.Now()
	var wg sync.WaitGroup
	wg.Go(func() {
		// Keep sending through the outage, in a steady trickle.
		for i := third; i < 2*third; i += 40 {
			publish(t, mq.URL, msgs[i:min(i+40, 2*third)], 0)
			time.Sleep(500 * time.Millisecond)
		}
	})
	wg.Wait()
	waitFor(t, 30*time.Second, "batches spooled during the outage", func() bool {
		return r.metric(t, "vitalwatch_ingest_spooled_batches_total") > 0
	})
	if acked := r.metric(t, "vitalwatch_ingest_acked_total"); acked < float64(2*third) {
		t.Errorf("acked %v messages during the outage; want all %d acknowledged from the spool", acked, 2*third)
	}
	time.Sleep(time.Until(outage.Add(30 * time.Second)))
	ix.Start(t)
	publish(t, mq.URL, msgs[2*third:], 0)

	wantPoints, _ := expected(msgs)
	waitForPoints(t, ix, wantPoints, 90*time.Second)
	waitFor(t, 30*time.Second, "spool drained", func() bool { return r.metric(t, "vitalwatch_ingest_spool_batches") == 0 })
	if n := r.metric(t, "vitalwatch_ingest_replayed_batches_total"); n == 0 {
		t.Errorf("replayed batches = 0; want the spooled batches replayed")
	}
}

// TestInfluxRefusesSomePoints makes InfluxDB refuse one kind of point (a field type conflict,
// as when another writer used the measurement with another schema): the rest of each batch
// lands, the refused messages become write_rejected dead letters, and nothing is retried forever.
func TestInfluxRefusesSomePoints(t *testing.T) {
	mq := testsrv.StartMosquitto(t, testsrv.MosquittoOptions{})
	ix := testsrv.StartInflux(t, testsrv.InfluxOptions{})
	r := startRig(t, mq.URL, ix, "ingest-refused")

	base := time.Now().Add(-2 * time.Hour).Truncate(time.Second)
	// A string "value" in heart_rate: InfluxDB now refuses float values there in this shard.
	w := influx.NewWriter(influx.Config{URL: ix.URL, Bucket: ix.Bucket})
	defer w.Close()
	if err := w.Write(context.Background(), fmt.Appendf(nil, "heart_rate,device=other value=\"text\" %d\n", base.UnixMilli())); err != nil {
		t.Fatal(err)
	}
	var msgs []testsrv.Message
	for i := range 200 {
		at := base.Add(time.Duration(i+1) * time.Second).UnixMilli()
		kind := "spo2"
		value := 97
		if i%10 == 0 {
			kind, value = "heart_rate", 70
		}
		msgs = append(msgs, testsrv.Message{Topic: fmt.Sprintf("devices/dev-%d/telemetry", i%7),
			Payload: fmt.Appendf(nil, `{"ts":%d,"readings":[{"type":%q,"value":%d}]}`, at, kind, value)})
	}
	testsrv.Publish(t, mq.URL, msgs)
	waitFor(t, 30*time.Second, "all 200 messages acknowledged", func() bool {
		return r.metric(t, "vitalwatch_ingest_acked_total") == 200
	})
	if got := ix.Count(t, "spo2"); got != 180 {
		t.Errorf("spo2 points = %d; want 180", got)
	}
	got := countDead(t, r.store)
	if got["write_rejected"] != 20 || len(got) != 1 {
		t.Errorf("dead letters = %v; want write_rejected: 20", got)
	}
	dls, _ := r.store.ListDeadLetters(context.Background(), deadletter.Filter{Reason: "write_rejected", Limit: 1})
	if len(dls) != 1 || !strings.Contains(dls[0].Detail, "conflict") || !strings.Contains(string(dls[0].Payload), "heart_rate") {
		t.Errorf("dead letter = %+v; want the refused heart_rate message with InfluxDB's reason", dls)
	}
}

// TestSharedSubscriptionSplitsTheLoad runs two ingest instances in one shared-subscription group:
// each takes part of the stream, and together they store every reading once.
func TestSharedSubscriptionSplitsTheLoad(t *testing.T) {
	mq := testsrv.StartMosquitto(t, testsrv.MosquittoOptions{})
	ix := testsrv.StartInflux(t, testsrv.InfluxOptions{})
	a := startGroupRig(t, mq.URL, ix, "ingest-a", "ingest")
	b := startGroupRig(t, mq.URL, ix, "ingest-b", "ingest")

	var msgs []testsrv.Message
	base := time.Now().Add(-time.Hour)
	for i := range 4000 {
		msgs = append(msgs, testsrv.Message{Topic: fmt.Sprintf("devices/sh-%d/telemetry", i%40),
			Payload: fmt.Appendf(nil, `{"ts":%d,"readings":[{"type":"heart_rate","value":70,"unit":"/min"}]}`,
				base.Add(time.Duration(i/40)*time.Second).UnixMilli())})
	}
	testsrv.Publish(t, mq.URL, msgs)
	waitFor(t, 30*time.Second, "4000 acknowledged between the two", func() bool {
		return a.metric(t, "vitalwatch_ingest_acked_total")+b.metric(t, "vitalwatch_ingest_acked_total") == 4000
	})
	na, nb := a.metric(t, "vitalwatch_ingest_acked_total"), b.metric(t, "vitalwatch_ingest_acked_total")
	if na == 0 || nb == 0 {
		t.Errorf("instance a took %v, b took %v; want both to share the load", na, nb)
	}
	if got := ix.Count(t, "heart_rate"); got != 4000 {
		t.Errorf("heart_rate points = %d; want 4000", got)
	}
}
