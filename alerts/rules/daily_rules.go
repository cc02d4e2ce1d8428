package rules

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/reading"
	"github.com/vitalwatch/vitalwatch/summary"
)

// The patient's state and the rules evaluated once a local day by Tick: missed_measurement
// and bp_home_average.

// measured lists the reading types that are measurements, for the missed-measurement clock.
var measured = [...]reading.Type{reading.Glucose, reading.BP, reading.HeartRate, reading.SpO2,
	reading.Temperature, reading.Weight, reading.Steps}

func measuredIndex(t reading.Type) int {
	for i, m := range measured {
		if m == t {
			return i
		}
	}
	return -1
}

// planWords maps care plans to the reading types they ask for. A plan asks for a type when it
// names one of the type's phrases as whole words, case-insensitively: "hypertension: BP daily"
// asks for bp, "insulin-treated diabetes: glucose daily" for glucose. docs/domain.md's plans are a
// hypertension plan (BP daily) and an insulin-treated diabetes plan (glucose daily); a plan that
// says only "diabetes" asks for nothing, since not every diabetes plan measures daily.
var planWords = []struct {
	t       reading.Type
	phrases []string
}{
	{reading.BP, []string{"bp", "blood pressure", "hypertension"}},
	{reading.Glucose, []string{"glucose", "blood sugar", "cgm", "insulin"}},
	{reading.Weight, []string{"weight", "heart failure"}},
	{reading.SpO2, []string{"spo2", "oxygen saturation", "oximetry"}},
	{reading.Temperature, []string{"temperature"}},
}

// lessThanDaily are the phrases of a plan that measures less often than daily ("hypertension:
// BP monthly", "weight twice a week"). Days without a reading keep such a plan rather than miss
// it, so it asks for nothing (docs/domain.md: missed measurements are those of daily plans).
var lessThanDaily = []string{"weekly", "fortnightly", "monthly", "quarterly", "yearly", "annually",
	"a week", "per week", "every week", "a month", "per month", "every month", "a year", "per year"}

// PlanTypes returns the reading types a patient's care plans ask for (see planWords).
func PlanTypes(plans []string) []reading.Type {
	mask := planMask(plans)
	var out []reading.Type
	for i, t := range measured {
		if mask&(1<<i) != 0 {
			out = append(out, t)
		}
	}
	return out
}

func planMask(plans []string) uint16 {
	var mask uint16
	for _, plan := range plans {
		words := " " + strings.Join(strings.FieldsFunc(strings.ToLower(plan), func(r rune) bool {
			return !('a' <= r && r <= 'z' || '0' <= r && r <= '9')
		}), " ") + " "
		if slices.ContainsFunc(lessThanDaily, func(ph string) bool { return strings.Contains(words, " "+ph+" ") }) {
			continue
		}
		for _, pw := range planWords {
			for _, ph := range pw.phrases {
				if strings.Contains(words, " "+ph+" ") {
					mask |= 1 << measuredIndex(pw.t)
				}
			}
		}
	}
	return mask
}

// patientState is what the engine keeps of a patient.
type patientState struct {
	id, team     string
	plans        []string
	planMask     uint16
	th           *Thresholds
	loc          *time.Location
	firstSeen    instant
	lastActivity instant

	last       [len(measured)]instant // newest measurement time per type
	missedDay  [len(measured)]int64   // local day of the last missed finding per type
	missedOpen uint16

	bp      *bpState
	cgm     *cgmState
	weights []weightEntry
}

// bpState holds a patient's BP readings for the crisis retest and the home series.
type bpState struct {
	recent      []bpEntry
	home        []homeBP
	homeEvalDay int64
	// homeBefore is when the newest home reading no longer in home was measured: all that the
	// home average needs of older readings is whether the patient was measuring then, to tell
	// a series that began before its window from one that begins inside it.
	homeBefore time.Time
}

// forgetHome drops the home readings for which drop is true and keeps in homeBefore when the
// newest of them was measured.
func (s *bpState) forgetHome(drop func(h homeBP) bool) {
	s.home = slices.DeleteFunc(s.home, func(h homeBP) bool {
		if !drop(h) {
			return false
		}
		if h.t.After(s.homeBefore) {
			s.homeBefore = h.t
		}
		return true
	})
}

// homeBP is a home BP reading.
type homeBP struct {
	t        time.Time
	sys, dia float64
	device   string
}

// maxHomeBP bounds the home series: four readings a day over the longest window.
const maxHomeBP = 128

func (p *patientState) bpState() *bpState {
	if p.bp == nil {
		p.bp = &bpState{}
	}
	return p.bp
}

func (p *patientState) cgmState() *cgmState {
	if p.cgm == nil {
		p.cgm = &cgmState{}
	}
	return p.cgm
}

// patient returns the state of a patient, creating it, and updates the registry's facts.
func (e *Engine) patient(in *devices.Patient, th *Thresholds, now time.Time) *patientState {
	if th == nil {
		th = &e.rules.base
	}
	p, ok := e.patients[in.ID]
	if !ok {
		if len(e.patients) >= maxPatients {
			e.evictPatients()
		}
		p = &patientState{id: in.ID, firstSeen: instantOf(now), loc: time.UTC}
		e.patients[in.ID] = p
	}
	p.team, p.th = in.TeamID, th
	if !slices.Equal(p.plans, in.Plans) {
		p.plans = slices.Clone(in.Plans)
		p.planMask = planMask(in.Plans)
	}
	if p.lastActivity.Before(now) {
		p.lastActivity = instantOf(now)
	}
	return p
}

// activity records a reading of type t measured at at.
func (p *patientState) activity(t reading.Type, at time.Time) {
	if i := measuredIndex(t); i >= 0 && p.last[i].Before(at) {
		p.last[i] = instantOf(at)
	}
}

// missedResolved says that a missed measurement is made up: the lifecycle gets the note (a
// clinical alert is still resolved by a person).
func (e *Engine) missedResolved(b *batch, c *readingCtx) {
	i := measuredIndex(c.r.Type)
	if i < 0 || c.p.missedOpen&(1<<i) == 0 {
		return
	}
	c.p.missedOpen &^= 1 << i
	f := clinicalFinding(c.th, c.p, ruleMissedMeasurement, level0, c.r.Time)
	f.Device = c.d.id
	f.Value = string(c.r.Type)
	f.Evidence = []alerts.Evidence{c.evidence()}
	f.Resolve, f.Severity = true, alerts.Info
	f.Note = fmt.Sprintf("%s reading measured %s", c.r.Type, c.r.Time.In(c.p.loc).Format(time.RFC3339))
	b.emit(f)
}

func (e *Engine) tickPatient(b *batch, p *patientState) {
	today := b.localDay(p.loc)
	e.missed(b, p, today)
	homeAverage(b, p, today)
}

// missed raises missed_measurement for each type a patient's plans ask for with no reading for
// `after` (since the patient became known when there was never one), at most once a local day
// per type while it lasts.
func (e *Engine) missed(b *batch, p *patientState, today int64) {
	th := p.th
	if p.planMask == 0 || !th.on(ruleMissedMeasurement) {
		return
	}
	after := th.d(ruleMissedMeasurement, missedAfter)
	for i, t := range measured {
		if p.planMask&(1<<i) == 0 || p.missedDay[i] == today {
			continue
		}
		since := p.last[i]
		if since.IsZero() {
			since = p.firstSeen
		}
		gap := b.now.Sub(since.Time())
		if gap < after {
			continue
		}
		p.missedDay[i] = today
		p.missedOpen |= 1 << i
		f := clinicalFinding(th, p, ruleMissedMeasurement, level0, b.now)
		if p.last[i].IsZero() {
			f.Value = fmt.Sprintf("no %s reading since the patient became known %s ago", t, roundDay(gap))
		} else {
			f.Value = fmt.Sprintf("no %s reading for %s", t, roundDay(gap))
		}
		b.emit(f)
	}
}

// roundDay rounds a long duration to hours.
func roundDay(d time.Duration) string {
	d = d.Round(time.Hour)
	if d < 24*time.Hour {
		return d.String()
	}
	return fmt.Sprintf("%dd%dh", d/(24*time.Hour), (d%(24*time.Hour))/time.Hour)
}

// bpHomeSeries adds a BP reading of a home device to the patient's home series. Office
// readings (station devices) and doubtful ones are not part of it.
func bpHomeSeries(c *readingCtx) {
	if c.doubt != "" || c.d.mode != devices.Home || !c.th.on(ruleBPHomeAverage) {
		return
	}
	s := c.p.bpState()
	r := c.r
	i, found := slices.BinarySearchFunc(s.home, r.Time, func(h homeBP, t time.Time) int { return h.t.Compare(t) })
	if found {
		return
	}
	s.home = slices.Insert(s.home, i, homeBP{r.Time, r.Systolic, r.Diastolic, c.d.id})
	keep := time.Duration(c.th.p(ruleBPHomeAverage, homeDays)+2) * 24 * time.Hour
	newest := s.home[len(s.home)-1].t
	drop := 0
	for drop < len(s.home) && newest.Sub(s.home[drop].t) > keep {
		drop++
	}
	drop = max(drop, len(s.home)-maxHomeBP)
	if drop > 0 {
		cut := s.home[drop-1].t
		s.forgetHome(func(h homeBP) bool { return !h.t.After(cut) })
	}
}

// homeAverage raises bp_home_average once per local day when the home average of the `days`
// local days before today (summary.HomeAverage: morning and evening readings of home devices,
// day 1 of the series left out) covers min_days and is at or above the targets: a warning.
// The patient's summary judges by the same function.
func homeAverage(b *batch, p *patientState, today int64) {
	th, s := p.th, p.bp
	if s == nil || len(s.home) == 0 || s.homeEvalDay == today || !th.on(ruleBPHomeAverage) {
		return
	}
	s.homeEvalDay = today
	first := today - int64(th.p(ruleBPHomeAverage, homeDays))
	home := make([]summary.BPReading, len(s.home))
	for i, h := range s.home {
		home[i] = summary.BPReading{Time: h.t, Systolic: h.sys, Diastolic: h.dia}
	}
	avg := summary.HomeAverage(home, s.homeBefore, p.loc, b.now, summary.HomeProtocol{
		Days:          int(th.p(ruleBPHomeAverage, homeDays)),
		MinDays:       int(th.p(ruleBPHomeAverage, homeMinDays)),
		MorningStart:  th.p(ruleBPHomeAverage, homeMorningStart),
		MorningEnd:    th.p(ruleBPHomeAverage, homeMorningEnd),
		EveningStart:  th.p(ruleBPHomeAverage, homeEveningStart),
		EveningEnd:    th.p(ruleBPHomeAverage, homeEveningEnd),
		SeriesGapDays: int(th.p(ruleBPHomeAverage, homeSeriesGap)),
		Systolic:      th.p(ruleBPHomeAverage, homeSystolic),
		Diastolic:     th.p(ruleBPHomeAverage, homeDiastolic),
	})
	ev := make([]alerts.Evidence, 0, len(avg.Used))
	for _, i := range avg.Used {
		h := s.home[i]
		ev = append(ev, alerts.Evidence{Device: h.device, Measurement: string(reading.BP), Time: h.t, Systolic: h.sys, Diastolic: h.dia})
	}
	// Tomorrow's window starts a day later; what is before today's is needed only as
	// homeBefore.
	s.forgetHome(func(h homeBP) bool { return localDay(h.t, p.loc) < first })
	if !avg.AtOrAboveTarget {
		return
	}
	f := clinicalFinding(th, p, ruleBPHomeAverage, level0, b.now)
	f.Value = fmt.Sprintf("mean %s of %d home readings on %d days", bpValue(round1(avg.Mean.Systolic), round1(avg.Mean.Diastolic)), avg.Readings, avg.Days)
	f.Evidence = ev
	b.emit(f)
}

func round1(v float64) float64 { return float64(int64(v*10+0.5)) / 10 }

// localDay numbers the local day of t in loc: days since 1970-01-01 of the local calendar.
func localDay(t time.Time, loc *time.Location) int64 {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}
