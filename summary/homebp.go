package summary

import (
	"math/bits"
	"slices"
	"time"

	"github.com/vitalwatch/vitalwatch/reading"
)

// HomeProtocol is the home blood-pressure protocol (ESH/ESC home BP monitoring; China 2024
// hypertension guideline): which readings make the home average and its target. Its fields are
// the parameters of the bp_home_average rule (docs/alerts.md).
type HomeProtocol struct {
	// Days is the window: the Days local days before today (at most 32).
	Days int
	// MinDays is how many days of the window must have readings for the mean to be judged.
	MinDays int
	// MorningStart..MorningEnd and EveningStart..EveningEnd are the local hours (fractions
	// allowed, end excluded) of the morning and evening readings; others are left out.
	MorningStart, MorningEnd, EveningStart, EveningEnd float64
	// SeriesGapDays days without a home reading end a series; the next measuring day is day 1.
	SeriesGapDays int
	// Systolic, Diastolic: a mean at or above either is above target.
	Systolic, Diastolic float64
}

// DefaultHomeProtocol returns the protocol of docs/domain.md: 7 days, day 1 left out, morning
// 04-12 h and evening 18-24 h, 135/85.
func DefaultHomeProtocol() HomeProtocol {
	return HomeProtocol{Days: 7, MinDays: 3, MorningStart: 4, MorningEnd: 12, EveningStart: 18, EveningEnd: 24,
		SeriesGapDays: 3, Systolic: 135, Diastolic: 85}
}

// Since returns the earliest measurement time HomeAverage needs to see on asOf: the window
// and, before it, enough days to tell whether the series began before it (as far back as the
// alert rules replay at start).
func (p HomeProtocol) Since(asOf time.Time, loc *time.Location) time.Time {
	return dayStart(localDay(asOf, loc)-int64(p.Days+p.SeriesGapDays+1), loc)
}

// BPReading is one home blood-pressure reading, in mm[Hg].
type BPReading struct {
	Time                time.Time
	Systolic, Diastolic float64
}

// BPMean is a mean blood pressure over Readings readings (zero when there are none).
type BPMean struct {
	Systolic, Diastolic float64
	Readings            int
}

// HomeBP is the home blood-pressure average of a window.
type HomeBP struct {
	// Period is the window: the protocol's days before today.
	Period Period
	// Day1 is the local midnight of the current series' day 1 when it falls in the window: it
	// and the days before it are left out. Zero when the series began before the window.
	Day1 time.Time
	// Days and Readings are the days and the readings averaged.
	Days, Readings int
	// Mean is over all the readings averaged; Morning and Evening over each part of the day.
	Mean, Morning, Evening BPMean
	// Enough says the readings cover the protocol's MinDays.
	Enough bool
	// AtOrAboveTarget says the mean is at or above the protocol's target (systolic or
	// diastolic); never when not Enough.
	AtOrAboveTarget bool
	// Target is the protocol's target.
	Target BPMean
	// Used are the indexes, in the readings given (in Compute: of HomeReadings(Input.HomeBP)),
	// of those averaged, in time order.
	Used []int
	// Excluded are the home readings measured in the window that were left out as in doubt
	// (set by Compute).
	Excluded Excluded
	Flags    []Flag
}

// HomeAverage computes the home average on asOf (ESH/ESC home BP; China 2024; docs/alerts.md
// "The home BP series"): the mean of the morning and the evening readings of the current series
// in the protocol's Days local days before today.
//
// The protocol discards day 1 of a series: the first day the patient measures, whose readings
// the novelty of it raises, not the first calendar day of the window. A series is the run of
// days with home readings (at any time of day) up to yesterday in which no gap of
// SeriesGapDays or more days has none. When the current series began inside the window, its
// day 1 and anything before it (an earlier series) are left out; when it began before the
// window, every day of the window counts.
//
// home are the readings of home devices (office readings are not part of the protocol), none in
// doubt, in time order, no two at the same time. before is when the newest home reading older
// than all of home was measured, zero when home holds them all: it tells a series that began
// before the window from one that begins inside it. The alert rule bp_home_average and the
// patient's summary both judge by this function.
func HomeAverage(home []BPReading, before time.Time, loc *time.Location, asOf time.Time, p HomeProtocol) HomeBP {
	today := localDay(asOf, loc)
	n := int64(p.Days)
	first, last := today-n, today-1
	out := HomeBP{Period: DaysBefore(asOf, loc, p.Days), Target: BPMean{Systolic: p.Systolic, Diastolic: p.Diastolic}}
	from := first
	if start, ok := seriesStart(home, before, loc, last, int64(p.SeriesGapDays)); ok && start >= first {
		from = start + 1
		out.Day1 = dayStart(start, loc)
	}
	var all, morning, evening bpSum
	var daysSeen uint32
	for i, h := range home {
		day := localDay(h.Time, loc)
		if day < from || day > last {
			continue
		}
		lt := h.Time.In(loc)
		hr := float64(lt.Hour()) + float64(lt.Minute())/60 + float64(lt.Second())/3600
		switch {
		case hr >= p.MorningStart && hr < p.MorningEnd:
			morning.add(h)
		case hr >= p.EveningStart && hr < p.EveningEnd:
			evening.add(h)
		default:
			continue // not part of the home protocol
		}
		all.add(h)
		daysSeen |= 1 << (day - first)
		out.Used = append(out.Used, i)
	}
	out.Mean, out.Morning, out.Evening = all.mean(), morning.mean(), evening.mean()
	out.Readings, out.Days = all.n, bits.OnesCount32(daysSeen)
	out.Enough = out.Days >= p.MinDays
	switch {
	case out.Readings == 0:
		out.Flags = append(out.Flags, FlagNoData)
	case !out.Enough:
		out.Flags = append(out.Flags, FlagTooFewDays)
	}
	out.AtOrAboveTarget = out.Enough && !(out.Mean.Systolic < p.Systolic && out.Mean.Diastolic < p.Diastolic)
	return out
}

// bpSum accumulates readings for a mean, in the order they come.
type bpSum struct {
	sys, dia float64
	n        int
}

func (s *bpSum) add(r BPReading) { s.sys, s.dia, s.n = s.sys+r.Systolic, s.dia+r.Diastolic, s.n+1 }

func (s bpSum) mean() BPMean {
	if s.n == 0 {
		return BPMean{}
	}
	return BPMean{Systolic: s.sys / float64(s.n), Diastolic: s.dia / float64(s.n), Readings: s.n}
}

// seriesStart returns the local day on which the home series current at day last began: the
// latest day with a home reading, up to last, that follows gap or more days without one (or no
// earlier reading at all). ok is false when there is no home reading up to last.
func seriesStart(home []BPReading, before time.Time, loc *time.Location, last, gap int64) (start int64, ok bool) {
	var prev int64
	if day := localDay(before, loc); !before.IsZero() && day <= last {
		prev, start, ok = day, day, true
	}
	for _, h := range home {
		day := localDay(h.Time, loc)
		if day > last {
			break
		}
		if ok && day <= prev {
			continue // a reading out of order, older than before: nothing new
		}
		if !ok || day-prev-1 >= gap {
			start = day
		}
		prev, ok = day, true
	}
	return start, ok
}

// HomeReadings returns the blood-pressure readings among rs as the home series HomeAverage
// takes: in time order, one per measurement time (the first given).
func HomeReadings(rs []reading.Reading) []BPReading {
	var out []BPReading
	for _, r := range rs {
		if r.Type == reading.BP {
			out = append(out, BPReading{Time: r.Time, Systolic: r.Systolic, Diastolic: r.Diastolic})
		}
	}
	slices.SortStableFunc(out, func(a, b BPReading) int { return a.Time.Compare(b.Time) })
	return slices.CompactFunc(out, func(a, b BPReading) bool { return a.Time.Equal(b.Time) })
}
