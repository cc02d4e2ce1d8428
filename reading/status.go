package reading

import (
	"time"
	"unicode"
	"unicode/utf8"
)

// maxFirmwareLen is the most characters of a firmware version.
const maxFirmwareLen = 64

// status is the JSON form of a status payload. Fields other than these are ignored.
type status struct {
	TS       stamp    `json:"ts"`
	Battery  number   `json:"battery"`
	Signal   number   `json:"signal"`
	Firmware text     `json:"firmware"`
	Flags    []string `json:"flags"`
	Online   boolean  `json:"online"`
}

// DecodeStatus decodes the status payload that device published on devices/{device}/status and
// that arrived at now: ts, battery (0-100 %), signal (dBm, -150..0), firmware (at most 64
// printable characters), flags and online; the device's last will is {"online": false}. Every
// field is optional; a missing ts means now, with TimeMissing set. A status is one fact, so any
// fault rejects all of it, with one rejection of Index WholeMessage.
func DecodeStatus(device string, payload []byte, now time.Time) (Status, []Rejection) {
	st := Status{Device: device}
	if f := checkEnvelope(device, payload); f.reason != "" {
		return st, whole(f)
	}
	if f := checkArraySizes(payload, false); f.reason != "" {
		return st, whole(f)
	}
	var w status
	if f := unmarshal(payload, &w, "object"); f.reason != "" {
		return st, whole(f)
	}
	if f := checkKeys(payload, statusKeys); f.reason != "" {
		return st, whole(f)
	}
	if f := w.check(now); f.reason != "" {
		return st, whole(f)
	}
	st.Time = utcMs(now.UnixMilli())
	st.TimeMissing = !w.TS.set
	if w.TS.set {
		st.Time = utcMs(w.TS.ms)
	}
	st.Battery, st.HasBattery = w.Battery.f, w.Battery.set
	st.Signal, st.HasSignal = w.Signal.f, w.Signal.set
	st.Firmware = w.Firmware.s
	st.Online, st.HasOnline = w.Online.v, w.Online.set
	st.Flags = w.Flags
	return st, nil
}

func (w *status) check(now time.Time) fault {
	switch {
	case w.TS.bad != kindOK:
		return wrongType("ts", w.TS.bad, "an RFC 3339 string or Unix milliseconds")
	case w.Battery.bad != kindOK:
		return wrongType("battery", w.Battery.bad, "a number")
	case w.Signal.bad != kindOK:
		return wrongType("signal", w.Signal.bad, "a number")
	case w.Firmware.bad != kindOK:
		return wrongType("firmware", w.Firmware.bad, "a string")
	case w.Online.bad != kindOK:
		return wrongType("online", w.Online.bad, "a boolean")
	case w.Battery.set && !(w.Battery.f >= 0 && w.Battery.f <= 100):
		return faultf(ReasonInvalidField, "battery %v is outside 0-100 %%", w.Battery.f)
	case w.Signal.set && !(w.Signal.f >= -150 && w.Signal.f <= 0):
		return faultf(ReasonInvalidField, "signal %v dBm is outside -150..0 dBm", w.Signal.f)
	case !printable(w.Firmware.s, maxFirmwareLen):
		return faultf(ReasonInvalidField, "firmware %q is not at most %d printable characters", shorten(w.Firmware.s), maxFirmwareLen)
	}
	flags, detail := normaliseFlags(w.Flags)
	if detail != "" {
		return fault{ReasonInvalidField, detail}
	}
	w.Flags = flags
	if w.TS.set {
		return checkStamp("ts", &w.TS, now)
	}
	return fault{}
}

// printable reports whether s is valid UTF-8 of at most max printable characters.
func printable(s string, max int) bool {
	if utf8.RuneCountInString(s) > max {
		return false
	}
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}
