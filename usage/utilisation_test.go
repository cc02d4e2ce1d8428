package usage

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/devices"
)

const (
	shanghai = "Asia/Shanghai"
	berlin   = "Europe/Berlin"
)

// localTime reads "2006-01-02 15:04" in zone.
func localTime(tb testing.TB, zone, s string) time.Time {
	tb.Helper()
	loc, err := time.LoadLocation(zone)
	if err != nil {
		tb.Fatal(err)
	}
	t, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func month(s string) Month {
	m, err := ParseMonth(s)
	if err != nil {
		panic(err)
	}
	return m
}

func stationDevice(id string, kind devices.Kind, rated int) devices.Device {
	return devices.Device{ID: id, Kind: kind, Mode: devices.StationMode, Status: devices.Active, RatedUsesPerDay: rated}
}

func homeDevice(id string, kind devices.Kind) devices.Device {
	return devices.Device{ID: id, Kind: kind, Mode: devices.Home, Status: devices.Active}
}

func period(dev, site string, st devices.Status, from, until time.Time) devices.Period {
	return devices.Period{DeviceID: dev, SiteID: site, Status: st, From: from, Until: until}
}

func count(dev, site, day string, uses int) DayCount {
	return DayCount{Device: dev, Site: site, Day: Day(day), Uses: uses}
}

// figureLine writes a figure the way the tests' expectations are written.
func figureLine(f Figure) string {
	return fmt.Sprintf("%s %s/%s/%s %s %s n=%d days=%d svc=%d used=%g cap=%g unc=%g util=%.6f",
		f.Month, f.District, f.Site, f.Device, f.Kind, f.Mode, f.Devices, f.DaysInService, f.ServiceDays,
		f.Used, f.Capacity, f.Uncounted, f.Utilisation)
}

func figureLines(figs []Figure) []string {
	out := make([]string, len(figs))
	for i, f := range figs {
		out[i] = figureLine(f)
	}
	return out
}

func TestCompute(t *testing.T) {
	at := func(zone, s string) time.Time { return localTime(t, zone, s) }
	sites := []devices.Site{
		{ID: "sh", District: "xuhui", TimeZone: shanghai},
		{ID: "sh2", District: "xuhui", TimeZone: shanghai},
		{ID: "utc", District: "east"}, // no zone: UTC
		{ID: "mars", District: "east", TimeZone: "Mars/Olympus"},
		{ID: "ber", District: "mitte", TimeZone: berlin},
	}
	cuff := stationDevice("s1", devices.BPCuff, 10)
	meter := homeDevice("h1", devices.GlucoseMeter)
	const active, repair, transit = devices.Active, devices.Maintenance, devices.InTransit
	var open time.Time

	tests := []struct {
		name        string
		devices     []devices.Device
		periods     []devices.Period
		assignments []devices.Assignment
		counts      []DayCount
		from, to    string
		want        []string
	}{
		{
			name:    "station with a 3-day repair in the middle of the month",
			devices: []devices.Device{cuff},
			periods: []devices.Period{
				period("s1", "sh", active, at(shanghai, "2026-03-01 00:00"), at(shanghai, "2026-03-10 00:00")),
				period("s1", "sh", repair, at(shanghai, "2026-03-10 00:00"), at(shanghai, "2026-03-13 00:00")),
				period("s1", "sh", active, at(shanghai, "2026-03-13 00:00"), open),
			},
			counts: []DayCount{count("s1", "sh", "2026-03-09", 8), count("s1", "sh", "2026-03-11", 6), count("s1", "sh", "2026-03-13", 4)},
			from:   "2026-03", to: "2026-03",
			// 31 - 3 = 28 days; the 6 uses under repair are not counted.
			want: []string{"2026-03 xuhui/sh/s1 bp_cuff station n=1 days=28 svc=28 used=12 cap=280 unc=6 util=0.042857"},
		},
		{
			name:    "repair starting and ending mid-day: both partial days count",
			devices: []devices.Device{cuff},
			periods: []devices.Period{
				period("s1", "sh", active, at(shanghai, "2026-03-01 00:00"), at(shanghai, "2026-03-10 14:00")),
				period("s1", "sh", repair, at(shanghai, "2026-03-10 14:00"), at(shanghai, "2026-03-12 09:00")),
				period("s1", "sh", active, at(shanghai, "2026-03-12 09:00"), open),
			},
			counts: []DayCount{count("s1", "sh", "2026-03-10", 5), count("s1", "sh", "2026-03-11", 7), count("s1", "sh", "2026-03-12", 3)},
			from:   "2026-03", to: "2026-03",
			want: []string{"2026-03 xuhui/sh/s1 bp_cuff station n=1 days=30 svc=30 used=8 cap=300 unc=7 util=0.026667"},
		},
		{
			name:    "a repair within one day counts the day once",
			devices: []devices.Device{cuff},
			periods: []devices.Period{
				period("s1", "sh", active, at(shanghai, "2026-02-01 00:00"), at(shanghai, "2026-03-10 10:00")),
				period("s1", "sh", repair, at(shanghai, "2026-03-10 10:00"), at(shanghai, "2026-03-10 15:00")),
				period("s1", "sh", active, at(shanghai, "2026-03-10 15:00"), open),
			},
			counts: []DayCount{count("s1", "sh", "2026-03-10", 2)},
			from:   "2026-03", to: "2026-03",
			want: []string{"2026-03 xuhui/sh/s1 bp_cuff station n=1 days=31 svc=31 used=2 cap=310 unc=0 util=0.006452"},
		},
		{
			// The period ends at 2026-02-01 00:30 in Shanghai, 2026-01-31 16:30 in UTC; the use
			// at 16:10Z is on 1 Feb in Shanghai and on 31 Jan in UTC.
			name: "month boundary in Shanghai and in UTC (and an unknown zone, which is UTC)",
			devices: []devices.Device{
				stationDevice("butc", devices.BPCuff, 10), stationDevice("bsh", devices.BPCuff, 10), stationDevice("bmars", devices.BPCuff, 10),
			},
			periods: []devices.Period{
				period("butc", "utc", active, utc("2026-01-20T00:00:00Z"), utc("2026-01-31T16:30:00Z")),
				period("bsh", "sh", active, utc("2026-01-20T00:00:00Z"), utc("2026-01-31T16:30:00Z")),
				period("bmars", "mars", active, utc("2026-01-20T00:00:00Z"), utc("2026-01-31T16:30:00Z")),
			},
			counts: []DayCount{
				count("butc", "utc", "2026-01-25", 3), count("bsh", "sh", "2026-01-25", 3),
				count("butc", "utc", string(DayOf(utc("2026-01-31T16:10:00Z"), time.UTC)), 1),
				count("bsh", "sh", string(DayOf(utc("2026-01-31T16:10:00Z"), at(shanghai, "2026-01-01 00:00").Location())), 1),
			},
			from: "2026-01", to: "2026-02",
			want: []string{
				"2026-01 east/mars/bmars bp_cuff station n=1 days=12 svc=12 used=0 cap=120 unc=0 util=0.000000",
				"2026-01 xuhui/sh/bsh bp_cuff station n=1 days=12 svc=12 used=3 cap=120 unc=0 util=0.025000",
				"2026-01 east/utc/butc bp_cuff station n=1 days=12 svc=12 used=4 cap=120 unc=0 util=0.033333",
				"2026-02 xuhui/sh/bsh bp_cuff station n=1 days=1 svc=1 used=1 cap=10 unc=0 util=0.100000",
			},
		},
		{
			name:    "a period ending at local midnight does not touch the next day",
			devices: []devices.Device{cuff},
			periods: []devices.Period{
				period("s1", "sh", active, utc("2026-01-20T16:00:00Z"), utc("2026-01-31T16:00:00Z")), // 21 Jan 00:00 to 1 Feb 00:00 local
			},
			from: "2026-01", to: "2026-02",
			want: []string{"2026-01 xuhui/sh/s1 bp_cuff station n=1 days=11 svc=11 used=0 cap=110 unc=0 util=0.000000"},
		},
		{
			// Clocks go forward on 29 March 2026 in Berlin: that day has 23 hours.
			name:    "daylight saving time starts (Berlin, March)",
			devices: []devices.Device{stationDevice("b1", devices.Oximeter, 10), stationDevice("b2", devices.Oximeter, 10)},
			periods: []devices.Period{
				// 1 March 00:00 CET to 30 March 00:30 CEST; in UTC 28 Feb 23:00 to 29 March 22:30.
				period("b1", "ber", active, utc("2026-02-28T23:00:00Z"), utc("2026-03-29T22:30:00Z")),
				period("b2", "ber", active, at(berlin, "2026-03-28 12:00"), at(berlin, "2026-03-30 12:00")),
			},
			counts: []DayCount{count("b1", "ber", "2026-03-29", 5), count("b1", "ber", "2026-03-30", 4), count("b2", "ber", "2026-03-29", 2)},
			from:   "2026-02", to: "2026-03",
			want: []string{
				"2026-03 mitte/ber/b1 oximeter station n=1 days=30 svc=30 used=9 cap=300 unc=0 util=0.030000",
				"2026-03 mitte/ber/b2 oximeter station n=1 days=3 svc=3 used=2 cap=30 unc=0 util=0.066667",
			},
		},
		{
			// Clocks go back on 25 October 2026 in Berlin: that day has 25 hours.
			name:    "daylight saving time ends (Berlin, October)",
			devices: []devices.Device{stationDevice("b1", devices.Oximeter, 10)},
			periods: []devices.Period{period("b1", "ber", active, at(berlin, "2026-10-25 00:00"), at(berlin, "2026-10-26 00:00"))},
			from:    "2026-10", to: "2026-11",
			want: []string{"2026-10 mitte/ber/b1 oximeter station n=1 days=1 svc=1 used=0 cap=10 unc=0 util=0.000000"},
		},
		{
			name:    "entering service on the 10th: earlier days and uses do not count",
			devices: []devices.Device{cuff},
			periods: []devices.Period{period("s1", "sh", active, at(shanghai, "2026-03-10 09:00"), open)},
			counts:  []DayCount{count("s1", "sh", "2026-03-05", 4), count("s1", "sh", "2026-03-10", 6)},
			from:    "2026-03", to: "2026-03",
			want: []string{"2026-03 xuhui/sh/s1 bp_cuff station n=1 days=22 svc=22 used=6 cap=220 unc=4 util=0.027273"},
		},
		{
			name:    "moved to another site mid-month: days split, days in transit left out",
			devices: []devices.Device{cuff},
			periods: []devices.Period{
				period("s1", "sh", active, at(shanghai, "2026-03-01 00:00"), at(shanghai, "2026-03-10 15:00")),
				period("s1", "sh2", transit, at(shanghai, "2026-03-10 15:00"), at(shanghai, "2026-03-12 10:00")),
				period("s1", "sh2", active, at(shanghai, "2026-03-12 10:00"), open),
			},
			counts: []DayCount{count("s1", "sh", "2026-03-10", 5), count("s1", "sh2", "2026-03-11", 2), count("s1", "sh2", "2026-03-12", 7)},
			from:   "2026-03", to: "2026-03",
			want: []string{
				"2026-03 xuhui/sh/s1 bp_cuff station n=1 days=10 svc=10 used=5 cap=100 unc=0 util=0.050000",
				"2026-03 xuhui/sh2/s1 bp_cuff station n=1 days=20 svc=20 used=7 cap=200 unc=2 util=0.035000",
			},
		},
		{
			// Left Shanghai at 11:00 (03:00Z) on 10 March and received in UTC at 03:00Z the same day.
			name:    "received the same day it left: the day counts at both sites",
			devices: []devices.Device{cuff},
			periods: []devices.Period{
				period("s1", "sh", active, at(shanghai, "2026-03-01 00:00"), utc("2026-03-10T03:00:00Z")),
				period("s1", "utc", active, utc("2026-03-10T03:00:00Z"), open),
			},
			from: "2026-03", to: "2026-03",
			want: []string{
				"2026-03 xuhui/sh/s1 bp_cuff station n=1 days=10 svc=10 used=0 cap=100 unc=0 util=0.000000",
				"2026-03 east/utc/s1 bp_cuff station n=1 days=22 svc=22 used=0 cap=220 unc=0 util=0.000000",
			},
		},
		{
			name:        "home device lent 20 days with readings on 12, and a reading on a day not lent",
			devices:     []devices.Device{meter},
			periods:     []devices.Period{period("h1", "sh", active, at(shanghai, "2026-02-01 00:00"), open)},
			assignments: []devices.Assignment{{DeviceID: "h1", PatientID: "p1", From: at(shanghai, "2026-03-05 10:00"), Until: at(shanghai, "2026-03-24 18:00")}},
			counts: []DayCount{
				count("h1", "sh", "2026-03-05", 1), count("h1", "sh", "2026-03-06", 3), count("h1", "sh", "2026-03-07", 2),
				count("h1", "sh", "2026-03-09", 1), count("h1", "sh", "2026-03-10", 4), count("h1", "sh", "2026-03-12", 1),
				count("h1", "sh", "2026-03-15", 2), count("h1", "sh", "2026-03-16", 1), count("h1", "sh", "2026-03-18", 1),
				count("h1", "sh", "2026-03-20", 5), count("h1", "sh", "2026-03-22", 1), count("h1", "sh", "2026-03-24", 1),
				count("h1", "sh", "2026-03-26", 2),
			},
			from: "2026-03", to: "2026-03",
			// Lent 5 March 10:00 to 24 March 18:00: 20 days.
			want: []string{"2026-03 xuhui/sh/h1 glucose_meter home n=1 days=20 svc=31 used=12 cap=20 unc=1 util=0.600000"},
		},
		{
			name:        "a home device lent while under repair: those days are not assigned",
			devices:     []devices.Device{meter},
			periods:     []devices.Period{period("h1", "sh", active, at(shanghai, "2026-03-01 00:00"), at(shanghai, "2026-03-20 00:00")), period("h1", "sh", repair, at(shanghai, "2026-03-20 00:00"), open)},
			assignments: []devices.Assignment{{DeviceID: "h1", PatientID: "p1", From: at(shanghai, "2026-03-15 00:00"), Until: at(shanghai, "2026-03-25 00:00")}},
			counts:      []DayCount{count("h1", "sh", "2026-03-16", 1), count("h1", "sh", "2026-03-22", 1)},
			from:        "2026-03", to: "2026-03",
			want: []string{"2026-03 xuhui/sh/h1 glucose_meter home n=1 days=5 svc=19 used=1 cap=5 unc=1 util=0.200000"},
		},
		{
			name:    "a home device never lent: in service without capacity",
			devices: []devices.Device{meter},
			periods: []devices.Period{period("h1", "sh", active, at(shanghai, "2026-03-01 00:00"), open)},
			from:    "2026-03", to: "2026-03",
			want: []string{"2026-03 xuhui/sh/h1 glucose_meter home n=1 days=0 svc=31 used=0 cap=0 unc=0 util=0.000000"},
		},
		{
			name:    "retired mid-month; a use after retirement shows without capacity",
			devices: []devices.Device{cuff},
			periods: []devices.Period{
				period("s1", "sh", active, at(shanghai, "2026-03-01 00:00"), at(shanghai, "2026-03-15 12:00")),
				period("s1", "sh", devices.Retired, at(shanghai, "2026-03-15 12:00"), open),
			},
			counts: []DayCount{count("s1", "sh", "2026-03-15", 3), count("s1", "sh", "2026-04-02", 1)},
			from:   "2026-03", to: "2026-05",
			want: []string{
				"2026-03 xuhui/sh/s1 bp_cuff station n=1 days=15 svc=15 used=3 cap=150 unc=0 util=0.020000",
				"2026-04 xuhui/sh/s1 bp_cuff station n=1 days=0 svc=0 used=0 cap=0 unc=1 util=0.000000",
			},
		},
		{
			name:    "counts of unknown devices, outside the months, malformed or empty are ignored",
			devices: []devices.Device{cuff},
			periods: []devices.Period{period("s1", "sh", active, at(shanghai, "2026-03-01 00:00"), open), period("ghost", "sh", active, at(shanghai, "2026-03-01 00:00"), open)},
			counts: []DayCount{
				count("s1", "sh", "2026-02-28", 9), count("s1", "sh", "2026-04-01", 9), count("s1", "sh", "2026-3-05", 9),
				count("s1", "sh", "2026-02-30", 9), count("s1", "sh", "2026-03-05", 0), count("ghost", "sh", "2026-03-05", 9),
				count("s1", "sh", "2026-03-31", 1),
			},
			from: "2026-03", to: "2026-03",
			want: []string{"2026-03 xuhui/sh/s1 bp_cuff station n=1 days=31 svc=31 used=1 cap=310 unc=0 util=0.003226"},
		},
		{
			name:    "months asked backwards give nothing",
			devices: []devices.Device{cuff},
			periods: []devices.Period{period("s1", "sh", active, at(shanghai, "2026-03-01 00:00"), open)},
			from:    "2026-04", to: "2026-03",
			want: []string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := Input{Sites: sites, Devices: tt.devices, Periods: tt.periods, Assignments: tt.assignments, Counts: tt.counts}
			got := figureLines(Compute(in, month(tt.from), month(tt.to)))
			if !slices.Equal(got, tt.want) {
				t.Errorf("Compute(%s..%s) =\n  %s\nwant\n  %s", tt.from, tt.to, strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
		})
	}
}

func TestComputeOrdersByMonthSiteDevice(t *testing.T) {
	sites := []devices.Site{{ID: "a"}, {ID: "b"}}
	in := Input{Sites: sites}
	from := utc("2026-01-01T00:00:00Z")
	for _, id := range []string{"d3", "d1", "d2"} {
		in.Devices = append(in.Devices, stationDevice(id, devices.Scale, 1))
		for _, site := range []string{"b", "a"} {
			in.Periods = append(in.Periods, period(id, site, devices.Active, from, time.Time{}))
		}
	}
	got := Compute(in, month("2026-01"), month("2026-02"))
	var keys []string
	for _, f := range got {
		keys = append(keys, f.Month.String()+"/"+f.Site+"/"+f.Device)
	}
	want := []string{
		"2026-01/a/d1", "2026-01/a/d2", "2026-01/a/d3", "2026-01/b/d1", "2026-01/b/d2", "2026-01/b/d3",
		"2026-02/a/d1", "2026-02/a/d2", "2026-02/a/d3", "2026-02/b/d1", "2026-02/b/d2", "2026-02/b/d3",
	}
	if !slices.Equal(keys, want) {
		t.Errorf("Compute order = %v; want %v", keys, want)
	}
}

// BenchmarkCompute computes a city's year: 1,000 centres, 100 devices each (30% station rated
// 20 uses a day, 70% home), each in service all year with a repair or a move for some; station
// devices used every day, home devices lent most of the year and used two days in three.
func BenchmarkCompute(b *testing.B) {
	in, from, to := cityYear()
	b.Logf("%d devices, %d periods, %d assignments, %d day counts", len(in.Devices), len(in.Periods), len(in.Assignments), len(in.Counts))
	runtime.GC() // the collection owed for building the input is not Compute's
	b.ReportAllocs()
	var figs []Figure
	for b.Loop() {
		figs = Compute(in, from, to)
	}
	b.ReportMetric(float64(len(figs)), "figures")
}

func cityYear() (Input, Month, Month) { return city(1000, 100) }

// TestComputeInParallel checks that the counts and figures computed on several goroutines are
// those computed on one, whether the counts come grouped by device or shuffled, including
// counts at a site where the device never was, at an unknown site, and of an unknown device.
func TestComputeInParallel(t *testing.T) {
	in, from, to := city(20, 25)
	in.Counts = append(in.Counts,
		DayCount{Device: "dev000003", Site: "c0007", Day: "2025-05-05", Uses: 2},
		DayCount{Device: "dev000004", Site: "nowhere", Day: "2025-05-05", Uses: 2},
		DayCount{Device: "ghost", Site: "c0001", Day: "2025-05-05", Uses: 2})
	one := parallelism{workers: 1}
	many := parallelism{workers: 4, counts: 1000, figures: 100}
	want := figureLines(compute(in, from, to, one))
	if got := figureLines(compute(in, from, to, many)); !slices.Equal(got, want) {
		t.Errorf("compute on 4 goroutines differs from compute on one")
	}
	rand.New(rand.NewPCG(3, 4)).Shuffle(len(in.Counts), func(i, j int) { in.Counts[i], in.Counts[j] = in.Counts[j], in.Counts[i] })
	if got := figureLines(compute(in, from, to, many)); !slices.Equal(got, want) {
		t.Errorf("compute of shuffled counts on 4 goroutines differs from compute on one")
	}
	if !slices.ContainsFunc(want, func(l string) bool { return strings.Contains(l, "/c0007/dev000003 ") }) ||
		!slices.ContainsFunc(want, func(l string) bool { return strings.Contains(l, "/nowhere/dev000004 ") }) {
		t.Errorf("compute lost the counts at a site without a period")
	}
}

// city is a year of centres × perCentre devices; see BenchmarkCompute.
func city(centres, perCentre int) (Input, Month, Month) {
	zones := []string{shanghai, berlin, ""}
	var in Input
	for c := range centres {
		in.Sites = append(in.Sites, devices.Site{ID: fmt.Sprintf("c%04d", c), District: fmt.Sprintf("d%02d", c%20), TimeZone: zones[c%len(zones)]})
	}
	from, to := month("2025-01"), month("2025-12")
	var days []Day
	for d := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() == 2025; d = d.AddDate(0, 0, 1) {
		days = append(days, Day(d.Format(DayLayout)))
	}
	start, moved := utc("2024-06-01T00:00:00Z"), utc("2025-09-10T08:00:00Z")
	kinds := []devices.Kind{devices.BPCuff, devices.GlucoseMeter, devices.Oximeter, devices.Scale}
	for i := range centres * perCentre {
		site := in.Sites[i/perCentre].ID
		id := fmt.Sprintf("dev%06d", i)
		var d devices.Device
		if i%10 < 3 {
			d = stationDevice(id, kinds[i%len(kinds)], 20)
		} else {
			d = homeDevice(id, kinds[i%len(kinds)])
		}
		d.SiteID = site
		in.Devices = append(in.Devices, d)
		switch {
		case i%50 == 0: // moved to the next centre in September, two days on the road
			next := in.Sites[(i/perCentre+1)%centres].ID
			in.Periods = append(in.Periods,
				period(id, site, devices.Active, start, moved),
				period(id, next, devices.InTransit, moved, moved.Add(48*time.Hour)),
				period(id, next, devices.Active, moved.Add(48*time.Hour), time.Time{}))
		case i%10 == 1: // five days of repair in June
			r := utc("2025-06-10T06:00:00Z")
			in.Periods = append(in.Periods,
				period(id, site, devices.Active, start, r),
				period(id, site, devices.Maintenance, r, r.Add(5*24*time.Hour)),
				period(id, site, devices.Active, r.Add(5*24*time.Hour), time.Time{}))
		default:
			in.Periods = append(in.Periods, period(id, site, devices.Active, start, time.Time{}))
		}
		if d.Mode == devices.Home {
			in.Assignments = append(in.Assignments,
				devices.Assignment{DeviceID: id, PatientID: "p" + id, From: start, Until: utc("2025-06-30T10:00:00Z")},
				devices.Assignment{DeviceID: id, PatientID: "q" + id, From: utc("2025-07-15T10:00:00Z")})
		}
		for j, day := range days {
			at := site
			if i%50 == 0 && day >= "2025-09-10" {
				at = in.Sites[(i/perCentre+1)%centres].ID
			}
			switch {
			case d.Mode == devices.StationMode:
				in.Counts = append(in.Counts, DayCount{Device: id, Site: at, Day: day, Uses: 1 + (i*7+j)%25})
			case (i+j)%3 != 0:
				in.Counts = append(in.Counts, DayCount{Device: id, Site: at, Day: day, Uses: 1 + (i+j)%4})
			}
		}
	}
	return in, from, to
}

// BenchmarkComputeQuarterFromMonths computes a city's quarter (the assessment's window) from
// the store's monthly aggregate and sums it by site, as GET /utilisation?by=site does.
func BenchmarkComputeQuarterFromMonths(b *testing.B) {
	in, _, to := cityYear()
	from := to.Prev().Prev()
	in.Months = monthsOf(in.Counts, from, to)
	in.Counts = nil
	runtime.GC()
	b.ReportAllocs()
	var figs []Figure
	for b.Loop() {
		roll := NewRoller(BySite)
		ComputeEach(in, from, to, roll.Add)
		figs = roll.Figures()
	}
	b.ReportMetric(float64(len(figs)), "figures")
}

// monthsOf is counts (ordered by device, then day) of the months from..to as MonthUses.
func monthsOf(counts []DayCount, from, to Month) []MonthUses {
	var out []MonthUses
	for _, c := range counts {
		m, _ := ParseMonth(string(c.Day[:7]))
		if m.Before(from) || to.Before(m) {
			continue
		}
		d := int(c.Day[8]-'0')*10 + int(c.Day[9]-'0')
		if n := len(out); n == 0 || out[n-1].Device != c.Device || out[n-1].Site != c.Site || out[n-1].Month != m {
			out = append(out, MonthUses{Device: c.Device, Site: c.Site, Month: m})
		}
		last := &out[len(out)-1]
		last.Days |= 1 << (d - 1)
		last.Uses = append(last.Uses, int32(c.Uses))
	}
	return out
}
