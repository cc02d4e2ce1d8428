package reading

import (
	"bytes"
	"cmp"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"time"
)

// senmlRecord is one record of a SenML pack in its JSON representation (RFC 8428 section 4).
// The fields the decoder does not use (bver, bs, s, vs, vd, ut) are ignored.
type senmlRecord struct {
	BN text    `json:"bn"`
	BT number  `json:"bt"`
	BU text    `json:"bu"`
	BV number  `json:"bv"`
	N  text    `json:"n"`
	U  text    `json:"u"`
	V  number  `json:"v"`
	VB boolean `json:"vb"`
	T  number  `json:"t"`
}

// senmlBPNames are the SenML record names that make up one bp reading when their times are equal.
var senmlBPNames = []string{"systolic", "diastolic", "pulse"}

// senmlRelative is where SenML times stop being relative to now, in seconds (RFC 8428 section
// 4.5.3: values below 2^28 are relative to the current time; 0 means now).
const senmlRelative = 1 << 28

// decodeSenML decodes a SenML pack. The resolved name of a record (RFC 8428 section 4.5.1) is
// a reading type (glucose, heart_rate, spo2, temperature, weight, steps, fall, sos, cancel) or one of
// systolic, diastolic, pulse, which records of equal time combine into one bp reading. The base
// name, when there is one, must end with the device id, as in "urn:dev:id:dev-42:" or "dev-42/";
// a name may also carry the device itself ("dev-42/glucose"). Units are the record's u or the base
// unit; values add the base value; times are seconds, bt plus t. An event (fall, sos, cancel)
// needs no value, but a false or 0 value (vb, v) says there was no event and is rejected.
//
// Rejection indexes are record positions; a bp reading's rejection has the index of the record
// that made it fail, or of its first record.
func decodeSenML(device string, payload []byte, now time.Time) (Message, []Rejection) {
	msg := Message{Device: device}
	if bytes.Count(payload, []byte{','}) >= manyCommas {
		var n elementCount
		if json.Unmarshal(payload, &n) == nil && n > maxReadings {
			return msg, whole(tooManyRecords(int(n)))
		}
	}
	var buf [4]senmlRecord // enough for most packs, saving the allocations of growing the slice
	records := buf[:0]
	if f := unmarshal(payload, &records, "array"); f.reason != "" {
		return msg, whole(f)
	}
	if f := checkKeys(payload, senmlPackKeys); f.reason != "" {
		return msg, whole(f)
	}
	switch {
	case len(records) == 0:
		return msg, whole(faultf(ReasonMissingValue, "no readings: the SenML pack is empty"))
	case len(records) > maxReadings:
		return msg, whole(tooManyRecords(len(records)))
	}

	var (
		base       senmlBase
		entries    []senmlEntry // readings and bp groups in the order of their first record
		groups     []bpGroup
		rejections []Rejection
	)
	reject := func(i int, f fault) {
		rejections = append(rejections, Rejection{Index: i, Reason: f.reason, Detail: f.detail})
	}
	nowMs := now.UnixMilli()
	for i := range records {
		rec := &records[i]
		if f := base.update(rec, device); f.reason != "" {
			return msg, whole(f)
		}
		name, f := senmlName(base.name, rec, device)
		if f.reason == ReasonTopicMismatch {
			return msg, whole(f)
		}
		if f.reason != "" {
			reject(i, f)
			continue
		}

		seconds := base.time + rec.T.f
		if seconds == 0 {
			msg.TimeMissing = true
		}
		ms, f := senmlTime(seconds, nowMs, now)
		if f.reason != "" {
			reject(i, f)
			continue
		}
		unit := base.unit
		if rec.U.set {
			unit = rec.U.s
		}
		value, hasValue := rec.V.f+base.value, rec.V.set

		if slices.Contains(senmlBPNames, name) {
			g := 0
			for g < len(groups) && groups[g].ms != ms {
				g++
			}
			if g == len(groups) {
				groups = append(groups, bpGroup{ms: ms, first: i})
				entries = append(entries, senmlEntry{group: g})
			}
			groups[g].add(i, name, unit, value, hasValue)
			continue
		}

		t := Type(name)
		if t.IsEvent() && ((rec.VB.set && !rec.VB.v) || (hasValue && value == 0)) {
			reject(i, faultf(ReasonInvalidField, "SenML %s record has a false or 0 value: not an event", t))
			continue
		}
		m := measurement{typ: t, unit: unit, value: value, hasValue: hasValue}
		r, f := m.reading()
		if f.reason != "" {
			reject(i, f)
			continue
		}
		r.Time = utcMs(ms)
		entries = append(entries, senmlEntry{reading: r, group: -1})
	}

	grouped := false
	msg.Readings = make([]Reading, 0, len(entries))
	for _, e := range entries {
		if e.group < 0 {
			msg.Readings = append(msg.Readings, e.reading)
			continue
		}
		g := &groups[e.group]
		r, f := g.reading()
		if f.reason != "" {
			reject(g.failedAt, f)
			grouped = true
			continue
		}
		msg.Readings = append(msg.Readings, r)
	}
	if grouped {
		slices.SortStableFunc(rejections, func(a, b Rejection) int { return cmp.Compare(a.Index, b.Index) })
	}
	return msg, rejections
}

func tooManyRecords(n int) fault {
	return faultf(ReasonInvalidField, "%d SenML records; at most %d are accepted", n, maxReadings)
}

// senmlBase holds the base fields in force: each applies to its own record and the ones after it.
type senmlBase struct {
	name, unit  string
	time, value float64
}

// update takes the base fields of rec. A bad base field rejects the whole pack, since it
// applies to all the records after it.
func (b *senmlBase) update(rec *senmlRecord, device string) fault {
	switch {
	case rec.BN.bad != kindOK:
		return wrongType("bn", rec.BN.bad, "a string")
	case rec.BT.bad != kindOK:
		return wrongType("bt", rec.BT.bad, "a number")
	case rec.BU.bad != kindOK:
		return wrongType("bu", rec.BU.bad, "a string")
	case rec.BV.bad != kindOK:
		return wrongType("bv", rec.BV.bad, "a number")
	}
	if rec.BN.set {
		if rec.BN.s != "" && !namesDevice(rec.BN.s, device) {
			return faultf(ReasonTopicMismatch, "SenML base name %q does not end with the topic's device %q", shorten(rec.BN.s), device)
		}
		b.name = rec.BN.s
	}
	if rec.BT.set {
		b.time = rec.BT.f
	}
	if rec.BU.set {
		b.unit = rec.BU.s
	}
	if rec.BV.set {
		b.value = rec.BV.f
	}
	return fault{}
}

// senmlName returns the reading name of rec: its name after the base name. A name that carries
// its own device prefix must name the topic's device (a ReasonTopicMismatch fault).
func senmlName(baseName string, rec *senmlRecord, device string) (string, fault) {
	switch {
	case rec.N.bad != kindOK:
		return "", wrongType("n", rec.N.bad, "a string")
	case rec.U.bad != kindOK:
		return "", wrongType("u", rec.U.bad, "a string")
	case rec.V.bad != kindOK:
		return "", wrongType("v", rec.V.bad, "a number")
	case rec.VB.bad != kindOK:
		return "", wrongType("vb", rec.VB.bad, "a boolean")
	case rec.T.bad != kindOK:
		return "", wrongType("t", rec.T.bad, "a number")
	}
	name := rec.N.s
	if i := strings.LastIndexAny(name, ":/"); i >= 0 {
		if !namesDevice(name[:i+1], device) {
			return "", faultf(ReasonTopicMismatch, "SenML name %q does not name the topic's device %q", shorten(baseName+name), device)
		}
		name = name[i+1:]
	}
	switch name {
	case "":
		return "", faultf(ReasonUnknownType, "SenML record has no name")
	case "systolic", "diastolic", "pulse",
		string(Glucose), string(HeartRate), string(SpO2), string(Temperature), string(Weight),
		string(Steps), string(Fall), string(SOS), string(Cancel):
		return name, fault{}
	}
	return "", faultf(ReasonUnknownType, "unknown SenML name %q", shorten(name))
}

// namesDevice reports whether a SenML name prefix such as "urn:dev:id:dev-42:" or "dev-42/"
// ends with the id device (one trailing ':' or '/' allowed), as a whole segment.
func namesDevice(prefix, device string) bool {
	if n := len(prefix); n > 0 && (prefix[n-1] == ':' || prefix[n-1] == '/') {
		prefix = prefix[:n-1]
	}
	rest, ok := strings.CutSuffix(prefix, device)
	if !ok {
		return false
	}
	return rest == "" || rest[len(rest)-1] == ':' || rest[len(rest)-1] == '/'
}

// senmlTime converts a resolved SenML time in seconds to Unix milliseconds and checks it.
func senmlTime(seconds float64, nowMs int64, now time.Time) (int64, fault) {
	if !finite(seconds) {
		return 0, faultf(ReasonBadTimestamp, "SenML time is not a finite number")
	}
	ms := msFromFloat(math.Round(seconds * 1000))
	if seconds < senmlRelative {
		ms += nowMs
	}
	if r, detail := checkTime("SenML time", ms, false, now); r != "" {
		return 0, fault{r, detail}
	}
	return ms, fault{}
}

// senmlEntry is an accepted reading, or a bp group that becomes one (group >= 0).
type senmlEntry struct {
	reading Reading
	group   int
}

// bpGroup collects the systolic, diastolic and pulse records of one time.
type bpGroup struct {
	ms       int64
	first    int
	m        measurement
	failed   fault
	failedAt int
}

func (g *bpGroup) add(i int, name, unit string, value float64, hasValue bool) {
	if g.failed.reason != "" {
		return // the group is rejected already, with this record in it
	}
	fail := func(f fault) { g.failed, g.failedAt = f, i }
	unitType, v, has := BP, &g.m.sys, &g.m.hasSys
	switch name {
	case "diastolic":
		v, has = &g.m.dia, &g.m.hasDia
	case "pulse":
		unitType, v, has = HeartRate, &g.m.pulse, &g.m.hasPulse
	}
	switch _, ok := unitOf(unitType, unit); {
	case !ok:
		fail(faultf(ReasonUnknownUnit, "SenML %s unit %q is not accepted; want %s", name, shorten(unit), strings.Join(acceptedUnits(unitType), " or ")))
	case !hasValue:
		fail(faultf(ReasonMissingValue, "SenML %s record has no value", name))
	case *has:
		fail(faultf(ReasonInvalidField, "two SenML %s records at one time", name))
	default:
		*v, *has = value, true
	}
}

func (g *bpGroup) reading() (Reading, fault) {
	if g.failed.reason != "" {
		return Reading{}, g.failed
	}
	g.m.typ = BP
	r, f := g.m.reading()
	if f.reason != "" {
		g.failedAt = g.first
		return Reading{}, f
	}
	r.Time = utcMs(g.ms)
	return r, fault{}
}
