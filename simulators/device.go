package simulators

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/vitalwatch/vitalwatch/reading"
)

// Device is one simulated device. Its methods advance its state (sequence number, battery,
// sensor drift) and are not safe for concurrent use: give each device one owner goroutine.
type Device struct {
	ID        string
	Kind      Kind
	Patient   string   // the patient a home device is assigned to; empty for a station
	Residents []string // the residents who use a station; empty for a home device
	Firmware  string

	seed  int64
	index int
	zone  *time.Location
	rng   *rand.Rand // telemetry values
	srng  *rand.Rand // status values, so that status calls do not change telemetry

	seq        int64
	last       time.Time // last telemetry ts, to keep them strictly increasing
	battery    float64   // percent; < 0 for mains-powered devices
	drain      float64   // percent per message
	signal     float64   // mean signal strength, dBm
	timeFormat TimeFormat
	utc        bool // writes RFC 3339 times in UTC rather than local time

	// Units the device displays in.
	glucoseUnit, tempUnit, weightUnit string

	person    *person   // home device
	residents []*person // station
	mealShift float64   // hours the person's meals move from the usual times
	cgmNoise  float64   // AR(1) sensor noise, mmol/L
	drift     float64   // scale: weight drift, kg

	schedule schedule
	events   []Event

	site int // index of the centre the device belongs to (Fleet.place)
	// share, when above 0, is the share of days a home device is used (a Scenario's load):
	// on such a day it measures at least once, on the others not at all. 0 is every day, on
	// the natural schedule alone.
	share float64
	// span is the time a wearable's message covers (its steps), when longer than its
	// 5-minute interval: a history sends continuous sensors less often (HistoryStep).
	span time.Duration
	// profile is how the patient uses the device in a history (ProfileFor); bpLift raises a
	// cuff's readings by that much, systolic and diastolic, while a backlog sets it.
	profile Profile
	bpLift  [2]float64
	// visitors, while a backlog sets it, are the residents a station sees instead of its own:
	// those of another station of its centre, under repair.
	visitors []*person
}

// Event changes what a device sends in its next telemetry message: scripted clinical events,
// device faults and bad payloads are built from these. The zero fields leave the generated
// message as it is.
type Event struct {
	// Readings replace the generated readings.
	Readings []Reading
	// Flags replace the generated flags; an empty non-nil slice removes them.
	Flags []string
	// Patient replaces the payload's patient (a station's resident).
	Patient string
	// Skew moves the message's ts from the measurement time: a device clock that drifts.
	Skew time.Duration
	// Payload, when non-nil, is sent as is instead of a generated message; the sequence number
	// and battery do not advance. WantReason is the rejection it must get, or "" if none.
	Payload    []byte
	WantReason reading.Reason
}

// Inject queues e for the device's next telemetry message; events are used one per message in
// the order injected.
func (d *Device) Inject(e Event) { d.events = append(d.events, e) }

// Pending is the number of injected events not yet used.
func (d *Device) Pending() int { return len(d.events) }

func newDevice(id string, k Kind, index int, seed int64, zone *time.Location, r *rand.Rand) *Device {
	d := &Device{
		ID:          id,
		Kind:        k,
		Firmware:    fmt.Sprintf("%d.%d.%d", 1+r.IntN(4), r.IntN(10), r.IntN(20)),
		seed:        seed,
		index:       index,
		zone:        zone,
		rng:         rand.New(rand.NewPCG(uint64(seed), streamSeed(index, 1))),
		srng:        rand.New(rand.NewPCG(uint64(seed), streamSeed(index, 2))),
		seq:         1 + r.Int64N(5000),
		battery:     uniform(r, 35, 100),
		signal:      uniform(r, -90, -50),
		glucoseUnit: unitMmolL,
		tempUnit:    unitCel,
		weightUnit:  unitKg,
		mealShift:   uniform(r, -0.5, 0.5),
	}
	if r.Float64() < 0.4 {
		d.timeFormat = UnixMilli
	} else {
		d.utc = r.Float64() < 0.2
	}
	switch k {
	case GlucoseMeter:
		d.drain = 0.15
		if r.Float64() < 0.3 {
			d.glucoseUnit = unitMgdL
		}
	case CGM:
		d.drain = 0.01
		if r.Float64() < 0.6 {
			d.glucoseUnit = unitMgdL
		}
	case BPCuff:
		d.drain = 0.2
	case Oximeter:
		d.drain = 0.1
	case Wearable:
		d.drain = 0.01
	case Station:
		d.battery = -1 // mains powered
	case Thermometer:
		d.drain = 0.05
		if r.Float64() < 0.3 {
			d.tempUnit = unitDegF
		}
	case Scale:
		d.drain = 0.05
		if r.Float64() < 0.25 {
			d.weightUnit = unitLb
		}
	}
	d.schedule = newSchedule(k, r)
	return d
}

// streamSeed gives each device and purpose its own random stream.
func streamSeed(index, purpose int) uint64 {
	return splitmix64(uint64(index)<<8 | uint64(purpose))
}

// Message generates the device's next telemetry message measured at at, using the next
// injected event if there is one. Message times are kept strictly increasing per device at
// millisecond resolution, so that two messages never write the same point.
func (d *Device) Message(at time.Time) Message {
	var e Event
	if len(d.events) > 0 {
		e = d.events[0]
		d.events[0] = Event{}
		d.events = d.events[1:]
		if e.Payload != nil {
			return Message{Time: at, Raw: e.Payload, WantReason: e.WantReason}
		}
	}
	at = at.Truncate(time.Millisecond)
	if !at.After(d.last) {
		at = d.last.Add(time.Millisecond)
	}
	d.last = at

	m := Message{Time: at, TimeFormat: d.timeFormat, Seq: d.seq}
	if d.timeFormat == RFC3339 {
		if d.utc {
			m.Time = at.UTC()
		} else {
			m.Time = at.In(d.zone)
		}
	}
	d.seq++
	d.readings(&m, at)
	if d.battery >= 0 {
		d.battery -= d.drain
		if d.battery < 3 {
			d.battery = 100 // new batteries, or charged overnight
		}
		m.Battery, m.HasBattery = math.Round(d.battery), true
	}
	if e.Readings != nil {
		m.Readings = e.Readings
	}
	if e.Flags != nil {
		m.Flags = e.Flags
	}
	if e.Patient != "" {
		m.Patient = e.Patient
	}
	m.Time = m.Time.Add(e.Skew)
	return m
}

// Telemetry returns the payload of the device's next telemetry message measured at at.
func (d *Device) Telemetry(at time.Time) []byte {
	m := d.Message(at)
	return m.JSON()
}

// readings fills m with what the device measures at at.
func (d *Device) readings(m *Message, at time.Time) {
	r := d.rng
	h := hourOf(at, d.zone)
	switch d.Kind {
	case GlucoseMeter:
		ctx := glucoseContext(h)
		m.Readings = []Reading{d.glucose(d.person.fingerstick(ctx, r), ctx, "fingerstick")}
		m.Flags = d.flag(0.02, "strip_error", "sample_too_small")
	case CGM:
		d.cgmNoise = 0.92*d.cgmNoise + r.NormFloat64()*0.12
		g := d.person.interstitial(h, d.mealShift)
		if d.profile == ProfileFullCGM {
			g = d.wearerGlucose(at, h)
		}
		v := clamp(g+d.cgmNoise, 2.2, 25)
		m.Readings = []Reading{d.glucose(v, "", "cgm")}
		m.Flags = d.flag(0.005, "sensor_malfunction")
	case BPCuff:
		sys, dia := d.person.bloodPressure(h, r)
		sys, dia = sys+d.bpLift[0], dia+d.bpLift[1]
		m.Readings = []Reading{bp(sys, dia, d.person.pulse(r), d.position())}
		m.Flags = d.flag(0.03, "cuff_loose", "body_movement")
	case Oximeter:
		m.Readings = []Reading{
			{Type: reading.SpO2, Value: d.person.oxygen(r), Unit: unitPercent},
			{Type: reading.HeartRate, Value: d.person.pulse(r), Unit: unitPerMin},
		}
		m.Flags = d.flag(0.02, "low_perfusion", "sensor_displaced")
	case Wearable:
		m.Readings = d.wearable(h, max(d.span, 5*time.Minute))
	case Station:
		d.station(m, h)
	case Thermometer:
		c := d.person.bodyTemp(h, r)
		rd := Reading{Type: reading.Temperature, Value: round(c, 1), Unit: d.tempUnit}
		if d.tempUnit == unitDegF {
			rd.Value = round(celToF(c), 1)
		}
		m.Readings = []Reading{rd}
	case Scale:
		d.drift = clamp(d.drift+r.NormFloat64()*0.05, -3, 3)
		kg := clamp(d.person.weight+d.drift+r.NormFloat64()*0.2, 3, 380)
		m.Readings = []Reading{d.weight(kg)}
	}
}

func (d *Device) glucose(mmol float64, context, source string) Reading {
	rd := Reading{Type: reading.Glucose, Value: round(mmol, 1), Unit: d.glucoseUnit, Context: context, Source: source}
	if d.glucoseUnit == unitMgdL {
		rd.Value = math.Round(mmol * mgdLPerMmolL)
	}
	return rd
}

func (d *Device) weight(kg float64) Reading {
	if d.weightUnit == unitLb {
		return Reading{Type: reading.Weight, Value: round(kg/kgPerLb, 1), Unit: unitLb}
	}
	return Reading{Type: reading.Weight, Value: round(kg, 1), Unit: unitKg}
}

func bp(sys, dia, pulse float64, position string) Reading {
	return Reading{Type: reading.BP, Systolic: sys, Diastolic: dia, Pulse: pulse, Unit: unitMmHg, Position: position}
}

// position is where the patient was: mostly sitting, as the guidelines ask; now and then
// standing, for an orthostatic check.
func (d *Device) position() string {
	if d.rng.Float64() < 0.05 {
		return "standing"
	}
	return "sitting"
}

// flag returns one of flags with probability p, else nil.
func (d *Device) flag(p float64, flags ...string) []string {
	if d.rng.Float64() >= p {
		return nil
	}
	return []string{flags[d.rng.IntN(len(flags))]}
}

// wearable is a band's message: heart rate lower asleep and higher when active, the steps since
// its last message (span ago: 5 minutes on its own schedule), SpO2 in one message in ten, and
// a rare fall.
func (d *Device) wearable(h float64, span time.Duration) []Reading {
	r, p := d.rng, d.person
	asleep := h >= 23 || h < 6
	hr, steps := p.hr+r.NormFloat64()*3, 0.0
	switch {
	case asleep:
		hr -= 8
		steps = float64(r.IntN(3)) * float64(r.IntN(10))
	case r.Float64() < 0.2:
		hr += uniform(r, 15, 45)
		steps = uniform(r, 200, 900)
	default:
		steps = uniform(r, 0, 150)
	}
	steps *= float64(span) / float64(5*time.Minute)
	out := []Reading{
		{Type: reading.HeartRate, Value: math.Round(clamp(hr, 38, 190)), Unit: unitPerMin},
		{Type: reading.Steps, Value: math.Round(steps), Unit: unitCount},
	}
	if r.IntN(10) == 0 {
		out = append(out, Reading{Type: reading.SpO2, Value: p.oxygen(r), Unit: unitPercent})
	}
	if r.Float64() < 1.0/3000 {
		out = append(out, Reading{
			Type: reading.Fall, HasLocation: true,
			Lat: round(p.home[0]+r.NormFloat64()*0.002, 5),
			Lon: round(p.home[1]+r.NormFloat64()*0.002, 5),
		})
	}
	return out
}

// station is one resident's visit to a shared station: blood pressure always (a little higher
// than at home, the white-coat effect), weight and a fingerstick glucose often.
func (d *Device) station(m *Message, h float64) {
	r := d.rng
	residents := d.residents
	if d.visitors != nil {
		residents = d.visitors
	}
	p := residents[r.IntN(len(residents))]
	m.Patient = p.id
	sys, dia := p.bloodPressure(h, r)
	sys, dia = min(sys+3, 250), min(dia+2, sys+3-15)
	m.Readings = append(m.Readings, bp(sys, dia, p.pulse(r), "sitting"))
	if r.Float64() < 0.7 {
		m.Readings = append(m.Readings, d.weight(clamp(p.weight+r.NormFloat64()*0.4, 3, 380)))
	}
	if r.Float64() < 0.5 {
		ctx := "random"
		if h < 10 {
			ctx = "fasting"
		}
		m.Readings = append(m.Readings, d.glucose(p.fingerstick(ctx, r), ctx, "fingerstick"))
	}
	m.Flags = d.flag(0.02, "cuff_loose", "body_movement")
}

// Status returns the payload of a status message at at: battery, signal strength (dBm),
// firmware, online, and battery_low when the battery is at or below 20%.
func (d *Device) Status(at time.Time) []byte {
	b := make([]byte, 0, 128)
	b = append(b, '{')
	if d.timeFormat != NoTime {
		t := at.Truncate(time.Millisecond)
		if d.timeFormat == RFC3339 && d.utc {
			t = t.UTC()
		} else {
			t = t.In(d.zone)
		}
		b = append(b, `"ts":`...)
		b = appendTime(b, t, d.timeFormat)
		b = append(b, ',')
	}
	if d.battery >= 0 {
		b = append(b, `"battery":`...)
		b = strconv.AppendInt(b, int64(math.Round(d.battery)), 10)
		b = append(b, ',')
	}
	signal := math.Round(clamp(d.signal+d.srng.NormFloat64()*4, -110, -30))
	b = append(b, `"signal":`...)
	b = strconv.AppendInt(b, int64(signal), 10)
	b = append(b, `,"firmware":`...)
	b = appendString(b, d.Firmware)
	b = append(b, `,"online":true`...)
	if d.battery >= 0 && d.battery <= 20 {
		b = append(b, `,"flags":["battery_low"]`...)
	}
	return append(b, '}')
}

// OfflineStatus is the status a device's connection leaves as its MQTT last will.
func OfflineStatus() []byte { return []byte(`{"online":false}`) }
