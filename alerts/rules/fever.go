package rules

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/reading"
)

// fever applies the NEWS2 temperature bands and, for a patient surely older than
// rise_age_above, the IDSA long-term-care definition: a temperature rise_at_or_above over the
// patient's own baseline is a fever, at the fever level unless the bands give a higher
// severity (see catalogue.go for the baseline and the age). The reading then enters the baseline
// of the readings after it; one that arrives after them may make a rise of one of those, which
// is raised then.
func (e *Engine) fever(b *batch, c *readingCtx) {
	th, v := c.th, c.r.Value
	if !th.on(ruleFever) {
		return
	}
	lvl := -1
	switch {
	case v >= th.p(ruleFever, feverHigh):
		lvl = level1
	case v >= th.p(ruleFever, feverAt):
		lvl = level0
	}
	s := e.tempState(c)
	var base tempBaseline
	rise := false
	if s != nil && surelyOlder(c.birthYear, c.r.Time, c.p.loc, th) {
		base = s.baseline(c.r.Time, th)
		if base.risen(v, th) && (lvl < 0 || th.sev(ruleFever, level0) > th.sev(ruleFever, lvl)) {
			lvl, rise = level0, true
		}
	}
	if lvl >= 0 {
		value := num(v) + " Cel"
		if rise {
			value = riseValue(v, base)
		}
		f := c.finding(ruleFever, lvl, value, c.evidence())
		base.record(&f)
		b.emit(f)
	}
	if s != nil && c.doubt == "" {
		addTemp(b, c, s)
	}
}

// tempEntry is a temperature kept for a patient's fever baseline.
type tempEntry struct {
	t      time.Time
	v      float64
	device string
}

// tempState holds a patient's recent temperatures for the fever baseline, in measurement
// order: at most one per tempSlot (the earliest measured in it), at most maxTemps, none
// measured longer than baseline_window before the newest. The engine keeps it only for a
// patient with a known birth year who may be older than rise_age_above.
type tempState struct {
	recent []tempEntry
}

// Bounds of the fever baseline. One reading per clock hour enters it, so that a wearable that
// measures every few minutes neither outweighs daily spot checks nor needs thousands of
// entries; of those, the newest maxTemps are kept: a month of twice-daily checks, or three
// days of a wearable's hours after the day that the baseline skips.
const (
	tempSlot = time.Hour
	maxTemps = 96
)

// surelyOlder reports whether a patient born in birthYear is surely older than rise_age_above
// at t: the least age they can have, t's year in loc - birthYear - 1 (before their birthday),
// is above it. An unknown birth year (0) is never older.
func surelyOlder(birthYear int, t time.Time, loc *time.Location, th *Thresholds) bool {
	return birthYear != 0 && t.In(loc).Year()-birthYear-1 > int(th.p(ruleFever, feverAgeAbove))
}

// tempState returns the fever baseline state of the patient of c, creating it, when they may
// be older than rise_age_above at the reading (the most they can be, its year - birthYear, is
// above it): such a patient's readings will be the baseline when they are surely older, within
// the year. It returns nil for anyone else; when the birth year is unknown (never given, or
// cleared) it also forgets what was kept.
func (e *Engine) tempState(c *readingCtx) *tempState {
	if c.birthYear == 0 {
		if len(e.temps) > 0 {
			delete(e.temps, c.p.id)
		}
		return nil
	}
	if c.r.Time.In(c.p.loc).Year()-c.birthYear <= int(c.th.p(ruleFever, feverAgeAbove)) {
		return nil // a reading of a year when they were younger, out of order, keeps the state
	}
	s := e.temps[c.p.id]
	if s == nil {
		s = &tempState{}
		e.temps[c.p.id] = s
	}
	return s
}

// tempBaseline is a patient's baseline temperature at a time, when there is one.
type tempBaseline struct {
	ok       bool
	median   float64
	n        int       // readings it is the median of
	from, to time.Time // when the first and the last of them were measured
}

// baseline returns the median of the readings measured from baseline_window to baseline_skip
// before t, both ends included; none (ok false) with fewer than baseline_min_readings of them.
// It does not allocate.
func (s *tempState) baseline(t time.Time, th *Thresholds) tempBaseline {
	from, to := t.Add(-th.d(ruleFever, feverWindow)), t.Add(-th.d(ruleFever, feverSkip))
	var buf [maxTemps]float64
	vals := buf[:0]
	var b tempBaseline
	for _, x := range s.recent {
		if x.t.Before(from) {
			continue
		}
		if x.t.After(to) {
			break
		}
		if len(vals) == 0 {
			b.from = x.t
		}
		b.to = x.t
		vals = append(vals, x.v)
	}
	b.n = len(vals)
	if b.n == 0 || b.n < int(th.p(ruleFever, feverMinReadings)) {
		return tempBaseline{n: b.n}
	}
	slices.Sort(vals)
	b.median = vals[b.n/2]
	if b.n%2 == 0 {
		b.median = (vals[b.n/2-1] + b.median) / 2
	}
	b.ok = true
	return b
}

// risen reports whether v is rise_at_or_above or more over the baseline. The difference is
// compared to within a nanodegree: temperatures come in tenths or hundredths, and in floating
// point 37.8 - 36.7 is a hair under 1.1.
func (b tempBaseline) risen(v float64, th *Thresholds) bool {
	return b.ok && v-b.median >= th.p(ruleFever, feverRise)-1e-9
}

// record adds the baseline, when there is one, to the thresholds of f.
func (b tempBaseline) record(f *alerts.Finding) {
	if !b.ok {
		return
	}
	f.Thresholds["baseline"] = math.Round(b.median*1000) / 1000
	f.Thresholds["baseline_readings"] = float64(b.n)
}

// riseValue is the headline value of a rise over the baseline.
func riseValue(v float64, b tempBaseline) string {
	return fmt.Sprintf("%s Cel, +%s over the baseline %s Cel (median of %d readings measured %s to %s)",
		num(v), num(round2(v-b.median)), num(math.Round(b.median*1000)/1000), b.n,
		b.from.UTC().Format(time.RFC3339), b.to.UTC().Format(time.RFC3339))
}

// addTemp puts the reading of c into the patient's baseline readings, unless one measured
// earlier in the same hour is there (a redelivery is such a one); one measured later in the
// hour gives way to it. Then it forgets what the window and maxTemps no longer hold. A reading
// that arrives after readings measured up to baseline_window after it changes their baselines:
// each of them that the bands did not raise and that was not a rise before is raised now if it
// is one.
func addTemp(b *batch, c *readingCtx, s *tempState) {
	r := c.r
	slot := r.Time.Truncate(tempSlot)
	i, found := slices.BinarySearchFunc(s.recent, r.Time, func(x tempEntry, t time.Time) int { return x.t.Compare(t) })
	if found || (i > 0 && s.recent[i-1].t.Truncate(tempSlot).Equal(slot)) {
		return
	}
	this := tempEntry{t: r.Time, v: r.Value, device: c.d.id}
	replace := i < len(s.recent) && s.recent[i].t.Truncate(tempSlot).Equal(slot)
	later := i
	if replace {
		later++ // the entry that gives way is no longer a reading of the baseline
	}
	if later < len(s.recent) && s.recent[len(s.recent)-1].t.Sub(r.Time) >= c.th.d(ruleFever, feverSkip) {
		risesAfter(b, c, s, later, i, this, replace)
		return
	}
	s.put(i, this, replace, c.th)
}

// put inserts x at i, or puts it in place of the entry at i, and forgets the entries measured
// longer than baseline_window before the newest and any beyond maxTemps, oldest first.
func (s *tempState) put(i int, x tempEntry, replace bool, th *Thresholds) {
	if replace {
		s.recent[i] = x
	} else {
		s.recent = slices.Insert(s.recent, i, x)
	}
	newest := s.recent[len(s.recent)-1].t
	win := th.d(ruleFever, feverWindow)
	drop := 0
	for drop < len(s.recent) && newest.Sub(s.recent[drop].t) > win {
		drop++
	}
	drop = max(drop, len(s.recent)-maxTemps)
	if drop > 0 {
		s.recent = slices.Delete(s.recent, 0, drop)
	}
}

// risesAfter puts x, the reading of c, at i (see put), and raises the rises it makes of the
// readings from index from on: those measured from baseline_skip to baseline_window after it,
// of a patient then surely older, that the bands did not raise and that were not rises before.
func risesAfter(b *batch, c *readingCtx, s *tempState, from, i int, x tempEntry, replace bool) {
	th, r := c.th, c.r
	skip, win := th.d(ruleFever, feverSkip), th.d(ruleFever, feverWindow)
	var buf [maxTemps]tempEntry
	check := buf[:0]
	for _, l := range s.recent[from:] {
		if d := l.t.Sub(r.Time); d < skip || d > win || l.v >= th.p(ruleFever, feverAt) ||
			!surelyOlder(c.birthYear, l.t, c.p.loc, th) || s.baseline(l.t, th).risen(l.v, th) {
			continue
		}
		check = append(check, l)
	}
	s.put(i, x, replace, th)
	for _, x := range check {
		base := s.baseline(x.t, th)
		if !base.risen(x.v, th) {
			continue
		}
		f := c.finding(ruleFever, level0, riseValue(x.v, base),
			alerts.Evidence{Device: x.device, Measurement: string(reading.Temperature), Time: x.t, Value: x.v})
		f.At, f.Device = x.t, x.device
		f.Late = x.t.Before(b.now.Add(-th.lateAfter))
		f.Note = fmt.Sprintf("a rise once the reading of %s Cel measured %s, which arrived later, entered its baseline",
			num(r.Value), r.Time.UTC().Format(time.RFC3339))
		base.record(&f)
		b.emit(f)
	}
}
