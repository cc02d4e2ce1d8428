package fleet

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/usage"
)

// cityDemands is a synthetic city of centres, seeded: each centre has stations and, with
// probability 0.6 each, the seven home kinds, each series 13 to 25 months long up to
// 2026-11-14. Stations: a level of 20 to 80 uses a day, a weekly cycle (quiet weekends), a
// slow trend and noise. Home kinds: for a kind a plan asks for, the centre's patients on the
// plan (20 to 200, changing by -2 to +5 a month, a new patient at a time) times a use a day per
// patient of 0.3 to 0.9, with noise; other home kinds, a noisy level.
func cityDemands(centres int, seed uint64) []Demand {
	r := rand.New(rand.NewPCG(seed, 1))
	last, _ := usage.Day("2026-11-14").Number()
	homes := []devices.Kind{devices.GlucoseMeter, devices.CGM, devices.BPCuff, devices.Oximeter, devices.Wearable, devices.Thermometer, devices.Scale}
	var out []Demand
	for c := range centres {
		site := fmt.Sprintf("site-%04d", c)
		kinds := []devices.Kind{devices.Station}
		for _, k := range homes {
			if r.Float64() < 0.6 {
				kinds = append(kinds, k)
			}
		}
		for _, k := range kinds {
			n := 395 + r.IntN(366) // 13 to 25 months
			d := Demand{Site: site, Kind: k, First: usage.DayNumbered(last - n + 1), Last: usage.DayNumbered(last), Daily: make([]float64, n)}
			mask, cond := kindConditions(k)
			switch {
			case k == devices.Station:
				level, slope := 20+60*r.Float64(), 0.01*r.NormFloat64()
				for t := range n {
					v := level + slope*float64(t) + r.NormFloat64()*math.Sqrt(level)/2
					if t%7 >= 5 {
						v *= 0.4
					}
					d.Daily[t] = math.Max(math.Round(v), 0)
				}
			case mask != 0:
				d.Condition = cond
				d.Patients = make([]float64, n)
				p, rate, drift := 20+float64(r.IntN(181)), 0.3+0.6*r.Float64(), -2+7*r.Float64()
				for t := range n {
					if r.Float64() < math.Abs(drift)/30 {
						p = math.Max(p+math.Copysign(1, drift), 1)
					}
					d.Patients[t] = p
					d.Daily[t] = math.Max(math.Round(rate*p+r.NormFloat64()*math.Sqrt(rate*p)), 0)
				}
			default:
				level := 5 + 20*r.Float64()
				for t := range n {
					d.Daily[t] = math.Max(math.Round(level+r.NormFloat64()*math.Sqrt(level)), 0)
				}
			}
			out = append(out, d)
		}
	}
	return out
}

// BenchmarkForecastCity forecasts a city on request, as the reports do the first time a day:
// every centre's kinds, each fitted from its 13 to 25 months of daily demand (and its patients
// where a plan asks for the kind), three months ahead. The history is in memory (reading it
// from the monthly aggregate, and the patients from the registry's log, is not timed). It reports the time and allocations per city
// (ns/op, B/op, allocs/op) and per series.
func BenchmarkForecastCity(b *testing.B) {
	for _, centres := range []int{50, 1000} {
		b.Run(fmt.Sprintf("centres=%d", centres), func(b *testing.B) {
			hist := cityDemands(centres, 1)
			month := usage.Month{Year: 2026, Month: 12}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			n := 0
			for b.Loop() {
				if fs := forecastDemands(hist, month); len(fs) != len(hist) {
					b.Fatalf("%d forecasts of %d series", len(fs), len(hist))
				}
				n++
			}
			runtime.ReadMemStats(&after)
			series := float64(n * len(hist))
			b.ReportMetric(float64(len(hist)), "series/city")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/series, "ns/series")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/series, "allocs/series")
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/series, "B/series")
		})
	}
}
