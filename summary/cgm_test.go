package summary_test

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/reading"
	"github.com/vitalwatch/vitalwatch/summary"
)

func cgm(t time.Time, v float64) reading.Reading {
	return reading.Reading{Type: reading.Glucose, Source: "cgm", Time: t, Value: v}
}

// every returns n CGM readings of value v, step apart from start.
func every(start time.Time, step time.Duration, n int, v float64) []reading.Reading {
	out := make([]reading.Reading, n)
	for i := range out {
		out[i] = cgm(start.Add(time.Duration(i)*step), v)
	}
	return out
}

func approx(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func bandPercents(c summary.CGM) map[summary.Band]float64 {
	m := map[summary.Band]float64{}
	for _, b := range c.Bands {
		m[b.Band] = b.Percent
	}
	return m
}

// One day in Shanghai (UTC+8) with a gap and a level-2 episode, computed by hand:
//
//	08:00-08:25  6 readings at 5.0   30 min in range
//	08:30-08:55  6 readings at 12.0  30 min 10.1-13.9 (08:55 is followed by a gap: 5 min)
//	12:00-12:15  4 readings at 2.5   20 min below 3.0: a 15-minute level-2 episode
//	12:20        1 reading at 3.5     5 min 3.0-3.8 (the last: one slot)
//
// 85 minutes of data; readings just outside the local day are not part of it.
func TestCGMReportByHand(t *testing.T) {
	rs := slices.Concat(
		every(at(10, 8, 0), 5*time.Minute, 6, 5.0),
		every(at(10, 8, 30), 5*time.Minute, 6, 12.0),
		every(at(10, 12, 0), 5*time.Minute, 4, 2.5),
		[]reading.Reading{cgm(at(10, 12, 20), 3.5),
			cgm(at(9, 23, 58), 20), cgm(at(11, 0, 0), 20), // the day boundary is local midnight
			{Type: reading.Glucose, Source: "fingerstick", Time: at(10, 9, 0), Value: 20}, // a meter's
		})
	p := summary.DaysBefore(at(11, 9, 0), shanghai, 1)
	got := summary.CGMReport(rs, shanghai, p, summary.DefaultCGMOptions())

	if got.Readings != 17 || got.CoveredMinutes != 85 {
		t.Errorf("Readings, CoveredMinutes = %d, %v; want 17, 85", got.Readings, got.CoveredMinutes)
	}
	want := map[summary.Band]float64{
		summary.BandBelow3_0: 100 * 20.0 / 85, summary.Band3_0To3_8: 100 * 5.0 / 85, summary.Band3_9To10_0: 100 * 30.0 / 85,
		summary.Band10_1To13_9: 100 * 30.0 / 85, summary.BandAbove13_9: 0,
	}
	for b, pct := range bandPercents(got) {
		if !approx(pct, want[b], 1e-9) {
			t.Errorf("time in %s = %v%%; want %v%%", b, pct, want[b])
		}
	}
	if b := got.Bands[2]; b.Band != summary.Band3_9To10_0 || !approx(b.MinutesPerDay, 1440*30.0/85, 1e-9) {
		t.Errorf("Bands[2] = %+v; want 3.9-10.0 for %v min a day", b, 1440*30.0/85)
	}
	if !approx(got.SensorActive, 100*17.0/288, 1e-9) {
		t.Errorf("SensorActive = %v; want 17 of 288 slots", got.SensorActive)
	}
	mean := 115.5 / 17
	if !approx(float64(got.Mean), mean, 1e-9) || !approx(got.GMI, 3.31+0.02392*mean*18.016, 1e-9) {
		t.Errorf("Mean, GMI = %v, %v; want %v, %v", got.Mean, got.GMI, mean, 3.31+0.02392*mean*18.016)
	}
	if !slices.Equal(got.Flags, []summary.Flag{summary.FlagShortPeriod, summary.FlagLowSensorActivity}) || got.AGP.Reportable {
		t.Errorf("Flags = %v, AGP reportable %v; want short period and low sensor activity, not reportable", got.Flags, got.AGP.Reportable)
	}
	wantEp := summary.Episode{Start: at(10, 12, 0), Qualified: at(10, 12, 15), LastLow: at(10, 12, 15), Lowest: 2.5}
	if len(got.Episodes) != 1 || !got.Episodes[0].Start.Equal(wantEp.Start) || !got.Episodes[0].Qualified.Equal(wantEp.Qualified) ||
		!got.Episodes[0].LastLow.Equal(wantEp.LastLow) || got.Episodes[0].Lowest != wantEp.Lowest {
		t.Errorf("Episodes = %+v; want [%+v]", got.Episodes, wantEp)
	}
	if loc := got.Episodes[0].Start.Location(); loc != shanghai {
		t.Errorf("episode time zone = %v; want the patient's", loc)
	}
}

// A sensor change: the old sensor's last reading at 10:55, two hours of warm-up, then a new
// sensor whose readings come 5.5 minutes apart (within the tolerance). A redelivered reading
// counts once.
//
//	10:00-10:55  12 readings at 8.0   60 min in range (10:55 before the gap: 5 min)
//	12:55, 13:00:30, 13:06 at 15.0    5.5 + 5.5 + 5 = 16 min above 13.9
func TestCGMReportSensorChange(t *testing.T) {
	rs := slices.Concat(
		every(at(10, 10, 0), 5*time.Minute, 12, 8.0),
		[]reading.Reading{cgm(at(10, 10, 0), 8.0)},
		every(at(10, 12, 55), 5*time.Minute+30*time.Second, 3, 15.0))
	p := summary.DaysBefore(at(11, 9, 0), shanghai, 1)
	got := summary.CGMReport(rs, shanghai, p, summary.DefaultCGMOptions())
	if got.Readings != 15 || got.CoveredMinutes != 76 {
		t.Errorf("Readings, CoveredMinutes = %d, %v; want 15, 76", got.Readings, got.CoveredMinutes)
	}
	pct := bandPercents(got)
	if !approx(pct[summary.Band3_9To10_0], 100*60.0/76, 1e-9) || !approx(pct[summary.BandAbove13_9], 100*16.0/76, 1e-9) {
		t.Errorf("Bands = %+v; want 60/76 in range and 16/76 above 13.9", got.Bands)
	}
	// 13:00:30 and 13:06 fall in the 13:00 and 13:05 slots: 15 slots of 288.
	if !approx(got.SensorActive, 100*15.0/288, 1e-9) {
		t.Errorf("SensorActive = %v; want 15 of 288 slots", got.SensorActive)
	}
}

// Time in range is time, not counts: a reading before a gap stands for one slot, not for the
// gap (which would weigh the last value before a sensor fell off), and a denser sensor's
// readings weigh their time, not their number.
func TestCGMReportGapsDoNotBias(t *testing.T) {
	p := summary.DaysBefore(at(11, 9, 0), shanghai, 1)
	// 00:00-05:55 and 14:00-19:55 in range; at 06:00 one reading at 15.0, then 8 hours
	// without: 5 minutes above 13.9 of 725 (72 + 1 + 72 readings, one slot each).
	rs := slices.Concat(every(at(10, 0, 0), 5*time.Minute, 72, 6), []reading.Reading{cgm(at(10, 6, 0), 15)},
		every(at(10, 14, 0), 5*time.Minute, 72, 6))
	got := summary.CGMReport(rs, shanghai, p, summary.DefaultCGMOptions())
	if pct := bandPercents(got); !approx(pct[summary.BandAbove13_9], 100*5.0/725, 1e-9) || got.CoveredMinutes != 725 {
		t.Errorf("above 13.9: %v%% of %v min; want %v%% of 725 min", pct[summary.BandAbove13_9], got.CoveredMinutes, 100*5.0/725)
	}
	// 12 hours in range read every minute (720 readings), 12 hours above 13.9 read every 5
	// minutes (144): 83% of the readings, 50% of the time.
	rs = slices.Concat(every(at(10, 0, 0), time.Minute, 720, 6), every(at(10, 12, 0), 5*time.Minute, 144, 15))
	got = summary.CGMReport(rs, shanghai, p, summary.DefaultCGMOptions())
	if pct := bandPercents(got); !approx(pct[summary.Band3_9To10_0], 50, 1e-9) || !approx(got.SensorActive, 100, 1e-9) {
		t.Errorf("in range %v%%, active %v%%; want 50%%, 100%%", pct[summary.Band3_9To10_0], got.SensorActive)
	}
}

func TestCGMReportVariabilityAndTargets(t *testing.T) {
	// 5, 7, 5, 7 ... every 5 minutes for a day: mean 6, sample SD sqrt(n/(n-1)), all in range.
	var rs []reading.Reading
	for i := range 288 {
		rs = append(rs, cgm(at(10, 0, 0).Add(time.Duration(i)*5*time.Minute), float64(5+2*(i%2))))
	}
	o := summary.DefaultCGMOptions()
	got := summary.CGMReport(rs, shanghai, summary.DaysBefore(at(11, 9, 0), shanghai, 1), o)
	sd := math.Sqrt(288.0 / 287)
	if !approx(float64(got.Mean), 6, 1e-12) || !approx(float64(got.SD), sd, 1e-12) || !approx(got.CV, 100*sd/6, 1e-9) {
		t.Errorf("Mean, SD, CV = %v, %v, %v; want 6, %v, %v", got.Mean, got.SD, got.CV, sd, 100*sd/6)
	}
	if !approx(got.GMI, 3.31+0.02392*6*18.016, 1e-12) || !approx(got.Mean.MgdL(), 108.096, 1e-9) {
		t.Errorf("GMI = %v, mean %v mg/dL; want %v, 108.096", got.GMI, got.Mean.MgdL(), 3.31+0.02392*6*18.016)
	}
	want := []summary.TargetCheck{
		{Target: summary.Target{Metric: summary.MetricTimeInRange, Op: summary.OpAbove, Limit: 70}, Value: 100, Met: true},
		{Target: summary.Target{Metric: summary.MetricTimeBelow3_9, Op: summary.OpBelow, Limit: 4}, Value: 0, Met: true},
		{Target: summary.Target{Metric: summary.MetricTimeBelow3_0, Op: summary.OpBelow, Limit: 1}, Value: 0, Met: true},
		{Target: summary.Target{Metric: summary.MetricTimeAbove10_0, Op: summary.OpBelow, Limit: 25}, Value: 0, Met: true},
		{Target: summary.Target{Metric: summary.MetricTimeAbove13_9, Op: summary.OpBelow, Limit: 5}, Value: 0, Met: true},
		{Target: summary.Target{Metric: summary.MetricCV, Op: summary.OpAtMost, Limit: 36}, Value: 100 * sd / 6, Met: true},
	}
	if len(got.Targets) != len(want) {
		t.Fatalf("Targets = %+v; want %+v", got.Targets, want)
	}
	for i := range want {
		g := got.Targets[i]
		if g.Target != want[i].Target || !approx(g.Value, want[i].Value, 1e-9) || g.Met != want[i].Met {
			t.Errorf("Targets[%d] = %+v; want %+v", i, g, want[i])
		}
	}

	// 3 hours of 24 below 3.9 (12.5%), at 3.5: the older/high-risk set misses below 3.9 < 1%
	// and time in range > 50% is met at 87.5%.
	for i := range 36 {
		rs[i].Value = 3.5
	}
	o.Targets = summary.OlderHighRiskTargets
	got = summary.CGMReport(rs, shanghai, summary.DaysBefore(at(11, 9, 0), shanghai, 1), o)
	met := map[summary.Metric]bool{}
	for _, c := range got.Targets {
		met[c.Metric] = c.Met
	}
	if len(got.Targets) != 4 || !met[summary.MetricTimeInRange] || met[summary.MetricTimeBelow3_9] || !met[summary.MetricTimeAbove13_9] {
		t.Errorf("older/high-risk Targets = %+v; want TIR met at 87.5%%, below 3.9 missed", got.Targets)
	}
}

func TestCGMReportNoData(t *testing.T) {
	p := summary.DaysBefore(at(20, 9, 0), shanghai, 14)
	got := summary.CGMReport([]reading.Reading{{Type: reading.Glucose, Source: "fingerstick", Time: at(10, 8, 0), Value: 6}},
		shanghai, p, summary.DefaultCGMOptions())
	if !slices.Equal(got.Flags, []summary.Flag{summary.FlagNoData}) || got.Readings != 0 || got.AGP.Reportable || len(got.AGP.Bins) != 96 {
		t.Errorf("CGMReport without CGM readings = %+v; want no_data, 96 empty AGP bins", got)
	}
}

func TestBandOf(t *testing.T) {
	for _, tt := range []struct {
		v    float64
		want summary.Band
	}{
		{2.9, summary.BandBelow3_0}, {3.0, summary.Band3_0To3_8}, {3.85, summary.Band3_0To3_8}, {3.9, summary.Band3_9To10_0},
		{10.0, summary.Band3_9To10_0}, {10.1, summary.Band10_1To13_9}, {13.9, summary.Band10_1To13_9}, {14.0, summary.BandAbove13_9},
	} {
		if got := summary.BandOf(tt.v); got != tt.want {
			t.Errorf("BandOf(%v) = %s; want %s", tt.v, got, tt.want)
		}
	}
}

func TestTargetSetFor(t *testing.T) {
	for _, tt := range []struct {
		plans []string
		want  summary.TargetSet
	}{
		{nil, summary.StandardTargets},
		{[]string{"insulin-treated diabetes: glucose daily"}, summary.StandardTargets},
		{[]string{"type 1 diabetes, older adult: CGM"}, summary.OlderHighRiskTargets},
		{[]string{"hypertension: BP daily", "Insulin-treated diabetes (high-risk): CGM"}, summary.OlderHighRiskTargets},
		{[]string{"Elderly: blood sugar before breakfast"}, summary.OlderHighRiskTargets},
		// The risk must be named by a glucose plan: a high cardiovascular risk is not it.
		{[]string{"hypertension, high risk: BP daily", "diabetes: CGM"}, summary.StandardTargets},
		{[]string{"diabetes: CGM, holder provided"}, summary.StandardTargets},
	} {
		if got := summary.TargetSetFor(tt.plans); got != tt.want {
			t.Errorf("TargetSetFor(%q) = %s; want %s", tt.plans, got, tt.want)
		}
	}
}
