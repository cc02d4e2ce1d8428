package store

import (
	"context"
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

// What is saved comes back field for field with its hour counts; the next read returns only
// what was saved since.
func testDeviceStatusRoundTrip(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	h := statusHour(0)
	a := status.Record{Device: "dev-a", LastMessage: 1000, LastTelemetry: 900, Battery: 18.5, BatteryAt: 800, Signal: -71, SignalAt: 700,
		Firmware: "2.1.0", FirmwareAt: 700, ClockOffset: -1500, ClockOffsetAt: 900, Event: status.Connect, EventAt: 600,
		Hours: []status.Hour{{Hour: h - 1, Readings: 12, DeadLetters: 1}, {Hour: h, Readings: 3}}}
	b := status.Record{Device: "dev-b", LastMessage: 2000, Event: status.LastWill, EventAt: 2000,
		Hours: []status.Hour{{Hour: h, DeadLetters: 2}}}
	must(t, "save", s.SaveDeviceStatus(ctx, []status.Record{a, b}))
	recs, next, err := s.DeviceStatusSince(ctx, 0, h-status.HoursKept+1)
	must(t, "read", err)
	got := byDevice(recs)
	if len(recs) != 2 || fmt.Sprint(got["dev-a"]) != fmt.Sprint(a) || fmt.Sprint(got["dev-b"]) != fmt.Sprint(b) {
		t.Fatalf("read back %+v; want %+v and %+v", recs, a, b)
	}
	again, next2, err := s.DeviceStatusSince(ctx, next, h-status.HoursKept+1)
	must(t, "read again", err)
	if len(again) != 0 || next2 != next {
		t.Errorf("read after %d = %+v, next %d; want nothing new", next, again, next2)
	}
	// Only b changes: only b comes back, with the hour that changed.
	must(t, "save b", s.SaveDeviceStatus(ctx, []status.Record{{Device: "dev-b", LastMessage: 3000, Hours: []status.Hour{{Hour: h, Readings: 4}}}}))
	recs, _, err = s.DeviceStatusSince(ctx, next, h-status.HoursKept+1)
	must(t, "read b", err)
	if len(recs) != 1 || recs[0].Device != "dev-b" || recs[0].LastMessage != 3000 || recs[0].Event != status.LastWill ||
		!slices.Equal(recs[0].Hours, []status.Hour{{Hour: h, Readings: 4, DeadLetters: 2}}) {
		t.Errorf("read after b's save = %+v; want b with last message 3000, its will kept, hour %d at 4 readings and 2 dead letters", recs, h)
	}
	// Hours before fromHour are left out, and pruned ones are gone.
	recs, _, err = s.DeviceStatusSince(ctx, 0, h)
	must(t, "read from h", err)
	if a := byDevice(recs)["dev-a"]; !slices.Equal(a.Hours, []status.Hour{{Hour: h, Readings: 3}}) {
		t.Errorf("dev-a's hours from %d = %+v; want only hour %d", h, a.Hours, h)
	}
	must(t, "prune", s.PruneDeviceStatusHours(ctx, h))
	recs, _, err = s.DeviceStatusSince(ctx, 0, 0)
	must(t, "read after prune", err)
	for _, r := range recs {
		for _, hr := range r.Hours {
			if hr.Hour < h {
				t.Errorf("%s keeps hour %d after pruning before %d", r.Device, hr.Hour, h)
			}
		}
	}
}

// Two instances save what each saw of one device: every field keeps the newer, the counts add
// up, and both read the same.
func testDeviceStatusMerge(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	dsn := newDSN(t)
	one, two := mustOpen(t, dsn), mustOpen(t, dsn)
	h := statusHour(0)
	must(t, "save one", one.SaveDeviceStatus(ctx, []status.Record{{Device: "d", LastMessage: 5000, LastTelemetry: 5000,
		Battery: 40, BatteryAt: 4000, Signal: -60, SignalAt: 3000, Firmware: "1.0", FirmwareAt: 3000,
		ClockOffset: 100, ClockOffsetAt: 5000, Event: status.Connect, EventAt: 1000,
		Hours: []status.Hour{{Hour: h, Readings: 7, DeadLetters: 1}}}}))
	must(t, "save two", two.SaveDeviceStatus(ctx, []status.Record{{Device: "d", LastMessage: 4500, LastTelemetry: 6000,
		Battery: 35, BatteryAt: 4500, Signal: -80, SignalAt: 2000, Firmware: "1.1", FirmwareAt: 3000,
		ClockOffset: -200, ClockOffsetAt: 4000, Event: status.ConnectionLost, EventAt: 2000,
		Hours: []status.Hour{{Hour: h, Readings: 5}, {Hour: h + 1, Readings: 1}}}}))
	want := status.Record{Device: "d", LastMessage: 5000, LastTelemetry: 6000, Battery: 35, BatteryAt: 4500,
		Signal: -60, SignalAt: 3000, Firmware: "1.0", FirmwareAt: 3000, // equal times keep what was stored
		ClockOffset: 100, ClockOffsetAt: 5000, Event: status.ConnectionLost, EventAt: 2000,
		Hours: []status.Hour{{Hour: h, Readings: 12, DeadLetters: 1}, {Hour: h + 1, Readings: 1}}}
	for name, s := range map[string]*Store{"one": one, "two": two} {
		recs, _, err := s.DeviceStatusSince(ctx, 0, h)
		must(t, "read "+name, err)
		if len(recs) != 1 || fmt.Sprint(recs[0]) != fmt.Sprint(want) {
			t.Errorf("instance %s reads %+v; want %+v", name, recs, want)
		}
	}
	// One save naming a device twice merges it first.
	must(t, "save twice", one.SaveDeviceStatus(ctx, []status.Record{
		{Device: "e", Battery: 10, BatteryAt: 10, Hours: []status.Hour{{Hour: h, Readings: 1}}},
		{Device: "e", Battery: 20, BatteryAt: 20, Hours: []status.Hour{{Hour: h, Readings: 2}}}}))
	recs, _, err := two.DeviceStatusSince(ctx, 0, h)
	must(t, "read e", err)
	if e := byDevice(recs)["e"]; e.Battery != 20 || !slices.Equal(e.Hours, []status.Hour{{Hour: h, Readings: 3}}) {
		t.Errorf("e = %+v; want battery 20 and 3 readings", e)
	}
}

// Instances saving at once lose no count, and a reader that follows the save numbers misses no
// save.
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
				if err := s.SaveDeviceStatus(ctx, recs); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	// The third follows the saves as they happen, adding up the hour totals it reads.
	totals := map[string]status.Hour{}
	var after int64
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	follow := func() {
		recs, next, err := stores[2].DeviceStatusSince(ctx, after, h)
		if err != nil {
			t.Error(err)
			return
		}
		for _, r := range recs {
			for _, hr := range r.Hours {
				totals[r.Device] = hr // a total: the latest read is the count so far
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
	for d := range 5 {
		id := fmt.Sprintf("d%d", d)
		if got := totals[id]; got.Readings != 2*saves || got.DeadLetters != saves {
			t.Errorf("%s: follower read %d readings, %d dead letters; want %d and %d", id, got.Readings, got.DeadLetters, 2*saves, saves)
		}
	}
}

// A tracker's Sync over the store: what one instance's tracker saw, another's loads.
func testDeviceStatusSync(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	dsn := newDSN(t)
	now := func() time.Time { return statusT0.Add(30 * time.Minute) }
	a := status.NewTracker(status.DefaultLimits(), now)
	a.Connection("cuff-1", status.Connect, statusT0)
	a.Observe([]status.Message{{Device: "cuff-1", Received: statusT0.Add(time.Second), Readings: 2, DeadLetters: 1,
		Measured: statusT0, OwnClock: true, Battery: 15, HasBattery: true}})
	if err := status.NewSync(a, mustOpen(t, dsn), status.SyncOptions{}).Step(ctx); err != nil {
		t.Fatal(err)
	}
	b := status.NewTracker(status.DefaultLimits(), now)
	if err := status.NewSync(b, mustOpen(t, dsn), status.SyncOptions{}).Load(ctx); err != nil {
		t.Fatal(err)
	}
	s, ok := b.Seen("cuff-1")
	if !ok || s.Readings != 2 || s.DeadLetters != 1 || s.Battery != 15 || s.Event != status.Connect ||
		!s.LastMessage.Equal(statusT0.Add(time.Second)) || s.ClockOffset != -time.Second {
		t.Errorf("loaded %+v, %v; want 2 readings, 1 dead letter, battery 15, connect, last message %v, offset -1s", s, ok, statusT0.Add(time.Second))
	}
}
