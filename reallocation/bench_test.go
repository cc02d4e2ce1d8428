package reallocation

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkPlan plans a province: 1,000 centres, 5 device types, 20 devices of each type per
// centre on average (100,000 devices); per type about 30% of centres are idle (spare) and 20%
// overloaded (short).
func BenchmarkPlan(b *testing.B) {
	f := randomFleet(rand.New(rand.NewPCG(42, 42)), 1000, 20, DefaultThresholds())
	supply, shortage := 0, 0
	for _, d := range f.donors {
		supply += d.Spare
	}
	for _, r := range f.receivers {
		shortage += r.Missing
	}
	b.Logf("%d centres, %d devices, %d donors (%d spare), %d receivers (%d missing)", len(f.centres), f.devices, len(f.donors), supply, len(f.receivers), shortage)
	b.ReportAllocs()
	var p Proposal
	for b.Loop() {
		var err error
		if p, err = Plan(f.centres, f.donors, f.receivers); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(p.Moved), "moved")
	b.ReportMetric(float64(len(p.Moves)), "moves")
}
