package rules

import (
	"fmt"
	"slices"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/reading"
)

// The device-fault rules. Faults always use the rules file's thresholds (no overrides), go to
// the device's site, and resolve themselves when the condition clears: a finding with Resolve
// set. The engine raises a fault when its condition starts and resolves it when it ends, rather
// than at every message: one fault episode, one alert.
//
// Clocks. Each rule judges its condition on one clock, so that a backlog (old measurement
// times arriving within seconds) neither splits an episode nor pages for one long over:
//   - device_offline and calibration_overdue are about now: receipt and the wall clock.
//   - implausible_values counts rejections by their receipt, start and end alike: a
//     rejection carries no measurement time the engine could use. One that arrives while the
//     device uploads a backlog raises late (see rejected).
//   - repeated_errors, battery_low, stuck_sensor and a time flag's clock_drift are about what
//     the device measured: measurement time. A finding from data measured long before it
//     arrived is Late (info, pages nobody): for repeated_errors, when the episode's latest
//     error is more than window before receipt (the episode was over by then); for the others,
//     when the message is a backlog's: measured more than late_after before receipt, and not
//     one of a steady stream of live messages with the same clock offset, which a device whose
//     clock is off sends (its times are wrong, not its data old). When current data then
//     shows the same condition, the engine repeats the finding, not late, and the lifecycle
//     notifies then. A status message is about now: never late.
//   - clock_drift from live messages compares the two clocks on purpose (receipt - device
//     time) and judges only live messages.
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

	lastSeen     instant // receipt of the latest message, status or rejection; not the last will
	lastActivity instant
	newest       instant // the newest measurement time it sent

	// behind says the latest telemetry message was a backlog's: measured more than late_after
	// before it arrived (and not a steady stream from a clock that is off). The device may be
	// uploading, and more old data may follow.
	behind bool

	offline     bool
	battery     int8    // 0 fine, 1 low, 2 very low
	batteryAt   instant // when the level in force was measured
	batteryLate bool    // battery_low was raised late and nobody was notified yet
	errors      *ring   // made by its first time (addTime): most devices never have one
	// errFirst and errLast bound the current (or last) episode of error flags in measurement
	// time: errors less than window apart. errRaised says repeated_errors was raised for it,
	// errorsOpen that it is not resolved, errorsLate that it was raised late and nobody was
	// notified yet.
	errFirst, errLast instant
	errRaised         bool
	errorsOpen        bool
	errorsLate        bool
	implausible       *ring
	implausibleOpen   bool
	implausibleLate   bool // raised while the device uploaded a backlog; nobody notified yet
	calOpen           bool
	driftOpen         bool
	driftLate         bool          // clock_drift was raised late and nobody was notified yet
	lastOffset        time.Duration // receipt - device time of the latest live message
	lastLiveAt        instant       // device time of the latest live message
	hasOffset         bool
	malfunction       bool        // its latest status has a malfunction flag
	stuck             [2]stuckRun // CGM glucose, wearable heart rate
}

// stuckRun counts identical consecutive values of a continuous sensor.
type stuckRun struct {
	newest instant
	last   float64
	n      int
	open   bool
	late   bool // raised late and nobody was notified yet
}

// ring holds the latest maxRing times of a windowed fault. A device gets one with its first
// such time (addTime): 16 times are 400 bytes, and most devices never have one.
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

// addTime adds t to *r, making the ring if there is none.
func addTime(r **ring, t time.Time) {
	if *r == nil {
		*r = new(ring)
	}
	(*r).add(t)
}

// within counts the times in [from, to]; none in a nil ring.
func (r *ring) within(from, to time.Time) int {
	if r == nil {
		return 0
	}
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
	if r == nil {
		return l
	}
	for i := 0; i < r.n; i++ {
		if r.t[i].After(l) {
			l = r.t[i]
		}
	}
	return l
}

// uploading reports whether the device may be uploading a backlog at now: its latest
// telemetry was measured more than lateAfter before it arrived, less than lateAfter ago.
func (d *deviceState) uploading(now time.Time, lateAfter time.Duration) bool {
	return d.behind && now.Sub(d.lastSeen.Time()) <= lateAfter
}

func (d *deviceState) anyOpen() bool {
	return d.offline || d.battery > 0 || d.errorsOpen || d.implausibleOpen || d.calOpen || d.driftOpen ||
		d.stuck[0].open || d.stuck[1].open
}

// doubt says why readings of the device measured at t are doubtful, or "".
func (d *deviceState) doubt(t time.Time, th *Thresholds) string {
	switch {
	case th.on(ruleCalibrationOverdue) && !d.nextCal.IsZero() && t.After(d.nextCal):
		return "device fault " + alerts.RuleCalibrationOverdue
	case d.stuck[0].open || d.stuck[1].open:
		return "device fault " + alerts.RuleStuckSensor
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
	if d.lastActivity.Before(b.now) {
		d.lastActivity = instantOf(b.now)
	}
	if d.offline && !d.status.InService() {
		d.offline = false
		b.emit(e.faultResolved(d, ruleDeviceOffline, b.now, fmt.Sprintf("the device is %s: not expected to report", d.status)))
	}
	return d
}

func (e *Engine) fault(d *deviceState, i ruleIndex, lvl int, at time.Time, value string) alerts.Finding {
	th := &e.rules.base
	return alerts.Finding{
		Rule:        catalogue[i].id,
		RuleVersion: th.version,
		Category:    alerts.Fault,
		Severity:    th.sev(i, lvl),
		Subject:     alerts.Subject{Kind: "device", ID: d.id},
		Device:      d.id,
		Site:        d.site,
		At:          at,
		Value:       value,
		Thresholds:  th.used(i),
	}
}

func (e *Engine) faultResolved(d *deviceState, i ruleIndex, at time.Time, note string) alerts.Finding {
	f := e.fault(d, i, level0, at, "")
	f.Resolve, f.Severity, f.Note = true, alerts.Info, note
	return f
}

// offlineFault is a device_offline finding with the thresholds of the device's kind only.
func (e *Engine) offlineFault(d *deviceState, at time.Time, value string) alerts.Finding {
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
	if d.lastSeen.Before(b.now) {
		d.lastSeen = instantOf(b.now)
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
	// A live message: one measurement time, newer than anything the device sent before, and
	// not stamped with the receive time. A hub's backlog has several times; a device catching up
	// sends times older than its newest.
	live := oneTime && !m.TimeMissing && len(m.Readings) > 0 && d.newest.Before(first)
	at := newest
	if len(m.Readings) == 0 {
		at = b.now // battery and flags alone: about now
	} else {
		// A message measured more than late_after before it arrived is a backlog's, unless it
		// is live with the same clock offset as the device's previous live message: then
		// the device's clock is off, not its data old (the first such message cannot tell).
		steady := live && d.steadyOffset(b.now.Sub(first), first)
		d.behind = b.now.Sub(newest) > e.rules.base.lateAfter && !steady
		if live && hasTimeFlag(m.Flags) {
			d.recordOffset(b.now.Sub(first), first) // drift does it for the others
		}
	}
	if m.HasBattery {
		e.battery(b, d, m.Battery, at, len(m.Readings) > 0 && d.behind)
	}
	e.flags(b, d, m.Flags, at, len(m.Readings) > 0 && d.behind)
	if d.newest.Before(newest) {
		d.newest = instantOf(newest)
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
		e.battery(b, d, st.Battery, at, false) // a status is about now: never late
	}
	e.flags(b, d, st.Flags, at, false) // a status is about now: never late
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
	th := &e.rules.base
	uploading := d.uploading(b.now, th.lateAfter) // before alive counts this rejection as a message
	e.alive(b, d)
	switch reading.Reason(reason) {
	case reading.ReasonImplausible:
		addTime(&d.implausible, b.now)
		if !th.on(ruleImplausibleValues) {
			return
		}
		// A rejection has no measurement time here, so it counts when it arrives. One that
		// arrives while the device uploads a backlog is most likely of the backlog's time:
		// what it raises is late, and the first rejection after the upload notifies.
		late := uploading
		win := th.d(ruleImplausibleValues, windowSpan)
		n := d.implausible.within(b.now.Add(-win), b.now)
		if (!d.implausibleOpen && n >= int(th.p(ruleImplausibleValues, windowCount))) || (d.implausibleOpen && d.implausibleLate && !late) {
			d.implausibleOpen, d.implausibleLate = true, late
			f := e.fault(d, ruleImplausibleValues, level0, b.now, fmt.Sprintf("%d implausible readings within %s", n, win))
			f.Late = late
			b.emit(f)
		}
	case reading.ReasonFutureTimestamp:
		// The decoder rejects times more than reading.MaxFutureSkew ahead of receipt: a device
		// cannot measure in the future, so its clock is ahead now.
		if th.on(ruleClockDrift) && (!d.driftOpen || d.driftLate) {
			d.driftOpen, d.driftLate = true, false
			b.emit(e.fault(d, ruleClockDrift, level0, b.now, "timestamp in the future: the device clock is ahead"))
		}
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

// quiet resolves repeated_errors and implausible_values once their window has passed without
// one. For repeated_errors the window passes in measurement time: the device has measured
// more than window after the episode's latest error, or the wall clock is that far past it
// and the device is not uploading a backlog, which could still bring errors of the episode.
// implausible_values counts by receipt, so the wall clock alone ends it.
func (e *Engine) quiet(b *batch, d *deviceState) {
	th := &e.rules.base
	if d.errorsOpen {
		win := th.d(ruleRepeatedErrors, windowSpan)
		if d.newest.Sub(d.errLast.Time()) > win || (b.now.Sub(d.errLast.Time()) > win && !d.uploading(b.now, th.lateAfter)) {
			d.errorsOpen, d.errorsLate = false, false
			b.emit(e.faultResolved(d, ruleRepeatedErrors, b.now, fmt.Sprintf("no error flags for %s", win)))
		}
	}
	if d.implausibleOpen {
		win := th.d(ruleImplausibleValues, windowSpan)
		if last := d.implausible.latest(); b.now.Sub(last) > win {
			d.implausibleOpen, d.implausibleLate = false, false
			b.emit(e.faultResolved(d, ruleImplausibleValues, b.now, fmt.Sprintf("no implausible readings for %s", win)))
		}
	}
}

// tickDevice runs the time-driven fault rules of a device.
func (e *Engine) tickDevice(b *batch, d *deviceState) {
	th := &e.rules.base
	if th.on(ruleDeviceOffline) && !d.offline && d.status.InService() && !d.lastSeen.IsZero() {
		interval := th.d(ruleDeviceOffline, offlineInterval(d.kind))
		limit := time.Duration(th.p(ruleDeviceOffline, offlineMultiplier) * float64(interval))
		if silent := b.now.Sub(d.lastSeen.Time()); silent > limit {
			d.offline = true
			b.emit(e.offlineFault(d, b.now, fmt.Sprintf("no message for %s (expected every %s)", silent.Round(time.Second), interval)))
		}
	}
	e.calibration(b, d, b.now)
	e.quiet(b, d)
}
