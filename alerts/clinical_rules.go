package alerts

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/vitalwatch/vitalwatch/reading"
)

// The clinical rules of single readings and of windows: glucose bands, BP crisis and low BP,
// SpO2, heart rate, fever with the baseline rise, weight gain, fall and SOS. The table of the catalogue is in
// rules.go; the CGM episode is in cgm_rules.go, the daily rules in daily_rules.go.

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

// fever applies the NEWS2 temperature bands and, for a patient surely older than
// rise_age_above, the IDSA long-term-care definition: a temperature rise_at_or_above over the
// patient's own baseline is a fever, at the fever level unless the bands give a higher
// severity (see rules.go for the baseline and the age). The reading then enters the baseline
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
func (b tempBaseline) record(f *Finding) {
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
			Evidence{Device: x.device, Measurement: string(reading.Temperature), Time: x.t, Value: x.v})
		f.At, f.Device = x.t, x.device
		f.Late = x.t.Before(b.now.Add(-th.lateAfter))
		f.Note = fmt.Sprintf("a rise once the reading of %s Cel measured %s, which arrived later, entered its baseline",
			num(r.Value), r.Time.UTC().Format(time.RFC3339))
		base.record(&f)
		b.emit(f)
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
			ev := []Evidence{c.bpEvidence(o), c.evidence()}
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
func (c *readingCtx) crisisResolved(x, n *bpEntry) Finding {
	f := c.finding(ruleBPCrisis, level0, bpValue(n.sys, n.dia), c.bpEvidence(x), c.bpEvidence(n))
	f.At = n.t
	f.Resolve = true
	f.Severity = Info
	f.Doubt = ""
	f.Note = fmt.Sprintf("retest %s measured %s after the crisis reading %s is below the crisis level: not confirmed",
		bpValue(n.sys, n.dia), n.t.Sub(x.t), bpValue(x.sys, x.dia))
	return f
}

func (c *readingCtx) bpEvidence(x *bpEntry) Evidence {
	return Evidence{Device: x.device, Measurement: string(reading.BP), Time: x.t, Systolic: x.sys, Diastolic: x.dia}
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

func (c *readingCtx) weightFinding(low, now weightEntry) Finding {
	ev := func(w weightEntry) Evidence {
		return Evidence{Device: w.device, Measurement: string(reading.Weight), Time: w.t, Value: w.v}
	}
	value := fmt.Sprintf("+%s kg in %s (%s to %s kg)", num(round2(now.v-low.v)), now.t.Sub(low.t), num(low.v), num(now.v))
	return c.finding(ruleWeightGain, level0, value, ev(low), ev(now))
}

func round2(v float64) float64 { return float64(int64(v*100+0.5)) / 100 }

// sos raises an SOS at once, with the location when the device sent one.
func sos(b *batch, c *readingCtx) {
	if !c.th.on(ruleSOS) {
		return
	}
	f := c.finding(ruleSOS, level0, eventValue("SOS", c.r), c.evidence())
	f.Doubt = ""
	f.Location = locationOf(c.r)
	b.emit(f)
}

func eventValue(what string, r *reading.Reading) string {
	if !r.HasLocation {
		return what
	}
	return what + " at " + num(r.Lat) + "," + num(r.Lon)
}

func locationOf(r *reading.Reading) *Location {
	if !r.HasLocation {
		return nil
	}
	return &Location{Lat: r.Lat, Lon: r.Lon}
}

// pendingFall is a fall waiting out its confirm window, or one raised recently (for a cancel
// that arrives after the window).
type pendingFall struct {
	device, patient string
	t               time.Time
	window          time.Duration
	f               Finding
	raised          bool
	raisedAt        time.Time
}

// recentCancel is a cancel event, kept for a fall that arrives after it.
type recentCancel struct {
	device, patient string
	t               time.Time
}

// Bounds of the fall bookkeeping.
const (
	maxFalls       = 4096
	keepRaisedFall = 10 * time.Minute
)

// fall holds a fall event until its confirm window has passed (DOMAIN.md: critical, unless the
// wearer cancels it within the window). A cancel from the same device or the same patient,
// measured at most confirm_window after the fall, withdraws it. The fall is raised by the first
// Tick after the window, or by a later reading of the same device measured after the window.
func (e *Engine) fall(b *batch, c *readingCtx) {
	th, r := c.th, c.r
	if !th.on(ruleFall) {
		return
	}
	f := c.finding(ruleFall, level0, eventValue("fall", r), c.evidence())
	f.Doubt = ""
	f.Location = locationOf(r)
	e.holdFall(b, c.d.id, c.p.id, r.Time, th.d(ruleFall, fallConfirm), f)
}

// holdFall holds f, the finding of a fall of device (and patient, "" for none) measured at t,
// until window has passed, unless it is a redelivery or a cancel that arrived first withdraws
// it.
func (e *Engine) holdFall(b *batch, device, patient string, t time.Time, window time.Duration, f Finding) {
	for _, x := range e.falls {
		if x.device == device && x.t.Equal(t) {
			return // a redelivery
		}
	}
	for _, x := range e.cancels {
		if cancels(x.device, x.patient, x.t, device, patient, t, window) {
			return // withdrawn by a cancel that arrived first
		}
	}
	if b.warm && e.clock().Sub(t) > window {
		return // its window passed before the restart: raised (or withdrawn) then
	}
	x := &pendingFall{device: device, patient: patient, t: t, window: window, f: f}
	if len(e.falls) >= maxFalls {
		e.falls = e.falls[1:]
	}
	e.falls = append(e.falls, x)
	if window == 0 {
		e.raiseFall(b, x)
	}
}

// cancels reports whether a cancel from device/patient at t withdraws a fall of fallDevice/
// fallPatient at fallT.
func cancels(device, patient string, t time.Time, fallDevice, fallPatient string, fallT time.Time, window time.Duration) bool {
	same := device == fallDevice || (patient != "" && patient == fallPatient)
	return same && !t.Before(fallT) && t.Sub(fallT) <= window
}

// cancel withdraws the falls it cancels: a pending one silently, one already raised (the
// cancel came late, though measured in time) with a finding that resolves it.
func (e *Engine) cancel(b *batch, c *readingCtx) {
	e.cancelFalls(b, c.d.id, c.p.id, c.r.Time, c.evidence())
}

// cancelFalls is cancel for a cancel event of device (and patient, "" for none) measured at t,
// with its evidence ev.
func (e *Engine) cancelFalls(b *batch, device, patient string, t time.Time, ev Evidence) {
	kept := e.falls[:0]
	for _, x := range e.falls {
		if !cancels(device, patient, t, x.device, x.patient, x.t, x.window) {
			kept = append(kept, x)
			continue
		}
		if x.raised {
			f := x.f
			f.Resolve = true
			f.Severity = Info
			f.At = t
			f.Evidence = append(slices.Clone(x.f.Evidence), ev)
			f.Note = fmt.Sprintf("cancelled by the wearer %s after the fall; the cancel arrived after the alert was raised", t.Sub(x.t))
			b.emit(f)
		}
	}
	clear(e.falls[len(kept):])
	e.falls = kept
	if len(e.cancels) >= maxFalls {
		e.cancels = e.cancels[1:]
	}
	e.cancels = append(e.cancels, recentCancel{device: device, patient: patient, t: t})
}

// unassignedEvent handles an event of a device that has no patient at the event's time (see
// sos_unassigned in rules.go): an SOS raises sos_unassigned at once, a fall is held as
// fall_unassigned for fall's confirm_window in the rules file (no patient, so no overrides),
// and a cancel withdraws the device's falls. late marks an event measured more than late_after
// before it arrived, as for a patient's.
func (e *Engine) unassignedEvent(b *batch, d *deviceState, in *Input, r *reading.Reading, late bool) {
	th := &e.rules.base
	var i ruleIndex
	what := ""
	switch r.Type {
	case reading.Cancel:
		e.cancelFalls(b, d.id, "", r.Time, evidenceOf(d.id, r, in.Message.Flags))
		return
	case reading.SOS:
		i, what = ruleSOSUnassigned, "SOS"
	case reading.Fall:
		i, what = ruleFallUnassigned, "fall"
	default:
		return
	}
	if !th.on(i) {
		return
	}
	value := eventValue(what, r) + " from device " + d.id + ", lent to no patient at its time; site " + d.site
	if where := strings.Trim(in.Site.Name+", "+in.Site.Address, ", "); where != "" {
		value += " (" + where + ")"
	}
	f := Finding{
		Rule:        catalogue[i].id,
		RuleVersion: th.version,
		Category:    Fault,
		Severity:    th.sev(i, level0),
		Subject:     Subject{Kind: "device", ID: d.id},
		Device:      d.id,
		Site:        d.site,
		At:          r.Time,
		Value:       value,
		Evidence:    []Evidence{evidenceOf(d.id, r, in.Message.Flags)},
		Location:    locationOf(r),
		Late:        late,
	}
	if i == ruleSOSUnassigned {
		b.emit(f)
		return
	}
	window := th.d(ruleFall, fallConfirm)
	f.Thresholds = map[string]float64{catalogue[ruleFall].params[fallConfirm].key: window.Seconds()}
	e.holdFall(b, d.id, "", r.Time, window, f)
}

// fallsSeenPast raises the falls of a device whose confirm window a later reading of the same
// device shows has passed.
func (e *Engine) fallsSeenPast(b *batch, device string, newest time.Time) {
	for _, x := range e.falls {
		if !x.raised && x.device == device && newest.Sub(x.t) > x.window {
			e.raiseFall(b, x)
		}
	}
}

// tickFalls raises the falls whose confirm window has passed by b.now, and forgets raised falls
// and cancels too old to matter.
func (e *Engine) tickFalls(b *batch) {
	kept := e.falls[:0]
	for _, x := range e.falls {
		if !x.raised && b.now.Sub(x.t) > x.window {
			e.raiseFall(b, x)
		}
		if x.raised && b.now.Sub(x.raisedAt) > keepRaisedFall {
			continue
		}
		kept = append(kept, x)
	}
	clear(e.falls[len(kept):])
	e.falls = kept
	keptC := e.cancels[:0]
	for _, x := range e.cancels {
		if b.now.Sub(x.t) <= keepRaisedFall {
			keptC = append(keptC, x)
		}
	}
	e.cancels = keptC
}

func (e *Engine) raiseFall(b *batch, x *pendingFall) {
	x.raised, x.raisedAt = true, b.now
	b.emit(x.f)
}
