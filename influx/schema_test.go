package influx

import (
	"strconv"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/reading"
)

func TestAppendMessage(t *testing.T) {
	at := time.Date(2026, 11, 22, 7, 30, 0, 0, time.UTC)
	ms := strconv.FormatInt(at.UnixMilli(), 10)
	tests := []struct {
		name string
		m    reading.Message
		tags Tags
		want string
	}{
		{
			name: "glucose with context, patient from payload, seq",
			m: reading.Message{Device: "gm-1", Patient: "P-000123", Seq: 42, HasSeq: true,
				Readings: []reading.Reading{{Type: reading.Glucose, Time: at, Value: 6.4, Context: "fasting", Source: "fingerstick"}}},
			want: "glucose,context=fasting,device=gm-1,patient=P-000123,source=fingerstick value=6.4,seq=42i " + ms + "\n",
		},
		{
			name: "bp with pulse and registry tags overriding the payload patient",
			m: reading.Message{Device: "cuff-7", Patient: "P-1",
				Readings: []reading.Reading{{Type: reading.BP, Time: at, Systolic: 142, Diastolic: 91, Pulse: 74, HasPulse: true, Position: "sitting"}}},
			tags: Tags{DeviceType: "bp_cuff", Site: "centre-3", Patient: "P-2"},
			want: "bp,device=cuff-7,device_type=bp_cuff,patient=P-2,position=sitting,site=centre-3 systolic=142,diastolic=91,pulse=74 " + ms + "\n",
		},
		{
			name: "flags on every reading of the message",
			m: reading.Message{Device: "ox-1", Flags: []string{"low_perfusion", "battery_low"},
				Readings: []reading.Reading{{Type: reading.SpO2, Time: at, Value: 95}, {Type: reading.HeartRate, Time: at, Value: 74}}},
			want: "spo2,device=ox-1 value=95,flags=\"low_perfusion,battery_low\" " + ms + "\n" +
				"heart_rate,device=ox-1 value=74,flags=\"low_perfusion,battery_low\" " + ms + "\n",
		},
		{
			name: "fall event with location",
			m: reading.Message{Device: "w-1",
				Readings: []reading.Reading{{Type: reading.Fall, Time: at, Lat: 31.2304, Lon: 121.4737, HasLocation: true}}},
			want: "event,device=w-1,kind=fall value=1,lat=31.2304,lon=121.4737 " + ms + "\n",
		},
		{
			name: "cancel of a fall is an event",
			m: reading.Message{Device: "w-1",
				Readings: []reading.Reading{{Type: reading.Cancel, Time: at}}},
			want: "event,device=w-1,kind=cancel value=1 " + ms + "\n",
		},
		{
			name: "tag values escaped",
			m: reading.Message{Device: "a b,c=d",
				Readings: []reading.Reading{{Type: reading.Weight, Time: at, Value: 70.25}}},
			want: "weight,device=a\\ b\\,c\\=d value=70.25 " + ms + "\n",
		},
	}
	for _, tt := range tests {
		got := string(AppendMessage(nil, &tt.m, tt.tags))
		if got != tt.want {
			t.Errorf("%s: AppendMessage() =\n%q\nwant\n%q", tt.name, got, tt.want)
		}
	}
}

func TestAppendStatus(t *testing.T) {
	at := time.Date(2026, 11, 22, 7, 30, 0, 0, time.UTC)
	tests := []struct {
		name string
		s    reading.Status
		want string
	}{
		{"all fields", reading.Status{Device: "d1", Time: at, Battery: 78, HasBattery: true, Signal: -67, HasSignal: true,
			Firmware: `1.2 "beta"`, Online: true, HasOnline: true, Flags: []string{"battery_low"}},
			"device_status,device=d1 battery=78,firmware=\"1.2 \\\"beta\\\"\",flags=\"battery_low\",online=true,signal=-67 " + strconv.FormatInt(at.UnixMilli(), 10) + "\n"},
		{"last will", reading.Status{Device: "d1", Time: at, Online: false, HasOnline: true},
			"device_status,device=d1 online=false " + strconv.FormatInt(at.UnixMilli(), 10) + "\n"},
		{"nothing to store", reading.Status{Device: "d1", Time: at}, ""},
	}
	for _, tt := range tests {
		if got := string(AppendStatus(nil, &tt.s, Tags{})); got != tt.want {
			t.Errorf("%s: AppendStatus() = %q; want %q", tt.name, got, tt.want)
		}
	}
}

func BenchmarkAppendMessage(b *testing.B) {
	at := time.Now()
	m := reading.Message{Device: "cuff-0042", Patient: "P-000123", Seq: 1042, HasSeq: true,
		Readings: []reading.Reading{{Type: reading.BP, Time: at, Systolic: 142, Diastolic: 91, Pulse: 74, HasPulse: true}}}
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendMessage(buf[:0], &m, Tags{})
	}
}
