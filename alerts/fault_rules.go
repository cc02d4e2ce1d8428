package alerts

import (
	"fmt"
	"slices"
	"time"

	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/reading"
)

// The device-fault rules. Faults always use the rules file's thresholds (no overrides), go to
// the device's site, and resolve themselves when the condition clears: a finding with Resolve
// set. The engine raises a fault when its condition starts and resolves it when it ends, rather
// than at every message. Faults describe the device now, so they are never Late.
//
// Flags (reading.QualityFlag lists the quality flags; the subsets here are of those):
//   - error flags, counted by repeated_errors: the quality flags that report a failed
//     measurement or a device fault, i.e. all but the time flags and the CGM session and
//     calibration notices;
//   - malfunction flags: a device whose latest status message carries one is doubtful until a
//     status without it (a telemetry message's flags make only its own readings doubtful);
//   - time flags: the device says its clock is wrong (clock_drift).

// errorFlag reports whether f reports a failed measurement or a device fault.
func errorFlag(f string) bool {
	switch f {
	case "time_fault", "time_sync_required", "session_stopped", "calibration_required":
		return false
	}
	return reading.QualityFlag(f)
}

func malfunctionFlag(f string) bool {
	switch f {
	case "sensor_malfunction", "equipment_malfunction", "device_fault", "general_device_fault":
		return true
	}
	return false
}

func timeFlag(f string) bool { return f == "time_fault" || f == "time_sync_required" }

// deviceState is what the engine keeps of a device.
type deviceState struct {
	id      string
	kind    devices.Kind
	mode    devices.Mode
	status  devices.Status
	site    string
	nextCal time.Time

	lastSeen     time.Time // receipt of the latest message, status or rejection; not the last will
	lastActivity time.Time
	newest       time.Time // the newest measurement time it sent

	offline         bool
	battery         int8 // 0 fine, 1 low, 2 very low
	errors          ring
	errorsOpen      bool
	implausible     ring
	implausibleOpen bool
	calOpen         bool
	driftOpen       bool
	lastOffset      time.Duration // receipt - device time of the latest live message
	lastLiveAt      time.Time     // device time of the latest live message
	hasOffset       bool
	malfunction     bool        // its latest status has a malfunction flag
	stuck           [2]stuckRun // CGM glucose, wearable heart rate
}

// stuckRun counts identical consecutive values of a continuous sensor.
type stuckRun struct {
	newest time.Time
	last   float64
	n      int
	open   bool
}

// ring holds the latest maxRing times of a windowed fault.
type ring struct {
	t    [maxRing]time.Time
	next int
	n    int
}

func (r *ring) add(t time.Time) {
	r.t[r.next] = t
	r.next = (r.next + 1) % maxRing
	r.n = min(r.n+1, maxRing)
}

// within counts the times in [from, to].
func (r *ring) within(from, to time.Time) int {
	n := 0
	for i := 0; i < r.n; i++ {
		if t := r.t[i]; !t.Before(from) && !t.After(to) {
			n++
		}
	}
	return n
}

func (r *ring) latest() time.Time {
	var l time.Time
	for i := 0; i < r.n; i++ {
		if r.t[i].After(l) {
			l = r.t[i]
		}
	}
	return l
}

func (d *deviceState) anyOpen() bool {
	return d.offline || d.battery > 0 || d.errorsOpen || d.implausibleOpen || d.calOpen || d.driftOpen ||
		d.stuck[0].open || d.stuck[1].open
}

// doubt says why readings of the device measured at t are doubtful, or "".
func (d *deviceState) doubt(t time.Time, th *Thresholds) string {
	switch {
	case th.on(ruleCalibrationOverdue) && !d.nextCal.IsZero() && t.After(d.nextCal):
		return "device fault " + RuleCalibrationOverdue
	case d.stuck[0].open || d.stuck[1].open:
		return "device fault " + RuleStuckSensor
	case d.malfunction:
		return "device fault sensor_malfunction"
	}
	return ""
}

// device returns the state of a device, creating it, and updates the registry's facts. A
// device that leaves service while offline has its offline fault resolved.
func (e *Engine) device(b *batch, in *devices.Device, site *devices.Site) *deviceState {
	d, ok := e.devices[in.ID]
	if !ok {
		if len(e.devices) >= maxDevices {
			e.evictDevices()
		}
		d = &deviceState{id: in.ID}
		e.devices[in.ID] = d
	}
	d.kind, d.mode, d.status, d.nextCal = in.Kind, in.Mode, in.Status, in.NextCalibration
	d.site = in.SiteID
	if site.ID != "" {
		d.site = site.ID
	}
	if b.now.After(d.lastActivity) {
		d.lastActivity = b.now
	}
	if d.offline && !d.status.InService() {
		d.offline = false
		b.emit(e.faultResolved(d, ruleDeviceOffline, b.now, fmt.Sprintf("the device is %s: not expected to report", d.status)))
	}
	return d
}

func (e *Engine) fault(d *deviceState, i ruleIndex, lvl int, at time.Time, value string) Finding {
	th := &e.rules.base
	return Finding{
		Rule:        catalogue[i].id,
		RuleVersion: th.version,
		Category:    Fault,
		Severity:    th.sev(i, lvl),
		Subject:     Subject{Kind: "device", ID: d.id},
		Device:      d.id,
		Site:        d.site,
		At:          at,
		Value:       value,
		Thresholds:  th.used(i),
	}
}

func (e *Engine) faultResolved(d *deviceState, i ruleIndex, at time.Time, note string) Finding {
	f := e.fault(d, i, level0, at, "")
	f.Resolve, f.Severity, f.Note = true, Info, note
	return f
}

// offlineFault is a device_offline finding with the thresholds of the device's kind only.
func (e *Engine) offlineFault(d *deviceState, at time.Time, value string) Finding {
	f := e.fault(d, ruleDeviceOffline, level0, at, value)
	key := catalogue[ruleDeviceOffline].params[offlineInterval(d.kind)].key
	f.Thresholds = map[string]float64{
		"multiplier": f.Thresholds["multiplier"],
		key:          f.Thresholds[key],
	}
	return f
}

// alive records that the device was heard from at b.now; an offline device is back.
func (e *Engine) alive(b *batch, d *deviceState) {
	if b.now.After(d.lastSeen) {
		d.lastSeen = b.now
	}
	if d.offline {
		d.offline = false
		b.emit(e.faultResolved(d, ruleDeviceOffline, b.now, "the device is back online"))
	}
}

// deviceMessage runs the fault rules of a telemetry message.
func (e *Engine) deviceMessage(b *batch, d *deviceState, in *Input) {
	m := &in.Message
	e.alive(b, d)
	var first, newest time.Time
	oneTime := true
	for i := range m.Readings {
		t := m.Readings[i].Time
		if i == 0 {
			first = t
		} else if !t.Equal(first) {
			oneTime = false
		}
		if t.After(newest) {
			newest = t
		}
	}
	if m.HasBattery {
		e.battery(b, d, m.Battery, newest)
	}
	e.flags(b, d, m.Flags, newest)
	// A live message: one measurement time, newer than anything the device sent before, and
	// not stamped with the receive time. A hub's backlog has several times; a device catching up
	// sends times older than its newest.
	live := oneTime && !m.TimeMissing && len(m.Readings) > 0 && first.After(d.newest)
	if newest.After(d.newest) {
		d.newest = newest
	}
	if !hasTimeFlag(m.Flags) && live {
		e.drift(b, d, b.now.Sub(first), newest)
	}
	e.calibration(b, d, b.now)
	e.quiet(b, d)
}

func hasTimeFlag(flags []string) bool { return slices.ContainsFunc(flags, timeFlag) }

// status runs the fault rules of a status message.
func (e *Engine) status(b *batch, in *devices.Device, site *devices.Site, st *reading.Status) {
	if in.ID == "" {
		in.ID = st.Device
	}
	d := e.device(b, in, site)
	if st.HasOnline && !st.Online {
		// The last will: the broker says the device is gone.
		if !d.offline && d.status.InService() && e.rules.base.on(ruleDeviceOffline) {
			d.offline = true
			b.emit(e.offlineFault(d, b.now, "disconnected (last will)"))
		}
	} else {
		e.alive(b, d)
	}
	at := st.Time
	if at.IsZero() {
		at = b.now
	}
	if st.HasBattery {
		e.battery(b, d, st.Battery, at)
	}
	e.flags(b, d, st.Flags, at)
	d.malfunction = slices.ContainsFunc(st.Flags, malfunctionFlag)
	if !st.TimeMissing && !hasTimeFlag(st.Flags) && !st.Time.IsZero() {
		e.drift(b, d, b.now.Sub(st.Time), st.Time) // a status is always about now
	}
	e.calibration(b, d, b.now)
	e.quiet(b, d)
}

// rejected runs the fault rules of a rejection.
func (e *Engine) rejected(b *batch, in *devices.Device, site *devices.Site, reason string) {
	d := e.device(b, in, site)
	e.alive(b, d)
	th := &e.rules.base
	switch reading.Reason(reason) {
	case reading.ReasonImplausible:
		d.implausible.add(b.now)
		if !th.on(ruleImplausibleValues) || d.implausibleOpen {
			return
		}
		win := th.d(ruleImplausibleValues, windowSpan)
		n := d.implausible.within(b.now.Add(-win), b.now)
		if n >= int(th.p(ruleImplausibleValues, windowCount)) {
			d.implausibleOpen = true
			b.emit(e.fault(d, ruleImplausibleValues, level0, b.now, fmt.Sprintf("%d implausible readings within %s", n, win)))
		}
	case reading.ReasonFutureTimestamp:
		// The decoder rejects times more than reading.MaxFutureSkew ahead of receipt: a device
		// cannot measure in the future, so its clock is ahead.
		if th.on(ruleClockDrift) && !d.driftOpen {
			d.driftOpen = true
			b.emit(e.fault(d, ruleClockDrift, level0, b.now, "timestamp in the future: the device clock is ahead"))
		}
	}
}

// battery raises battery_low when the level band changes, and resolves it above the low band.
func (e *Engine) battery(b *batch, d *deviceState, v float64, at time.Time) {
	th := &e.rules.base
	if !th.on(ruleBatteryLow) {
		return
	}
	var band int8
	switch {
	case v <= th.p(ruleBatteryLow, batteryVeryLow):
		band = 2
	case v <= th.p(ruleBatteryLow, batteryLow):
		band = 1
	}
	if band == d.battery {
		return
	}
	d.battery = band
	if band == 0 {
		b.emit(e.faultResolved(d, ruleBatteryLow, at, fmt.Sprintf("battery at %s %%", num(v))))
		return
	}
	b.emit(e.fault(d, ruleBatteryLow, int(band-1), at, "battery "+num(v)+" %"))
}

// flags counts a message with error flags towards repeated_errors, notes a malfunction, and
// raises clock_drift for a time flag.
func (e *Engine) flags(b *batch, d *deviceState, flags []string, at time.Time) {
	th := &e.rules.base
	if slices.ContainsFunc(flags, errorFlag) {
		d.errors.add(at)
		if th.on(ruleRepeatedErrors) && !d.errorsOpen {
			win := th.d(ruleRepeatedErrors, windowSpan)
			n := d.errors.within(at.Add(-win), at)
			if n >= int(th.p(ruleRepeatedErrors, windowCount)) {
				d.errorsOpen = true
				f := e.fault(d, ruleRepeatedErrors, level0, at, fmt.Sprintf("%d messages with error flags within %s", n, win))
				f.Evidence = []Evidence{{Device: d.id, Time: at, Flags: slices.Clone(flags)}}
				b.emit(f)
			}
		}
	}
	if i := slices.IndexFunc(flags, timeFlag); i >= 0 && th.on(ruleClockDrift) && !d.driftOpen {
		d.driftOpen = true
		b.emit(e.fault(d, ruleClockDrift, level0, at, "the device reports "+flags[i]))
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
	// Two live messages agree when the time between them on the device's clock is the time
	// between their receipts: within driftAgreement, and within a tenth of that time, so that
	// a backlog drained faster than it was measured (seconds apart on the device, milliseconds
	// apart at receipt) never looks like a steady clock offset. Messages less than
	// driftMinSpacing apart on the device's clock cannot tell the two apart and are not judged.
	spacing := at.Sub(d.lastLiveAt)
	agrees := d.hasOffset && spacing >= driftMinSpacing &&
		absDuration(drift-d.lastOffset) <= min(driftAgreement, spacing/10)
	d.lastOffset, d.lastLiveAt, d.hasOffset = drift, at, true
	switch {
	case over && agrees && !d.driftOpen:
		d.driftOpen = true
		way := "behind"
		if drift < 0 {
			way = "ahead"
		}
		b.emit(e.fault(d, ruleClockDrift, level0, at, fmt.Sprintf("device clock %s %s", absDuration(drift).Round(time.Second), way)))
	case !over && d.driftOpen:
		d.driftOpen = false
		b.emit(e.faultResolved(d, ruleClockDrift, at, fmt.Sprintf("device clock within %s of receipt", absDuration(drift).Round(time.Second))))
	}
}

// calibration raises calibration_overdue once the registry's next-calibration date has passed
// at `at`, and resolves it when the registry has a later date (or none).
func (e *Engine) calibration(b *batch, d *deviceState, at time.Time) {
	th := &e.rules.base
	if !th.on(ruleCalibrationOverdue) {
		return
	}
	overdue := !d.nextCal.IsZero() && at.After(d.nextCal) && d.status != devices.Retired
	switch {
	case overdue && !d.calOpen:
		d.calOpen = true
		b.emit(e.fault(d, ruleCalibrationOverdue, level0, at, "calibration was due "+d.nextCal.Format(time.DateOnly)))
	case !overdue && d.calOpen:
		d.calOpen = false
		note := "calibrated: next due " + d.nextCal.Format(time.DateOnly)
		if d.nextCal.IsZero() {
			note = "calibration no longer tracked"
		}
		b.emit(e.faultResolved(d, ruleCalibrationOverdue, at, note))
	}
}

// quiet resolves repeated_errors and implausible_values once their window has passed without one.
func (e *Engine) quiet(b *batch, d *deviceState) {
	th := &e.rules.base
	if d.errorsOpen {
		win := th.d(ruleRepeatedErrors, windowSpan)
		if last := d.errors.latest(); b.now.Sub(last) > win {
			d.errorsOpen = false
			b.emit(e.faultResolved(d, ruleRepeatedErrors, b.now, fmt.Sprintf("no error flags for %s", win)))
		}
	}
	if d.implausibleOpen {
		win := th.d(ruleImplausibleValues, windowSpan)
		if last := d.implausible.latest(); b.now.Sub(last) > win {
			d.implausibleOpen = false
			b.emit(e.faultResolved(d, ruleImplausibleValues, b.now, fmt.Sprintf("no implausible readings for %s", win)))
		}
	}
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
	if !r.Time.After(s.newest) {
		return
	}
	s.newest = r.Time
	if s.n > 0 && r.Value == s.last {
		s.n++
	} else {
		if s.open {
			s.open = false
			b.emit(e.faultResolved(d, ruleStuckSensor, r.Time, fmt.Sprintf("%s changed to %s", r.Type, num(r.Value))))
		}
		s.last, s.n = r.Value, 1
	}
	if !s.open && s.n >= int(th.p(ruleStuckSensor, stuckCount)) {
		s.open = true
		f := e.fault(d, ruleStuckSensor, level0, r.Time, fmt.Sprintf("%d identical %s readings of %s", s.n, r.Type, num(r.Value)))
		f.Evidence = []Evidence{evidenceOf(d.id, r, in.Message.Flags)}
		b.emit(f)
	}
}

// tickDevice runs the time-driven fault rules of a device.
func (e *Engine) tickDevice(b *batch, d *deviceState) {
	th := &e.rules.base
	if th.on(ruleDeviceOffline) && !d.offline && d.status.InService() && !d.lastSeen.IsZero() {
		interval := th.d(ruleDeviceOffline, offlineInterval(d.kind))
		limit := time.Duration(th.p(ruleDeviceOffline, offlineMultiplier) * float64(interval))
		if silent := b.now.Sub(d.lastSeen); silent > limit {
			d.offline = true
			b.emit(e.offlineFault(d, b.now, fmt.Sprintf("no message for %s (expected every %s)", silent.Round(time.Second), interval)))
		}
	}
	e.calibration(b, d, b.now)
	e.quiet(b, d)
}
