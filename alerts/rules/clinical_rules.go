package rules

import (
	"fmt"
	"slices"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/reading"
)

// The clinical rules of single readings and of windows: glucose bands, BP crisis and low BP,
// SpO2, heart rate and weight gain. The table of the catalogue is in catalogue.go; fever with
// the baseline rise is in fever.go, fall and SOS in event_rules.go, the CGM episode in
// cgm_rules.go, the daily rules in daily_rules.go.

// glucoseBands raises one of the four glucose rules. A very low reading is not also low, and a
// very high one not also high; with the very low (high) rule off, the low (high) rule covers it.
func glucoseBands(b *batch, c *readingCtx) {
	th, v := c.th, c.r.Value
	raise := func(i ruleIndex) { b.emit(c.finding(i, level0, num(v)+" mmol/L", c.evidence())) }
	switch {
	case th.on(ruleGlucoseVeryLow) && v < th.p(ruleGlucoseVeryLow, pBelow):
		raise(ruleGlucoseVeryLow)
	case th.on(ruleGlucoseLow) && v < th.p(ruleGlucoseLow, pBelow):
		raise(ruleGlucoseLow)
	case th.on(ruleGlucoseVeryHigh) && v > th.p(ruleGlucoseVeryHigh, pAbove):
		raise(ruleGlucoseVeryHigh)
	case th.on(ruleGlucoseHigh) && v > th.p(ruleGlucoseHigh, pAbove):
		raise(ruleGlucoseHigh)
	}
}

func spo2(b *batch, c *readingCtx) {
	th, v := c.th, c.r.Value
	if !th.on(ruleSpO2Low) {
		return
	}
	raise := func(lvl int) { b.emit(c.finding(ruleSpO2Low, lvl, "SpO2 "+num(v)+" %", c.evidence())) }
	switch {
	case v <= th.p(ruleSpO2Low, spo2VeryLow):
		raise(level1)
	case v <= th.p(ruleSpO2Low, spo2Low):
		raise(level0)
	}
}

// heartRate applies the NEWS2 pulse bands to heart_rate readings. The engine cannot tell rest
// from exercise; a wearable's readings are taken as resting.
func heartRate(b *batch, c *readingCtx) {
	th, v := c.th, c.r.Value
	if !th.on(ruleHeartRate) {
		return
	}
	raise := func(lvl int) { b.emit(c.finding(ruleHeartRate, lvl, "heart rate "+num(v)+" /min", c.evidence())) }
	switch {
	case v >= th.p(ruleHeartRate, hrVeryHigh) || v <= th.p(ruleHeartRate, hrVeryLow):
		raise(level1)
	case v >= th.p(ruleHeartRate, hrHigh) || v <= th.p(ruleHeartRate, hrLow):
		raise(level0)
	}
}

func bpValue(sys, dia float64) string { return num(sys) + "/" + num(dia) + " mm[Hg]" }

func bpLow(b *batch, c *readingCtx) {
	th, r := c.th, c.r
	if th.on(ruleBPLow) && (r.Systolic < th.p(ruleBPLow, lowSystolic) || r.Diastolic < th.p(ruleBPLow, lowDiastolic)) {
		b.emit(c.finding(ruleBPLow, level0, bpValue(r.Systolic, r.Diastolic), c.evidence()))
	}
}

// bpEntry is a recent BP reading of a patient, for the crisis retest.
type bpEntry struct {
	t         time.Time
	device    string
	sys, dia  float64
	crisis    bool
	confirmed bool // a crisis with another crisis reading within the retest window
	resolved  bool // a crisis resolved by a reading below the crisis level
}

// maxRecentBP bounds the readings kept for the crisis retest.
const maxRecentBP = 16

// bpCrisis raises bp_crisis (AHA/ACC): a reading at or above the crisis level is urgent; another
// crisis reading within the retest window, before or after it, confirms it (critical); a reading
// below the crisis level that is the next reading after an unconfirmed crisis, within the window,
// resolves it with a note. A confirmed crisis is left for a person to resolve. Readings with the
// same measurement time as one already seen are redeliveries: they are evaluated again but
// change nothing.
func bpCrisis(b *batch, c *readingCtx) {
	th, r := c.th, c.r
	if !th.on(ruleBPCrisis) {
		return
	}
	crisis := r.Systolic >= th.p(ruleBPCrisis, crisisSystolic) || r.Diastolic >= th.p(ruleBPCrisis, crisisDiastolic)
	if c.doubt != "" {
		if crisis {
			b.emit(c.finding(ruleBPCrisis, level0, bpValue(r.Systolic, r.Diastolic), c.evidence()))
		}
		return // a doubtful reading neither confirms nor resolves
	}
	s := c.p.bpState()
	win := th.d(ruleBPCrisis, crisisRetest)
	seen := slices.IndexFunc(s.recent, func(x bpEntry) bool { return x.t.Equal(r.Time) }) >= 0
	this := bpEntry{t: r.Time, device: c.d.id, sys: r.Systolic, dia: r.Diastolic, crisis: crisis}
	if crisis {
		other := -1
		for k := range s.recent {
			x := &s.recent[k]
			if x.crisis && !x.t.Equal(r.Time) && absDuration(x.t.Sub(r.Time)) <= win &&
				(other < 0 || absDuration(x.t.Sub(r.Time)) < absDuration(s.recent[other].t.Sub(r.Time))) {
				other = k
			}
		}
		if other >= 0 {
			o := &s.recent[other]
			o.confirmed, this.confirmed = true, true
			ev := []alerts.Evidence{c.bpEvidence(o), c.evidence()}
			if o.t.After(r.Time) {
				ev[0], ev[1] = ev[1], ev[0]
			}
			f := c.finding(ruleBPCrisis, level1, bpValue(r.Systolic, r.Diastolic), ev...)
			f.Note = fmt.Sprintf("confirmed: %s measured %s apart", bpValue(o.sys, o.dia), absDuration(o.t.Sub(r.Time)))
			b.emit(f)
		} else {
			b.emit(c.finding(ruleBPCrisis, level0, bpValue(r.Systolic, r.Diastolic), c.evidence()))
			// Out of order: the retest, measured after this reading, arrived first.
			if k := s.next(r.Time); k >= 0 && !s.recent[k].crisis && s.recent[k].t.Sub(r.Time) <= win {
				this.resolved = true
				b.emit(c.crisisResolved(&this, &s.recent[k]))
			}
		}
	} else if k := s.previous(r.Time); k >= 0 {
		x := &s.recent[k]
		if x.crisis && !x.confirmed && !x.resolved && r.Time.Sub(x.t) <= win {
			x.resolved = true
			b.emit(c.crisisResolved(x, &this))
		}
	}
	if !seen {
		s.insert(this, 2*win)
	}
}

// crisisResolved is the finding that resolves the crisis reading x by the retest n.
func (c *readingCtx) crisisResolved(x, n *bpEntry) alerts.Finding {
	f := c.finding(ruleBPCrisis, level0, bpValue(n.sys, n.dia), c.bpEvidence(x), c.bpEvidence(n))
	f.At = n.t
	f.Resolve = true
	f.Severity = alerts.Info
	f.Doubt = ""
	f.Note = fmt.Sprintf("retest %s measured %s after the crisis reading %s is below the crisis level: not confirmed",
		bpValue(n.sys, n.dia), n.t.Sub(x.t), bpValue(x.sys, x.dia))
	return f
}

func (c *readingCtx) bpEvidence(x *bpEntry) alerts.Evidence {
	return alerts.Evidence{Device: x.device, Measurement: string(reading.BP), Time: x.t, Systolic: x.sys, Diastolic: x.dia}
}

// previous returns the index of the latest entry measured before t, or -1.
func (s *bpState) previous(t time.Time) int {
	k := -1
	for i := range s.recent {
		if s.recent[i].t.Before(t) {
			k = i
		}
	}
	return k
}

// next returns the index of the earliest entry measured after t, or -1.
func (s *bpState) next(t time.Time) int {
	for i := range s.recent {
		if s.recent[i].t.After(t) {
			return i
		}
	}
	return -1
}

// insert adds x in time order and forgets entries older than keep before the newest.
func (s *bpState) insert(x bpEntry, keep time.Duration) {
	i, _ := slices.BinarySearchFunc(s.recent, x.t, func(e bpEntry, t time.Time) int { return e.t.Compare(t) })
	s.recent = slices.Insert(s.recent, i, x)
	newest := s.recent[len(s.recent)-1].t
	drop := 0
	for drop < len(s.recent) && newest.Sub(s.recent[drop].t) > keep {
		drop++
	}
	drop = max(drop, len(s.recent)-maxRecentBP)
	if drop > 0 {
		s.recent = slices.Delete(s.recent, 0, drop)
	}
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// weightEntry is a weight reading of a patient.
type weightEntry struct {
	t      time.Time
	v      float64
	device string
}

// maxWeights bounds the weight readings kept per patient: several a day for the window.
const maxWeights = 32

// weightGain raises weight_gain (ESC heart-failure advice) when a weight exceeds the lowest
// weight of the window before it by more than the threshold. A reading that arrives out of order
// is also the earlier weight of the readings after it: those that it makes a gain are raised.
func weightGain(b *batch, c *readingCtx) {
	th, r := c.th, c.r
	if !th.on(ruleWeightGain) || c.doubt != "" {
		return // a doubtful weight is no baseline either
	}
	p := c.p
	win, above := th.d(ruleWeightGain, weightWindow), th.p(ruleWeightGain, weightAbove)
	for _, w := range p.weights {
		if w.t.Equal(r.Time) {
			return // a redelivery
		}
	}
	this := weightEntry{t: r.Time, v: r.Value, device: c.d.id}
	if low, ok := lowestWeight(p.weights, r.Time.Add(-win), r.Time); ok && r.Value-low.v > above {
		b.emit(c.weightFinding(low, this))
	}
	for _, later := range p.weights {
		if !later.t.After(r.Time) || later.t.Sub(r.Time) > win {
			continue
		}
		old, hadOld := lowestWeight(p.weights, later.t.Add(-win), later.t)
		if (!hadOld || later.v-old.v <= above) && later.v-r.Value > above {
			f := c.weightFinding(this, later)
			f.At = later.t
			f.Late = later.t.Before(b.now.Add(-th.lateAfter))
			b.emit(f)
		}
	}
	i, _ := slices.BinarySearchFunc(p.weights, r.Time, func(e weightEntry, t time.Time) int { return e.t.Compare(t) })
	p.weights = slices.Insert(p.weights, i, this)
	newest := p.weights[len(p.weights)-1].t
	drop := 0
	for drop < len(p.weights) && newest.Sub(p.weights[drop].t) > win {
		drop++
	}
	drop = max(drop, len(p.weights)-maxWeights)
	if drop > 0 {
		p.weights = slices.Delete(p.weights, 0, drop)
	}
}

// lowestWeight returns the lowest weight measured in [from, to).
func lowestWeight(ws []weightEntry, from, to time.Time) (weightEntry, bool) {
	var low weightEntry
	found := false
	for _, w := range ws {
		if w.t.Before(from) || !w.t.Before(to) {
			continue
		}
		if !found || w.v < low.v {
			low, found = w, true
		}
	}
	return low, found
}

func (c *readingCtx) weightFinding(low, now weightEntry) alerts.Finding {
	ev := func(w weightEntry) alerts.Evidence {
		return alerts.Evidence{Device: w.device, Measurement: string(reading.Weight), Time: w.t, Value: w.v}
	}
	value := fmt.Sprintf("+%s kg in %s (%s to %s kg)", num(round2(now.v-low.v)), now.t.Sub(low.t), num(low.v), num(now.v))
	return c.finding(ruleWeightGain, level0, value, ev(low), ev(now))
}

func round2(v float64) float64 { return float64(int64(v*100+0.5)) / 100 }
