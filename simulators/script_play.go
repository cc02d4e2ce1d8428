package simulators

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/vitalwatch/vitalwatch/reading"
)

// ScriptMessage is one message of a played script.
type ScriptMessage struct {
	// Step is the index of the step in Script.Steps; -1 for a heartbeat.
	Step   int
	Device string
	// Measured is when the device measured the readings, or reported its status.
	Measured time.Time
	// Send is when to publish it: Measured, or later by the step's delay.
	Send    time.Time
	Topic   string
	Payload []byte
	Status  bool   // on the status topic, not telemetry
	What    string // the message in a few words, for a log
}

// Play returns the messages of the script started at start, in the order to publish them: by
// Send, and as the script lists them when two are due at once. Topics are
// {prefix}/{device}/telemetry and {prefix}/{device}/status. The payloads follow the device
// contract: telemetry with ts (the measurement time plus the step's skew, RFC 3339 in the
// device's site's zone or Unix ms), the resident of a station, the readings in the step's units,
// flags and battery; status with ts, battery, signal, firmware, online and flags. A heartbeat is
// {"ts": ..., "online": true}.
func (s *Script) Play(start time.Time, prefix string) []ScriptMessage {
	zones := map[string]*time.Location{}
	for _, site := range s.Sites {
		zones[site.ID] = s.Zone
		if loc, err := time.LoadLocation(site.TimeZone); site.TimeZone != "" && err == nil {
			zones[site.ID] = loc
		}
	}
	var out []ScriptMessage
	for i := range s.Steps {
		st := &s.Steps[i]
		d := s.Device(st.Device)
		p := player{step: i, st: st, d: d, zone: zones[d.Site], prefix: prefix}
		switch {
		case st.Readings != nil:
			for k := range st.Times {
				out = append(out, p.telemetry(start.Add(st.At+time.Duration(k)*st.Every), k))
			}
		case st.Status != nil:
			for k := range st.Times {
				at := start.Add(st.At + time.Duration(k)*st.Every)
				out = append(out, p.status(at, st.Status, describeStatus(st.Status)))
			}
		case st.Drain != nil:
			n := int(st.Drain.Over/st.Drain.Every) + 1
			for k := range n {
				level := math.Round(st.Drain.From + (st.Drain.To-st.Drain.From)*float64(k)/float64(n-1))
				status := &ScriptStatus{Battery: level, HasBattery: true}
				out = append(out, p.status(start.Add(st.At+time.Duration(k)*st.Drain.Every), status, fmt.Sprintf("battery %v %%", level)))
			}
		}
	}
	out = append(out, s.heartbeats(start, prefix, zones)...)
	slices.SortStableFunc(out, func(a, b ScriptMessage) int { return a.Send.Compare(b.Send) })
	return out
}

// player builds the messages of one step.
type player struct {
	step   int
	st     *Step
	d      *ScriptDevice
	zone   *time.Location
	prefix string
}

// stamp is how the device writes a time: its clock, off by the step's skew, in its format.
func (p *player) stamp(at time.Time) time.Time {
	t := at.Add(p.st.Skew).Truncate(time.Millisecond)
	if p.d.TimeFormat == RFC3339 {
		t = t.In(p.zone)
	}
	return t
}

func (p *player) message(at time.Time, status bool, payload []byte, what string) ScriptMessage {
	topic := p.prefix + "/" + p.d.ID + "/telemetry"
	if status {
		topic = p.prefix + "/" + p.d.ID + "/status"
	}
	if p.st.Note != "" {
		what += " (" + p.st.Note + ")"
	}
	return ScriptMessage{Step: p.step, Device: p.d.ID, Measured: at, Send: at.Add(p.st.Delay), Topic: topic,
		Payload: payload, Status: status, What: what}
}

// telemetry is repetition k of a readings step, measured at at.
func (p *player) telemetry(at time.Time, k int) ScriptMessage {
	m := Message{Time: p.stamp(at), TimeFormat: p.d.TimeFormat, Patient: p.st.Patient, Flags: p.st.Flags,
		Battery: p.st.Battery, HasBattery: p.st.HasBattery}
	words := make([]string, 0, len(p.st.Readings))
	for _, sr := range p.st.Readings {
		r := sr.Reading
		if sr.Values != nil {
			r.Value = sr.Values[k]
		}
		if r.Type == reading.Glucose && r.Source == "" {
			r.Source = "fingerstick"
			if p.d.Kind == CGM {
				r.Source = "cgm"
			}
		}
		m.Readings = append(m.Readings, r)
		words = append(words, describeReading(&r))
	}
	what := strings.Join(words, ", ")
	if len(m.Flags) > 0 {
		what += " [" + strings.Join(m.Flags, ",") + "]"
	}
	if m.Patient != "" {
		what = m.Patient + ": " + what
	}
	return p.message(at, false, m.JSON(), what)
}

// status is a status message at at.
func (p *player) status(at time.Time, st *ScriptStatus, what string) ScriptMessage {
	return p.message(at, true, st.appendJSON(make([]byte, 0, 96), p.stamp(at), p.d.TimeFormat), what)
}

// heartbeats are the status messages of the devices with a heartbeat: from the start to the
// end of the script, except while the device is silent (after a silent step or its last will,
// until its next step is sent).
func (s *Script) heartbeats(start time.Time, prefix string, zones map[string]*time.Location) []ScriptMessage {
	var out []ScriptMessage
	online := &ScriptStatus{Online: true, HasOnline: true}
	for i := range s.Devices {
		d := &s.Devices[i]
		if d.Heartbeat == 0 {
			continue
		}
		// The device's steps by time, each saying whether the device is silent after it.
		type change struct {
			at     time.Duration
			silent bool
		}
		var changes []change
		for j := range s.Steps {
			st := &s.Steps[j]
			if st.Device != d.ID {
				continue
			}
			quiet := st.Silent || st.Status != nil && st.Status.HasOnline && !st.Status.Online
			changes = append(changes, change{st.At + st.Delay, quiet}) // a backlog speaks when it is sent
		}
		slices.SortStableFunc(changes, func(a, b change) int { return cmp.Compare(a.at, b.at) })
		p := player{step: -1, st: &Step{}, d: d, zone: zones[d.Site], prefix: prefix}
		for at := time.Duration(0); at <= s.Length; at += d.Heartbeat {
			silent := false
			for _, c := range changes {
				if c.at > at {
					break
				}
				silent = c.silent
			}
			if !silent {
				out = append(out, p.status(start.Add(at), online, "heartbeat"))
			}
		}
	}
	return out
}

// appendJSON appends the status payload with ts.
func (st *ScriptStatus) appendJSON(b []byte, ts time.Time, f TimeFormat) []byte {
	b = append(b, `{"ts":`...)
	b = appendTime(b, ts, f)
	if st.HasBattery {
		b = append(b, `,"battery":`...)
		b = appendNumber(b, st.Battery)
	}
	if st.HasSignal {
		b = append(b, `,"signal":`...)
		b = appendNumber(b, st.Signal)
	}
	if st.Firmware != "" {
		b = append(b, `,"firmware":`...)
		b = appendString(b, st.Firmware)
	}
	if st.HasOnline {
		b = append(b, `,"online":`...)
		b = append(b, fmt.Sprint(st.Online)...)
	}
	if len(st.Flags) > 0 {
		b = append(b, `,"flags":`...)
		b = appendStrings(b, st.Flags)
	}
	return append(b, '}')
}

func describeReading(r *Reading) string {
	switch {
	case r.Type == reading.BP:
		return fmt.Sprintf("bp %v/%v", r.Systolic, r.Diastolic)
	case r.Type.IsEvent():
		return string(r.Type)
	}
	return fmt.Sprintf("%s %v %s", r.Type, r.Value, r.Unit)
}

func describeStatus(st *ScriptStatus) string {
	var parts []string
	if st.HasOnline && !st.Online {
		parts = append(parts, "last will (offline)")
	} else if st.HasOnline {
		parts = append(parts, "online")
	}
	if st.HasBattery {
		parts = append(parts, fmt.Sprintf("battery %v %%", st.Battery))
	}
	if st.HasSignal {
		parts = append(parts, fmt.Sprintf("signal %v dBm", st.Signal))
	}
	if st.Firmware != "" {
		parts = append(parts, "firmware "+st.Firmware)
	}
	if len(st.Flags) > 0 {
		parts = append(parts, "flags "+strings.Join(st.Flags, ","))
	}
	return "status " + strings.Join(parts, ", ")
}
