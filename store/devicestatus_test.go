package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/devices/status"
)

// Device status tests are part of the conformance list (store_test.go): each runs on SQLite and
// on PostgreSQL.

var statusT0 = time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)

func statusHour(d time.Duration) int64 { return status.HourOf(statusT0.Add(d)) }

// byDevice returns recs by device id.
func byDevice(recs []status.Record) map[string]status.Record {
	out := map[string]status.Record{}
	for _, r := range recs {
		out[r.Device] = r
	}
	return out
}

// What is saved comes back field for field with its hour counts, from the log and from a
// load; the next read of the log returns only what was saved since.
func testDeviceStatusRoundTrip(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	h := statusHour(0)
	a := status.Record{Device: "dev-a", LastMessage: 1000, LastTelemetry: 900, Battery: 18.5, BatteryAt: 800, Signal: -71, SignalAt: 700,
		Firmware: "2.1.0", FirmwareAt: 700, ClockOffset: -1500, ClockOffsetAt: 900, Event: status.Connect, EventAt: 600,
		Hours: []status.Hour{{Hour: h - 1, Readings: 12, DeadLetters: 1}, {Hour: h, Readings: 3}}}
	b := status.Record{Device: "dev-b", LastMessage: 2000, Event: status.LastWill, EventAt: 2000,
		Hours: []status.Hour{{Hour: h, DeadLetters: 2}}}
	must(t, "save", s.AppendDeviceStatus(ctx, "one", []status.Record{a, b}))
	log, next, err := s.DeviceStatusLog(ctx, 0)
	must(t, "read", err)
	if len(log) != 1 || log[0].Instance != "one" || fmt.Sprint(log[0].Records) != fmt.Sprint([]status.Record{a, b}) {
		t.Fatalf("the log = %+v; want one entry of one with %+v and %+v", log, a, b)
	}
	again, next2, err := s.DeviceStatusLog(ctx, next)
	must(t, "read again", err)
	if len(again) != 0 || next2 != next {
		t.Errorf("the log after %d = %+v, next %d; want nothing new", next, again, next2)
	}
	c := status.Record{Device: "dev-b", LastMessage: 3000, Hours: []status.Hour{{Hour: h, Readings: 4}}}
	must(t, "save b", s.AppendDeviceStatus(ctx, "two", []status.Record{c}))
	log, _, err = s.DeviceStatusLog(ctx, next)
	must(t, "read b", err)
	if len(log) != 1 || log[0].Instance != "two" || fmt.Sprint(log[0].Records) != fmt.Sprint([]status.Record{c}) {
		t.Errorf("the log after b's save = %+v; want two's entry with %+v", log, c)
	}
	recs, upTo, err := s.LoadDeviceStatus(ctx, h-status.HoursKept+1)
	must(t, "load", err)
	if fmt.Sprint(recs) != fmt.Sprint([]status.Record{a, b, c}) || upTo != next+1 {
		t.Errorf("load = %+v up to %d; want the three records of the log, up to %d", recs, upTo, next+1)
	}
}

// useClock sets the store's clock, which stamps the log's rows and decides what is old enough
// to fold.
func useClock(s *Store, at *time.Time) { s.DB.now = func() time.Time { return *at } }

// Folding merges what two instances saved of one device, every field keeping the newer and
// the counts adding up, and deletes the rows folded; a reader behind the fold is told; a load
// returns the folded record and the rows not yet folded.
func testDeviceStatusFold(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	dsn := newDSN(t)
	one, two := mustOpen(t, dsn), mustOpen(t, dsn)
	clock := statusT0
	useClock(one, &clock)
	useClock(two, &clock)
	h := statusHour(0)
	must(t, "save one", one.AppendDeviceStatus(ctx, "one", []status.Record{{Device: "d", LastMessage: 5000, LastTelemetry: 5000,
		Battery: 40, BatteryAt: 4000, Signal: -60, SignalAt: 3000, Firmware: "1.0", FirmwareAt: 3000,
		ClockOffset: 100, ClockOffsetAt: 5000, Event: status.Connect, EventAt: 1000,
		Hours: []status.Hour{{Hour: h, Readings: 7, DeadLetters: 1}}}}))
	_, seen, err := two.DeviceStatusLog(ctx, 0)
	must(t, "read", err)
	must(t, "save two", two.AppendDeviceStatus(ctx, "two", []status.Record{{Device: "d", LastMessage: 4500, LastTelemetry: 6000,
		Battery: 35, BatteryAt: 4500, Signal: -80, SignalAt: 2000, Firmware: "1.1", FirmwareAt: 3000,
		ClockOffset: -200, ClockOffsetAt: 4000, Event: status.ConnectionLost, EventAt: 2000,
		Hours: []status.Hour{{Hour: h, Readings: 5}, {Hour: h + 1, Readings: 1}}},
		// A device twice in one save is merged when folded.
		{Device: "e", Battery: 10, BatteryAt: 10, Hours: []status.Hour{{Hour: h, Readings: 1}}},
		{Device: "e", Battery: 20, BatteryAt: 20, Hours: []status.Hour{{Hour: h, Readings: 2}}}}))
	clock = statusT0.Add(time.Minute)
	must(t, "save later", one.AppendDeviceStatus(ctx, "one", []status.Record{{Device: "f", LastMessage: 1, Hours: []status.Hour{{Hour: h, Readings: 9}}}}))

	// At 3m30s, the two rows saved at 0 are more than 3 minutes old; the third is not.
	clock = statusT0.Add(3*time.Minute + 30*time.Second)
	must(t, "fold", one.FoldDeviceStatus(ctx, 3*time.Minute))
	if _, _, err := two.DeviceStatusLog(ctx, seen); !errors.Is(err, status.ErrFolded) {
		t.Errorf("reading the log after %d once it was folded past: %v; want ErrFolded", seen, err)
	}
	recs, upTo, err := two.LoadDeviceStatus(ctx, h)
	must(t, "load", err)
	got := byDevice(recs)
	want := status.Record{Device: "d", LastMessage: 5000, LastTelemetry: 6000, Battery: 35, BatteryAt: 4500,
		Signal: -60, SignalAt: 3000, Firmware: "1.0", FirmwareAt: 3000, // equal times keep what was folded first
		ClockOffset: 100, ClockOffsetAt: 5000, Event: status.ConnectionLost, EventAt: 2000,
		Hours: []status.Hour{{Hour: h, Readings: 12, DeadLetters: 1}, {Hour: h + 1, Readings: 1}}}
	if len(recs) != 3 || fmt.Sprint(got["d"]) != fmt.Sprint(want) {
		t.Errorf("load after the fold = %+v; want d folded as %+v, e, and f from the log", recs, want)
	}
	if e := got["e"]; e.Battery != 20 || !slices.Equal(e.Hours, []status.Hour{{Hour: h, Readings: 3}}) {
		t.Errorf("e = %+v; want battery 20 and 3 readings", e)
	}
	if f := got["f"]; !slices.Equal(f.Hours, []status.Hour{{Hour: h, Readings: 9}}) {
		t.Errorf("f = %+v; want its row, not yet folded, with 9 readings", f)
	}
	log, next, err := two.DeviceStatusLog(ctx, upTo-1)
	must(t, "read the rest", err)
	if len(log) != 1 || log[0].Records[0].Device != "f" || next != upTo {
		t.Errorf("the log after the fold = %+v; want f's row only", log)
	}
	// Folding again folds the third row; pruning forgets the hours before h+1.
	clock = statusT0.Add(time.Hour)
	must(t, "fold again", two.FoldDeviceStatus(ctx, 3*time.Minute))
	must(t, "prune", two.PruneDeviceStatusHours(ctx, h+1))
	recs, _, err = one.LoadDeviceStatus(ctx, 0)
	must(t, "load again", err)
	got = byDevice(recs)
	if len(recs) != 3 || !slices.Equal(got["d"].Hours, []status.Hour{{Hour: h + 1, Readings: 1}}) || len(got["f"].Hours) != 0 || got["f"].LastMessage != 1 {
		t.Errorf("after folding all and pruning = %+v; want d with hour %d only, e and f without hours", recs, h+1)
	}
}

// A fold of more devices than one statement takes (deviceStatusRows), saved over several rows
// that repeat most of them, stores each device merged and its counts added, in full chunks and
// the last short one alike.
func testDeviceStatusFoldMany(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	h := statusHour(0)
	n := 2*deviceStatusRows + 37
	for save := range 3 {
		var recs []status.Record
		for d := save * 50; d < n; d++ { // the later saves skip the first devices
			at := int64(1000*save + d)
			recs = append(recs, status.Record{Device: fmt.Sprintf("dev-%04d", d), LastMessage: at, Battery: float64(save), BatteryAt: at,
				Hours: []status.Hour{{Hour: h, Readings: 1}, {Hour: h + int64(save), Readings: 10}}})
		}
		must(t, "save", s.AppendDeviceStatus(ctx, "one", recs))
	}
	must(t, "fold", s.FoldDeviceStatus(ctx, -time.Hour))
	recs, _, err := s.LoadDeviceStatus(ctx, h)
	must(t, "load", err)
	got := byDevice(recs)
	if len(recs) != n || len(got) != n {
		t.Fatalf("load after the fold: %d records of %d devices; want %d, one each", len(recs), len(got), n)
	}
	for d := range n {
		saves := min(d/50+1, 3) // the saves that had device d
		last := saves - 1
		want := status.Record{Device: fmt.Sprintf("dev-%04d", d), LastMessage: int64(1000*last + d), Battery: float64(last), BatteryAt: int64(1000*last + d)}
		for hr := range saves {
			readings := int64(saves) // one a save in hour h
			if hr > 0 {
				readings = 0
			}
			want.Hours = append(want.Hours, status.Hour{Hour: h + int64(hr), Readings: readings + 10})
		}
		if r := got[want.Device]; fmt.Sprint(r) != fmt.Sprint(want) {
			t.Fatalf("%s after the fold = %+v; want %+v", want.Device, r, want)
		}
	}
}

// Instances saving at once lose no count: a reader that follows the log as they save, and a
// load after a fold, add up to every count saved.
func testDeviceStatusConcurrentSaves(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	dsn := newDSN(t)
	stores := []*Store{mustOpen(t, dsn), mustOpen(t, dsn), mustOpen(t, dsn)}
	h := statusHour(0)
	const saves = 40
	var wg sync.WaitGroup
	errs := make(chan error, len(stores))
	for i, s := range stores[:2] {
		wg.Go(func() {
			for n := range saves {
				var recs []status.Record
				for d := range 5 {
					recs = append(recs, status.Record{Device: fmt.Sprintf("d%d", d), LastMessage: int64(i*1000 + n),
						Hours: []status.Hour{{Hour: h, Readings: 1, DeadLetters: int64(i)}}})
				}
				if err := s.AppendDeviceStatus(ctx, fmt.Sprint(i), recs); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	// The third follows the log as the saves happen, adding up what it reads.
	totals := map[string]status.Hour{}
	var after int64
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	follow := func() {
		log, next, err := stores[2].DeviceStatusLog(ctx, after)
		if err != nil {
			t.Error(err)
			return
		}
		for _, e := range log {
			for _, r := range e.Records {
				for _, hr := range r.Hours {
					tot := totals[r.Device]
					tot.Readings += hr.Readings
					tot.DeadLetters += hr.DeadLetters
					totals[r.Device] = tot
				}
			}
		}
		after = next
	}
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
			follow()
		}
	}
	follow()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	must(t, "fold", stores[0].FoldDeviceStatus(ctx, -time.Hour)) // everything
	recs, _, err := stores[1].LoadDeviceStatus(ctx, h)
	must(t, "load", err)
	loaded := byDevice(recs)
	for d := range 5 {
		id := fmt.Sprintf("d%d", d)
		if got := totals[id]; got.Readings != 2*saves || got.DeadLetters != saves {
			t.Errorf("%s: the follower read %d readings, %d dead letters; want %d and %d", id, got.Readings, got.DeadLetters, 2*saves, saves)
		}
		if got := loaded[id]; len(got.Hours) != 1 || got.Hours[0].Readings != 2*saves || got.Hours[0].DeadLetters != saves || got.LastMessage != 1000+saves-1 {
			t.Errorf("%s folded: %+v; want %d readings, %d dead letters, last message %d", id, got, 2*saves, saves, 1000+saves-1)
		}
	}
}

func TestDeviceStatusLogEncoding(t *testing.T) {
	recs := []status.Record{
		{Device: "cuff-1", LastMessage: 1764000000123, LastTelemetry: 1764000000000, Battery: 18.5, BatteryAt: 1763999999000,
			Signal: -71.25, SignalAt: 1, Firmware: "2.1.0-β", FirmwareAt: 2, ClockOffset: -1500, ClockOffsetAt: 3,
			Event: status.LastWill, EventAt: 4, Hours: []status.Hour{{Hour: 490000, Readings: 12, DeadLetters: 1}, {Hour: 490001}}},
		{Device: "x"},
	}
	body := appendStatusRecords(nil, recs)
	got, err := decodeStatusRecords(body)
	if err != nil || fmt.Sprint(got) != fmt.Sprint(recs) {
		t.Fatalf("decode(encode(%+v)) = %+v, %v", recs, got, err)
	}
	for cut := 1; cut < len(body); cut++ {
		if _, err := decodeStatusRecords(body[:cut]); err == nil {
			t.Fatalf("decoding the first %d of %d bytes succeeded; want an error", cut, len(body))
		}
	}
	if _, err := decodeStatusRecords(append([]byte{9}, body[1:]...)); err == nil {
		t.Error("decoding an unknown version succeeded")
	}
}

// Two instances' trackers over the store: each adds what the other saved, the counts adding up
// and each field the newer; a third instance started later loads it all.
func testDeviceStatusSync(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	dsn := newDSN(t)
	now := func() time.Time { return statusT0.Add(30 * time.Minute) }
	a, b := status.NewTracker(status.DefaultLimits(), now), status.NewTracker(status.DefaultLimits(), now)
	sa, sb := status.NewSync(a, mustOpen(t, dsn), status.SyncOptions{}), status.NewSync(b, mustOpen(t, dsn), status.SyncOptions{})
	a.Connection("cuff-1", status.Connect, statusT0)
	a.Observe([]status.Message{{Device: "cuff-1", Received: statusT0.Add(time.Second), Readings: 2, DeadLetters: 1,
		Measured: statusT0, OwnClock: true, Battery: 15, HasBattery: true}})
	b.Observe([]status.Message{{Device: "cuff-1", Received: statusT0.Add(2 * time.Second), Readings: 3,
		Measured: statusT0.Add(time.Second), OwnClock: true, Battery: 14, HasBattery: true}})
	for _, s := range []*status.Sync{sa, sb, sa} {
		must(t, "step", s.Step(ctx))
	}
	c := status.NewTracker(status.DefaultLimits(), now)
	must(t, "load", status.NewSync(c, mustOpen(t, dsn), status.SyncOptions{}).Load(ctx))
	for name, tr := range map[string]*status.Tracker{"a": a, "b": b, "c": c} {
		s, ok := tr.Seen("cuff-1")
		if !ok || s.Readings != 5 || s.DeadLetters != 1 || s.Battery != 14 || s.Event != status.Connect ||
			!s.LastMessage.Equal(statusT0.Add(2*time.Second)) || s.ClockOffset != -time.Second {
			t.Errorf("instance %s sees %+v, %v; want 5 readings, 1 dead letter, battery 14, connect, last message %v, offset -1s",
				name, s, ok, statusT0.Add(2*time.Second))
		}
	}
}
