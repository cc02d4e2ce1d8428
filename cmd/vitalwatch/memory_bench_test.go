package main

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts/rules"
	"github.com/vitalwatch/vitalwatch/broker"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/devices/status"
	"github.com/vitalwatch/vitalwatch/reading"
	"github.com/vitalwatch/vitalwatch/simulators"
	deviceusage "github.com/vitalwatch/vitalwatch/usage"
)

// BenchmarkMemory measures what each component of serve keeps in memory per device and per
// active patient: it builds each one's state for a fleet of N devices (BENCH_MEMORY_N, default
// 4000, the default mix) and of 2N, and divides the difference of the live heap (after a
// collection; goroutine stacks added for the broker's connections) by N, so that what does not
// grow with the fleet cancels out. An active patient is one whose devices sent the last week
// of their readings (simulators.Fleet.Backlog: a CGM or a wearable every 30 minutes, the others
// on their schedule), which the alert engine, the device status and the usage keys are fed.
//
//	go test -run '^$' -bench BenchmarkMemory -benchtime 1x ./cmd/vitalwatch/
func BenchmarkMemory(b *testing.B) {
	n := 4000
	if s := os.Getenv("BENCH_MEMORY_N"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 100 || v > 8000 {
			// Each connection is two descriptors here (both ends), under a limit of 20,000.
			b.Fatalf("BENCH_MEMORY_N=%q: want 100-8000", s)
		}
		n = v
	}
	now := time.Now()
	small, large := newMemoryFleet(n, now), newMemoryFleet(2*n, now)
	fmt.Printf("memory: fleets of %d and %d devices (%d and %d patients, %d and %d active)\n", n, 2*n,
		len(small.reg.Patients), len(large.reg.Patients), small.active, large.active)
	report := func(name string, bytes float64, per string, units float64) {
		fmt.Printf("  %-28s %8.0f B per %s\n", name, bytes/units, per)
		b.ReportMetric(bytes/units, name+"_B/"+per)
	}
	for range b.N {
		d := grown(small, large, func(f *memoryFleet) any { return f.directory() })
		report("registry", d, "device", float64(n))

		heap, stack := grownConnections(b, small, large)
		report("broker_connection", heap+stack, "device", float64(n))
		report("broker_connection_heap", heap, "device", float64(n))
		report("broker_connection_stacks", stack, "device", float64(n))

		d = grown(small, large, func(f *memoryFleet) any { return f.engine() })
		report("alert_engine", d, "device", float64(n))
		report("alert_engine", d, "active_patient", float64(large.active-small.active))

		d = grown(small, large, func(f *memoryFleet) any { return f.tracker() })
		report("device_status", d, "device", float64(n))

		d = grown(small, large, func(f *memoryFleet) any { return f.keys() })
		report("usage_keys_week", d, "device", float64(n))

		d = grown(small, large, func(f *memoryFleet) any {
			seq := map[string]int64{} // ingest's workers: each device's last sequence number
			for _, dev := range f.reg.Devices {
				seq[dev.ID] = 1
			}
			return seq
		})
		report("ingest_sequence", d, "device", float64(n))
	}
}

// liveHeap is the live heap after a full collection.
func liveHeap() float64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapAlloc)
}

// grown returns how much more live heap build keeps for large than for small.
func grown(small, large *memoryFleet, build func(*memoryFleet) any) float64 {
	base := liveHeap()
	kept := build(small)
	s := liveHeap() - base
	runtime.KeepAlive(kept)
	kept = nil
	base = liveHeap()
	kept = build(large)
	l := liveHeap() - base
	runtime.KeepAlive(kept)
	return l - s
}

// memoryFleet is a simulated fleet, its registry and a week of what its devices sent.
type memoryFleet struct {
	fleet  *simulators.Fleet
	reg    *simulators.Registry
	msgs   []memoryMsg
	active int // patients with readings
}

type memoryMsg struct {
	dev     string
	payload []byte
	at      time.Time
}

func newMemoryFleet(n int, now time.Time) *memoryFleet {
	f := &memoryFleet{fleet: simulators.NewFleet(n, 1, simulators.DefaultMix())}
	from := now.Add(-7 * 24 * time.Hour)
	f.reg = f.fleet.RegistrySince(from)
	patients := map[string]bool{}
	for _, d := range f.fleet.Devices() {
		bl := f.fleet.Backlog(d, from, now)
		for {
			m, ok := bl.Next()
			if !ok {
				break
			}
			f.msgs = append(f.msgs, memoryMsg{dev: d.ID, payload: m.JSON(), at: m.Time})
			if m.Patient != "" {
				patients[m.Patient] = true
			} else if d.Patient != "" {
				patients[d.Patient] = true
			}
		}
	}
	f.active = len(patients)
	return f
}

// directory is the registry view serve loads, each device with a secret hash of its own.
func (f *memoryFleet) directory() *devices.Directory {
	devs := make([]devices.Device, len(f.reg.Devices))
	for i, d := range f.reg.Devices {
		d.SecretHash = fmt.Sprintf("$7$101$%016d$%088d", i, i) // the length of a real one
		devs[i] = d
	}
	ids := make([]string, len(f.reg.Patients))
	for i, p := range f.reg.Patients {
		ids[i] = p.ID
	}
	return devices.NewDirectory(1, devs, f.reg.Assignments, ids).WithSites(f.reg.Sites).WithPatients(f.reg.Patients)
}

// engine is the alert engine after the week of readings.
func (f *memoryFleet) engine() *rules.Engine {
	dir := f.directory()
	var last time.Time
	e := rules.NewEngine(rules.DefaultRules(), func() time.Time { return last })
	for _, m := range f.msgs {
		msg, _ := reading.Decode(m.dev, m.payload, m.at)
		dev, _ := dir.Device(m.dev)
		in := rules.Input{Message: msg, Device: *dev, Received: m.at}
		if s, ok := dir.Site(dev.SiteID); ok {
			in.Site = *s
		}
		pid := msg.Patient
		if pid == "" {
			pid = dir.PatientAt(m.dev, m.at)
		}
		if p, ok := dir.Patient(pid); ok {
			in.Patient = *p
		}
		last = m.at
		e.Reading(in)
	}
	return e
}

// tracker is the device status after the week, its changes handed to the store after each
// message, as its Sync does every few seconds.
func (f *memoryFleet) tracker() *status.Tracker {
	t := status.NewTracker(status.Limits{}, func() time.Time { return time.Now() })
	batch := make([]status.Message, 1)
	for _, m := range f.msgs {
		batch[0] = status.Message{Device: m.dev, Received: m.at, Readings: 1, Measured: m.at, OwnClock: true}
		t.Observe(batch)
		t.Changes()
	}
	return t
}

// keys is the usage deduplication set after the week: a key per device and measurement time.
func (f *memoryFleet) keys() *deviceusage.KeySet {
	s := deviceusage.NewKeySet()
	for _, m := range f.msgs {
		day, _ := deviceusage.DayOf(m.at, time.UTC).Number()
		s.Add(m.dev, m.at.UnixMilli(), day, m.at)
	}
	return s
}

// grownConnections returns how much more live heap and goroutine stacks the embedded broker,
// with device sign-in, holds for large's devices each connected once than for small's. The
// test's own ends of the connections, a few hundred bytes each, are counted in the heap.
func grownConnections(b *testing.B, small, large *memoryFleet) (heap, stack float64) {
	measure := func(f *memoryFleet) (float64, float64) {
		devs := make([]devices.Device, len(f.reg.Devices))
		for i, d := range f.reg.Devices {
			d.SecretHash = devices.HashSecret(f.reg.Secrets[d.ID])
			devs[i] = d
		}
		view := devices.NewView(devices.NewDirectory(1, devs, nil, nil))
		brk, err := broker.Start(broker.Config{Listen: "127.0.0.1:0", Devices: view},
			slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			b.Fatal(err)
		}
		defer brk.Close()
		baseHeap, baseStack := liveHeap(), stacks()
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for _, d := range devs {
			c, err := signIn(brk.Addr(), d.ID, f.reg.Secrets[d.ID])
			if err != nil {
				b.Fatal(err)
			}
			conns = append(conns, c)
		}
		return liveHeap() - baseHeap, stacks() - baseStack
	}
	lh, ls := measure(large)
	sh, ss := measure(small)
	return lh - sh, ls - ss
}

// stacks is the memory of goroutine stacks in use.
func stacks() float64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.StackInuse)
}

// signIn connects to the broker as device id (MQTT 3.1.1, clean session, keepalive 60 s) and
// returns the connection once the broker has accepted it.
func signIn(addr, id, secret string) (net.Conn, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	str := func(b []byte, s string) []byte { return append(append(b, byte(len(s)>>8), byte(len(s))), s...) }
	body := str(nil, "MQTT")
	body = append(body, 4, 0xc2, 0, 60) // level 4; user name, password, clean session; keepalive 60 s
	body = str(str(str(body, id), id), secret)
	pk := append([]byte{0x10}, remainingLength(len(body))...)
	if _, err := c.Write(append(pk, body...)); err != nil {
		c.Close()
		return nil, err
	}
	ack := make([]byte, 4)
	if _, err := io.ReadFull(bufio.NewReader(c), ack); err != nil || ack[0] != 0x20 || ack[3] != 0 {
		c.Close()
		return nil, fmt.Errorf("sign in as %s: CONNACK % x (%v)", id, ack, err)
	}
	return c, nil
}

func remainingLength(n int) []byte {
	var b []byte
	for {
		d := byte(n % 128)
		if n /= 128; n > 0 {
			d |= 0x80
		}
		b = append(b, d)
		if n == 0 {
			return b
		}
	}
}
