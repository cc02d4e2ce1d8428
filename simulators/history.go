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
// A device with repairs in the history (Fleet.Repairs) reports its FaultFlag from a repair's
// Fault, sends nothing from its From until its Until, and goes on after; meanwhile a station
// of its centre sees its share of the away station's residents, up to its rated uses a day.
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

	repairs []Repair // the device's own (Fleet.Repairs), in order
	// A station takes its share of the residents of the other stations of its centre while they
	// are under repair (covers), up to rated uses on each local day.
	covers  []*cover
	away    []Repair // every repair of a station of the centre, to know who is working
	working []*Device
	rated   int
	// capDay is the local day of the last visit taken, and budget how many it can take that
	// day besides the station's own uses; taken, how many it took.
	capDay        string
	budget, taken int
}

// cover is another station's repair whose residents come to the backlog's station: its
// schedule over [from, until), and the time of its next visit (zero: not yet worked out).
type cover struct {
	d           *Device
	from, until time.Time
	after, next time.Time
	done        bool
}

// Backlog returns device d's backlog over [from, to).
func (f *Fleet) Backlog(d *Device, from, to time.Time) *Backlog {
	b := &Backlog{d: d, after: from.Add(-time.Nanosecond), to: to, profile: d.newProfileSpan(to)}
	if d == f.failing {
		local := to.In(localZone())
		b.failFrom = time.Date(local.Year(), local.Month(), local.Day()-failDaysBefore, 0, 0, 0, 0, localZone())
		b.silentFrom = b.failFrom.AddDate(0, 0, 1)
	}
	for _, r := range f.Repairs(from, to) {
		switch {
		case r.Device == d.ID:
			b.repairs = append(b.repairs, r)
		case d.Kind != Station || r.Kind != Station || r.Site != f.Site(d):
			continue
		default:
			b.covers = append(b.covers, &cover{d: f.byID[r.Device], from: r.From, until: r.Until, after: r.From.Add(-time.Nanosecond)})
		}
		if d.Kind == Station && r.Kind == Station && r.Site == f.Site(d) {
			b.away = append(b.away, r)
		}
	}
	if len(b.covers) > 0 {
		for _, o := range f.devices {
			if o.Kind == Station && o.site == d.site {
				b.working = append(b.working, o)
			}
		}
		b.rated = f.scenario.RatedUsesPerDay
	}
	return b
}

// Next returns the device's next message, or false when the backlog is done.
func (b *Backlog) Next() (Message, bool) {
	d := b.d
	at, visitors := b.next()
	if at.IsZero() || !at.Before(b.to) || !b.silentFrom.IsZero() && !at.Before(b.silentFrom) {
		return Message{}, false
	}
	if visitors != nil {
		d.visitors = visitors
		defer func() { d.visitors = nil }()
	}
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
	for _, r := range b.repairs {
		if !at.Before(r.Fault) && at.Before(r.From) {
			m.Flags = []string{FaultFlag(d.Kind)}
		}
	}
	return m, true
}

// next is when the device sends its next message: its own next measurement, skipping the
// times it is under repair, or the next visit of a resident of a station under repair that
// this one takes (with that station's residents), whichever comes first. Zero: none before to.
func (b *Backlog) next() (time.Time, []*person) {
	for {
		own := b.ownNext()
		var c *cover
		for _, x := range b.covers {
			if t := x.peek(); !t.IsZero() && (c == nil || t.Before(c.next)) {
				c = x
			}
		}
		if c == nil || !own.IsZero() && !c.next.Before(own) {
			if !own.IsZero() {
				b.after = own
			}
			return own, nil
		}
		at := c.next
		c.after, c.next = at, time.Time{}
		if b.takes(c.d, at) {
			return at, c.d.residents
		}
	}
}

// ownNext is the device's own next measurement after b.after that is not under repair, or zero
// when it is not before the end of the backlog.
func (b *Backlog) ownNext() time.Time {
	for {
		at := b.nextAt()
		if !at.Before(b.to) {
			return time.Time{}
		}
		repaired := false
		for _, r := range b.repairs {
			if !at.Before(r.From) && at.Before(r.Until) {
				b.after, repaired = r.Until.Add(-time.Nanosecond), true
			}
		}
		if !repaired {
			return at
		}
	}
}

// takes reports whether the station takes the visit at at of a resident of station away, under
// repair: the visits go in turn to the centre's working stations, and a station that has had
// its rated uses that day turns the resident away.
func (b *Backlog) takes(away *Device, at time.Time) bool {
	var working []*Device
	for _, o := range b.working {
		if o == away || b.isAway(o, at) {
			continue
		}
		working = append(working, o)
	}
	if len(working) == 0 || b.isAway(b.d, at) {
		return false
	}
	if working[splitmix64(uint64(at.UnixMilli()))%uint64(len(working))] != b.d {
		return false
	}
	if day := Day(at); day != b.capDay {
		b.capDay, b.budget, b.taken = day, b.rated-b.ownUses(at), 0
	}
	if b.taken >= b.budget {
		return false
	}
	b.taken++
	return true
}

// ownUses is how many times the station measures for its own residents on the local day of at.
func (b *Backlog) ownUses(at time.Time) int {
	day := midnight(at.In(localZone()))
	n := 0
	for t := b.d.NextAt(day.Add(-time.Nanosecond)); t.Before(day.AddDate(0, 0, 1)); t = b.d.NextAt(t) {
		if !b.isAway(b.d, t) {
			n++
		}
	}
	return n
}

func (b *Backlog) isAway(d *Device, at time.Time) bool {
	for _, r := range b.away {
		if r.Device == d.ID && !at.Before(r.From) && at.Before(r.Until) {
			return true
		}
	}
	return false
}

// peek is the time of the cover's next visit, or zero when its repair is over.
func (c *cover) peek() time.Time {
	if c.done {
		return time.Time{}
	}
	if c.next.IsZero() {
		c.next = c.d.NextAt(c.after)
		if !c.next.Before(c.until) {
			c.done, c.next = true, time.Time{}
		}
	}
	return c.next
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
