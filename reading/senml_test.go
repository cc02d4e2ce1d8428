package reading

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDecodeSenMLAccepts(t *testing.T) {
	bt := at(t, "2026-11-21T23:30:00Z") // 1795303800 s
	tests := []struct {
		name    string
		payload string
		want    Message
	}{
		{"bp grouped by time",
			`[{"bn":"urn:dev:id:dev-42:","bt":1795303800,"bu":"mmHg","n":"systolic","v":142},
			  {"n":"diastolic","v":91},
			  {"n":"pulse","u":"beat/min","v":74}]`,
			Message{Device: dev, Readings: []Reading{{Type: BP, Time: bt, Systolic: 142, Diastolic: 91, Pulse: 74, HasPulse: true}}}},
		{"two bp readings interleaved",
			`[{"bn":"dev-42/","bt":1795303800,"n":"systolic","u":"mm[Hg]","v":120,"t":-60},
			  {"n":"systolic","u":"mmHg","v":130},
			  {"n":"diastolic","u":"mmHg","v":85},
			  {"n":"diastolic","u":"mmHg","v":80,"t":-60}]`,
			Message{Device: dev, Readings: []Reading{
				{Type: BP, Time: bt.Add(-time.Minute), Systolic: 120, Diastolic: 80},
				{Type: BP, Time: bt, Systolic: 130, Diastolic: 85},
			}}},
		{"relative time",
			`[{"bn":"dev-42/","n":"glucose","u":"mmol/l","v":5.5,"t":-120.5}]`,
			Message{Device: dev, Readings: []Reading{{Type: Glucose, Time: now.Add(-120500 * time.Millisecond), Value: 5.5}}}},
		{"no time is now",
			`[{"n":"heart_rate","u":"beats/min","v":64}]`,
			Message{Device: dev, TimeMissing: true, Readings: []Reading{{Type: HeartRate, Time: now, Value: 64}}}},
		{"relative 4m59s ahead",
			`[{"n":"heart_rate","u":"/min","v":64,"t":299}]`,
			Message{Device: dev, Readings: []Reading{{Type: HeartRate, Time: now.Add(299 * time.Second), Value: 64}}}},
		{"base unit, time and value apply to later records",
			`[{"bn":"dev-42:","bt":1795303800,"bu":"Cel","bv":36,"n":"temperature","v":0.6},
			  {"n":"temperature","v":1.25,"t":60}]`,
			Message{Device: dev, Readings: []Reading{
				{Type: Temperature, Time: bt, Value: 36.6},
				{Type: Temperature, Time: bt.Add(time.Minute), Value: 37.25},
			}}},
		{"base name changes",
			`[{"bn":"dev-42/","bt":1795303800,"n":"spo2","u":"%","v":97},
			  {"bn":"urn:dev:id:dev-42:","n":"steps","u":"count","v":4200}]`,
			Message{Device: dev, Readings: []Reading{{Type: SpO2, Time: bt, Value: 97}, {Type: Steps, Time: bt, Value: 4200}}}},
		{"conversions",
			`[{"bt":1795303800,"n":"glucose","u":"mg/dl","v":115},{"n":"weight","u":"lb","v":150},{"n":"temperature","u":"[degF]","v":98.6}]`,
			Message{Device: dev, Readings: []Reading{
				{Type: Glucose, Time: bt, Value: 6.38}, {Type: Weight, Time: bt, Value: 68.04}, {Type: Temperature, Time: bt, Value: 37},
			}}},
		{"events",
			`[{"bn":"dev-42/","bt":1795303800,"n":"fall","vb":true},{"n":"sos"},{"n":"fall","v":1},{"n":"cancel","t":20}]`,
			Message{Device: dev, Readings: []Reading{{Type: Fall, Time: bt}, {Type: SOS, Time: bt}, {Type: Fall, Time: bt}, {Type: Cancel, Time: bt.Add(20 * time.Second)}}}},
		{"device in the name",
			`[{"bt":1795303800,"n":"dev-42/heart_rate","v":70},{"n":"urn:dev:id:dev-42:spo2","v":99}]`,
			Message{Device: dev, Readings: []Reading{{Type: HeartRate, Time: bt, Value: 70}, {Type: SpO2, Time: bt, Value: 99}}}},
		{"empty base name",
			`[{"bn":"","bt":1795303800,"n":"heart_rate","v":70}]`,
			Message{Device: dev, Readings: []Reading{{Type: HeartRate, Time: bt, Value: 70}}}},
		{"unused fields ignored",
			`[{"bver":10,"bt":1795303800,"n":"heart_rate","v":70,"s":5,"ut":60,"vs":"x","vd":"eA"}]`,
			Message{Device: dev, Readings: []Reading{{Type: HeartRate, Time: bt, Value: 70}}}},
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

func TestDecodeSenMLDeviceWithColon(t *testing.T) {
	payload := `[{"bn":"urn:dev:id:site-1:dev-42:","n":"heart_rate","v":70,"t":-1}]`
	got, rej := Decode("site-1:dev-42", []byte(payload), now)
	if len(rej) != 0 || len(got.Readings) != 1 {
		t.Errorf("Decode(%q) = %+v, %+v; want one reading", payload, got, rej)
	}
}

func TestDecodeSenMLRejects(t *testing.T) {
	tests := []struct {
		name     string
		payload  string
		want     []rejected
		readings int
	}{
		{"base name of another device", `[{"bn":"urn:dev:id:dev-43:","n":"heart_rate","v":70}]`, []rejected{{-1, ReasonTopicMismatch, `"urn:dev:id:dev-43:"`}}, 0},
		{"base name with the id as a suffix only", `[{"bn":"urn:dev:id:xdev-42:","n":"heart_rate","v":70}]`, []rejected{{-1, ReasonTopicMismatch, "base name"}}, 0},
		{"later base name of another device", `[{"bn":"dev-42/","n":"heart_rate","v":70},{"bn":"dev-43/","n":"heart_rate","v":71}]`, []rejected{{-1, ReasonTopicMismatch, "dev-43"}}, 0},
		{"name of another device", `[{"n":"dev-7/glucose","u":"mmol/L","v":5}]`, []rejected{{-1, ReasonTopicMismatch, "dev-7/glucose"}}, 0},
		{"empty pack", `[]`, []rejected{{-1, ReasonMissingValue, "no readings"}}, 0},
		{"not JSON", `[{"n":"heart_rate",`, []rejected{{-1, ReasonMalformed, "invalid JSON"}}, 0},
		{"record not an object", `[{"n":"heart_rate","v":70},1]`, []rejected{{-1, ReasonMalformed, "cannot unmarshal number"}}, 0},
		{"base name a number", `[{"bn":42,"n":"heart_rate","v":70}]`, []rejected{{-1, ReasonInvalidField, `field "bn" is a number`}}, 0},
		{"base time a string", `[{"bt":"now","n":"heart_rate","v":70}]`, []rejected{{-1, ReasonInvalidField, `field "bt" is a string`}}, 0},
		{"too many records", "[" + strings.TrimSuffix(strings.Repeat(`{"n":"sos"},`, 1001), ",") + "]", []rejected{{-1, ReasonInvalidField, "1001 SenML records"}}, 0},

		{"value a string", `[{"n":"heart_rate","v":"70"},{"n":"heart_rate","v":70}]`, []rejected{{0, ReasonInvalidField, `field "v" is a string`}}, 1},
		{"string value only", `[{"n":"heart_rate","vs":"70"}]`, []rejected{{0, ReasonMissingValue, "no value"}}, 0},
		{"unknown name", `[{"n":"battery","u":"%EL","v":80}]`, []rejected{{0, ReasonUnknownType, `"battery"`}}, 0},
		{"no name", `[{"v":80}]`, []rejected{{0, ReasonUnknownType, "no name"}}, 0},
		{"glucose without unit", `[{"n":"glucose","v":6}]`, []rejected{{0, ReasonUnknownUnit, "glucose needs a unit"}}, 0},
		{"glucose below range", `[{"n":"glucose","u":"mmol/L","v":0.59}]`, []rejected{{0, ReasonImplausible, "0.59"}}, 0},
		{"temperature looks like Fahrenheit", `[{"n":"temperature","u":"Cel","v":98.6}]`, []rejected{{0, ReasonImplausible, "looks like Fahrenheit"}}, 0},
		{"fall that did not happen", `[{"n":"fall","vb":false},{"n":"sos","v":0}]`, []rejected{{0, ReasonInvalidField, "not an event"}, {1, ReasonInvalidField, "not an event"}}, 0},
		{"cancel that did not happen", `[{"n":"cancel","vb":false}]`, []rejected{{0, ReasonInvalidField, "not an event"}}, 0},

		{"bp without diastolic", `[{"n":"systolic","u":"mmHg","v":120}]`, []rejected{{0, ReasonMissingValue, "no diastolic"}}, 0},
		{"bp parts at different times", `[{"n":"systolic","u":"mmHg","v":120,"t":-2},{"n":"diastolic","u":"mmHg","v":80,"t":-1}]`,
			[]rejected{{0, ReasonMissingValue, "no diastolic"}, {1, ReasonMissingValue, "no systolic"}}, 0},
		{"bp diastolic not below systolic", `[{"n":"systolic","u":"mmHg","v":80,"t":-1},{"n":"diastolic","u":"mmHg","v":80,"t":-1}]`,
			[]rejected{{0, ReasonImplausible, "not below systolic"}}, 0},
		{"bp pulse in the base unit mmHg", `[{"bu":"mmHg","n":"systolic","v":120},{"n":"diastolic","v":80},{"n":"pulse","v":70}]`,
			[]rejected{{2, ReasonUnknownUnit, `pulse unit "mmHg"`}}, 0},
		{"bp systolic twice", `[{"n":"systolic","u":"mmHg","v":120},{"n":"diastolic","u":"mmHg","v":80},{"n":"systolic","u":"mmHg","v":121}]`,
			[]rejected{{2, ReasonInvalidField, "two SenML systolic records"}}, 0},
		{"bp part without value", `[{"n":"systolic","u":"mmHg","v":120},{"n":"diastolic","u":"mmHg"}]`,
			[]rejected{{1, ReasonMissingValue, "diastolic record has no value"}}, 0},

		{"absolute time in the future", `[{"n":"heart_rate","v":70,"t":1795304200}]`, []rejected{{0, ReasonFutureTimestamp, "SenML time"}}, 0},
		{"relative 5m01s ahead", `[{"n":"heart_rate","v":70,"t":301}]`, []rejected{{0, ReasonFutureTimestamp, "SenML time"}}, 0},
		{"absolute time before 2000", `[{"n":"heart_rate","v":70,"t":300000000}]`, []rejected{{0, ReasonBadTimestamp, "clock not set"}}, 0},
		{"relative time far in the past", `[{"n":"heart_rate","v":70,"t":-1e12}]`, []rejected{{0, ReasonBadTimestamp, "clock not set"}}, 0},
		{"time overflows float64", `[{"n":"heart_rate","v":70,"t":1e400}]`, []rejected{{0, ReasonBadTimestamp, "not a finite number"}}, 0},

		{"mixed, in record order", `[{"n":"systolic","u":"mmHg","v":120,"t":-5},{"n":"glucose","u":"mmol/L","v":99},{"n":"spo2","v":98},{"n":"diastolic","u":"mmHg","v":130,"t":-5},{"n":"x"}]`,
			[]rejected{{0, ReasonImplausible, "not below systolic"}, {1, ReasonImplausible, "99"}, {4, ReasonUnknownType, `"x"`}}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, rej := Decode(dev, []byte(tt.payload), now)
			if !rejectionsMatch(rej, tt.want) || len(got.Readings) != tt.readings {
				t.Errorf("Decode(%.200q) = %d readings, %+v; want %d readings, %+v", tt.payload, len(got.Readings), rej, tt.readings, tt.want)
			}
		})
	}
}
