package summary_test

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/reading"
	"github.com/vitalwatch/vitalwatch/summary"
)

// The AGP bins by the patient's clock: 00:00-00:15 in Shanghai is 16:00-16:15 UTC.
func TestAGPByHand(t *testing.T) {
	var rs []reading.Reading
	for i, v := range []float64{8, 4, 6, 7, 5} { // bin 0 on two days, in any order
		day := 10 + i%2
		rs = append(rs, cgm(time.Date(2026, 3, day-1, 16, i, 0, 0, time.UTC), v))
	}
	rs = append(rs, cgm(at(10, 23, 59), 9), cgm(at(11, 0, 15), 3.5))
	got := summary.CGMReport(rs, shanghai, summary.DaysBefore(at(12, 9, 0), shanghai, 2), summary.DefaultCGMOptions())
	bins := got.AGP.Bins
	if len(bins) != 96 || bins[1].Start != 15*time.Minute || bins[95].Start != 23*time.Hour+45*time.Minute {
		t.Fatalf("AGP bins = %d, starts %v, %v; want 96 from 00:00 by 15 minutes", len(bins), bins[1].Start, bins[95].Start)
	}
	// Sorted 4 5 6 7 8: the 5th percentile is at rank 1 + 4 x 0.05 = 1.2, so 4.2.
	want := summary.AGPBin{Start: 0, Readings: 5, P5: 4.2, P25: 5, P50: 6, P75: 7, P95: 7.8}
	if b := bins[0]; b.Readings != 5 || !approx(float64(b.P5), 4.2, 1e-12) || b.P25 != 5 || b.P50 != 6 || b.P75 != 7 || !approx(float64(b.P95), 7.8, 1e-12) {
		t.Errorf("AGP bin 00:00 = %+v; want %+v", b, want)
	}
	if bins[95].Readings != 1 || bins[95].P50 != 9 || bins[1].Readings != 1 || bins[1].P5 != 3.5 || bins[2].Readings != 0 {
		t.Errorf("bins 23:45, 00:15, 00:30 = %+v, %+v, %+v; want one reading of 9, one of 3.5, none", bins[95], bins[1], bins[2])
	}
}

// trace generates a deterministic 14-day CGM trace in Shanghai: readings about every 5
// minutes (jitter of +-20 s), a daily curve with meals and noise kept above 3.3, random
// dropouts, a sensor change, four inserted 25-minute lows (level-2 episodes), a 10-minute dip
// and a low run broken by a 12-minute gap (neither an episode).
func trace(p summary.Period) []reading.Reading {
	rng := rand.New(rand.NewPCG(2026, 3))
	day := func(t time.Time) int { return int(t.Sub(p.From) / (24 * time.Hour)) }
	clock := func(t time.Time) float64 { lt := t.In(shanghai); return float64(lt.Hour()) + float64(lt.Minute())/60 }
	within := func(t time.Time, d int, from, to float64) bool {
		return day(t) == d && clock(t) >= from && clock(t) < to
	}
	var rs []reading.Reading
	for t := p.From.Add(2 * time.Minute); t.Before(p.To); t = t.Add(5*time.Minute + time.Duration(rng.IntN(41)-20)*time.Second) {
		switch {
		case within(t, 9, 9, 11): // the sensor change's warm-up
			continue
		case within(t, 11, 3+10.0/60, 3+22.0/60): // the gap that breaks a low run
			continue
		case rng.Float64() < 0.004 && (clock(t) < 2 || clock(t) >= 4.5): // a dropout of 20-60 minutes, not over the lows
			t = t.Add(time.Duration(20+rng.IntN(41)) * time.Minute)
			continue
		}
		h := clock(t)
		v := 7.5 + 2.5*math.Sin(2*math.Pi*(h-9)/24)
		for _, meal := range []float64{7.5, 12.5, 18.5} {
			v += 4 * math.Exp(-math.Pow((h-meal-1)/0.7, 2))
		}
		v = max(3.3, min(22, v+rng.NormFloat64()*0.8))
		switch {
		case within(t, 2, 3, 3+25.0/60), within(t, 5, 3, 3+25.0/60), within(t, 9, 3, 3+25.0/60), within(t, 12, 3, 3+25.0/60):
			v = 2.6
		case within(t, 7, 3, 3+10.0/60), within(t, 11, 3, 3+10.0/60), within(t, 11, 3+22.0/60, 3+32.0/60):
			v = 2.7
		}
		rs = append(rs, cgm(t, math.Round(v*10)/10))
	}
	return rs
}

// Independently of CGMReport, from the consensus definitions: the percentiles of each 15-minute
// slot of the local clock over the days, found by walking the days' clock times; time in range
// as the share of instants (every 5 s) whose current reading is in range, a reading being
// current until the next one, or for one 5-minute slot before a gap; sensor activity as the
// 5-minute slots of the clock that hold a reading.
func TestCGMReportAgreesWithTheConsensusDefinitions(t *testing.T) {
	p := summary.DaysBefore(at(29, 9, 0), shanghai, 14)
	rs := trace(p)
	got := summary.CGMReport(rs, shanghai, p, summary.DefaultCGMOptions())
	times := make([]time.Time, len(rs))
	for i, r := range rs {
		times[i] = r.Time
	}

	// Percentile: rank 1 + (n-1) q of the sorted values, interpolated (Hyndman-Fan type 7).
	percentile := func(vs []float64, q float64) float64 {
		x := append([]float64(nil), vs...)
		sort.Float64s(x)
		rank := 1 + float64(len(x)-1)*q
		k := int(math.Floor(rank))
		if k >= len(x) {
			return x[len(x)-1]
		}
		return x[k-1] + (rank-float64(k))*(x[k]-x[k-1])
	}
	if !got.AGP.Reportable || len(got.AGP.Bins) != 96 {
		t.Fatalf("AGP = %d bins, reportable %v (flags %v); want 96, reportable", len(got.AGP.Bins), got.AGP.Reportable, got.Flags)
	}
	for k := range 96 {
		var vs []float64
		for d := 0; d < p.Days; d++ {
			lo := time.Date(2026, 3, 15+d, 0, 15*k, 0, 0, shanghai)
			hi := lo.Add(15 * time.Minute)
			for _, r := range rs {
				if !r.Time.Before(lo) && r.Time.Before(hi) {
					vs = append(vs, r.Value)
				}
			}
		}
		b := got.AGP.Bins[k]
		if b.Readings != len(vs) || len(vs) == 0 {
			t.Fatalf("bin %d: %d readings; want %d (and some)", k, b.Readings, len(vs))
		}
		for _, c := range []struct {
			q   float64
			got summary.Glucose
		}{{0.05, b.P5}, {0.25, b.P25}, {0.5, b.P50}, {0.75, b.P75}, {0.95, b.P95}} {
			if want := percentile(vs, c.q); !approx(float64(c.got), want, 1e-9) {
				t.Errorf("bin %v: P%v = %v; want %v", b.Start, c.q*100, c.got, want)
			}
		}
	}

	t.Logf("%d readings, %.1f%% active; bands %+v", len(rs), got.SensorActive, got.Bands)

	// Time in each band by sampling instants.
	const step = 5 * time.Second
	var covered float64
	inBand := map[summary.Band]float64{}
	for tau := p.From; tau.Before(p.To); tau = tau.Add(step) {
		i := sort.Search(len(times), func(i int) bool { return times[i].After(tau) }) - 1
		if i < 0 {
			continue
		}
		next := p.To
		if i+1 < len(times) {
			next = times[i+1]
		}
		cover := next.Sub(times[i])
		if cover > 6*time.Minute {
			cover = 5 * time.Minute
		}
		if tau.Sub(times[i]) < cover {
			covered++
			inBand[summary.BandOf(rs[i].Value)]++
		}
	}
	byCount := map[summary.Band]float64{}
	for _, r := range rs {
		byCount[summary.BandOf(r.Value)]++
	}
	for _, b := range got.Bands {
		if want := 100 * inBand[b.Band] / covered; !approx(b.Percent, want, 0.05) {
			t.Errorf("time in %s = %.3f%%; sampled %.3f%%", b.Band, b.Percent, want)
		}
		// With a sensor this regular, the share of readings is close to the share of time.
		if want := 100 * byCount[b.Band] / float64(len(rs)); !approx(b.Percent, want, 1) {
			t.Errorf("time in %s = %.3f%%; %.3f%% of the readings", b.Band, b.Percent, want)
		}
	}
	if !approx(got.CoveredMinutes, covered*step.Minutes(), 2) {
		t.Errorf("CoveredMinutes = %v; sampled %v", got.CoveredMinutes, covered*step.Minutes())
	}

	slots := map[int64]bool{}
	for _, r := range rs {
		slots[r.Time.Unix()/300] = true // Shanghai's midnight is on the UTC 5-minute grid
	}
	if want := 100 * float64(len(slots)) / (14 * 288); !approx(got.SensorActive, want, 1e-9) || want < 70 || want > 99 {
		t.Errorf("SensorActive = %v; want %v (between 70 and 99 for this trace)", got.SensorActive, want)
	}

	// Mean and SD by Welford's method; GMI from the mean in mg/dL.
	var n, mean, m2 float64
	for _, r := range rs {
		n++
		d := r.Value - mean
		mean += d / n
		m2 += d * (r.Value - mean)
	}
	sd := math.Sqrt(m2 / (n - 1))
	if !approx(float64(got.Mean), mean, 1e-9) || !approx(float64(got.SD), sd, 1e-9) || !approx(got.CV, 100*sd/mean, 1e-9) ||
		!approx(got.GMI, 3.31+0.02392*mean*18.016, 1e-9) {
		t.Errorf("Mean %v SD %v CV %v GMI %v; want %v %v %v %v", got.Mean, got.SD, got.CV, got.GMI, mean, sd, 100*sd/mean, 3.31+0.02392*mean*18.016)
	}

	// The four inserted 25-minute lows, not the 10-minute dip nor the run a gap broke.
	if len(got.Episodes) != 4 {
		t.Fatalf("Episodes = %+v; want the 4 inserted lows", got.Episodes)
	}
	for i, d := range []int{2, 5, 9, 12} {
		if e := got.Episodes[i]; e.Start.Day() != 15+d || e.Start.Hour() != 3 || e.Lowest != 2.6 || e.LastLow.Sub(e.Start) < 15*time.Minute {
			t.Errorf("Episodes[%d] = %+v; want the low of Mar %d 03:00", i, e, 15+d)
		}
	}
	if got.Readings != len(rs) || len(got.Flags) != 0 {
		t.Errorf("Readings %d, Flags %v; want %d, none", got.Readings, got.Flags, len(rs))
	}
}
