package reading

import (
	"reflect"
	"strings"
	"testing"
)

func TestDecodeStatusAccepts(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		want    Status
	}{
		{"full", `{"ts":"2026-11-22T07:30:00+08:00","battery":78,"signal":-67.5,"firmware":"2.4.1","flags":["Battery_Low"],"online":true}`,
			Status{Device: dev, Time: at(t, "2026-11-21T23:30:00Z"), Battery: 78, HasBattery: true, Signal: -67.5, HasSignal: true,
				Firmware: "2.4.1", Flags: []string{"battery_low"}, Online: true, HasOnline: true}},
		{"last will", `{"online": false}`, Status{Device: dev, Time: now, TimeMissing: true, HasOnline: true}},
		{"heartbeat", `{}`, Status{Device: dev, Time: now, TimeMissing: true}},
		{"ts in Unix ms", `{"ts":1795303800000}`, Status{Device: dev, Time: at(t, "2026-11-21T23:30:00Z")}},
		{"bounds", `{"battery":0,"signal":-150}`, Status{Device: dev, Time: now, TimeMissing: true, HasBattery: true, Signal: -150, HasSignal: true}},
		{"upper bounds", `{"battery":100,"signal":0}`, Status{Device: dev, Time: now, TimeMissing: true, Battery: 100, HasBattery: true, HasSignal: true}},
		{"longest firmware", `{"firmware":"` + strings.Repeat("v", 64) + `"}`, Status{Device: dev, Time: now, TimeMissing: true, Firmware: strings.Repeat("v", 64)}},
		{"firmware beyond ASCII", `{"firmware":"v1.2-β (build 7)"}`, Status{Device: dev, Time: now, TimeMissing: true, Firmware: "v1.2-β (build 7)"}},
		{"other fields ignored", `{"device":"dev-43","rssi":"x","online":true}`, Status{Device: dev, Time: now, TimeMissing: true, Online: true, HasOnline: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, rej := DecodeStatus(dev, []byte(tt.payload), now)
			if len(rej) != 0 || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("DecodeStatus(%q) = %+v, %+v; want %+v, no rejections", tt.payload, got, rej, tt.want)
			}
		})
	}
}

func TestDecodeStatusRejects(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		want    rejected
	}{
		{"oversized", `{"firmware":"` + strings.Repeat("x", MaxPayload) + `"}`, rejected{-1, ReasonOversized, ""}},
		{"not JSON", `{"online":`, rejected{-1, ReasonMalformed, "invalid JSON"}},
		{"null", `null`, rejected{-1, ReasonMalformed, "payload is null"}},
		{"array", `[{"online":true}]`, rejected{-1, ReasonMalformed, "cannot unmarshal array"}},
		{"online a string", `{"online":"false"}`, rejected{-1, ReasonInvalidField, `field "online" is a string; want a boolean`}},
		{"battery a string", `{"battery":"50"}`, rejected{-1, ReasonInvalidField, `field "battery" is a string`}},
		{"signal a boolean", `{"signal":true}`, rejected{-1, ReasonInvalidField, `field "signal" is a boolean`}},
		{"firmware a number", `{"firmware":2.4}`, rejected{-1, ReasonInvalidField, `field "firmware" is a number`}},
		{"flags a string", `{"flags":"battery_low"}`, rejected{-1, ReasonInvalidField, "flags"}},
		{"battery above 100", `{"battery":101}`, rejected{-1, ReasonInvalidField, "battery 101"}},
		{"battery negative", `{"battery":-0.5}`, rejected{-1, ReasonInvalidField, "battery -0.5"}},
		{"signal positive", `{"signal":1}`, rejected{-1, ReasonInvalidField, "signal 1 dBm"}},
		{"signal below -150", `{"signal":-151}`, rejected{-1, ReasonInvalidField, "signal -151 dBm"}},
		{"firmware too long", `{"firmware":"` + strings.Repeat("v", 65) + `"}`, rejected{-1, ReasonInvalidField, "firmware"}},
		{"firmware with a newline", `{"firmware":"2.4\n1"}`, rejected{-1, ReasonInvalidField, "printable"}},
		{"flood of flags", `{"flags":["a"` + strings.Repeat(`,"a"`, 16000) + `]}`, rejected{-1, ReasonInvalidField, "16001 flags"}},
		{"too many flags", `{"flags":["a"` + strings.Repeat(`,"a"`, 32) + `]}`, rejected{-1, ReasonInvalidField, "33 flags"}},
		{"flag invalid", `{"flags":["low battery"]}`, rejected{-1, ReasonInvalidField, `"low battery"`}},
		{"ts not RFC 3339", `{"ts":"22/11/2026"}`, rejected{-1, ReasonBadTimestamp, "RFC 3339"}},
		{"ts before 2000", `{"ts":"1970-01-01T00:00:00Z"}`, rejected{-1, ReasonBadTimestamp, "clock not set"}},
		{"ts in the future", `{"ts":"2026-11-21T23:36:01Z"}`, rejected{-1, ReasonFutureTimestamp, ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, rej := DecodeStatus(dev, []byte(tt.payload), now)
			if len(rej) != 1 || !tt.want.matches(rej[0]) || !reflect.DeepEqual(got, Status{Device: dev}) {
				t.Errorf("DecodeStatus(%.200q) = %+v, %+v; want %+v", tt.payload, got, rej, tt.want)
			}
		})
	}
}

func TestDecodeStatusTopicDevice(t *testing.T) {
	_, rej := DecodeStatus("dev/42", []byte(`{"online":false}`), now)
	want := rejected{-1, ReasonTopicMismatch, "topic device id"}
	if len(rej) != 1 || !want.matches(rej[0]) {
		t.Errorf("DecodeStatus(%q) = %+v; want %+v", `{"online":false}`, rej, want)
	}
}
