package fleet

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/reallocation"
	"github.com/vitalwatch/vitalwatch/usage"
)

func usageLines(us []reallocation.Usage) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = fmt.Sprintf("%s %s devices=%d rated=%g demand=%g history=%v", u.Site, u.Type, u.Devices, u.Rated, u.Demand, u.History)
	}
	return out
}

// stockFigures are device figures around January-March 2026:
//   - s1 bp_cuff (station): December 70%, January 50%, February 40%, March 30% (two devices);
//     April, after the months asked, 99%.
//   - s1 cgm (home): nothing in January; in February in service but never lent (no capacity);
//     March 5 days with a reading of 10 lent.
//   - s3 thermometer (station): January 50%; February under repair all month, with 3 uses
//     recorded; nothing in March.
func stockFigures() []usage.Figure {
	st, home := devices.StationMode, devices.Home
	fig := func(m, site, dev string, kind devices.Kind, mode devices.Mode, days, svc int, used, capacity, unc float64) usage.Figure {
		f := usage.Figure{Month: month(m), District: "d1", Site: site, Device: dev, Kind: kind, Mode: mode, Devices: 1,
			DaysInService: days, ServiceDays: svc, Used: used, Capacity: capacity, Uncounted: unc}
		if capacity > 0 {
			f.Utilisation = used / capacity
		}
		return f
	}
	return []usage.Figure{
		fig("2025-12", "s1", "a", devices.BPCuff, st, 31, 31, 217, 310, 0),
		fig("2026-01", "s1", "a", devices.BPCuff, st, 31, 31, 155, 310, 0),
		fig("2026-02", "s1", "a", devices.BPCuff, st, 28, 28, 112, 280, 0),
		fig("2026-03", "s1", "a", devices.BPCuff, st, 31, 31, 93, 310, 0),
		fig("2026-03", "s1", "b", devices.BPCuff, st, 31, 31, 186, 620, 0),
		fig("2026-04", "s1", "a", devices.BPCuff, st, 30, 30, 297, 300, 0),
		fig("2026-02", "s1", "h1", devices.CGM, home, 0, 28, 0, 0, 0),
		fig("2026-03", "s1", "h1", devices.CGM, home, 10, 31, 5, 10, 0),
		fig("2026-01", "s3", "t1", devices.Thermometer, st, 31, 31, 124, 248, 0),
		fig("2026-02", "s3", "t1", devices.Thermometer, st, 0, 0, 0, 0, 3),
	}
}

func month(s string) usage.Month {
	m, err := usage.ParseMonth(s)
	if err != nil {
		panic(err)
	}
	return m
}

func stockDevices() []devices.Device {
	dev := func(id, site string, kind devices.Kind, mode devices.Mode, status devices.Status, rated int) devices.Device {
		return devices.Device{ID: id, SiteID: site, Kind: kind, Mode: mode, Status: status, RatedUsesPerDay: rated}
	}
	st, home := devices.StationMode, devices.Home
	return []devices.Device{
		dev("a", "s1", devices.BPCuff, st, devices.Active, 10),
		dev("b", "s1", devices.BPCuff, st, devices.Active, 20),
		dev("c", "s1", devices.BPCuff, st, devices.Maintenance, 40),
		dev("r", "s1", devices.BPCuff, st, devices.Retired, 50),
		dev("h1", "s1", devices.CGM, home, devices.Active, 0),
		dev("h2", "s1", devices.CGM, home, devices.Active, 0),
		dev("h3", "s1", devices.CGM, home, devices.Active, 0),
		dev("o1", "s2", devices.Oximeter, st, devices.Active, 12),
		dev("t1", "s3", devices.Thermometer, st, devices.Maintenance, 8),
		dev("x1", "s4", devices.Scale, st, devices.InTransit, 8), // away, and no figures: no Usage
	}
}

func TestStocks(t *testing.T) {
	tests := []struct {
		name   string
		last   string
		months int
		want   []string
	}{
		{
			name: "three months", last: "2026-03", months: 3,
			want: []string{
				// (93 + 186) / 31 = 9 uses a day; mean rating of a (10) and b (20).
				"s1 bp_cuff devices=2 rated=15 demand=9 history=[0.5 0.4 0.3]",
				// January has no figure: the history starts in February, idle (0).
				// March: 5 device-days used of the pool's 31 in service (the per-device 50% is of
				// the 10 days lent).
				fmt.Sprintf("s1 cgm devices=3 rated=1 demand=%g history=[0 %g]", 5.0/31, 5.0/31),
				"s2 oximeter devices=1 rated=12 demand=0 history=[]",
				// February under repair all month: the history restarts, and March has nothing.
				"s3 thermometer devices=0 rated=8 demand=0 history=[]",
			},
		},
		{
			name: "one month", last: "2026-03", months: 1,
			want: []string{
				"s1 bp_cuff devices=2 rated=15 demand=9 history=[0.3]",
				fmt.Sprintf("s1 cgm devices=3 rated=1 demand=%g history=[%g]", 5.0/31, 5.0/31),
				"s2 oximeter devices=1 rated=12 demand=0 history=[]",
			},
		},
		{
			name: "six months, more than there is: a shorter history", last: "2026-03", months: 6,
			want: []string{
				"s1 bp_cuff devices=2 rated=15 demand=9 history=[0.7 0.5 0.4 0.3]",
				// March: 5 device-days used of the pool's 31 in service (the per-device 50% is of
				// the 10 days lent).
				fmt.Sprintf("s1 cgm devices=3 rated=1 demand=%g history=[0 %g]", 5.0/31, 5.0/31),
				"s2 oximeter devices=1 rated=12 demand=0 history=[]",
				"s3 thermometer devices=0 rated=8 demand=0 history=[]",
			},
		},
		{
			name: "ending with February", last: "2026-02", months: 2,
			want: []string{
				"s1 bp_cuff devices=2 rated=15 demand=4 history=[0.5 0.4]",
				"s1 cgm devices=3 rated=1 demand=0 history=[0]",
				"s2 oximeter devices=1 rated=12 demand=0 history=[]",
				"s3 thermometer devices=0 rated=8 demand=0 history=[]",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := usageLines(stocksOf(stockFigures(), stockDevices(), month(tt.last), tt.months))
			if !slices.Equal(got, tt.want) {
				t.Errorf("stocksOf(last %s, %d months) =\n  %s\nwant\n  %s", tt.last, tt.months, strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
		})
	}
}

// TestStocksAssessedAtTheThresholds feeds stocksOf to reallocation.Assess: ten station cuffs
// rated 10 uses a day at one centre, January to March 2026, at the default thresholds (spare
// below 60% for 3 months, short above 90%, target 75%).
func TestStocksAssessedAtTheThresholds(t *testing.T) {
	current := make([]devices.Device, 10)
	for i := range current {
		current[i] = devices.Device{ID: fmt.Sprintf("cuff%d", i), SiteID: "c1", Kind: devices.BPCuff, Mode: devices.StationMode,
			Status: devices.Active, RatedUsesPerDay: 10}
	}
	// figures spreads utilisation u of the month's capacity (100 uses a day) over the devices.
	figures := func(months []string, us []float64) []usage.Figure {
		var figs []usage.Figure
		for i, ms := range months {
			m := month(ms)
			total := int(math.Round(us[i] * 100 * float64(m.Days())))
			for j, d := range current {
				used := total / len(current)
				if j == 0 {
					used += total % len(current)
				}
				figs = append(figs, usage.Figure{Month: m, Site: "c1", Device: d.ID, Kind: d.Kind, Mode: d.Mode, Devices: 1,
					DaysInService: m.Days(), ServiceDays: m.Days(), Used: float64(used), Capacity: float64(10 * m.Days())})
			}
		}
		return figs
	}
	q1 := []string{"2026-01", "2026-02", "2026-03"}
	tests := []struct {
		name   string
		months []string
		util   []float64
		want   reallocation.Status
		count  int
	}{
		// 1860 uses in March: 60/day need ceil(60/7.5) = 8 devices, but 60% is not below 60%.
		{"exactly 60% for 3 months is not spare", q1, []float64{0.6, 0.6, 0.6}, reallocation.Balanced, 0},
		// 1829 uses in March: 59/day need ceil(59/7.5) = 8: 2 spare.
		{"59% for 3 months is spare", q1, []float64{0.59, 0.59, 0.59}, reallocation.Spare, 2},
		{"59% for only 2 months of history is not spare", q1[1:], []float64{0.59, 0.59}, reallocation.Balanced, 0},
		// 2790 uses in March: 90/day would need 12, but 90% is not above 90%.
		{"exactly 90% last month is not short", q1, []float64{0.7, 0.7, 0.9}, reallocation.Balanced, 0},
		// 2821 uses in March: 91/day need ceil(91/7.5) = 13: 3 missing.
		{"91% last month is short", q1, []float64{0.7, 0.7, 0.91}, reallocation.Short, 3},
	}
	for _, tt := range tests {
		us := stocksOf(figures(tt.months, tt.util), current, month("2026-03"), 3)
		if len(us) != 1 {
			t.Fatalf("%s: stocksOf = %v; want one usage", tt.name, usageLines(us))
		}
		a := reallocation.Assess(us[0], reallocation.DefaultThresholds())
		if a.Status != tt.want || a.Spare+a.Missing != tt.count {
			t.Errorf("%s: Assess(%s) = %v %d; want %v %d", tt.name, usageLines(us)[0], a.Status, a.Spare+a.Missing, tt.want, tt.count)
		}
	}
}
