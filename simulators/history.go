package simulators

import (
	"time"
)

// HistoryStep is how often a continuous sensor (CGM, wearable) reports in a history, instead of
// every 5 minutes: one message in six keeps a backfill of months to tens of thousands of
// messages, and every day of use still has readings. A wearable's steps then cover the half
// hour.
const HistoryStep = 30 * time.Minute

// FailureFlag is the device status flag (docs/design.md "Device contract") that a failing station
// reports on every reading of its last day in service.
const FailureFlag = "sensor_malfunction"

// failDaysBefore is how many local days before the end of a history the failing station has
// its last day of readings; it sends nothing on the days after.
const failDaysBefore = 2

// HistoryStart is the start of a history of length d that ends at end: midnight, in the
// patients' zone, of the day d before end. A history covers whole local days but the last.
func HistoryStart(end time.Time, d time.Duration) time.Time {
	local := end.Add(-d).In(localZone())
	return time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, localZone())
}

// Day is the local calendar day of t where the fleet lives, written YYYY-MM-DD: the day on
// which utilisation counts a reading measured at t (the simulated centres' zone is the
// patients').
func Day(t time.Time) string { return t.In(localZone()).Format(time.DateOnly) }

// Backlog is what one device would have sent over a past period, message by message in time
// order: every measurement on its schedule (NextAt; HistoryStep for continuous sensors), each
// message carrying its measurement time. The failing station of a scenario (Fleet.Failing)
// reports FailureFlag on every reading of the day two days before the end, and nothing after.
//
// A backlog's messages carry no seq (the contract makes it optional): sequence numbers are for
// gaps and duplicates in the live stream, and a device that goes on live after its backlog, in
// this process or a new one, starts them where it would have. The battery runs down as live. A
// Backlog is not safe for concurrent use.
type Backlog struct {
	d          *Device
	after, to  time.Time
	failFrom   time.Time // zero, or the start of the failing station's last day
	silentFrom time.Time
	profile    profileSpan // when the device's profile applies (Device.Profile)
}

// Backlog returns device d's backlog over [from, to).
func (f *Fleet) Backlog(d *Device, from, to time.Time) *Backlog {
	b := &Backlog{d: d, after: from.Add(-time.Nanosecond), to: to, profile: d.newProfileSpan(to)}
	if d == f.failing {
		local := to.In(localZone())
		b.failFrom = time.Date(local.Year(), local.Month(), local.Day()-failDaysBefore, 0, 0, 0, 0, localZone())
		b.silentFrom = b.failFrom.AddDate(0, 0, 1)
	}
	return b
}

// Next returns the device's next message, or false when the backlog is done.
func (b *Backlog) Next() (Message, bool) {
	d := b.d
	at := b.nextAt()
	if !at.Before(b.to) || !b.silentFrom.IsZero() && !at.Before(b.silentFrom) {
		return Message{}, false
	}
	b.after = at
	if d.Kind == Wearable {
		d.span = HistoryStep
		defer func() { d.span = 0 }()
	}
	if d.profile == ProfileHomeBP && !at.Before(b.profile.from) && at.Before(b.profile.from.AddDate(0, 0, 1)) {
		d.bpLift = HomeBPDay1Lift // the protocol's day 1: anxious
		defer func() { d.bpLift = [2]float64{} }()
	}
	seq := d.seq
	m := d.Message(at)
	d.seq, m.Seq = seq, 0
	if !b.failFrom.IsZero() && !at.Before(b.failFrom) {
		m.Flags = []string{FailureFlag}
	}
	return m, true
}

// nextAt is when the device measures next after b.after: on its schedule (HistoryStep for a
// continuous sensor), or as its profile says within the profile's span.
func (b *Backlog) nextAt() time.Time {
	d, s := b.d, b.profile
	switch d.profile {
	case ProfileFullCGM:
		if at := d.nextEvery(b.after, HistoryStep); at.Before(s.from) {
			return at
		}
		at := d.gridAfter(maxTime(b.after, s.from.Add(-time.Nanosecond)), d.schedule.every)
		if warmEnd := s.warmFrom.Add(SensorWarmUp); !at.Before(s.warmFrom) && at.Before(warmEnd) {
			at = d.gridAfter(warmEnd.Add(-time.Nanosecond), d.schedule.every)
		}
		return at
	case ProfileHomeBP:
		if b.after.Before(s.to) {
			if at := d.protocolNext(s, b.after); !at.IsZero() {
				if next := d.NextAt(b.after); next.Before(s.gapFrom) {
					return next // before the protocol and its gap: as usual
				}
				return at
			}
		}
		return d.NextAt(maxTime(b.after, s.to.Add(-time.Nanosecond)))
	}
	if d.schedule.every > 0 {
		return d.nextEvery(b.after, HistoryStep)
	}
	return d.NextAt(b.after)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
