package simulators

import (
	"slices"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/reading"
	"github.com/vitalwatch/vitalwatch/summary"
)

// profileDevice returns the demo fleet's first device with profile p.
func profileDevice(t *testing.T, f *Fleet, p Profile) *Device {
	t.Helper()
	for _, d := range f.Devices() {
		if d.Profile() == p {
			return d
		}
	}
	t.Fatalf("no device with profile %s", p)
	return nil
}

// backlogReadings decodes every message of d's backlog over [from, to) as ingest would, the
// readings in doubt (a quality flag) apart.
func backlogReadings(t *testing.T, f *Fleet, d *Device, from, to time.Time) (good, doubtful []reading.Reading) {
	t.Helper()
	b := f.Backlog(d, from, to)
	for {
		m, ok := b.Next()
		if !ok {
			return good, doubtful
		}
		msg, rej := reading.Decode(d.ID, m.JSON(), to)
		if len(rej) > 0 {
			t.Fatalf("%s: %s rejected: %v", d.ID, m.JSON(), rej)
		}
		for _, r := range msg.Readings {
			if r.Type == reading.Glucose && d.Kind == CGM {
				r.Source = "cgm"
			}
			if slices.ContainsFunc(msg.Flags, reading.QualityFlag) {
				doubtful = append(doubtful, r)
			} else {
				good = append(good, r)
			}
		}
	}
}

// The demo fleet's full CGM wearer has 14 days of 5-minute readings before the history's last
// day, enough for an AGP report, with a sensor change, lows and highs.
func TestFullCGMWearerHistory(t *testing.T) {
	f := NewScenarioFleet(60, 1, DefaultMix(), Reallocation())
	d := profileDevice(t, f, ProfileFullCGM)
	if d.ID != "sim-cgm-0001" || d.Patient != "P-000016" {
		t.Logf("the full CGM wearer is %s of %s", d.ID, d.Patient)
	}
	from := HistoryStart(historyEnd, demoHistory)
	good, doubtful := backlogReadings(t, f, d, from, historyEnd)
	zone := localZone()
	p := summary.DaysBefore(historyEnd, zone, summary.GlucoseDays)
	got := summary.CGMReport(good, zone, p, summary.DefaultCGMOptions())
	if got.SensorActive < 90 || !got.AGP.Reportable || len(got.Flags) != 0 {
		t.Errorf("sensor active %.1f%%, AGP reportable %v, flags %v; want >= 90%%, reportable, none", got.SensorActive, got.AGP.Reportable, got.Flags)
	}
	if got.Readings < 14*288*90/100 || got.Readings > 14*288 {
		t.Errorf("%d readings over 14 days; want 90-100%% of %d", got.Readings, 14*288)
	}
	band := map[summary.Band]float64{}
	for _, b := range got.Bands {
		band[b.Band] = b.Percent
	}
	if len(got.Episodes) == 0 || band[summary.BandAbove13_9] == 0 || band[summary.Band3_0To3_8] == 0 ||
		band[summary.Band3_9To10_0] < 50 || band[summary.Band3_9To10_0] > 95 {
		t.Errorf("bands %v, %d level-2 episodes; want lows and highs, 50-95%% in range, an episode", band, len(got.Episodes))
	}
	// One gap of the sensor's warm-up: readings 5 minutes apart except one gap of 2 h 5 min.
	var ts []time.Time
	for _, r := range slices.Concat(good, doubtful) {
		if p.Contains(r.Time) {
			ts = append(ts, r.Time)
		}
	}
	slices.SortFunc(ts, time.Time.Compare)
	var gaps []time.Duration
	for i := 1; i < len(ts); i++ {
		if g := ts[i].Sub(ts[i-1]); g > 5*time.Minute+time.Second {
			gaps = append(gaps, g)
		}
	}
	if len(gaps) != 1 || gaps[0] != SensorWarmUp+5*time.Minute {
		t.Errorf("gaps over 5 minutes: %v; want one, the warm-up: %v", gaps, SensorWarmUp+5*time.Minute)
	}
	// Before the 14 days it reports every HistoryStep at most, as every CGM of a history does.
	early := 0
	for _, r := range good {
		if r.Time.Before(p.From) {
			early++
		}
	}
	if days := int(p.From.Sub(from) / (24 * time.Hour)); early > days*48 || early == 0 {
		t.Errorf("%d readings in the %d days before; want some, at most one each %v", early, days, HistoryStep)
	}
}

// The demo fleet's home BP patient follows the ESH protocol over the 7 days before the
// history's last: four days without a reading, then morning and evening two readings each,
// day 1 higher; the home average leaves day 1 out.
func TestHomeBPProtocolHistory(t *testing.T) {
	f := NewScenarioFleet(60, 1, DefaultMix(), Reallocation())
	d := profileDevice(t, f, ProfileHomeBP)
	zone := localZone()
	good, doubtful := backlogReadings(t, f, d, HistoryStart(historyEnd, demoHistory), historyEnd)
	all := slices.Concat(good, doubtful)
	today := time.Date(historyEnd.In(zone).Year(), historyEnd.In(zone).Month(), historyEnd.In(zone).Day(), 0, 0, 0, 0, zone)
	day1 := today.AddDate(0, 0, -HomeBPDays)
	perDay := map[int][2]int{} // days after day 1: morning, evening readings
	var sums [HomeBPDays][2]float64
	for _, r := range all {
		k := int(r.Time.Sub(day1).Hours() / 24)
		if r.Time.Before(day1.AddDate(0, 0, -HomeBPGapDays)) || !r.Time.Before(today) {
			continue
		}
		if k < 0 {
			t.Errorf("a reading at %v, in the days without before the protocol", r.Time)
			continue
		}
		c := perDay[k]
		switch h := r.Time.In(zone).Hour(); {
		case h >= 4 && h < 12:
			c[0]++
		case h >= 18:
			c[1]++
		default:
			t.Errorf("a reading at %v, neither morning nor evening", r.Time)
		}
		perDay[k] = c
		sums[k][0] += r.Systolic
		sums[k][1]++
	}
	for k := range HomeBPDays {
		if perDay[k] != [2]int{2, 2} {
			t.Errorf("day %d: %v morning and evening readings; want 2 and 2", k+1, perDay[k])
		}
	}
	rest := 0.0
	for k := 1; k < HomeBPDays; k++ {
		rest += sums[k][0] / sums[k][1] / (HomeBPDays - 1)
	}
	if lift := sums[0][0]/sums[0][1] - rest; lift < 5 {
		t.Errorf("day 1 systolic %.1f above the other days' mean; want it higher", lift)
	}
	h := summary.HomeAverage(summary.HomeReadings(good), time.Time{}, zone, historyEnd, summary.DefaultHomeProtocol())
	if !h.Day1.Equal(day1) || h.Days != HomeBPDays-1 || h.Readings != 4*(HomeBPDays-1)-countFrom(doubtful, day1.AddDate(0, 0, 1), today) || !h.Enough {
		t.Errorf("HomeAverage = day 1 %v, %d days, %d readings; want day 1 %v left out, 6 days, 24 readings but those in doubt", h.Day1, h.Days, h.Readings, day1)
	}
}

func countFrom(rs []reading.Reading, from, to time.Time) int {
	n := 0
	for _, r := range rs {
		if !r.Time.Before(from) && r.Time.Before(to) {
			n++
		}
	}
	return n
}
