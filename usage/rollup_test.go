package usage

import (
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/vitalwatch/vitalwatch/devices"
)

// rollupFigures are device figures of two months at three sites in two districts: device m
// moved from s1 to s2 in March; the home cgm at s3 was never lent.
func rollupFigures() []Figure {
	mar, apr := month("2026-03"), month("2026-04")
	st, home := devices.StationMode, devices.Home
	fig := func(m Month, district, site, dev string, kind devices.Kind, mode devices.Mode, days, svc int, used, capacity, unc float64) Figure {
		f := Figure{Month: m, District: district, Site: site, Device: dev, Kind: kind, Mode: mode, Devices: 1,
			DaysInService: days, ServiceDays: svc, Used: used, Capacity: capacity, Uncounted: unc}
		if capacity > 0 {
			f.Utilisation = used / capacity
		}
		return f
	}
	return []Figure{
		fig(mar, "d1", "s1", "a", devices.BPCuff, st, 31, 31, 50, 100, 0),
		fig(mar, "d1", "s1", "b", devices.BPCuff, st, 31, 31, 30, 100, 1),
		fig(mar, "d1", "s1", "h", devices.BPCuff, home, 20, 31, 12, 20, 0),
		fig(mar, "d1", "s1", "m", devices.BPCuff, st, 10, 10, 5, 50, 0),
		fig(mar, "d1", "s2", "m", devices.BPCuff, st, 20, 20, 20, 50, 0),
		fig(mar, "d1", "s2", "o", devices.Oximeter, st, 31, 31, 10, 40, 0),
		fig(mar, "d2", "s3", "c", devices.CGM, home, 0, 31, 0, 0, 2),
		fig(apr, "d1", "s1", "a", devices.BPCuff, st, 30, 30, 60, 100, 0),
	}
}

func TestRollup(t *testing.T) {
	tests := []struct {
		by   By
		want []string
	}{
		{ByDevice, figureLines(rollupFigures())},
		{ByType, []string{
			"2026-03 d1/s1/ bp_cuff  n=4 days=92 svc=103 used=97 cap=270 unc=1 util=0.359259",
			"2026-03 d1/s2/ bp_cuff  n=1 days=20 svc=20 used=20 cap=50 unc=0 util=0.400000",
			"2026-03 d1/s2/ oximeter  n=1 days=31 svc=31 used=10 cap=40 unc=0 util=0.250000",
			"2026-03 d2/s3/ cgm  n=1 days=0 svc=31 used=0 cap=0 unc=2 util=0.000000",
			"2026-04 d1/s1/ bp_cuff  n=1 days=30 svc=30 used=60 cap=100 unc=0 util=0.600000",
		}},
		{BySite, []string{
			"2026-03 d1/s1/   n=4 days=92 svc=103 used=97 cap=270 unc=1 util=0.359259",
			"2026-03 d1/s2/   n=2 days=51 svc=51 used=30 cap=90 unc=0 util=0.333333",
			"2026-03 d2/s3/   n=1 days=0 svc=31 used=0 cap=0 unc=2 util=0.000000",
			"2026-04 d1/s1/   n=1 days=30 svc=30 used=60 cap=100 unc=0 util=0.600000",
		}},
		{ByDistrict, []string{
			// m counts once although it was at s1 and s2.
			"2026-03 d1// bp_cuff  n=4 days=112 svc=123 used=117 cap=320 unc=1 util=0.365625",
			"2026-03 d1// oximeter  n=1 days=31 svc=31 used=10 cap=40 unc=0 util=0.250000",
			"2026-03 d2// cgm  n=1 days=0 svc=31 used=0 cap=0 unc=2 util=0.000000",
			"2026-04 d1// bp_cuff  n=1 days=30 svc=30 used=60 cap=100 unc=0 util=0.600000",
		}},
	}
	for _, tt := range tests {
		if got := figureLines(Rollup(rollupFigures(), tt.by)); !slices.Equal(got, tt.want) {
			t.Errorf("Rollup(%v) =\n  %s\nwant\n  %s", tt.by, strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
		}
		shuffled := rollupFigures()
		rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		if tt.by == ByDevice {
			continue
		}
		if got := figureLines(Rollup(shuffled, tt.by)); !slices.Equal(got, tt.want) {
			t.Errorf("Rollup(shuffled, %v) =\n  %s\nwant\n  %s", tt.by, strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
		}
	}
}

func TestRollupOfRolledUpFigures(t *testing.T) {
	typed := Rollup(rollupFigures(), ByType)
	if got, want := figureLines(Rollup(typed, ByType)), figureLines(typed); !slices.Equal(got, want) {
		t.Errorf("Rollup(Rollup(figs, ByType), ByType) =\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func TestRollupCountsADeviceOncePerDistrict(t *testing.T) {
	// z was at s1 and s4 (district d1) and s3 (district d2) in one month.
	m := month("2026-03")
	figs := []Figure{
		{Month: m, District: "d1", Site: "s1", Device: "z", Kind: devices.Scale, Devices: 1},
		{Month: m, District: "d2", Site: "s3", Device: "z", Kind: devices.Scale, Devices: 1},
		{Month: m, District: "d2", Site: "s3b", Device: "z", Kind: devices.Scale, Devices: 1},
		{Month: m, District: "d1", Site: "s4", Device: "z", Kind: devices.Scale, Devices: 1},
	}
	got := Rollup(figs, ByDistrict)
	if len(got) != 2 || got[0].District != "d1" || got[0].Devices != 1 || got[1].District != "d2" || got[1].Devices != 1 {
		t.Errorf("Rollup(ByDistrict) = %v; want d1 and d2 with 1 device each", figureLines(got))
	}
}

func TestParseBy(t *testing.T) {
	for _, b := range []By{ByDevice, ByType, BySite, ByDistrict} {
		if got, err := ParseBy(b.String()); err != nil || got != b {
			t.Errorf("ParseBy(%q) = %v, %v; want %v", b.String(), got, err, b)
		}
	}
	_, err := ParseBy("kind")
	if err == nil || !strings.Contains(err.Error(), "device, type, site, district") {
		t.Errorf(`ParseBy("kind") error = %v; want one listing device, type, site, district`, err)
	}
}

// BenchmarkRollup rolls a city's year up.
func BenchmarkRollup(b *testing.B) {
	in, from, to := cityYear()
	figs := Compute(in, from, to)
	in = Input{}
	runtime.GC()
	for _, by := range []By{ByType, BySite, ByDistrict} {
		b.Run(by.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Rollup(figs, by)
			}
		})
	}
}

// TestComputationRollup checks that a computation summed a month at a time, on one goroutine
// or several, gives what its figures summed by Rollup give, for every roll-up, of every site or
// some, and that the figures of some sites are those of every site left at those sites:
// including a device at two centres of different districts in a month (moved), and at two
// of one district (counts at a centre where it never was).
func TestComputationRollup(t *testing.T) {
	in, from, to := city(40, 10)
	in.Counts = append(in.Counts,
		DayCount{Device: "dev000003", Site: "c0020", Day: "2025-05-05", Uses: 2}, // c0000 and c0020: district d00
		DayCount{Device: "dev000004", Site: "nowhere", Day: "2025-05-05", Uses: 2})
	some := func(site string) bool { return site != "c0001" && site != "c0020" }
	for _, par := range []parallelism{{workers: 1}, {workers: 4, counts: 1000, figures: 100}} {
		x := NewComputation(in, from, to)
		x.c.par = par
		all := x.Figures()
		if got, want := figureLines(x.FiguresOf(some)), figureLines(slices.DeleteFunc(slices.Clone(all), func(f Figure) bool { return !some(f.Site) })); !slices.Equal(got, want) || len(want) == 0 {
			t.Errorf("%d workers: FiguresOf some sites differs from their Figures at %s", par.workers, firstDiff(got, want))
		}
		for _, by := range []By{ByType, BySite, ByDistrict} {
			for _, keep := range []func(string) bool{nil, some} {
				kept := slices.DeleteFunc(slices.Clone(all), func(f Figure) bool { return keep != nil && !keep(f.Site) })
				want := figureLines(Rollup(kept, by))
				got := figureLines(x.Rollup(by, keep))
				if !slices.Equal(got, want) {
					t.Errorf("%d workers, by %s, some sites %t: Rollup differs at %s", par.workers, by, keep != nil, firstDiff(got, want))
				}
			}
		}
	}
	x := NewComputation(in, from, to)
	may := month("2025-05")
	scales := map[string]bool{}
	for _, f := range x.Figures() {
		if f.Month == may && f.District == "d00" && f.Kind == devices.Scale {
			scales[f.Device] = true
		}
	}
	if !scales["dev000003"] || len(scales) < 2 {
		t.Fatalf("May's scales in d00 are %v; want dev000003 and others", scales)
	}
	found := false
	for _, f := range x.Rollup(ByDistrict, nil) {
		if f.Month == may && f.District == "d00" && f.Kind == devices.Scale {
			found = true
			if f.Devices != len(scales) {
				t.Errorf("May's scales in d00: %d devices; want %d (dev000003 at two of its centres counted once)", f.Devices, len(scales))
			}
		}
	}
	if !found {
		t.Errorf("no figure for May's scales in d00")
	}
}

// BenchmarkComputationRollup sums a city's year from the store's monthly aggregate by district,
// as GET /utilisation?by=district does: ComputationRollup a month at a time, Each through one
// Roller as before it.
func BenchmarkComputationRollup(b *testing.B) {
	in, from, to := cityYear()
	in.Months = monthsOf(in.Counts, from, to)
	in.Counts = nil
	x := NewComputation(in, from, to)
	in = Input{}
	runtime.GC()
	b.Run("months", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			x.Rollup(ByDistrict, nil)
		}
	})
	b.Run("each", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r := NewRoller(ByDistrict)
			x.Each(r.Add)
			r.Figures()
		}
	})
}
