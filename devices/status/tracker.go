package status

import (
	"sync"
	"time"
)

// Message is what ingest saw of one message from a registered device, once the message was
// durable: what the tracker learns from it.
type Message struct {
	// Device is the registry's id of the device.
	Device string
	// Received is when ingest received it.
	Received time.Time
	// Status is set for a status message, otherwise it is telemetry (or was refused whole).
	Status bool
	// Readings is how many of its readings were accepted, DeadLetters how many dead letters it
	// made (the whole message, or each refused reading).
	Readings, DeadLetters int
	// Measured is the newest measurement time of its readings, or a status's time; zero when
	// it has neither.
	Measured time.Time
	// OwnClock says Measured is the device's own clock (the payload's ts) and the message's
	// one measurement time: a candidate for the clock offset. A telemetry message counts only
	// when it is newer than any before (a backlog is not a clock error); a status always does.
	OwnClock bool
	// Battery (%), Signal (dBm), Firmware and Online, when the message carried them.
	Battery    float64
	HasBattery bool
	Signal     float64
	HasSignal  bool
	Firmware   string
	Online     bool
	HasOnline  bool
}

// Record is a device's live state as the store keeps it, times in Unix milliseconds (0:
// never). Merging two records keeps, field by field, the newer: the last message and the last
// telemetry, and each reported value with its time; the connection event of the latest time.
type Record struct {
	Device                     string
	LastMessage, LastTelemetry int64
	Battery                    float64
	BatteryAt                  int64
	Signal                     float64
	SignalAt                   int64
	Firmware                   string
	FirmwareAt                 int64
	ClockOffset                int64 // ms, device clock minus receive time
	ClockOffsetAt              int64
	Event                      Event
	EventAt                    int64
	// Hours are counts by UTC hour, to add to what is known: from a tracker, those not yet
	// saved; from the store, its folded totals and the saves not yet folded.
	Hours []Hour
}

// Hour counts a device's accepted readings and dead letters received in one UTC hour.
type Hour struct {
	Hour                  int64 // hours since the Unix epoch
	Readings, DeadLetters int64
}

// Merge takes from o every field that is newer than r's; equal times keep r's.
func (r *Record) Merge(o *Record) {
	r.LastMessage = max(r.LastMessage, o.LastMessage)
	r.LastTelemetry = max(r.LastTelemetry, o.LastTelemetry)
	if o.BatteryAt > r.BatteryAt {
		r.Battery, r.BatteryAt = o.Battery, o.BatteryAt
	}
	if o.SignalAt > r.SignalAt {
		r.Signal, r.SignalAt = o.Signal, o.SignalAt
	}
	if o.FirmwareAt > r.FirmwareAt {
		r.Firmware, r.FirmwareAt = o.Firmware, o.FirmwareAt
	}
	if o.ClockOffsetAt > r.ClockOffsetAt {
		r.ClockOffset, r.ClockOffsetAt = o.ClockOffset, o.ClockOffsetAt
	}
	if o.EventAt > r.EventAt {
		r.Event, r.EventAt = o.Event, o.EventAt
	}
}

// HoursKept is how many UTC hours of counts a device's status covers: the current one and the
// 23 before.
const HoursKept = 24

const msPerHour = int64(time.Hour / time.Millisecond)

// HourOf is the UTC hour of t, in hours since the Unix epoch.
func HourOf(t time.Time) int64 { return floorDiv(t.UnixMilli(), msPerHour) }

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// Tracker keeps every device's live state in memory. Ingest feeds it a batch at a time
// (Observe) and the embedded broker connection by connection (Connection); a Sync saves what
// changed (Changes) and adds what other instances saved (Add). It is safe for concurrent use: one mutex,
// taken once per batch, over a map of small structs; observing a message allocates nothing
// once its device is known.
type Tracker struct {
	limits Limits
	now    func() time.Time

	mu    sync.Mutex
	devs  map[string]*entry
	dirty []*entry // changed since the last Changes
}

// entry is one device's state.
type entry struct {
	rec    Record // without Hours
	newest int64  // the newest own-clock measurement time of its telemetry, ms
	hours  [HoursKept]bucket
	// pend are the counts not yet handed to the store, by hour, oldest first.
	pend  []Hour
	dirty bool
	// local says rec.Event came from this process's embedded broker.
	local bool
}

// bucket counts one UTC hour; hours[h%HoursKept] holds hour h. 12 bytes: an int32 holds the
// hours since 1970 until the year 246,000.
type bucket struct {
	hour              int32
	readings, letters uint32
}

// NewTracker returns an empty tracker that judges by lim, with the clock now (time.Now if nil).
func NewTracker(lim Limits, now func() time.Time) *Tracker {
	if now == nil {
		now = time.Now
	}
	return &Tracker{limits: lim, now: now, devs: make(map[string]*entry)}
}

// Limits are what the tracker judges states by.
func (t *Tracker) Limits() Limits { return t.limits }

// Now is the tracker's clock.
func (t *Tracker) Now() time.Time { return t.now() }

// get returns the device's entry, adding it. The caller holds t.mu.
func (t *Tracker) get(id string) *entry {
	e, ok := t.devs[id]
	if !ok {
		e = &entry{rec: Record{Device: id}}
		t.devs[id] = e
	}
	return e
}

// touch marks e changed since the last Changes. The caller holds t.mu.
func (t *Tracker) touch(e *entry) {
	if !e.dirty {
		e.dirty = true
		t.dirty = append(t.dirty, e)
	}
}

// Observe takes what ingest saw of a batch of durable messages, in the order received.
func (t *Tracker) Observe(msgs []Message) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range msgs {
		t.observe(&msgs[i])
	}
}

func (t *Tracker) observe(m *Message) {
	e := t.get(m.Device)
	r := &e.rec
	rec := m.Received.UnixMilli()
	r.LastMessage = max(r.LastMessage, rec)
	if m.Readings > 0 {
		r.LastTelemetry = max(r.LastTelemetry, rec)
	}
	at := rec
	if !m.Measured.IsZero() {
		at = m.Measured.UnixMilli()
	}
	if m.HasBattery && at >= r.BatteryAt {
		r.Battery, r.BatteryAt = m.Battery, at
	}
	if m.HasSignal && at >= r.SignalAt {
		r.Signal, r.SignalAt = m.Signal, at
	}
	if m.Firmware != "" && at >= r.FirmwareAt {
		if m.Firmware != r.Firmware {
			r.Firmware = m.Firmware
		}
		r.FirmwareAt = at
	}
	if m.OwnClock && !m.Measured.IsZero() && (m.Status || at > e.newest) && rec >= r.ClockOffsetAt {
		r.ClockOffset, r.ClockOffsetAt = at-rec, rec
	}
	if !m.Status && m.OwnClock {
		e.newest = max(e.newest, at)
	}
	if m.HasOnline {
		ev := LastWill
		if m.Online {
			ev = StatusOnline
		}
		e.event(ev, rec, false)
	}
	if m.Readings > 0 || m.DeadLetters > 0 {
		e.count(floorDiv(rec, msPerHour), int64(m.Readings), int64(m.DeadLetters))
	}
	t.touch(e)
}

// event records a connection event at ms unless a later one is known; of two at the same
// time, the one recorded last wins.
func (e *entry) event(ev Event, ms int64, local bool) {
	if ms >= e.rec.EventAt {
		e.rec.Event, e.rec.EventAt, e.local = ev, ms, local
	}
}

// count adds readings and dead letters received in hour h.
func (e *entry) count(h, readings, letters int64) {
	e.addHour(Hour{Hour: h, Readings: readings, DeadLetters: letters})
	for i := len(e.pend) - 1; i >= 0; i-- {
		if e.pend[i].Hour == h {
			e.pend[i].Readings += readings
			e.pend[i].DeadLetters += letters
			return
		}
	}
	e.pend = append(e.pend, Hour{Hour: h, Readings: readings, DeadLetters: letters})
}

// Connection records a connection event of a device seen by this process's embedded broker.
func (t *Tracker) Connection(device string, ev Event, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.get(device)
	e.event(ev, at.UnixMilli(), true)
	t.touch(e)
}

// BrokerStopped records that this process's embedded broker stopped at at: every device it had
// connected is no longer. It returns how many there were.
func (t *Tracker) BrokerStopped(at time.Time) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, e := range t.devs {
		if e.local && e.rec.Event.Connected() {
			e.event(BrokerStopped, max(at.UnixMilli(), e.rec.EventAt), true)
			t.touch(e)
			n++
		}
	}
	return n
}

// Seen returns what is known of device id at the tracker's now; false if nothing is.
func (t *Tracker) Seen(id string) (Seen, bool) {
	now := HourOf(t.now())
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.devs[id]
	if !ok {
		return Seen{}, false
	}
	return e.seen(now), true
}

// seen converts e at hour now.
func (e *entry) seen(now int64) Seen {
	r := &e.rec
	s := Seen{LastMessage: ms(r.LastMessage), LastTelemetry: ms(r.LastTelemetry), Event: r.Event, EventAt: ms(r.EventAt),
		Battery: r.Battery, BatteryAt: ms(r.BatteryAt), Signal: r.Signal, SignalAt: ms(r.SignalAt),
		Firmware: r.Firmware, FirmwareAt: ms(r.FirmwareAt),
		ClockOffset: time.Duration(r.ClockOffset) * time.Millisecond, ClockOffsetAt: ms(r.ClockOffsetAt)}
	for _, b := range e.hours {
		if h := int64(b.hour); h > now-HoursKept && h <= now {
			s.Readings += int(b.readings)
			s.DeadLetters += int(b.letters)
		}
	}
	return s
}

// ms is the time of Unix milliseconds v, in UTC; zero for 0.
func ms(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// Changes returns the records of the devices changed since the last call, each with the
// counts not yet handed over, and forgets those counts: save them, or give them back with
// Unsaved.
func (t *Tracker) Changes() []Record {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.dirty) == 0 {
		return nil
	}
	n := 0
	for _, e := range t.dirty {
		n += len(e.pend)
	}
	hours := make([]Hour, 0, n)
	out := make([]Record, 0, len(t.dirty))
	for _, e := range t.dirty {
		r := e.rec
		start := len(hours)
		hours = append(hours, e.pend...)
		r.Hours = hours[start:len(hours):len(hours)]
		out = append(out, r)
		e.pend = e.pend[:0]
		e.dirty = false
	}
	clear(t.dirty)
	t.dirty = t.dirty[:0]
	return out
}

// Unsaved gives back records that Changes returned and the store did not take: their counts
// are handed over again next time.
func (t *Tracker) Unsaved(recs []Record) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range recs {
		e := t.get(recs[i].Device)
		for _, h := range recs[i].Hours {
			e.unsaved(h)
		}
		t.touch(e)
	}
}

// unsaved adds h back to the counts not yet handed over, in hour order.
func (e *entry) unsaved(h Hour) { e.pend = AddHour(e.pend, h) }

// AddHour adds h's counts to the entry of its hour in hours, which is in hour order, or puts
// h in its place, and returns hours. It writes only at indexes up to len(hours), so hours may
// be the front of the slice h is read from.
func AddHour(hours []Hour, h Hour) []Hour {
	for i := range hours {
		if hours[i].Hour == h.Hour {
			hours[i].Readings += h.Readings
			hours[i].DeadLetters += h.DeadLetters
			return hours
		}
	}
	hours = append(hours, h)
	for i := len(hours) - 1; i > 0 && hours[i].Hour < hours[i-1].Hour; i-- {
		hours[i], hours[i-1] = hours[i-1], hours[i]
	}
	return hours
}

// Add takes records that another instance saved: each field newer than the tracker's, and
// their hour counts, added to the tracker's. What it takes is not handed back by Changes.
func (t *Tracker) Add(recs []Record) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.add(recs)
}

// Load replaces what the tracker counted with the store's counts, recs (the folded totals and
// the saves not yet folded, this instance's included), to which the counts not yet handed over
// are added; fields are merged as Add does.
func (t *Tracker) Load(recs []Record) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, e := range t.devs {
		e.hours = [HoursKept]bucket{}
		for _, p := range e.pend {
			e.addHour(p)
		}
	}
	t.add(recs)
}

func (t *Tracker) add(recs []Record) {
	for i := range recs {
		o := &recs[i]
		e := t.get(o.Device)
		if o.EventAt > e.rec.EventAt {
			e.local = false
		}
		e.rec.Merge(o)
		for _, h := range o.Hours {
			e.addHour(h)
		}
	}
}

// addHour adds h to the hour's bucket, unless the bucket holds a later hour.
func (e *entry) addHour(h Hour) {
	b := &e.hours[h.Hour%HoursKept]
	switch {
	case int64(b.hour) == h.Hour:
		b.readings += uint32(h.Readings)
		b.letters += uint32(h.DeadLetters)
	case int64(b.hour) < h.Hour:
		*b = bucket{hour: int32(h.Hour), readings: uint32(h.Readings), letters: uint32(h.DeadLetters)}
	}
}

// Len is how many devices the tracker knows.
func (t *Tracker) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.devs)
}
