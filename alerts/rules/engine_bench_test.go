package rules_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/alerts/rules"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/reading"
)

// benchFleet is a simulated community of patients and their devices, with a day of readings
// in measurement order at realistic rates: CGMs and wearables every 5 minutes, cuffs twice a
// day, meters three times, scales and thermometers once.
type benchFleet struct {
	devices  []devices.Device
	patients []devices.Patient
	th       []*rules.Thresholds // per device's patient
	events   []benchEvent
}

type benchEvent struct {
	device int32
	offset int32 // seconds into the day
	typ    uint8
	v1, v2 float32
}

const (
	benchGlucoseCGM = iota
	benchGlucoseMeter
	benchBP
	benchHeartRate
	benchSpO2
	benchWeight
	benchTemperature
)

func newBenchFleet(patients int) *benchFleet {
	rng := rand.New(rand.NewPCG(1, 2))
	rs := rules.DefaultRules()
	lenient, err := rs.Effective(rules.Overrides{alerts.RuleGlucoseHigh: {"above": 15}}, rules.Overrides{alerts.RuleSpO2Low: {"very_low_at_or_below": 88}})
	if err != nil {
		panic(err)
	}
	f := &benchFleet{}
	add := func(p int, kind devices.Kind) int {
		f.devices = append(f.devices, devices.Device{ID: fmt.Sprintf("%s-%05d", kind, p), Kind: kind, SiteID: fmt.Sprintf("centre-%02d", p%40),
			Mode: devices.Home, Status: devices.Active})
		th := rs.Defaults()
		if p%10 == 0 {
			th = lenient
		}
		f.th = append(f.th, th)
		return len(f.devices) - 1
	}
	every := func(d, typ int, interval int32, gen func(t int32) (float32, float32)) {
		start := rng.Int32N(interval)
		for t := start; t < 86400; t += interval {
			v1, v2 := gen(t)
			f.events = append(f.events, benchEvent{device: int32(d), offset: t, typ: uint8(typ), v1: v1, v2: v2})
		}
	}
	for p := 0; p < patients; p++ {
		plans := []string{}
		switch r := p % 20; {
		case r < 4: // CGM users, some with night-time lows
			plans = append(plans, "insulin-treated diabetes: glucose daily")
			dipper := p%40 == 0
			every(add(p, devices.CGM), benchGlucoseCGM, 300, func(t int32) (float32, float32) {
				v := 7 + 2.5*math.Sin(float64(t)/86400*2*math.Pi*3) + rng.NormFloat64()*0.4
				if dipper && t > 7200 && t < 9600 {
					v = 2.6 + rng.Float64()*0.3
				}
				return float32(math.Round(v*100) / 100), 0
			})
		case r < 11: // hypertension
			plans = append(plans, "hypertension: BP daily")
			every(add(p, devices.BPCuff), benchBP, 43200, func(int32) (float32, float32) {
				return float32(125 + rng.IntN(40)), float32(75 + rng.IntN(20))
			})
		case r < 16: // fingerstick glucose
			plans = append(plans, "diabetes: glucose before meals")
			every(add(p, devices.GlucoseMeter), benchGlucoseMeter, 28800, func(int32) (float32, float32) {
				return float32(math.Round((5+rng.Float64()*8)*100) / 100), 0
			})
		case r < 19: // wearables
			w := add(p, devices.Wearable)
			every(w, benchHeartRate, 300, func(int32) (float32, float32) { return float32(62 + rng.IntN(50)), 0 })
			every(w, benchSpO2, 3600, func(int32) (float32, float32) { return float32(92 + rng.IntN(8)), 0 })
		default: // heart failure: weight and temperature
			plans = append(plans, "heart failure: weight daily")
			every(add(p, devices.Scale), benchWeight, 86400, func(int32) (float32, float32) { return float32(60 + rng.IntN(30)), 0 })
			every(add(p, devices.Thermometer), benchTemperature, 43200, func(int32) (float32, float32) {
				return float32(36.2 + float64(rng.IntN(25))/10), 0
			})
		}
		f.patients = append(f.patients, devices.Patient{ID: fmt.Sprintf("P-%05d", p), TeamID: fmt.Sprintf("team-%03d", p%200), Plans: plans})
	}
	slices.SortFunc(f.events, func(a, b benchEvent) int { return int(a.offset - b.offset) })
	return f
}

// patientOf returns the patient of device d: devices were added in patient order, with the
// patient's number in the id.
func (f *benchFleet) patientOf(d int) *devices.Patient {
	var p int
	fmt.Sscanf(f.devices[d].ID[len(f.devices[d].ID)-5:], "%d", &p)
	return &f.patients[p]
}

func BenchmarkEngineReading(b *testing.B) {
	fleet := newBenchFleet(10000)
	owner := make([]*devices.Patient, len(fleet.devices))
	for d := range fleet.devices {
		owner[d] = fleet.patientOf(d)
	}
	sites := make(map[string]devices.Site)
	for _, d := range fleet.devices {
		sites[d.SiteID] = devices.Site{ID: d.SiteID, TimeZone: "Asia/Shanghai"}
	}
	day := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	e := rules.NewEngine(rules.DefaultRules(), func() time.Time { return day })
	buf := make([]reading.Reading, 1)
	in := func(i int) rules.Input {
		ev := fleet.events[i%len(fleet.events)]
		at := day.Add(time.Duration(i/len(fleet.events))*24*time.Hour + time.Duration(ev.offset)*time.Second)
		r := &buf[0]
		*r = reading.Reading{Time: at}
		switch ev.typ {
		case benchGlucoseCGM:
			r.Type, r.Value, r.Source = reading.Glucose, float64(ev.v1), "cgm"
		case benchGlucoseMeter:
			r.Type, r.Value, r.Source, r.Context = reading.Glucose, float64(ev.v1), "fingerstick", "before_meal"
		case benchBP:
			r.Type, r.Systolic, r.Diastolic = reading.BP, float64(ev.v1), float64(ev.v2)
		case benchHeartRate:
			r.Type, r.Value = reading.HeartRate, float64(ev.v1)
		case benchSpO2:
			r.Type, r.Value = reading.SpO2, float64(ev.v1)
		case benchWeight:
			r.Type, r.Value = reading.Weight, float64(ev.v1)
		case benchTemperature:
			r.Type, r.Value = reading.Temperature, float64(ev.v1)
		}
		d := &fleet.devices[ev.device]
		return rules.Input{
			Message:    reading.Message{Device: d.ID, Readings: buf, Battery: 80, HasBattery: true},
			Device:     *d,
			Site:       sites[d.SiteID],
			Patient:    *owner[ev.device],
			Thresholds: fleet.th[ev.device],
			Received:   at.Add(2 * time.Second),
		}
	}
	// Warm the engine with a day, as a service does after a restart.
	for i := range fleet.events {
		e.Warm(in(i))
	}
	findings := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		findings += len(e.Reading(in(len(fleet.events) + i)))
	}
	b.StopTimer()
	b.ReportMetric(float64(findings)/float64(b.N), "findings/op")
}

func BenchmarkEngineTick(b *testing.B) {
	fleet := newBenchFleet(10000)
	day := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	e := rules.NewEngine(rules.DefaultRules(), func() time.Time { return day })
	site := devices.Site{ID: "centre-01", TimeZone: "Asia/Shanghai"}
	for d := range fleet.devices {
		e.Track(fleet.devices[d], site, day)
	}
	for _, p := range fleet.patients {
		e.SetPatient(p, site, nil)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.Tick(day.Add(time.Duration(i) * 10 * time.Second))
	}
}
