package rules

import (
	"fmt"
	"slices"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/reading"
)

// battery raises battery_low when the level band changes, and resolves it above the low band.
// The level in force is the one measured last: an older one (a backlog after a newer status)
// says nothing about the battery now and is ignored. A band raised from a level of a backlog
// (late) is late; the next current level in a low band notifies.
func (e *Engine) battery(b *batch, d *deviceState, v float64, at time.Time, late bool) {
	th := &e.rules.base
	if !th.on(ruleBatteryLow) || d.batteryAt.After(at) {
		return
	}
	d.batteryAt = instantOf(at)
	var band int8
	switch {
	case v <= th.p(ruleBatteryLow, batteryVeryLow):
		band = 2
	case v <= th.p(ruleBatteryLow, batteryLow):
		band = 1
	}
	if band == d.battery {
		if band > 0 && d.batteryLate && !late {
			d.batteryLate = false
			b.emit(e.fault(d, ruleBatteryLow, int(band-1), at, "battery "+num(v)+" %"))
		}
		return
	}
	d.battery = band
	if band == 0 {
		d.batteryLate = false
		b.emit(e.faultResolved(d, ruleBatteryLow, at, fmt.Sprintf("battery at %s %%", num(v))))
		return
	}
	f := e.fault(d, ruleBatteryLow, int(band-1), at, "battery "+num(v)+" %")
	f.Late = late
	d.batteryLate = late
	b.emit(f)
}

// flags counts a message with error flags towards repeated_errors, notes a malfunction, and
// raises clock_drift for a time flag (late when timeFlagLate). at is the message's measurement
// time.
func (e *Engine) flags(b *batch, d *deviceState, flags []string, at time.Time, timeFlagLate bool) {
	th := &e.rules.base
	if slices.ContainsFunc(flags, errorFlag) {
		e.errorFlags(b, d, flags, at)
	}
	if i := slices.IndexFunc(flags, timeFlag); i >= 0 && th.on(ruleClockDrift) {
		switch {
		case !d.driftOpen:
			d.driftOpen, d.driftLate = true, timeFlagLate
			f := e.fault(d, ruleClockDrift, level0, at, "the device reports "+flags[i])
			f.Late = timeFlagLate
			b.emit(f)
		case d.driftLate && !timeFlagLate:
			d.driftLate = false
			b.emit(e.fault(d, ruleClockDrift, level0, at, "the device reports "+flags[i]))
		}
	}
}

// errorFlags counts a message with error flags, measured at at, towards repeated_errors. An
// episode is a run of errors less than window apart in measurement time, and raises one alert,
// when count of them fall within a window. The alert is late when the episode's latest error
// is more than window before receipt: by then it was over, and whoever reads it later can see
// it, but nobody is paged. An error of the same episode measured within window of receipt
// shows the episode is not over: the finding is repeated, not late, and notifies. An error of
// an episode already resolved (a backlog that goes on after its end was judged) changes
// nothing.
func (e *Engine) errorFlags(b *batch, d *deviceState, flags []string, at time.Time) {
	th := &e.rules.base
	addTime(&d.errors, at)
	if !th.on(ruleRepeatedErrors) {
		return
	}
	win := th.d(ruleRepeatedErrors, windowSpan)
	value := func(n int) string { return fmt.Sprintf("%d messages with error flags within %s", n, win) }
	if !d.errLast.IsZero() && at.Before(d.errFirst.Time().Add(-win)) {
		return // out of order, from before the episode: counted, but it neither starts nor ends one
	}
	evidence := []alerts.Evidence{{Device: d.id, Time: at, Flags: slices.Clone(flags)}}
	if same := !d.errLast.IsZero() && !at.After(d.errLast.Time().Add(win)); !same {
		if d.errorsOpen {
			// The device measured for a whole window without an error: the last episode ended.
			d.errorsOpen, d.errorsLate = false, false
			b.emit(e.faultResolved(d, ruleRepeatedErrors, at, fmt.Sprintf("no error flags for %s", win)))
		}
		d.errFirst, d.errLast, d.errRaised = instantOf(at), instantOf(at), false
	}
	if d.errFirst.After(at) {
		d.errFirst = instantOf(at)
	}
	if d.errLast.Before(at) {
		d.errLast = instantOf(at)
	}
	over := b.now.Sub(d.errLast.Time()) > win
	switch {
	case d.errRaised:
		if d.errorsOpen && d.errorsLate && !over {
			d.errorsLate = false
			n := d.errors.within(at.Add(-win), at)
			f := e.fault(d, ruleRepeatedErrors, level0, at, value(n))
			f.Evidence = evidence
			b.emit(f)
		}
	default:
		if n := d.errors.within(at.Add(-win), at); n >= int(th.p(ruleRepeatedErrors, windowCount)) {
			d.errRaised, d.errorsOpen, d.errorsLate = true, true, over
			f := e.fault(d, ruleRepeatedErrors, level0, at, value(n))
			f.Evidence = evidence
			f.Late = over
			b.emit(f)
		}
	}
}

// driftAgreement is how close the offsets of two consecutive live messages must be for them to
// show a wrong clock rather than a backlog being drained (engine choice): a clock that is off
// is off by about the same from one message to the next, while the stored readings of a device
// catching up come ever closer to the receive time.
const driftAgreement = time.Minute

// driftMinSpacing is how far apart two live messages must be on the device's clock for their
// offsets to be compared (engine choice).
const driftMinSpacing = time.Minute

// drift raises clock_drift when a live message's time is more than max_drift from its receipt,
// and the device's previous live message was off by about as much (driftAgreement); it resolves
// it when a live message is within max_drift. Live messages are status messages with a ts, and
// telemetry messages with one measurement time that is newer than any before (see
// deviceMessage). A single message cannot tell a wrong clock from a device that stored a
// reading while it was offline.
func (e *Engine) drift(b *batch, d *deviceState, drift time.Duration, at time.Time) {
	th := &e.rules.base
	if !th.on(ruleClockDrift) {
		return
	}
	over := absDuration(drift) > th.d(ruleClockDrift, driftMax)
	agrees := d.steadyOffset(drift, at)
	d.recordOffset(drift, at)
	switch {
	case over && agrees && (!d.driftOpen || d.driftLate):
		d.driftOpen, d.driftLate = true, false
		way := "behind"
		if drift < 0 {
			way = "ahead"
		}
		b.emit(e.fault(d, ruleClockDrift, level0, at, fmt.Sprintf("device clock %s %s", absDuration(drift).Round(time.Second), way)))
	case !over && d.driftOpen:
		d.driftOpen, d.driftLate = false, false
		b.emit(e.faultResolved(d, ruleClockDrift, at, fmt.Sprintf("device clock within %s of receipt", absDuration(drift).Round(time.Second))))
	}
}

// steadyOffset reports whether a live message measured at at, offset from its receipt by
// offset, agrees with the device's previous live message: the time between them on the
// device's clock is the time between their receipts, within driftAgreement and within a tenth
// of that time, so that a backlog drained faster than it was measured (seconds apart on the
// device, milliseconds apart at receipt) never looks like a steady clock offset. Messages less
// than driftMinSpacing apart on the device's clock cannot tell the two apart and do not agree.
func (d *deviceState) steadyOffset(offset time.Duration, at time.Time) bool {
	spacing := at.Sub(d.lastLiveAt.Time())
	return d.hasOffset && spacing >= driftMinSpacing && absDuration(offset-d.lastOffset) <= min(driftAgreement, spacing/10)
}

// recordOffset keeps the offset of a live message for the next steadyOffset.
func (d *deviceState) recordOffset(offset time.Duration, at time.Time) {
	d.lastOffset, d.lastLiveAt, d.hasOffset = offset, instantOf(at), true
}

// stuckSensor counts identical consecutive values of a continuous sensor (CGM glucose, a
// wearable's heart rate) in measurement order; readings older than the newest are ignored.
func (e *Engine) stuckSensor(b *batch, d *deviceState, in *Input, r *reading.Reading) {
	k := -1
	switch {
	case r.Type == reading.Glucose && (r.Source == "cgm" || (r.Source == "" && d.kind == devices.CGM)):
		k = 0
	case r.Type == reading.HeartRate && d.kind == devices.Wearable:
		k = 1
	}
	th := &e.rules.base
	if k < 0 || !th.on(ruleStuckSensor) {
		return
	}
	s := &d.stuck[k]
	if !s.newest.Before(r.Time) {
		return
	}
	s.newest = instantOf(r.Time)
	if s.n > 0 && r.Value == s.last {
		s.n++
	} else {
		if s.open {
			s.open, s.late = false, false
			b.emit(e.faultResolved(d, ruleStuckSensor, r.Time, fmt.Sprintf("%s changed to %s", r.Type, num(r.Value))))
		}
		s.last, s.n = r.Value, 1
	}
	// A run in a backlog is late; a current reading that is still stuck notifies.
	late := d.behind
	raise := !s.open && s.n >= int(th.p(ruleStuckSensor, stuckCount))
	if raise || (s.open && s.late && !late) {
		s.open, s.late = true, late
		f := e.fault(d, ruleStuckSensor, level0, r.Time, fmt.Sprintf("%d identical %s readings of %s", s.n, r.Type, num(r.Value)))
		f.Evidence = []alerts.Evidence{evidenceOf(d.id, r, in.Message.Flags)}
		f.Late = late
		b.emit(f)
	}
}
