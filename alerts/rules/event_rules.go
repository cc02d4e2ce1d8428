package rules

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/reading"
)

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

func locationOf(r *reading.Reading) *alerts.Location {
	if !r.HasLocation {
		return nil
	}
	return &alerts.Location{Lat: r.Lat, Lon: r.Lon}
}

// pendingFall is a fall waiting out its confirm window, or one raised recently (for a cancel
// that arrives after the window).
type pendingFall struct {
	device, patient string
	t               time.Time
	window          time.Duration
	f               alerts.Finding
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

// fall holds a fall event until its confirm window has passed (docs/domain.md: critical, unless the
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
func (e *Engine) holdFall(b *batch, device, patient string, t time.Time, window time.Duration, f alerts.Finding) {
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
func (e *Engine) cancelFalls(b *batch, device, patient string, t time.Time, ev alerts.Evidence) {
	kept := e.falls[:0]
	for _, x := range e.falls {
		if !cancels(device, patient, t, x.device, x.patient, x.t, x.window) {
			kept = append(kept, x)
			continue
		}
		if x.raised {
			f := x.f
			f.Resolve = true
			f.Severity = alerts.Info
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
// sos_unassigned in catalogue.go): an SOS raises sos_unassigned at once, a fall is held as
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
	f := alerts.Finding{
		Rule:        catalogue[i].id,
		RuleVersion: th.version,
		Category:    alerts.Fault,
		Severity:    th.sev(i, level0),
		Subject:     alerts.Subject{Kind: "device", ID: d.id},
		Device:      d.id,
		Site:        d.site,
		At:          r.Time,
		Value:       value,
		Evidence:    []alerts.Evidence{evidenceOf(d.id, r, in.Message.Flags)},
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
