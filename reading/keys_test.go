package reading

import (
	"reflect"
	"testing"
)

// encoding/json matches object keys to struct fields case-insensitively and lets a later key
// override an earlier one, so {"value": 6.2, "VALUE": 31} would store 31. The keys of the device
// contract are exact: a case variant of one of them, or a key given twice, in the message, a
// reading, a SenML record or a status, rejects the whole message as invalid_field, naming the
// key.
func TestDecodeRejectsKeyVariants(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		detail  string
	}{
		{"value in capitals after value", one(`{"type":"glucose","value":6.2,"VALUE":31,"unit":"mmol/L"}`), `reading 0: key "VALUE" is a case variant of "value"`},
		{"value in capitals before value", one(`{"type":"glucose","Value":31,"value":6.2,"unit":"mmol/L"}`), `key "Value" is a case variant of "value"`},
		{"value in capitals alone", one(`{"type":"glucose","VALUE":31,"unit":"mmol/L"}`), `key "VALUE"`},
		{"value twice", one(`{"type":"glucose","value":6.2,"value":31,"unit":"mmol/L"}`), `reading 0: duplicate key "value"`},
		{"value twice, once escaped", one(`{"type":"glucose","value":6.2,"\u0076alue":31,"unit":"mmol/L"}`), `duplicate key "value"`},
		{"long s folds to s", one(`{"type":"bp","systolic":120,"diastolic":80,"\u017fyſtolic":200}`), `key "ſyſtolic" is a case variant of "systolic"`},
		{"Kelvin sign folds to k", `{"ts":"2026-11-21T23:30:00Z","readings":[{"type":"sos"}],"unKnown":1,"un\u212anown":2}`, ""},
		{"type variant in the second reading", `{"ts":"2026-11-21T23:30:00Z","readings":[{"type":"sos"},{"type":"sos","TYPE":"fall"}]}`, `reading 1: key "TYPE"`},
		{"unit variant", one(`{"type":"glucose","value":115,"unit":"mmol/L","Unit":"mg/dL"}`), `key "Unit" is a case variant of "unit"`},
		{"reading ts twice", one(`{"type":"sos","ts":"2026-11-21T23:29:00Z","ts":"2026-11-21T23:30:00Z"}`), `duplicate key "ts"`},
		{"unknown key twice in a reading", one(`{"type":"sos","note":"a","note":"b"}`), `reading 0: duplicate key "note"`},

		{"patient twice", `{"patient":"P-000123","patient":"P-000999","readings":[{"type":"sos"}]}`, `duplicate key "patient"`},
		{"patient variant", `{"patient":"P-000123","PATIENT":"P-000999","readings":[{"type":"sos"}]}`, `key "PATIENT" is a case variant of "patient"`},
		{"seq variant", `{"seq":5,"Seq":4,"readings":[{"type":"sos"}]}`, `key "Seq"`},
		{"device variant", `{"Device":"dev-7","readings":[{"type":"sos"}]}`, `key "Device"`},
		{"readings variant", `{"Readings":[{"type":"sos"}]}`, `key "Readings" is a case variant of "readings"`},
		{"readings twice", `{"readings":[{"type":"sos"}],"readings":[{"type":"fall"}]}`, `duplicate key "readings"`},
		{"flags variant", `{"FLAGS":["cuff_loose"],"readings":[{"type":"sos"}]}`, `key "FLAGS"`},
		{"unknown key twice", `{"fw":"1","fw":"2","readings":[{"type":"sos"}]}`, `duplicate key "fw"`},
		{"many unknown keys, one twice", `{"a1":1,"a2":1,"a3":1,"a4":1,"a5":1,"a6":1,"a7":1,"a8":1,"a9":1,"a10":1,"a3":2,"readings":[{"type":"sos"}]}`, `duplicate key "a3"`},

		{"SenML v variant", `[{"n":"heart_rate","v":70,"V":200}]`, `SenML record 0: key "V" is a case variant of "v"`},
		{"SenML v twice", `[{"n":"heart_rate","v":70},{"n":"heart_rate","v":70,"v":200}]`, `SenML record 1: duplicate key "v"`},
		{"SenML base name variant", `[{"bn":"dev-42/","BN":"dev-7/","n":"heart_rate","v":70}]`, `key "BN"`},
		{"SenML name variant", `[{"N":"heart_rate","v":70}]`, `key "N" is a case variant of "n"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, rej := Decode(dev, []byte(tt.payload), now)
			if tt.detail == "" {
				if len(rej) != 0 || len(got.Readings) != 1 {
					t.Errorf("Decode(%q) = %+v, %+v; want one reading, no rejections", tt.payload, got, rej)
				}
				return
			}
			want := []rejected{{WholeMessage, ReasonInvalidField, tt.detail}}
			if !rejectionsMatch(rej, want) || !reflect.DeepEqual(got, Message{Device: dev}) {
				t.Errorf("Decode(%q) = %+v, %+v; want only %+v", tt.payload, got, rej, want)
			}
		})
	}
}

func TestDecodeStatusRejectsKeyVariants(t *testing.T) {
	for _, tt := range []struct{ payload, detail string }{
		{`{"online":false,"ONLINE":true}`, `key "ONLINE" is a case variant of "online"`},
		{`{"online":false,"online":true}`, `duplicate key "online"`},
		{`{"battery":50,"Battery":5}`, `key "Battery"`},
		{`{"firmware":"1","firmware":"2"}`, `duplicate key "firmware"`},
	} {
		st, rej := DecodeStatus(dev, []byte(tt.payload), now)
		want := rejected{WholeMessage, ReasonInvalidField, tt.detail}
		if len(rej) != 1 || !want.matches(rej[0]) || !reflect.DeepEqual(st, Status{Device: dev}) {
			t.Errorf("DecodeStatus(%q) = %+v, %+v; want only %+v", tt.payload, st, rej, want)
		}
	}
}

// Keys that only look alike are different keys: those of objects the contract does not define
// (inside an unknown field) are not checked, and unknown keys that differ in case are distinct.
func TestDecodeAcceptsDistinctKeys(t *testing.T) {
	for _, payload := range []string{
		one(`{"type":"sos","extra":{"VALUE":1,"a":1,"a":2}}`),
		`{"fw":"1","FW":"2","ts":"2026-11-21T23:30:00Z","readings":[{"type":"sos"}]}`,
		`{"meta":{"readings":1,"Readings":2},"ts":"2026-11-21T23:30:00Z","readings":[{"type":"sos","pad":[{"type":1,"type":2}]}]}`,
		one(`{"\u0074ype":"sos"}`),
		`[{"n":"heart_rate","v":70,"vs":"x","VS":"y"}]`,
	} {
		got, rej := Decode(dev, []byte(payload), now)
		if len(rej) != 0 || len(got.Readings) != 1 {
			t.Errorf("Decode(%q) = %+v, %+v; want one reading, no rejections", payload, got, rej)
		}
	}
	if st, rej := DecodeStatus(dev, []byte(`{"online":true,"rssi":{"online":1,"online":2}}`), now); len(rej) != 0 || !st.Online {
		t.Errorf("DecodeStatus = %+v, %+v; want online, no rejections", st, rej)
	}
}

// A field of the wrong JSON type is invalid_field, naming the field, not malformed JSON: the
// payload is JSON, one of its fields breaks the contract.
func TestDecodeWrongTypeIsInvalidField(t *testing.T) {
	tests := []struct {
		name, payload string
		want          rejected
	}{
		{"reading value a string", one(`{"type":"glucose","value":"6.4","unit":"mmol/L"}`), rejected{0, ReasonInvalidField, `field "value" is a string; want a number`}},
		{"reading type a number", one(`{"type":1}`), rejected{0, ReasonInvalidField, `field "type" is a number`}},
		{"seq a string", `{"seq":"12","readings":[{"type":"sos"}]}`, rejected{-1, ReasonInvalidField, `field "seq" is a string; want a number`}},
		{"readings an object", `{"readings":{"type":"sos"}}`, rejected{-1, ReasonInvalidField, `field "readings" is an object; want an array of objects`}},
		{"reading a number", `{"readings":[{"type":"sos"},5]}`, rejected{-1, ReasonInvalidField, `an element of field "readings" is a number; want an object`}},
		{"flags a string", `{"flags":"cuff_loose","readings":[{"type":"sos"}]}`, rejected{-1, ReasonInvalidField, `field "flags" is a string; want an array of strings`}},
		{"flag a number", `{"flags":[1],"readings":[{"type":"sos"}]}`, rejected{-1, ReasonInvalidField, `an element of field "flags" is a number; want a string`}},
		{"SenML v a string", `[{"n":"heart_rate","v":"70"}]`, rejected{0, ReasonInvalidField, `field "v" is a string`}},
		{"SenML bn a number", `[{"bn":42,"n":"heart_rate","v":70}]`, rejected{-1, ReasonInvalidField, `field "bn" is a number`}},
	}
	for _, tt := range tests {
		_, rej := Decode(dev, []byte(tt.payload), now)
		if len(rej) != 1 || !tt.want.matches(rej[0]) {
			t.Errorf("%s: Decode(%q) = %+v; want %+v", tt.name, tt.payload, rej, tt.want)
		}
	}
	for _, payload := range []string{`{"online":"false"}`, `{"flags":"battery_low"}`, `{"battery":"50"}`} {
		_, rej := DecodeStatus(dev, []byte(payload), now)
		if len(rej) != 1 || rej[0].Reason != ReasonInvalidField {
			t.Errorf("DecodeStatus(%q) = %+v; want one invalid_field rejection", payload, rej)
		}
	}
}

// BenchmarkCheckKeys measures the key check alone, to set against BenchmarkDecode.
func BenchmarkCheckKeys(b *testing.B) {
	for _, bm := range []struct {
		name    string
		payload []byte
		keys    *objectKeys
	}{
		{"typical", typical, telemetryKeys},
		{"design example", []byte(designExample), telemetryKeys},
		{"senml", []byte(`[{"bn":"urn:dev:id:dev-42:","bt":1795303800,"n":"systolic","u":"mmHg","v":142},` +
			`{"n":"diastolic","u":"mmHg","v":91},{"n":"pulse","u":"beat/min","v":74}]`), senmlPackKeys},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bm.payload)))
			for b.Loop() {
				if f := checkKeys(bm.payload, bm.keys); f.reason != "" {
					b.Fatal(f)
				}
			}
		})
	}
}
