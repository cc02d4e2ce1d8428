package reading

import (
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// now is the receive time of every test message: 2026-11-22T07:31:00+08:00.
var now = time.Date(2026, 11, 21, 23, 31, 0, 0, time.UTC)

const dev = "dev-42"

// at parses an RFC 3339 time for a want value.
func at(tb testing.TB, s string) time.Time {
	tb.Helper()
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		tb.Fatal(err)
	}
	return t.UTC()
}

// designExample is the telemetry payload of docs/design.md "Device contract (MQTT)".
const designExample = `{
  "ts": "2026-11-22T07:30:00+08:00",
  "seq": 1042,
  "patient": "P-000123",
  "readings": [
    {"type": "glucose", "value": 6.4, "unit": "mmol/L", "context": "fasting"},
    {"type": "bp", "systolic": 142, "diastolic": 91, "pulse": 74, "unit": "mm[Hg]"},
    {"type": "spo2", "value": 95, "unit": "%", "ts": 1763767800000}
  ],
  "battery": 78,
  "flags": ["cuff_loose"]
}`

// one wraps a single reading in a message stamped a minute before now.
func one(reading string) string {
	return `{"ts":"2026-11-21T23:30:00Z","readings":[` + reading + `]}`
}

func TestDecodeAccepts(t *testing.T) {
	msgTime := at(t, "2026-11-21T23:30:00Z")
	single := func(r Reading) Message {
		if r.Time.IsZero() {
			r.Time = msgTime
		}
		return Message{Device: dev, Readings: []Reading{r}}
	}
	tests := []struct {
		name    string
		payload string
		want    Message
	}{
		{"design example", designExample, Message{
			Device: dev, Patient: "P-000123", Seq: 1042, HasSeq: true, Battery: 78, HasBattery: true,
			Flags: []string{"cuff_loose"},
			Readings: []Reading{
				{Type: Glucose, Time: msgTime, Value: 6.4, Context: "fasting"},
				{Type: BP, Time: msgTime, Systolic: 142, Diastolic: 91, Pulse: 74, HasPulse: true},
				{Type: SpO2, Time: at(t, "2025-11-21T23:30:00Z"), Value: 95},
			},
		}},
		{"glucose lower bound", one(`{"type":"glucose","value":0.6,"unit":"mmol/L"}`), single(Reading{Type: Glucose, Value: 0.6})},
		{"glucose upper bound", one(`{"type":"glucose","value":33.3,"unit":"mmol/L"}`), single(Reading{Type: Glucose, Value: 33.3})},
		{"glucose mmol/l", one(`{"type":"glucose","value":5,"unit":"mmol/l"}`), single(Reading{Type: Glucose, Value: 5})},
		{"glucose mg/dL converted", one(`{"type":"glucose","value":115,"unit":"mg/dL"}`), single(Reading{Type: Glucose, Value: 6.38})},
		{"glucose mg/dl converted", one(`{"type":"glucose","value":54,"unit":"mg/dl"}`), single(Reading{Type: Glucose, Value: 3})},
		{"glucose mg/dL rounds up to the bound", one(`{"type":"glucose","value":10.8,"unit":"mg/dL"}`), single(Reading{Type: Glucose, Value: 0.6})},
		{"glucose qualifiers", one(`{"type":"glucose","value":7.1,"unit":"mmol/L","context":"after_meal","source":"cgm"}`),
			single(Reading{Type: Glucose, Value: 7.1, Context: "after_meal", Source: "cgm"})},
		{"empty qualifier is absent", one(`{"type":"glucose","value":7.1,"unit":"mmol/L","context":""}`), single(Reading{Type: Glucose, Value: 7.1})},
		{"null fields are absent", `{"ts":"2026-11-21T23:30:00Z","patient":null,"seq":null,"flags":null,"readings":[{"type":"glucose","value":7.1,"unit":"mmol/L","context":null}]}`,
			single(Reading{Type: Glucose, Value: 7.1})},
		{"bp without unit or pulse", one(`{"type":"bp","systolic":120,"diastolic":80}`), single(Reading{Type: BP, Systolic: 120, Diastolic: 80})},
		{"bp mmHg and position", one(`{"type":"bp","systolic":120,"diastolic":80,"unit":"mmHg","position":"standing"}`),
			single(Reading{Type: BP, Systolic: 120, Diastolic: 80, Position: "standing"})},
		{"bp lower bounds", one(`{"type":"bp","systolic":50,"diastolic":20,"pulse":20}`), single(Reading{Type: BP, Systolic: 50, Diastolic: 20, Pulse: 20, HasPulse: true})},
		{"bp upper bounds", one(`{"type":"bp","systolic":300,"diastolic":200,"pulse":300}`), single(Reading{Type: BP, Systolic: 300, Diastolic: 200, Pulse: 300, HasPulse: true})},
		{"heart rate without unit", one(`{"type":"heart_rate","value":20}`), single(Reading{Type: HeartRate, Value: 20})},
		{"heart rate bpm", one(`{"type":"heart_rate","value":300,"unit":"bpm"}`), single(Reading{Type: HeartRate, Value: 300})},
		{"heart rate beat/min", one(`{"type":"heart_rate","value":61,"unit":"beat/min"}`), single(Reading{Type: HeartRate, Value: 61})},
		{"spo2 bounds", `{"ts":"2026-11-21T23:30:00Z","readings":[{"type":"spo2","value":50},{"type":"spo2","value":100,"unit":"%"}]}`,
			Message{Device: dev, Readings: []Reading{{Type: SpO2, Time: msgTime, Value: 50}, {Type: SpO2, Time: msgTime, Value: 100}}}},
		{"temperature Cel", one(`{"type":"temperature","value":36.6,"unit":"Cel"}`), single(Reading{Type: Temperature, Value: 36.6})},
		{"temperature bounds", `{"ts":"2026-11-21T23:30:00Z","readings":[{"type":"temperature","value":30,"unit":"Cel"},{"type":"temperature","value":45,"unit":"Cel"}]}`,
			Message{Device: dev, Readings: []Reading{{Type: Temperature, Time: msgTime, Value: 30}, {Type: Temperature, Time: msgTime, Value: 45}}}},
		{"temperature degF converted", one(`{"type":"temperature","value":98.6,"unit":"[degF]"}`), single(Reading{Type: Temperature, Value: 37})},
		{"temperature degF rounded", one(`{"type":"temperature","value":100.5,"unit":"[degF]"}`), single(Reading{Type: Temperature, Value: 38.06})},
		{"weight kg bounds", `{"ts":"2026-11-21T23:30:00Z","readings":[{"type":"weight","value":2,"unit":"kg"},{"type":"weight","value":400,"unit":"kg"}]}`,
			Message{Device: dev, Readings: []Reading{{Type: Weight, Time: msgTime, Value: 2}, {Type: Weight, Time: msgTime, Value: 400}}}},
		{"weight lb converted", one(`{"type":"weight","value":150,"unit":"[lb_av]"}`), single(Reading{Type: Weight, Value: 68.04})},
		{"weight lb spelling", one(`{"type":"weight","value":150,"unit":"lb"}`), single(Reading{Type: Weight, Value: 68.04})},
		{"steps bounds", `{"ts":"2026-11-21T23:30:00Z","readings":[{"type":"steps","value":0},{"type":"steps","value":100000,"unit":"/d"},{"type":"steps","value":1200.0,"unit":"count"}]}`,
			Message{Device: dev, Readings: []Reading{{Type: Steps, Time: msgTime}, {Type: Steps, Time: msgTime, Value: 100000}, {Type: Steps, Time: msgTime, Value: 1200}}}},
		{"fall with location", one(`{"type":"fall","lat":-90,"lon":180}`), single(Reading{Type: Fall, Lat: -90, Lon: 180, HasLocation: true})},
		{"sos without location", one(`{"type":"sos"}`), single(Reading{Type: SOS})},
		{"event ignores a unit", one(`{"type":"sos","unit":"whatever"}`), single(Reading{Type: SOS})},
		{"cancel of a fall", one(`{"type":"cancel"}`), single(Reading{Type: Cancel})},
		{"cancel with location", one(`{"type":"cancel","lat":31.23,"lon":121.47}`), single(Reading{Type: Cancel, Lat: 31.23, Lon: 121.47, HasLocation: true})},
		{"reading ts overrides message ts", one(`{"type":"heart_rate","value":60,"ts":"2026-11-21T22:00:00-01:00"}`),
			single(Reading{Type: HeartRate, Value: 60, Time: at(t, "2026-11-21T23:00:00Z")})},
		{"message ts in Unix ms", `{"ts":1795303800000,"readings":[{"type":"heart_rate","value":60}]}`,
			single(Reading{Type: HeartRate, Value: 60, Time: msgTime})},
		{"fractional ms truncated", `{"ts":"2026-11-21T23:30:00.1239Z","readings":[{"type":"heart_rate","value":60,"ts":1795303800000.9}]}`,
			single(Reading{Type: HeartRate, Value: 60, Time: at(t, "2026-11-21T23:30:00Z")})},
		{"fraction in message ts truncated", `{"ts":"2026-11-21T23:30:00.1239Z","readings":[{"type":"heart_rate","value":60}]}`,
			single(Reading{Type: HeartRate, Value: 60, Time: at(t, "2026-11-21T23:30:00.123Z")})},
		{"future by 4m59s accepted", `{"ts":"2026-11-21T23:35:59Z","readings":[{"type":"heart_rate","value":60}]}`,
			single(Reading{Type: HeartRate, Value: 60, Time: at(t, "2026-11-21T23:35:59Z")})},
		{"future by exactly 5m accepted", `{"ts":"2026-11-21T23:36:00Z","readings":[{"type":"heart_rate","value":60}]}`,
			single(Reading{Type: HeartRate, Value: 60, Time: at(t, "2026-11-21T23:36:00Z")})},
		{"year 2000 accepted", `{"ts":"2000-01-01T00:00:00Z","readings":[{"type":"heart_rate","value":60}]}`,
			single(Reading{Type: HeartRate, Value: 60, Time: at(t, "2000-01-01T00:00:00Z")})},
		{"leap day", `{"ts":"2024-02-29T12:00:00Z","readings":[{"type":"heart_rate","value":60}]}`,
			single(Reading{Type: HeartRate, Value: 60, Time: at(t, "2024-02-29T12:00:00Z")})},
		{"missing ts is now", `{"readings":[{"type":"heart_rate","value":60}]}`,
			Message{Device: dev, TimeMissing: true, Readings: []Reading{{Type: HeartRate, Value: 60, Time: now}}}},
		{"missing ts with own reading ts is not missing", `{"readings":[{"type":"heart_rate","value":60,"ts":"2026-11-21T23:30:00Z"}]}`,
			single(Reading{Type: HeartRate, Value: 60})},
		{"matching device field", `{"device":"dev-42","ts":"2026-11-21T23:30:00Z","readings":[{"type":"sos"}]}`, single(Reading{Type: SOS})},
		{"seq zero", `{"seq":0,"ts":"2026-11-21T23:30:00Z","readings":[{"type":"sos"}]}`,
			Message{Device: dev, HasSeq: true, Readings: []Reading{{Type: SOS, Time: msgTime}}}},
		{"seq written as 1e3", `{"seq":1e3,"ts":"2026-11-21T23:30:00Z","readings":[{"type":"sos"}]}`,
			Message{Device: dev, Seq: 1000, HasSeq: true, Readings: []Reading{{Type: SOS, Time: msgTime}}}},
		{"largest seq", `{"seq":9223372036854775807,"ts":"2026-11-21T23:30:00Z","readings":[{"type":"sos"}]}`,
			Message{Device: dev, Seq: 1<<63 - 1, HasSeq: true, Readings: []Reading{{Type: SOS, Time: msgTime}}}},
		{"battery bounds", `{"battery":0,"ts":"2026-11-21T23:30:00Z","readings":[{"type":"sos"}]}`,
			Message{Device: dev, HasBattery: true, Readings: []Reading{{Type: SOS, Time: msgTime}}}},
		{"flags normalised", `{"flags":["Cuff_Loose","cuff_loose","BATTERY_LOW","time_fault"],"ts":"2026-11-21T23:30:00Z","readings":[{"type":"sos"}]}`,
			Message{Device: dev, Flags: []string{"cuff_loose", "battery_low", "time_fault"}, Readings: []Reading{{Type: SOS, Time: msgTime}}}},
		{"empty flags", `{"flags":[],"ts":"2026-11-21T23:30:00Z","readings":[{"type":"sos"}]}`, single(Reading{Type: SOS})},
		{"unknown fields ignored", `{"fw":"1.2","ts":"2026-11-21T23:30:00Z","readings":[{"type":"sos","extra":{"a":[1]}}]}`, single(Reading{Type: SOS})},
		{"escaped strings", `{"patient":"P\u002d1","ts":"2026-11-21T23:30:00Z","readings":[{"type":"gluc\u006fse","value":5,"unit":"mmol\/L"}]}`,
			Message{Device: dev, Patient: "P-1", Readings: []Reading{{Type: Glucose, Time: msgTime, Value: 5}}}},
		{"white space around the payload", " \n\t" + one(`{"type":"sos"}`) + "\n", single(Reading{Type: SOS})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, rej := Decode(dev, []byte(tt.payload), now)
			if len(rej) != 0 || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Decode(%q) = %+v, %+v; want %+v, no rejections", tt.payload, got, rej, tt.want)
			}
		})
	}
}

// rejected is a rejection a test expects: detail is a part of the wanted Detail.
type rejected struct {
	index  int
	reason Reason
	detail string
}

func (r rejected) matches(got Rejection) bool {
	return got.Index == r.index && got.Reason == r.reason && strings.Contains(got.Detail, r.detail)
}

func TestDecodeRejects(t *testing.T) {
	many := func(n int, reading string) string {
		return `{"readings":[` + strings.TrimSuffix(strings.Repeat(reading+",", n), ",") + `]}`
	}
	tests := []struct {
		name     string
		payload  string
		want     []rejected
		readings int // readings still accepted
	}{
		// The envelope.
		{"oversized", `{"readings":[{"type":"sos"}],"pad":"` + strings.Repeat("x", MaxPayload) + `"}`, []rejected{{-1, ReasonOversized, "at most 65536"}}, 0},
		{"not JSON", `{"readings":[`, []rejected{{-1, ReasonMalformed, "invalid JSON"}}, 0},
		{"trailing garbage", one(`{"type":"sos"}`) + "x", []rejected{{-1, ReasonMalformed, "invalid character 'x'"}}, 0},
		{"empty payload", ``, []rejected{{-1, ReasonMalformed, "unexpected end of JSON input"}}, 0},
		{"null payload", `null`, []rejected{{-1, ReasonMalformed, "payload is null"}}, 0},
		{"number payload", `42`, []rejected{{-1, ReasonMalformed, "cannot unmarshal number"}}, 0},
		{"string payload", `"hello"`, []rejected{{-1, ReasonMalformed, "cannot unmarshal string"}}, 0},
		{"readings not an array", `{"readings":{"type":"sos"}}`, []rejected{{-1, ReasonInvalidField, "readings"}}, 0},
		{"reading not an object", `{"readings":[{"type":"sos"},5]}`, []rejected{{-1, ReasonInvalidField, `an element of field "readings" is a number; want an object`}}, 0},
		{"flags not an array", `{"flags":"cuff_loose","readings":[{"type":"sos"}]}`, []rejected{{-1, ReasonInvalidField, "flags"}}, 0},
		{"flag not a string", `{"flags":[1],"readings":[{"type":"sos"}]}`, []rejected{{-1, ReasonInvalidField, "flags"}}, 0},
		{"seq a string", `{"seq":"12","readings":[{"type":"sos"}]}`, []rejected{{-1, ReasonInvalidField, `field "seq" is a string; want a number`}}, 0},
		{"battery a string", `{"battery":"78","readings":[{"type":"sos"}]}`, []rejected{{-1, ReasonInvalidField, `field "battery" is a string`}}, 0},
		{"ts a boolean", `{"ts":true,"readings":[{"type":"sos"}]}`, []rejected{{-1, ReasonInvalidField, `field "ts" is a boolean`}}, 0},
		{"patient a number", `{"patient":123456,"readings":[{"type":"sos"}]}`, []rejected{{-1, ReasonInvalidField, `field "patient" is a number`}}, 0},

		// Device and patient ids.
		{"other device in payload", `{"device":"dev-43","readings":[{"type":"sos"}]}`, []rejected{{-1, ReasonTopicMismatch, `"dev-43"`}}, 0},
		{"empty device in payload", `{"device":"","readings":[{"type":"sos"}]}`, []rejected{{-1, ReasonTopicMismatch, ""}}, 0},
		{"patient with a space", `{"patient":"P 000123","readings":[{"type":"sos"}]}`, []rejected{{-1, ReasonInvalidField, "patient id has invalid characters or length"}}, 0},
		{"patient too long", `{"patient":"` + strings.Repeat("P", 65) + `","readings":[{"type":"sos"}]}`, []rejected{{-1, ReasonInvalidField, "patient id"}}, 0},
		{"patient empty", `{"patient":"","readings":[{"type":"sos"}]}`, []rejected{{-1, ReasonInvalidField, "patient id"}}, 0},

		// Message fields.
		{"seq negative", `{"seq":-1,"readings":[{"type":"sos"}]}`, []rejected{{-1, ReasonInvalidField, "seq"}}, 0},
		{"seq fraction", `{"seq":1.5,"readings":[{"type":"sos"}]}`, []rejected{{-1, ReasonInvalidField, "seq"}}, 0},
		{"seq too large", `{"seq":9223372036854775808,"readings":[{"type":"sos"}]}`, []rejected{{-1, ReasonInvalidField, "seq"}}, 0},
		{"battery above 100", `{"battery":100.5,"readings":[{"type":"sos"}]}`, []rejected{{-1, ReasonInvalidField, "battery 100.5"}}, 0},
		{"battery negative", `{"battery":-1,"readings":[{"type":"sos"}]}`, []rejected{{-1, ReasonInvalidField, "battery -1"}}, 0},
		{"flag with a hyphen", `{"flags":["cuff-loose"],"readings":[{"type":"sos"}]}`, []rejected{{-1, ReasonInvalidField, `"cuff-loose"`}}, 0},
		{"empty flag", `{"flags":[""],"readings":[{"type":"sos"}]}`, []rejected{{-1, ReasonInvalidField, "flag"}}, 0},
		{"flag too long", `{"flags":["` + strings.Repeat("a", 41) + `"],"readings":[{"type":"sos"}]}`, []rejected{{-1, ReasonInvalidField, "flag"}}, 0},
		{"too many flags", `{"flags":["a"` + strings.Repeat(`,"a"`, maxFlags) + `],"readings":[{"type":"sos"}]}`, []rejected{{-1, ReasonInvalidField, "flags"}}, 0},

		// Message time.
		{"ts not RFC 3339", `{"ts":"yesterday","readings":[{"type":"sos"}]}`, []rejected{{-1, ReasonBadTimestamp, `"yesterday"`}}, 0},
		{"ts without zone", `{"ts":"2026-11-21T23:30:00","readings":[{"type":"sos"}]}`, []rejected{{-1, ReasonBadTimestamp, "RFC 3339"}}, 0},
		{"ts empty", `{"ts":"","readings":[{"type":"sos"}]}`, []rejected{{-1, ReasonBadTimestamp, "RFC 3339"}}, 0},
		{"ts February 30", `{"ts":"2026-02-30T10:00:00Z","readings":[{"type":"sos"}]}`, []rejected{{-1, ReasonBadTimestamp, "RFC 3339"}}, 0},
		{"ts before 2000", `{"ts":"1999-12-31T23:59:59.999Z","readings":[{"type":"sos"}]}`, []rejected{{-1, ReasonBadTimestamp, "clock not set"}}, 0},
		{"ts 1970 in ms", `{"ts":0,"readings":[{"type":"sos"}]}`, []rejected{{-1, ReasonBadTimestamp, "clock not set"}}, 0},
		{"ts in Unix seconds", `{"ts":1795303800,"readings":[{"type":"sos"}]}`, []rejected{{-1, ReasonBadTimestamp, "looks like Unix seconds"}}, 0},
		{"future by 5m01s", `{"ts":"2026-11-21T23:36:01Z","readings":[{"type":"sos"}]}`, []rejected{{-1, ReasonFutureTimestamp, "5m1s after the receive time"}}, 0},
		{"future by 5m0.001s", `{"ts":"2026-11-21T23:36:00.001Z","readings":[{"type":"sos"}]}`, []rejected{{-1, ReasonFutureTimestamp, ""}}, 0},
		{"future far", `{"ts":1e300,"readings":[{"type":"sos"}]}`, []rejected{{-1, ReasonFutureTimestamp, ""}}, 0},

		// Readings list.
		{"no readings field", `{"ts":"2026-11-21T23:30:00Z"}`, []rejected{{-1, ReasonMissingValue, "no readings"}}, 0},
		{"empty readings", `{"readings":[]}`, []rejected{{-1, ReasonMissingValue, "no readings"}}, 0},
		{"null readings", `{"readings":null}`, []rejected{{-1, ReasonMissingValue, "no readings"}}, 0},
		{"1000 readings", many(1000, `{"type":"sos"}`), nil, 1000},
		{"1001 readings", many(1001, `{"type":"sos"}`), []rejected{{-1, ReasonInvalidField, "1001 readings"}}, 0},
		{"flood of empty readings", many(21000, `{}`), []rejected{{-1, ReasonInvalidField, "21000 readings"}}, 0},
		{"flood under a capitalised key", strings.Replace(many(1001, `null`), "readings", "READINGS", 1), []rejected{{-1, ReasonInvalidField, "1001 readings"}}, 0},
		{"flood of flags", `{"flags":["a"` + strings.Repeat(`,"a"`, 2000) + `],"readings":[{"type":"sos"}]}`, []rejected{{-1, ReasonInvalidField, "2001 flags"}}, 0},
		{"many commas in strings", `{"pad":"` + strings.Repeat(",", 2000) + `","ts":"2026-11-21T23:30:00Z","readings":[{"type":"sos"}]}`, nil, 1},

		// One reading.
		{"unknown type", one(`{"type":"cholesterol","value":5}`), []rejected{{0, ReasonUnknownType, `"cholesterol"`}}, 0},
		{"type in capitals", one(`{"type":"GLUCOSE","value":5,"unit":"mmol/L"}`), []rejected{{0, ReasonUnknownType, `"GLUCOSE"`}}, 0},
		{"missing type", one(`{"value":5}`), []rejected{{0, ReasonUnknownType, "no type"}}, 0},
		{"null reading", one(`null`), []rejected{{0, ReasonUnknownType, "no type"}}, 0},
		{"type a number", one(`{"type":1}`), []rejected{{0, ReasonInvalidField, `field "type" is a number`}}, 0},
		{"value a string", one(`{"type":"glucose","value":"6.4","unit":"mmol/L"}`), []rejected{{0, ReasonInvalidField, `field "value" is a string; want a number`}}, 0},
		{"lat an array", one(`{"type":"fall","lat":[1],"lon":2}`), []rejected{{0, ReasonInvalidField, `field "lat" is an array`}}, 0},
		{"missing value", one(`{"type":"heart_rate","unit":"/min"}`), []rejected{{0, ReasonMissingValue, "heart_rate has no value"}}, 0},
		{"null value", one(`{"type":"spo2","value":null}`), []rejected{{0, ReasonMissingValue, "spo2 has no value"}}, 0},
		{"value overflows float64", one(`{"type":"spo2","value":1e400}`), []rejected{{0, ReasonInvalidField, "not a finite number"}}, 0},

		{"glucose without unit", one(`{"type":"glucose","value":6.4}`), []rejected{{0, ReasonUnknownUnit, "glucose needs a unit"}}, 0},
		{"glucose unknown unit", one(`{"type":"glucose","value":6.4,"unit":"mg"}`), []rejected{{0, ReasonUnknownUnit, `unit "mg"`}}, 0},
		{"glucose below range", one(`{"type":"glucose","value":0.59,"unit":"mmol/L"}`), []rejected{{0, ReasonImplausible, "glucose 0.59 mmol/L is outside the plausible 0.6-33.3 mmol/L"}}, 0},
		{"glucose above range", one(`{"type":"glucose","value":33.31,"unit":"mmol/L"}`), []rejected{{0, ReasonImplausible, "33.31"}}, 0},
		{"glucose mg/dL below range", one(`{"type":"glucose","value":10,"unit":"mg/dL"}`), []rejected{{0, ReasonImplausible, "glucose 0.56 mmol/L (10 mg/dL)"}}, 0},
		{"glucose sent in mg/dL labelled mmol/L", one(`{"type":"glucose","value":115,"unit":"mmol/L"}`), []rejected{{0, ReasonImplausible, "115"}}, 0},
		{"glucose bad context", one(`{"type":"glucose","value":5,"unit":"mmol/L","context":"lunch"}`), []rejected{{0, ReasonInvalidField, `context "lunch"`}}, 0},
		{"glucose bad source", one(`{"type":"glucose","value":5,"unit":"mmol/L","source":"lab"}`), []rejected{{0, ReasonInvalidField, `source "lab"`}}, 0},

		{"bp without diastolic", one(`{"type":"bp","systolic":120}`), []rejected{{0, ReasonMissingValue, "no diastolic"}}, 0},
		{"bp without systolic", one(`{"type":"bp","diastolic":80}`), []rejected{{0, ReasonMissingValue, "no systolic"}}, 0},
		{"bp with only a value", one(`{"type":"bp","value":120}`), []rejected{{0, ReasonMissingValue, "no systolic and no diastolic"}}, 0},
		{"bp diastolic equal to systolic", one(`{"type":"bp","systolic":90,"diastolic":90}`), []rejected{{0, ReasonImplausible, "not below systolic"}}, 0},
		{"bp diastolic above systolic", one(`{"type":"bp","systolic":80,"diastolic":120}`), []rejected{{0, ReasonImplausible, "not below systolic"}}, 0},
		{"bp systolic above range", one(`{"type":"bp","systolic":301,"diastolic":80}`), []rejected{{0, ReasonImplausible, "systolic 301 mm[Hg] is outside the plausible 50-300"}}, 0},
		{"bp systolic below range", one(`{"type":"bp","systolic":49,"diastolic":30}`), []rejected{{0, ReasonImplausible, "systolic 49"}}, 0},
		{"bp diastolic below range", one(`{"type":"bp","systolic":120,"diastolic":19}`), []rejected{{0, ReasonImplausible, "diastolic 19"}}, 0},
		{"bp diastolic above range", one(`{"type":"bp","systolic":260,"diastolic":201}`), []rejected{{0, ReasonImplausible, "diastolic 201"}}, 0},
		{"bp pulse below range", one(`{"type":"bp","systolic":120,"diastolic":80,"pulse":19}`), []rejected{{0, ReasonImplausible, "pulse 19"}}, 0},
		{"bp in kPa", one(`{"type":"bp","systolic":16,"diastolic":10,"unit":"kPa"}`), []rejected{{0, ReasonUnknownUnit, `"kPa"`}}, 0},
		{"bp bad position", one(`{"type":"bp","systolic":120,"diastolic":80,"position":"upside_down"}`), []rejected{{0, ReasonInvalidField, "position"}}, 0},

		{"heart rate below range", one(`{"type":"heart_rate","value":19}`), []rejected{{0, ReasonImplausible, "heart_rate 19 /min"}}, 0},
		{"heart rate above range", one(`{"type":"heart_rate","value":301}`), []rejected{{0, ReasonImplausible, "301"}}, 0},
		{"heart rate in Hz", one(`{"type":"heart_rate","value":1,"unit":"Hz"}`), []rejected{{0, ReasonUnknownUnit, `"Hz"`}}, 0},
		{"spo2 below range", one(`{"type":"spo2","value":49.99}`), []rejected{{0, ReasonImplausible, "spo2 49.99 %"}}, 0},
		{"spo2 above range", one(`{"type":"spo2","value":101}`), []rejected{{0, ReasonImplausible, "101"}}, 0},
		{"spo2 as a fraction", one(`{"type":"spo2","value":0.97,"unit":"1"}`), []rejected{{0, ReasonUnknownUnit, `"1"`}}, 0},

		{"temperature looks like Fahrenheit", one(`{"type":"temperature","value":86,"unit":"Cel"}`), []rejected{{0, ReasonImplausible, "looks like Fahrenheit"}}, 0},
		{"temperature 113 Cel looks like Fahrenheit", one(`{"type":"temperature","value":113,"unit":"Cel"}`), []rejected{{0, ReasonImplausible, "looks like Fahrenheit"}}, 0},
		{"temperature 98.6 Cel looks like Fahrenheit", one(`{"type":"temperature","value":98.6,"unit":"Cel"}`), []rejected{{0, ReasonImplausible, "looks like Fahrenheit"}}, 0},
		{"temperature below range", one(`{"type":"temperature","value":29.99,"unit":"Cel"}`), []rejected{{0, ReasonImplausible, "temperature 29.99 Cel is outside the plausible 30-45 Cel"}}, 0},
		{"temperature 85 Cel", one(`{"type":"temperature","value":85,"unit":"Cel"}`), []rejected{{0, ReasonImplausible, "temperature 85 Cel is outside"}}, 0},
		{"temperature degF below range", one(`{"type":"temperature","value":80,"unit":"[degF]"}`), []rejected{{0, ReasonImplausible, "(80 [degF])"}}, 0},
		{"temperature without unit", one(`{"type":"temperature","value":37}`), []rejected{{0, ReasonUnknownUnit, "temperature needs a unit"}}, 0},
		{"temperature in K", one(`{"type":"temperature","value":310,"unit":"K"}`), []rejected{{0, ReasonUnknownUnit, `"K"`}}, 0},

		{"weight without unit", one(`{"type":"weight","value":70}`), []rejected{{0, ReasonUnknownUnit, "weight needs a unit"}}, 0},
		{"weight below range", one(`{"type":"weight","value":1.99,"unit":"kg"}`), []rejected{{0, ReasonImplausible, "weight 1.99 kg"}}, 0},
		{"weight above range", one(`{"type":"weight","value":401,"unit":"kg"}`), []rejected{{0, ReasonImplausible, "401"}}, 0},
		{"weight in g", one(`{"type":"weight","value":70000,"unit":"g"}`), []rejected{{0, ReasonUnknownUnit, `"g"`}}, 0},

		{"steps negative", one(`{"type":"steps","value":-1}`), []rejected{{0, ReasonImplausible, "steps -1"}}, 0},
		{"steps above range", one(`{"type":"steps","value":100001}`), []rejected{{0, ReasonImplausible, "100001"}}, 0},
		{"steps fraction", one(`{"type":"steps","value":10.5}`), []rejected{{0, ReasonInvalidField, "whole number"}}, 0},
		{"steps in km", one(`{"type":"steps","value":5,"unit":"km"}`), []rejected{{0, ReasonUnknownUnit, `"km"`}}, 0},

		{"fall with lat only", one(`{"type":"fall","lat":52.1}`), []rejected{{0, ReasonInvalidField, "both lat and lon"}}, 0},
		{"sos with lon only", one(`{"type":"sos","lon":4.3}`), []rejected{{0, ReasonInvalidField, "both lat and lon"}}, 0},
		{"fall lat out of range", one(`{"type":"fall","lat":90.5,"lon":4.3}`), []rejected{{0, ReasonInvalidField, "lat 90.5"}}, 0},
		{"fall lon out of range", one(`{"type":"fall","lat":52,"lon":-180.1}`), []rejected{{0, ReasonInvalidField, "lon -180.1"}}, 0},

		// Reading time.
		{"reading ts not RFC 3339", one(`{"type":"sos","ts":"2026-11-21 23:30:00Z"}`), []rejected{{0, ReasonBadTimestamp, "reading ts"}}, 0},
		{"reading ts before 2000", one(`{"type":"sos","ts":1000}`), []rejected{{0, ReasonBadTimestamp, "clock not set"}}, 0},
		{"reading ts in the future", one(`{"type":"sos","ts":"2026-11-21T23:36:01Z"}`), []rejected{{0, ReasonFutureTimestamp, "reading ts"}}, 0},
		{"reading ts an object", one(`{"type":"sos","ts":{}}`), []rejected{{0, ReasonInvalidField, `field "ts" is an object`}}, 0},

		// Good and bad readings together.
		{"mixed readings", `{"ts":"2026-11-21T23:30:00Z","readings":[
			{"type":"glucose","value":6.4,"unit":"mmol/L"},
			{"type":"glucose","value":0.59,"unit":"mmol/L"},
			{"type":"bp","systolic":142,"diastolic":91},
			{"type":"thermometer","value":37},
			{"type":"spo2","value":95,"ts":"2026-11-21T23:37:00Z"},
			{"type":"sos"}]}`,
			[]rejected{{1, ReasonImplausible, "0.59"}, {3, ReasonUnknownType, "thermometer"}, {4, ReasonFutureTimestamp, ""}}, 3},
		{"all readings bad", `{"readings":[{"type":"x"},{"type":"spo2"}]}`,
			[]rejected{{0, ReasonUnknownType, ""}, {1, ReasonMissingValue, ""}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, rej := Decode(dev, []byte(tt.payload), now)
			if !rejectionsMatch(rej, tt.want) || len(got.Readings) != tt.readings || got.Device != dev {
				t.Errorf("Decode(%.200q) = %d readings, %+v; want %d readings, %+v", tt.payload, len(got.Readings), rej, tt.readings, tt.want)
			}
			if len(tt.want) == 1 && tt.want[0].index == WholeMessage && !reflect.DeepEqual(got, Message{Device: dev}) {
				t.Errorf("Decode(%.200q) = %+v; want only the device for a rejected message", tt.payload, got)
			}
		})
	}
}

func rejectionsMatch(got []Rejection, want []rejected) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range want {
		if !want[i].matches(got[i]) {
			return false
		}
	}
	return true
}

func TestDecodeTopicDevice(t *testing.T) {
	for _, device := range []string{"", "dev/42", "dev+", "dev#", "dev 42", strings.Repeat("d", 65), "dév"} {
		got, rej := Decode(device, []byte(one(`{"type":"sos"}`)), now)
		want := []rejected{{-1, ReasonTopicMismatch, "topic device id"}}
		if !rejectionsMatch(rej, want) || len(got.Readings) != 0 {
			t.Errorf("Decode(%q, ...) = %+v, %+v; want %+v", device, got, rej, want)
		}
	}
}

// TestDecodeFloodIsCheap checks that a payload of many tiny elements is rejected before the
// decoder allocates them: 64 KiB of "{}," would otherwise cost about 20 MB.
func TestDecodeFloodIsCheap(t *testing.T) {
	for _, payload := range []string{
		`{"readings":[{}` + strings.Repeat(`,{}`, 21000) + `]}`,
		`[{}` + strings.Repeat(`,{}`, 21000) + `]`,
		`[1` + strings.Repeat(`,1`, 30000) + `]`,
		`{"flags":["a"` + strings.Repeat(`,"a"`, 16000) + `],"readings":[{"type":"sos"}]}`,
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, rej := Decode(dev, []byte(payload), now)
		runtime.ReadMemStats(&after)
		if allocated := after.TotalAlloc - before.TotalAlloc; allocated > 1<<20 {
			t.Errorf("Decode(%.40q...) allocated %d bytes; want at most 1 MiB", payload, allocated)
		}
		if len(rej) != 1 || rej[0].Reason != ReasonInvalidField {
			t.Errorf("Decode(%.40q...) = %+v; want one %s rejection", payload, rej, ReasonInvalidField)
		}
	}
}

// TestDecodeNeverLogsPatient checks that no rejection detail repeats the patient id.
func TestDecodeNeverLogsPatient(t *testing.T) {
	for _, patient := range []string{"P 000123", "P-000123\u00e9", strings.Repeat("P", 70), "P-000123"} {
		payload := fmt.Sprintf(`{"patient":%q,"readings":[{"type":"glucose","value":99,"unit":"mmol/L"},{"type":"x"}]}`, patient)
		_, rej := Decode(dev, []byte(payload), now)
		if len(rej) == 0 {
			t.Fatalf("Decode(%q) = no rejections; want some", payload)
		}
		for _, r := range rej {
			if strings.Contains(r.Detail, patient[:8]) {
				t.Errorf("Decode(%q) rejection %+v repeats the patient id", payload, r)
			}
		}
	}
}

// TestDecodeDeterministic checks that the same payload always decodes the same way, including
// float conversions that could otherwise differ in their last bits.
func TestDecodeDeterministic(t *testing.T) {
	payload := []byte(`{"readings":[{"type":"glucose","value":123.4,"unit":"mg/dL"},{"type":"weight","value":171.3,"unit":"lb"},{"type":"temperature","value":99.1,"unit":"[degF]"}]}`)
	first, _ := Decode(dev, payload, now)
	want := []float64{6.85, 77.7, 37.28}
	for i, r := range first.Readings {
		if r.Value != want[i] {
			t.Errorf("Decode(%q) reading %d = %v; want %v", payload, i, r.Value, want[i])
		}
	}
	for range 100 {
		if got, _ := Decode(dev, payload, now); !reflect.DeepEqual(got, first) {
			t.Fatalf("Decode(%q) = %+v; want %+v as the first time", payload, got, first)
		}
	}
}

func TestValidID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"dev-42", true},
		{"a", true},
		{"urn:dev:mac:0024befffe804ff1", true},
		{"P_000.123", true},
		{strings.Repeat("x", 64), true},
		{strings.Repeat("x", 65), false},
		{"", false},
		{"dev/42", false},
		{"dev+42", false},
		{"dev#", false},
		{"dev 42", false},
		{"dév", false},
		{"dev\x00", false},
	}
	for _, tt := range tests {
		if got := ValidID(tt.id); got != tt.want {
			t.Errorf("ValidID(%q) = %v; want %v", tt.id, got, tt.want)
		}
	}
}

func TestQualityFlag(t *testing.T) {
	for _, f := range []string{"cuff_loose", "body_movement", "improper_position", "strip_error", "sample_too_small",
		"sensor_malfunction", "read_interrupted", "time_fault", "time_sync_required", "low_perfusion",
		"sensor_displaced", "poor_signal", "calibration_required"} {
		if !QualityFlag(f) {
			t.Errorf("QualityFlag(%q) = false; want true", f)
		}
	}
	for _, f := range []string{"battery_low", "irregular_pulse", "pulse_out_of_range", "result_below_range",
		"result_above_range", "calibration_recommended", "", "Cuff_Loose", "unknown_flag"} {
		if QualityFlag(f) {
			t.Errorf("QualityFlag(%q) = true; want false", f)
		}
	}
}

// typical is a telemetry message as a home glucose meter and cuff send it.
var typical = []byte(`{"ts":"2026-11-22T07:30:00+08:00","seq":1042,"readings":[` +
	`{"type":"glucose","value":6.4,"unit":"mmol/L","context":"fasting"},` +
	`{"type":"bp","systolic":142,"diastolic":91,"pulse":74,"unit":"mm[Hg]"}],"battery":78}`)

func BenchmarkDecode(b *testing.B) {
	benchmarks := []struct {
		name    string
		payload []byte
	}{
		{"one", []byte(`{"ts":1795303800000,"seq":7,"readings":[{"type":"spo2","value":97,"unit":"%"}]}`)},
		{"typical", typical},
		{"design example", []byte(designExample)},
		{"senml", []byte(`[{"bn":"urn:dev:id:dev-42:","bt":1795303800,"n":"systolic","u":"mmHg","v":142},` +
			`{"n":"diastolic","u":"mmHg","v":91},{"n":"pulse","u":"beat/min","v":74}]`)},
	}
	for _, bm := range benchmarks {
		b.Run(bm.name, func(b *testing.B) {
			if _, rej := Decode(dev, bm.payload, now); len(rej) != 0 {
				b.Fatalf("Decode(%q) rejects %+v", bm.payload, rej)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(bm.payload)))
			for b.Loop() {
				Decode(dev, bm.payload, now)
			}
		})
	}
}

// TestDecodeConcurrentlyAndAfterReuse decodes messages of different shapes on several goroutines
// at once, over and over, and checks each answer against the one decoded alone first: Decode
// reuses the values it decodes into, and one message's fields (its flags, its readings) must
// not show up in, or be changed by, another's.
func TestDecodeConcurrentlyAndAfterReuse(t *testing.T) {
	payloads := [][]byte{
		typical,
		[]byte(designExample),
		[]byte(`{"ts":1795303800000,"seq":7,"flags":["low_battery","Cuff_Loose"],"readings":[{"type":"spo2","value":97,"unit":"%"}]}`),
		[]byte(`{"patient":"p-77","readings":[{"type":"weight","value":71.5,"unit":"kg"},{"type":"steps","value":1200},` +
			`{"type":"glucose","value":5.1,"unit":"mmol/L"},{"type":"heart_rate","value":64,"unit":"/min"},{"type":"bp","systolic":"high"}]}`),
		[]byte(`{"readings":[{"type":"temperature","value":37.2,"unit":"Cel"}],"flags":["cuff_loose"],"battery":"full"}`),
	}
	type answer struct {
		msg Message
		rej []Rejection
	}
	want := make([]answer, len(payloads))
	for i, p := range payloads {
		msg, rej := Decode(dev, p, now)
		want[i] = answer{msg, rej}
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for n := range 500 {
				i := (g + n) % len(payloads)
				msg, rej := Decode(dev, payloads[i], now)
				if !reflect.DeepEqual(answer{msg, rej}, want[i]) {
					t.Errorf("payload %d decoded on goroutine %d: %+v, %+v; want %+v, %+v", i, g, msg, rej, want[i].msg, want[i].rej)
					return
				}
			}
		})
	}
	wg.Wait()
}
