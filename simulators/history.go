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
}

// Backlog returns device d's backlog over [from, to).
func (f *Fleet) Backlog(d *Device, from, to time.Time) *Backlog {
	b := &Backlog{d: d, after: from.Add(-time.Nanosecond), to: to}
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
	var at time.Time
	if d.schedule.every > 0 {
		at = d.nextEvery(b.after, HistoryStep)
	} else {
		at = d.NextAt(b.after)
	}
	if !at.Before(b.to) || !b.silentFrom.IsZero() && !at.Before(b.silentFrom) {
		return Message{}, false
	}
	b.after = at
	if d.Kind == Wearable {
		d.span = HistoryStep
		defer func() { d.span = 0 }()
	}
	seq := d.seq
	m := d.Message(at)
	d.seq, m.Seq = seq, 0
	if !b.failFrom.IsZero() && !at.Before(b.failFrom) {
		m.Flags = []string{FailureFlag}
	}
	return m, true
}
