package reading

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// FuzzDecode feeds arbitrary payloads to Decode and DecodeStatus. Seeds are the f.Add calls and
// the files in testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		designExample,
		string(typical),
		`{"readings":[{"type":"glucose","value":115,"unit":"mg/dL","context":"before_meal","source":"cgm","ts":"2026-11-21T23:00:00.5-02:00"}]}`,
		`{"readings":[{"type":"temperature","value":98.6,"unit":"[degF]"},{"type":"temperature","value":86,"unit":"Cel"}]}`,
		`{"readings":[{"type":"weight","value":150,"unit":"[lb_av]"},{"type":"steps","value":1e5},{"type":"fall","lat":1,"lon":2}]}`,
		`{"device":"dev-42","patient":"P 1","seq":-1,"battery":101,"flags":["A","a",""],"readings":[]}`,
		`{"ts":1795303800,"readings":[{"type":"sos","ts":1e400}]}`,
		`[{"bn":"urn:dev:id:dev-42:","bt":1795303800,"bu":"mmHg","n":"systolic","v":142},{"n":"diastolic","v":91},{"n":"pulse","u":"/min","v":74}]`,
		`[{"bn":"dev-42/","bv":36,"bu":"Cel","n":"temperature","v":0.6,"t":-60},{"n":"fall","vb":true},{"n":"dev-7/sos"}]`,
		`{"ts":"2026-11-21T23:30:00Z","readings":[{"type":"fall","lat":1,"lon":2},{"type":"cancel","ts":"2026-11-21T23:30:20Z"}]}`,
		`{"ts":"2026-11-22T07:30:00+08:00","battery":78,"signal":-67,"firmware":"2.4.1","flags":["battery_low"],"online":true}`,
		`{"online": false}`,
		`{"readings":[{"type":"bp","systolic":"120"},null,{"type":"spo2","value":null}]}`,
		``, `null`, `[]`, `[1]`, `{`, `"x"`,
		// Case variants and duplicates of keys, at every level, and keys escaped or folded.
		`{"readings":[{"type":"glucose","value":6.2,"VALUE":31,"unit":"mmol/L"}]}`,
		`{"readings":[{"type":"glucose","value":6.2,"\u0076alue":31,"unit":"mmol/L"}]}`,
		`{"patient":"P-1","Patient":"P-2","readings":[{"type":"sos"}],"readings":[]}`,
		`{"readings":[{"type":"bp","systolic":120,"diastolic":80,"\u017fystolic":200}],"x":{"a":1,"a":2}}`,
		`{"a1":1,"a2":1,"a3":1,"a4":1,"a5":1,"a6":1,"a7":1,"a8":1,"a9":1,"a9":2,"readings":[{"type":"sos"}]}`,
		`[{"bn":"dev-42/","BN":"dev-7/","n":"heart_rate","v":70},{"n":"heart_rate","v":1,"v":2}]`,
		`{"online":false,"ONLINE":true,"battery":5,"battery":6}`,
		`{"readings":[{"type":"glucose","value":"6.4","unit":"mmol/L"},5],"flags":[1]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		msg, rej := Decode(dev, payload, now)
		checkMessage(t, payload, msg, rej)
		if len(msg.Readings) > 0 && !keysExact(payload) {
			t.Errorf("Decode(%q) accepted readings from a payload with a duplicate or case-variant key", payload)
		}
		again, rejAgain := Decode(dev, payload, now)
		if !reflect.DeepEqual(again, msg) || !reflect.DeepEqual(rejAgain, rej) {
			t.Errorf("Decode(%q) = %+v, %+v, then %+v, %+v; want the same twice", payload, msg, rej, again, rejAgain)
		}
		st, rej := DecodeStatus(dev, payload, now)
		checkStatus(t, payload, st, rej)
	})
}

// checkMessage checks what must hold of every outcome of Decode.
func checkMessage(t *testing.T, payload []byte, msg Message, rej []Rejection) {
	t.Helper()
	if len(msg.Readings) == 0 && len(rej) == 0 {
		t.Fatalf("Decode(%q) = no readings and no rejections; want at least one of either", payload)
	}
	if msg.Device != dev {
		t.Errorf("Decode(%q) device = %q; want %q", payload, msg.Device, dev)
	}
	checkRejections(t, "Decode", payload, rej)
	for i, r := range rej {
		if r.Index == WholeMessage && (len(rej) != 1 || len(msg.Readings) != 0) {
			t.Errorf("Decode(%q) = %d readings, %+v; want a whole-message rejection alone", payload, len(msg.Readings), rej)
		}
		if i > 0 && r.Index <= rej[i-1].Index {
			t.Errorf("Decode(%q) rejections = %+v; want them in increasing index order", payload, rej)
		}
	}
	if msg.Patient != "" && !ValidID(msg.Patient) {
		t.Errorf("Decode(%q) patient = %q; want a valid id", payload, msg.Patient)
	}
	if msg.HasSeq && msg.Seq < 0 {
		t.Errorf("Decode(%q) seq = %d; want >= 0", payload, msg.Seq)
	}
	if msg.HasBattery && !(msg.Battery >= 0 && msg.Battery <= 100) {
		t.Errorf("Decode(%q) battery = %v; want 0-100", payload, msg.Battery)
	}
	checkFlags(t, "Decode", payload, msg.Flags)
	for _, r := range msg.Readings {
		if f := implausible(r); f != "" {
			t.Errorf("Decode(%q) accepted %+v: %s", payload, r, f)
		}
	}
}

func checkStatus(t *testing.T, payload []byte, st Status, rej []Rejection) {
	t.Helper()
	checkRejections(t, "DecodeStatus", payload, rej)
	if len(rej) > 1 || (len(rej) == 1 && rej[0].Index != WholeMessage) {
		t.Errorf("DecodeStatus(%q) rejections = %+v; want at most one, of the whole message", payload, rej)
	}
	if len(rej) == 1 {
		if !reflect.DeepEqual(st, Status{Device: dev}) {
			t.Errorf("DecodeStatus(%q) = %+v for a rejected status; want only the device", payload, st)
		}
		return
	}
	switch {
	case !plausibleTime(st.Time):
		t.Errorf("DecodeStatus(%q) time = %v; want UTC ms within 2000..now+5m", payload, st.Time)
	case st.HasBattery && !(st.Battery >= 0 && st.Battery <= 100):
		t.Errorf("DecodeStatus(%q) battery = %v; want 0-100", payload, st.Battery)
	case st.HasSignal && !(st.Signal >= -150 && st.Signal <= 0):
		t.Errorf("DecodeStatus(%q) signal = %v; want -150..0", payload, st.Signal)
	case !printable(st.Firmware, maxFirmwareLen):
		t.Errorf("DecodeStatus(%q) firmware = %q; want at most 64 printable characters", payload, st.Firmware)
	}
	checkFlags(t, "DecodeStatus", payload, st.Flags)
}

func checkRejections(t *testing.T, fn string, payload []byte, rej []Rejection) {
	t.Helper()
	for _, r := range rej {
		if !slices.Contains(Reasons, r.Reason) || r.Detail == "" || r.Index < WholeMessage || r.Index >= maxReadings {
			t.Errorf("%s(%q) rejection %+v; want a listed reason, a detail and an index in -1..999", fn, payload, r)
		}
	}
}

func checkFlags(t *testing.T, fn string, payload []byte, flags []string) {
	t.Helper()
	if len(flags) > maxFlags {
		t.Errorf("%s(%q) = %d flags; want at most %d", fn, payload, len(flags), maxFlags)
	}
	for i, f := range flags {
		if !validFlag(f) || slices.Contains(flags[:i], f) {
			t.Errorf("%s(%q) flags = %q; want distinct flags of [a-z0-9_]{1,40}", fn, payload, flags)
		}
	}
}

// plausibleTime reports whether t is a measurement time Decode may return for a message
// received at now.
func plausibleTime(t time.Time) bool {
	return t.Location() == time.UTC && t.Equal(t.Truncate(time.Millisecond)) &&
		!t.Before(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)) && !t.After(now.Add(MaxFutureSkew))
}

// implausible says what is wrong with an accepted reading, or returns "". It restates the
// limits of docs/domain.md "Plausibility" rather than calling the code under test.
func implausible(r Reading) string {
	in := func(v, lo, hi float64) bool { return v >= lo && v <= hi }
	oneOf := func(v string, allowed ...string) bool { return v == "" || slices.Contains(allowed, v) }
	switch {
	case !plausibleTime(r.Time):
		return "time not UTC ms within 2000..now+5m"
	case r.HasLocation && (!r.Type.IsEvent() || !in(r.Lat, -90, 90) || !in(r.Lon, -180, 180)):
		return "bad location"
	case !r.HasLocation && (r.Lat != 0 || r.Lon != 0):
		return "coordinates without HasLocation"
	case !oneOf(r.Context, "fasting", "before_meal", "after_meal", "bedtime", "random") ||
		!oneOf(r.Source, "fingerstick", "cgm") || !oneOf(r.Position, "sitting", "standing", "lying"):
		return "qualifier outside its values"
	case r.Type != Glucose && (r.Context != "" || r.Source != ""), r.Type != BP && r.Position != "":
		return "qualifier on a type without it"
	case r.Value != round2(r.Value) || r.Systolic != round2(r.Systolic) || r.Diastolic != round2(r.Diastolic) || r.Pulse != round2(r.Pulse):
		return "value not rounded to 0.01"
	}
	switch r.Type {
	case Glucose:
		if !in(r.Value, 0.6, 33.3) {
			return "glucose outside 0.6-33.3 mmol/L"
		}
	case BP:
		if !in(r.Systolic, 50, 300) || !in(r.Diastolic, 20, 200) || r.Diastolic >= r.Systolic ||
			(r.HasPulse && !in(r.Pulse, 20, 300)) || (!r.HasPulse && r.Pulse != 0) {
			return "bp implausible"
		}
	case HeartRate:
		if !in(r.Value, 20, 300) {
			return "heart rate outside 20-300"
		}
	case SpO2:
		if !in(r.Value, 50, 100) {
			return "spo2 outside 50-100"
		}
	case Temperature:
		if !in(r.Value, 30, 45) {
			return "temperature outside 30-45"
		}
	case Weight:
		if !in(r.Value, 2, 400) {
			return "weight outside 2-400"
		}
	case Steps:
		if !in(r.Value, 0, 100000) || r.Value != math.Trunc(r.Value) {
			return "steps not a whole number in 0-100000"
		}
	case Fall, SOS, Cancel:
		if r.Value != 0 {
			return "event with a value"
		}
	default:
		return "unknown type"
	}
	if r.Type != BP && (r.Systolic != 0 || r.Diastolic != 0 || r.HasPulse) {
		return "bp values on another type"
	}
	return ""
}

// FuzzDecodeReading builds well-formed payloads of one reading from arbitrary field values, to
// reach the unit, plausibility and time checks that random bytes seldom get to.
func FuzzDecodeReading(f *testing.F) {
	f.Add("glucose", "mg/dL", 115.0, 0.0, 0.0, int64(1795303800000), "fasting")
	f.Add("bp", "mmHg", 0.0, 142.0, 91.0, int64(0), "sitting")
	f.Add("temperature", "Cel", 86.0, 0.0, 0.0, int64(1795303800000+MaxFutureSkew.Milliseconds()), "")
	f.Add("steps", "/d", 100000.5, 0.0, 0.0, int64(946684800000), "")
	f.Add("fall", "", 0.0, 91.0, -181.0, int64(-1), "")
	f.Add("cancel", "", 1.0, 45.0, 90.0, int64(1795303800000), "")
	f.Fuzz(func(t *testing.T, typ, unit string, value, sys, dia float64, ts int64, qualifier string) {
		r := map[string]any{"type": typ, "unit": unit, "value": value, "systolic": sys, "diastolic": dia,
			"pulse": value, "lat": sys, "lon": dia, "context": qualifier, "source": qualifier, "position": qualifier}
		if ts != 0 {
			r["ts"] = ts
		}
		payload, err := json.Marshal(map[string]any{"readings": []any{r}})
		if err != nil {
			t.Skip(err) // NaN and infinities have no JSON
		}
		msg, rej := Decode(dev, payload, now)
		checkMessage(t, payload, msg, rej)
		if len(msg.Readings)+len(rej) != 1 {
			t.Errorf("Decode(%q) = %d readings, %d rejections; want one in all", payload, len(msg.Readings), len(rej))
		}
	})
}

// The keys of the device contract, as docs/design.md lists them (and SenML's, RFC 8428), restated
// here rather than taken from the code under test.
var (
	contractMessageKeys = []string{"device", "ts", "seq", "patient", "battery", "flags", "readings"}
	contractReadingKeys = []string{"type", "ts", "value", "unit", "systolic", "diastolic", "pulse", "context", "source", "position", "lat", "lon"}
	contractSenMLKeys   = []string{"bn", "bt", "bu", "bv", "n", "u", "v", "vb", "t"}
)

// keysExact reports whether the message, its readings and its SenML records in payload, valid
// JSON, each have distinct keys none of which is a case variant of a contract key: an oracle
// for the decoder's key check, built on json.Decoder's tokens.
func keysExact(payload []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(payload))
	tok, err := dec.Token()
	if err != nil {
		return true
	}
	switch tok {
	case json.Delim('{'):
		return objectKeysExact(dec, contractMessageKeys)
	case json.Delim('['):
		for dec.More() {
			if tok, err := dec.Token(); err != nil || tok != json.Delim('{') || !objectKeysExact(dec, contractSenMLKeys) {
				return err != nil || tok != json.Delim('{')
			}
		}
	}
	return true
}

// objectKeysExact reads the rest of an object whose '{' dec has read; see keysExact.
func objectKeysExact(dec *json.Decoder, contract []string) bool {
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		key, ok := tok.(string)
		if err != nil || !ok {
			return true
		}
		if seen[key] {
			return false
		}
		seen[key] = true
		for _, c := range contract {
			if key != c && strings.EqualFold(key, c) {
				return false
			}
		}
		if key == "readings" && len(contract) == len(contractMessageKeys) {
			tok, err := dec.Token()
			if err != nil {
				return true
			}
			if tok == json.Delim('[') {
				for dec.More() {
					var raw json.RawMessage
					if dec.Decode(&raw) != nil {
						return true
					}
					inner := json.NewDecoder(bytes.NewReader(raw))
					if t, err := inner.Token(); err == nil && t == json.Delim('{') && !objectKeysExact(inner, contractReadingKeys) {
						return false
					}
				}
				dec.Token() // ']'
			}
			continue
		}
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return true
		}
	}
	dec.Token() // '}'
	return true
}
