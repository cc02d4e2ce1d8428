package reallocation

import (
	"math"
	"testing"

	"github.com/vitalwatch/vitalwatch/devices"
)

func TestAlternatives(t *testing.T) {
	centres := []Centre{onEquator("F", 0), onEquator("near", 1), onEquator("mid", -2), onEquator("far", 5), onEquator("full", 0.5), onEquator("none", 0.2), onEquator("tie", 2)}
	cuff := func(site string, n int, rated, demand float64) Stock {
		return Stock{Site: site, Type: devices.BPCuff, Devices: n, Rated: rated, Demand: demand}
	}
	capacity := []Stock{
		cuff("F", 3, 10, 5),     // the faulty centre itself: never listed
		cuff("far", 2, 10, 0),   // 20 uses a day free
		cuff("mid", 1, 10, 9.5), // 0.5 free
		cuff("near", 4, 10, 30), // 10 free
		cuff("full", 2, 10, 20), // exactly full: no spare capacity
		cuff("none", 0, 10, 0),  // no working device
		cuff("tie", 1, 10, 1),   // 2 degrees away, like mid: sorted by id after it
		{Site: "near", Type: devices.Oximeter, Devices: 5, Rated: 10}, // another type
	}
	got, err := Alternatives("F", devices.BPCuff, centres, capacity)
	if err != nil {
		t.Fatal(err)
	}
	want := []Alternative{
		{Site: "near", DistanceKm: degKm, Devices: 4, SpareUsesPerDay: 10},
		{Site: "mid", DistanceKm: 2 * degKm, Devices: 1, SpareUsesPerDay: 0.5},
		{Site: "tie", DistanceKm: 2 * degKm, Devices: 1, SpareUsesPerDay: 9},
		{Site: "far", DistanceKm: 5 * degKm, Devices: 2, SpareUsesPerDay: 20},
	}
	if len(got) != len(want) {
		t.Fatalf("Alternatives = %+v; want %+v", got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Site != w.Site || g.Devices != w.Devices || math.Abs(g.DistanceKm-w.DistanceKm) > 1e-6 || math.Abs(g.SpareUsesPerDay-w.SpareUsesPerDay) > 1e-9 {
			t.Errorf("Alternatives[%d] = %+v; want %+v", i, g, w)
		}
	}

	if got, err := Alternatives("F", devices.Scale, centres, capacity); err != nil || len(got) != 0 {
		t.Errorf("Alternatives(no centre has the type) = %v, %v; want none", got, err)
	}
	if _, err := Alternatives("nowhere", devices.BPCuff, centres, capacity); err == nil {
		t.Errorf("Alternatives(unknown centre) = nil error; want one")
	}
}
