package rules_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts/rules"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/reading"
)

// BenchmarkEngineMemory reports the heap an engine holds per patient of a community of 20,000
// (the fleet of BenchmarkEngineReading, about one device each), tracked and then fed a day of
// their readings: what each instance keeps in memory for every patient and device of the
// registry, whichever share of the messages it ingests. Rules that look further back than a day
// (the fever baseline, the home BP average, weight gain) hold somewhat more after longer.
//
//	go test -run '^$' -bench EngineMemory -benchtime 1x ./alerts/rules/
func BenchmarkEngineMemory(b *testing.B) {
	const n = 20000
	fleet := newBenchFleet(n)
	day := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	site := devices.Site{ID: "centre-01", TimeZone: "Asia/Shanghai"}
	buf := make([]reading.Reading, 1)
	for range b.N {
		before := heapInUse()
		e := rules.NewEngine(rules.DefaultRules(), func() time.Time { return day })
		for d := range fleet.devices {
			e.Track(fleet.devices[d], site, day)
		}
		for _, p := range fleet.patients {
			e.SetPatient(p, site, nil)
		}
		tracked := heapInUse()
		for _, ev := range fleet.events {
			at := day.Add(time.Duration(ev.offset) * time.Second)
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
			e.Warm(rules.Input{Message: reading.Message{Device: d.ID, Readings: buf}, Device: *d, Site: site,
				Patient: *fleet.patientOf(int(ev.device)), Thresholds: fleet.th[ev.device], Received: at})
		}
		fed := heapInUse()
		runtime.KeepAlive(e)
		b.ReportMetric(float64(tracked-before)/n, "tracked_B/patient")
		b.ReportMetric(float64(fed-before)/n, "B/patient")
	}
}

// heapInUse is the live heap after a collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
