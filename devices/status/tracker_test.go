package status

import (
	"slices"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/devices"
)

// clock is a settable clock for the tracker.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newTestTracker() (*Tracker, *clock) {
	c := &clock{t: t0}
	return NewTracker(DefaultLimits(), c.now), c
}

func mustSeen(t *testing.T, tr *Tracker, id string) Seen {
	t.Helper()
	s, ok := tr.Seen(id)
	if !ok {
		t.Fatalf("Seen(%s): not known", id)
	}
	return s
}

// A wearable goes online with its first message, offline 15 minutes after its last, and back.
func TestTrackerOnlineOfflineByInterval(t *testing.T) {
	tr, c := newTestTracker()
	wear := devices.Device{ID: "w1", Kind: devices.Wearable, Status: devices.Active}
	cuff := devices.Device{ID: "c1", Kind: devices.BPCuff, Status: devices.Active}
	judge := func(d devices.Device) []State {
		s, _ := tr.Seen(d.ID)
		return Judge(&d, &s, 0, tr.Limits(), c.now())
	}
	if got := judge(wear); !slices.Equal(got, []State{Offline}) {
		t.Errorf("before any message: %v; want offline", got)
	}
	tr.Observe([]Message{{Device: "w1", Received: t0, Readings: 1, Measured: t0, OwnClock: true},
		{Device: "c1", Received: t0, Readings: 1, Measured: t0, OwnClock: true}})
	c.t = t0.Add(15 * time.Minute)
	if got := judge(wear); !slices.Equal(got, []State{Online}) {
		t.Errorf("15m after: %v; want online", got)
	}
	c.t = t0.Add(16 * time.Minute)
	if got := judge(wear); !slices.Equal(got, []State{Offline}) {
		t.Errorf("16m after: %v; want offline (limit 3 x 5m)", got)
	}
	if got := judge(cuff); !slices.Equal(got, []State{Online}) {
		t.Errorf("cuff 16m after: %v; want online (limit 3 x 24h)", got)
	}
	tr.Observe([]Message{{Device: "w1", Received: c.t, Status: true, Battery: 50, HasBattery: true}})
	if got := judge(wear); !slices.Equal(got, []State{Online}) {
		t.Errorf("after a status: %v; want online again", got)
	}
}

// The broker's events and the status topic's online flag make the connection state; a message
// after a will brings the device back.
func TestTrackerConnectionEvents(t *testing.T) {
	tr, c := newTestTracker()
	wear := devices.Device{ID: "w1", Kind: devices.Wearable, Status: devices.Active}
	judge := func() []State {
		s, _ := tr.Seen("w1")
		return Judge(&wear, &s, 0, tr.Limits(), c.now())
	}
	tr.Connection("w1", Connect, t0)
	tr.Observe([]Message{{Device: "w1", Received: t0.Add(time.Second), Readings: 2}})
	s := mustSeen(t, tr, "w1")
	if conn, known := s.Connected(); !conn || !known || s.Event != Connect || !s.EventAt.Equal(t0) {
		t.Errorf("after connect: %+v; want connected by connect at %v", s, t0)
	}
	// The will, as the broker publishes it and as ingest then reads it on the status topic.
	tr.Connection("w1", LastWill, t0.Add(time.Minute))
	tr.Observe([]Message{{Device: "w1", Received: t0.Add(time.Minute + 5*time.Millisecond), Status: true, HasOnline: true, Online: false}})
	c.t = t0.Add(2 * time.Minute)
	s = mustSeen(t, tr, "w1")
	if conn, _ := s.Connected(); conn || s.Event != LastWill {
		t.Errorf("after the will: %+v; want not connected, last_will", s)
	}
	if got := judge(); !slices.Equal(got, []State{Offline}) {
		t.Errorf("after the will: %v; want offline at once", got)
	}
	tr.Observe([]Message{{Device: "w1", Received: c.t, Readings: 1}})
	if got := judge(); !slices.Equal(got, []State{Online}) {
		t.Errorf("a reading after the will: %v; want online", got)
	}
	tr.Observe([]Message{{Device: "w1", Received: c.t.Add(time.Second), Status: true, HasOnline: true, Online: true}})
	if s := mustSeen(t, tr, "w1"); s.Event != StatusOnline {
		t.Errorf("after online:true: event %q; want status_online", s.Event)
	}
	// An older event does not replace a newer one.
	tr.Connection("w1", Disconnect, t0)
	if s := mustSeen(t, tr, "w1"); s.Event != StatusOnline {
		t.Errorf("after an older disconnect: event %q; want status_online kept", s.Event)
	}
}

// Stopping the embedded broker ends the connections it had, not those another broker reported.
func TestTrackerBrokerStopped(t *testing.T) {
	tr, _ := newTestTracker()
	tr.Connection("a", Connect, t0)
	tr.Connection("b", Connect, t0)
	tr.Connection("b", Disconnect, t0.Add(time.Second))
	tr.Observe([]Message{{Device: "c", Received: t0, Status: true, HasOnline: true, Online: true}})
	if n := tr.BrokerStopped(t0.Add(time.Minute)); n != 1 {
		t.Errorf("BrokerStopped = %d; want 1 (only a was connected through it)", n)
	}
	for id, want := range map[string]Event{"a": BrokerStopped, "b": Disconnect, "c": StatusOnline} {
		if s := mustSeen(t, tr, id); s.Event != want {
			t.Errorf("%s: event %q; want %q", id, s.Event, want)
		}
	}
}

// Battery, signal and firmware keep the value measured last; an older one arriving later is
// ignored.
func TestTrackerReportedValues(t *testing.T) {
	tr, _ := newTestTracker()
	tr.Observe([]Message{
		{Device: "d", Received: t0, Readings: 1, Measured: t0.Add(-time.Minute), OwnClock: true, Battery: 40, HasBattery: true},
		{Device: "d", Received: t0.Add(time.Second), Status: true, Measured: t0, OwnClock: true, Signal: -71, HasSignal: true, Firmware: "2.1.0"},
		// A backlog measured earlier, arriving later.
		{Device: "d", Received: t0.Add(2 * time.Second), Readings: 1, Measured: t0.Add(-time.Hour), OwnClock: true, Battery: 90, HasBattery: true},
	})
	s := mustSeen(t, tr, "d")
	if s.Battery != 40 || !s.BatteryAt.Equal(t0.Add(-time.Minute)) {
		t.Errorf("battery %v at %v; want 40 at %v (the newest measured)", s.Battery, s.BatteryAt, t0.Add(-time.Minute))
	}
	if s.Signal != -71 || s.Firmware != "2.1.0" || !s.FirmwareAt.Equal(t0) {
		t.Errorf("signal %v, firmware %q at %v; want -71, 2.1.0 at %v", s.Signal, s.Firmware, s.FirmwareAt, t0)
	}
	if !s.LastMessage.Equal(t0.Add(2*time.Second)) || !s.LastTelemetry.Equal(t0.Add(2*time.Second)) {
		t.Errorf("last message %v, telemetry %v; want both %v", s.LastMessage, s.LastTelemetry, t0.Add(2*time.Second))
	}
	// A refused message is a message, not telemetry.
	tr.Observe([]Message{{Device: "d", Received: t0.Add(3 * time.Second), DeadLetters: 1}})
	s = mustSeen(t, tr, "d")
	if !s.LastMessage.Equal(t0.Add(3*time.Second)) || !s.LastTelemetry.Equal(t0.Add(2*time.Second)) {
		t.Errorf("after a refused message: last message %v, telemetry %v; want %v and %v", s.LastMessage, s.LastTelemetry,
			t0.Add(3*time.Second), t0.Add(2*time.Second))
	}
}

// The clock offset is taken from live messages only: one measurement time stamped by the
// device and newer than any before, or a status with its own time.
func TestTrackerClockOffset(t *testing.T) {
	tr, _ := newTestTracker()
	tr.Observe([]Message{{Device: "d", Received: t0, Readings: 1, Measured: t0.Add(-90 * time.Second), OwnClock: true}})
	s := mustSeen(t, tr, "d")
	if s.ClockOffset != -90*time.Second || !s.ClockOffsetAt.Equal(t0) {
		t.Fatalf("offset %v at %v; want -1m30s at %v", s.ClockOffset, s.ClockOffsetAt, t0)
	}
	tr.Observe([]Message{
		// Older than the newest: a backlog, not the clock.
		{Device: "d", Received: t0.Add(time.Minute), Readings: 1, Measured: t0.Add(-3 * time.Hour), OwnClock: true},
		// Stamped with the receive time: says nothing of the device's clock.
		{Device: "d", Received: t0.Add(2 * time.Minute), Readings: 1, Measured: t0.Add(2 * time.Minute)},
	})
	if s := mustSeen(t, tr, "d"); s.ClockOffset != -90*time.Second {
		t.Errorf("after a backlog and a message without ts: offset %v; want -1m30s kept", s.ClockOffset)
	}
	tr.Observe([]Message{{Device: "d", Received: t0.Add(5 * time.Minute), Readings: 1, Measured: t0.Add(7 * time.Minute), OwnClock: true}})
	if s := mustSeen(t, tr, "d"); s.ClockOffset != 2*time.Minute || !s.ClockOffsetAt.Equal(t0.Add(5*time.Minute)) {
		t.Errorf("a device clock 2m ahead: offset %v at %v; want 2m at %v", s.ClockOffset, s.ClockOffsetAt, t0.Add(5*time.Minute))
	}
	tr.Observe([]Message{{Device: "d", Received: t0.Add(6 * time.Minute), Status: true, Measured: t0.Add(6*time.Minute - 500*time.Millisecond), OwnClock: true}})
	if s := mustSeen(t, tr, "d"); s.ClockOffset != -500*time.Millisecond {
		t.Errorf("a status: offset %v; want -500ms", s.ClockOffset)
	}
}

// Readings and dead letters are counted by UTC hour; the last 24 hours are the current hour
// and the 23 before.
func TestTrackerCountsOver24Hours(t *testing.T) {
	tr, c := newTestTracker()
	start := t0.Truncate(time.Hour) // 08:00
	for h := range 30 {
		tr.Observe([]Message{{Device: "d", Received: start.Add(time.Duration(h)*time.Hour + 30*time.Minute), Readings: h + 1, DeadLetters: 1}})
	}
	// Hours 0..29 sent 1..30 readings; at hour 29 the window is hours 6..29: 7+...+30.
	c.t = start.Add(29*time.Hour + 45*time.Minute)
	s := mustSeen(t, tr, "d")
	if want := (7 + 30) * 24 / 2; s.Readings != want || s.DeadLetters != 24 {
		t.Errorf("at hour 29: %d readings, %d dead letters; want %d and 24", s.Readings, s.DeadLetters, want)
	}
	// Two hours later, with nothing new, hours 8..29 are left.
	c.t = start.Add(31 * time.Hour)
	s = mustSeen(t, tr, "d")
	if want := (9 + 30) * 22 / 2; s.Readings != want || s.DeadLetters != 22 {
		t.Errorf("at hour 31: %d readings, %d dead letters; want %d and 22", s.Readings, s.DeadLetters, want)
	}
	c.t = start.Add(60 * time.Hour)
	if s := mustSeen(t, tr, "d"); s.Readings != 0 || s.DeadLetters != 0 {
		t.Errorf("a day after the last: %d readings, %d dead letters; want none", s.Readings, s.DeadLetters)
	}
}

// Changes hands over the changed devices once, with their counts per hour; counts the store did
// not take come back; what another instance saved merges in, newest per field, its counts
// added.
func TestTrackerChangesAndAdd(t *testing.T) {
	tr, c := newTestTracker()
	h := HourOf(t0)
	tr.Observe([]Message{{Device: "a", Received: t0, Readings: 3}, {Device: "a", Received: t0.Add(time.Second), DeadLetters: 1},
		{Device: "b", Received: t0, Status: true, Battery: 50, HasBattery: true}})
	recs := tr.Changes()
	if len(recs) != 2 || recs[0].Device != "a" || !slices.Equal(recs[0].Hours, []Hour{{Hour: h, Readings: 3, DeadLetters: 1}}) ||
		recs[1].Device != "b" || len(recs[1].Hours) != 0 || recs[1].Battery != 50 {
		t.Fatalf("Changes = %+v; want a with 3 readings and 1 dead letter in hour %d, b with battery 50", recs, h)
	}
	if again := tr.Changes(); len(again) != 0 {
		t.Errorf("Changes again = %+v; want nothing", again)
	}
	// The store refused them; meanwhile a sent 2 more.
	tr.Observe([]Message{{Device: "a", Received: t0.Add(2 * time.Second), Readings: 2}})
	tr.Unsaved(recs)
	recs = tr.Changes()
	if len(recs) != 2 || !slices.Equal(recs[0].Hours, []Hour{{Hour: h, Readings: 5, DeadLetters: 1}}) {
		t.Fatalf("Changes after Unsaved = %+v; want a with 5 readings and 1 dead letter", recs)
	}
	// Saved. Another instance counted 10 readings of a this hour and 7 the hour before, and
	// saw a's battery later; a sends 1 more.
	tr.Observe([]Message{{Device: "a", Received: t0.Add(3 * time.Second), Readings: 1}})
	tr.Add([]Record{{Device: "a", LastMessage: t0.Add(-time.Hour).UnixMilli(), Battery: 11, BatteryAt: t0.Add(time.Minute).UnixMilli(),
		Event: Connect, EventAt: t0.UnixMilli(),
		Hours: []Hour{{Hour: h, Readings: 10}, {Hour: h - 1, Readings: 7}}}})
	c.t = t0.Add(30 * time.Minute)
	s := mustSeen(t, tr, "a")
	if s.Readings != 3+2+1+10+7 || s.DeadLetters != 1 {
		t.Errorf("after the merge: %d readings, %d dead letters; want 23 (6 here, 10 + 7 there) and 1", s.Readings, s.DeadLetters)
	}
	if s.Battery != 11 || !s.LastMessage.Equal(t0.Add(3*time.Second)) || s.Event != Connect {
		t.Errorf("after the merge: %+v; want battery 11 from the store, the newer last message kept, event connect", s)
	}
	recs = tr.Changes()
	if len(recs) != 1 || !slices.Equal(recs[0].Hours, []Hour{{Hour: h, Readings: 1}}) {
		t.Errorf("Changes after the merge = %+v; want only a's 1 reading not yet saved", recs)
	}
	// A merged connection event is not this broker's: stopping it leaves the device alone.
	if n := tr.BrokerStopped(t0.Add(time.Hour)); n != 0 {
		t.Errorf("BrokerStopped after a merged connect = %d; want 0", n)
	}
	// Loading replaces the counts with the store's, keeping those not yet handed over.
	tr.Observe([]Message{{Device: "a", Received: t0.Add(4 * time.Second), Readings: 2}})
	tr.Load([]Record{{Device: "a", Hours: []Hour{{Hour: h, Readings: 40, DeadLetters: 4}}}, {Device: "a", Hours: []Hour{{Hour: h, Readings: 1}}}})
	if s := mustSeen(t, tr, "a"); s.Readings != 40+1+2 || s.DeadLetters != 4 {
		t.Errorf("after Load: %d readings, %d dead letters; want 43 (41 in the store, 2 not yet saved) and 4", s.Readings, s.DeadLetters)
	}
}

func TestRecordMergeNewestWins(t *testing.T) {
	a := Record{Device: "d", LastMessage: 100, LastTelemetry: 90, Battery: 50, BatteryAt: 80, Signal: -60, SignalAt: 85,
		Firmware: "1.0", FirmwareAt: 70, ClockOffset: -5, ClockOffsetAt: 100, Event: Connect, EventAt: 60}
	b := Record{Device: "d", LastMessage: 95, LastTelemetry: 95, Battery: 20, BatteryAt: 81, Signal: -90, SignalAt: 85,
		Firmware: "2.0", FirmwareAt: 10, ClockOffset: 400, ClockOffsetAt: 99, Event: LastWill, EventAt: 61}
	a.Merge(&b)
	want := Record{Device: "d", LastMessage: 100, LastTelemetry: 95, Battery: 20, BatteryAt: 81, Signal: -60, SignalAt: 85,
		Firmware: "1.0", FirmwareAt: 70, ClockOffset: -5, ClockOffsetAt: 100, Event: LastWill, EventAt: 61}
	if a.LastMessage != want.LastMessage || a.LastTelemetry != want.LastTelemetry || a.Battery != want.Battery ||
		a.BatteryAt != want.BatteryAt || a.Signal != want.Signal || a.Firmware != want.Firmware ||
		a.ClockOffset != want.ClockOffset || a.Event != want.Event || a.EventAt != want.EventAt {
		t.Errorf("Merge = %+v; want %+v", a, want)
	}
}

// Observing a batch of messages from known devices allocates nothing.
func TestObserveAllocatesNothing(t *testing.T) {
	tr, _ := newTestTracker()
	msgs := []Message{{Device: "a", Received: t0, Readings: 1, Measured: t0, OwnClock: true, Battery: 50, HasBattery: true},
		{Device: "b", Received: t0, Status: true, Signal: -70, HasSignal: true}}
	tr.Observe(msgs)
	tr.Changes()
	tr.Observe(msgs) // the first after Changes reuses the pending counts' memory
	allocs := testing.AllocsPerRun(100, func() { tr.Observe(msgs) })
	if allocs != 0 {
		t.Errorf("Observe allocates %v times per batch; want 0", allocs)
	}
}

func BenchmarkObserve(b *testing.B) {
	tr, _ := newTestTracker()
	msgs := make([]Message, 2000)
	for i := range msgs {
		msgs[i] = Message{Device: "bench-" + string(rune('a'+i%26)) + string(rune('a'+i/26%26)), Received: t0.Add(time.Duration(i) * time.Millisecond),
			Readings: 1, Measured: t0, OwnClock: true, Battery: 50, HasBattery: i%4 == 0}
	}
	tr.Observe(msgs)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		tr.Observe(msgs)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(msgs)), "ns/msg")
}
