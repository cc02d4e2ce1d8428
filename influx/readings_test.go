package influx

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/internal/testsrv"
	"github.com/vitalwatch/vitalwatch/reading"
)

// The reader runs against a real influxd holding points that the project's own Writer wrote.

// readingsBase is the measurement time of the first point of the reader tests.
var readingsBase = time.Date(2026, 11, 22, 7, 30, 0, 0, time.UTC)

// minute is readingsBase plus n minutes.
func minute(n int) time.Time { return readingsBase.Add(time.Duration(n) * time.Minute) }

// writeReadings writes, with the Writer, for patient P-1: glucose from gm-1 at minutes 0-5
// (value 5.0 + minute/10, seq = minute), bp from cuff-1 at minute 2 with flags, spo2 and
// heart rate from ox-1 at minute 3; for patient P-2: glucose from gm-2 at minute 1; and a
// device status of gm-1 at minute 4.5.
func writeReadings(t *testing.T, ix *testsrv.Influx) *Writer {
	t.Helper()
	w := NewWriter(Config{URL: ix.URL, Bucket: ix.Bucket, Timeout: 10 * time.Second})
	t.Cleanup(w.Close)
	var lines []byte
	for m := range 6 {
		lines = AppendMessage(lines, &reading.Message{Device: "gm-1", Patient: "P-1", Seq: int64(m), HasSeq: true,
			Readings: []reading.Reading{{Type: reading.Glucose, Time: minute(m), Value: 5 + float64(m)/10, Context: "fasting"}}},
			Tags{DeviceType: "glucose_meter", Site: "sA"})
	}
	lines = AppendMessage(lines, &reading.Message{Device: "cuff-1", Patient: "P-1", Flags: []string{"cuff_loose"},
		Readings: []reading.Reading{{Type: reading.BP, Time: minute(2), Systolic: 185, Diastolic: 121, Pulse: 80, HasPulse: true}}},
		Tags{DeviceType: "bp_cuff", Site: "sA"})
	lines = AppendMessage(lines, &reading.Message{Device: "ox-1", Patient: "P-1",
		Readings: []reading.Reading{{Type: reading.SpO2, Time: minute(3), Value: 91}, {Type: reading.HeartRate, Time: minute(3), Value: 72}}},
		Tags{Site: "sA"})
	lines = AppendMessage(lines, &reading.Message{Device: "gm-2", Patient: "P-2",
		Readings: []reading.Reading{{Type: reading.Glucose, Time: minute(1), Value: 3.1}}}, Tags{Site: "sB"})
	lines = AppendStatus(lines, &reading.Status{Device: "gm-1", Time: minute(4).Add(30 * time.Second), Battery: 12, HasBattery: true}, Tags{Site: "sA"})
	if err := w.Write(context.Background(), lines); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return w
}

// describe is a point in one line, fields and tags in key order.
func describe(p Point) string {
	var fs, ts []string
	for k, v := range p.Fields {
		fs = append(fs, fmt.Sprintf("%s=%v", k, v))
	}
	for k, v := range p.Tags {
		ts = append(ts, k+"="+v)
	}
	slices.Sort(fs)
	slices.Sort(ts)
	return fmt.Sprintf("%s %s %s [%s]", p.Measurement, p.Time.Format("15:04"), strings.Join(fs, ","), strings.Join(ts, ","))
}

func describeAll(ps []Point) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, describe(p))
	}
	return out
}

func TestReaderPointsAt(t *testing.T) {
	ix := testsrv.StartInflux(t, testsrv.InfluxOptions{})
	writeReadings(t, ix)
	r := NewReader(Config{URL: ix.URL, Bucket: ix.Bucket, Timeout: 10 * time.Second})
	defer r.Close()
	ctx := context.Background()

	got, err := r.PointsAt(ctx, []PointKey{
		{Device: "gm-1", Measurement: "glucose", Time: minute(5)},
		{Device: "cuff-1", Measurement: "bp", Time: minute(2).Add(300 * time.Microsecond)}, // stored to the millisecond
		{Device: "gm-1", Measurement: "glucose", Time: minute(5)},                          // twice: once
		{Device: "gm-1", Measurement: "glucose", Time: minute(9)},                          // never written
		{Device: "gm-2", Measurement: "bp", Time: minute(1)},                               // another measurement at that time
		{Device: "ox-1", Time: minute(3)},                                                  // any measurement
		{Device: "gm-1", Time: minute(4).Add(30 * time.Second)},                            // only device status: none
	})
	if err != nil {
		t.Fatalf("PointsAt: %v", err)
	}
	want := []string{
		"bp 07:32 diastolic=121,flags=cuff_loose,pulse=80,systolic=185 [device=cuff-1,device_type=bp_cuff,patient=P-1,site=sA]",
		"heart_rate 07:33 value=72 [device=ox-1,patient=P-1,site=sA]",
		"spo2 07:33 value=91 [device=ox-1,patient=P-1,site=sA]",
		"glucose 07:35 seq=5,value=5.5 [context=fasting,device=gm-1,device_type=glucose_meter,patient=P-1,site=sA]",
	}
	if g := describeAll(got); !slices.Equal(g, want) {
		t.Errorf("PointsAt =\n%s\nwant\n%s", strings.Join(g, "\n"), strings.Join(want, "\n"))
	}
	if len(got) == 4 {
		if v, ok := got[3].Fields["seq"].(int64); !ok || v != 5 || !got[3].Time.Equal(minute(5)) {
			t.Errorf("glucose point: seq %#v at %v; want int64 5 at %v", got[3].Fields["seq"], got[3].Time, minute(5))
		}
	}
	if got, err := r.PointsAt(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("PointsAt(nil) = %v, %v; want nothing", got, err)
	}
	if _, err := r.PointsAt(ctx, make([]PointKey, MaxPointKeys+1)); err == nil {
		t.Errorf("PointsAt(%d keys) did not refuse", MaxPointKeys+1)
	}
}

func TestReaderPointsIn(t *testing.T) {
	ix := testsrv.StartInflux(t, testsrv.InfluxOptions{})
	w := writeReadings(t, ix)
	r := NewReader(Config{URL: ix.URL, Bucket: ix.Bucket})
	defer r.Close()
	ctx := context.Background()
	times := func(ps []Point) []string {
		out := []string{}
		for _, p := range ps {
			out = append(out, p.Measurement+" "+p.Time.Format("15:04")+" "+p.Tags["device"])
		}
		return out
	}
	for _, tt := range []struct {
		name     string
		rg       Range
		want     []string
		wantMore bool
	}{
		{"a patient's glucose, bounds included", Range{Measurements: []string{"glucose"}, Patient: "P-1", From: minute(1), To: minute(4)},
			[]string{"glucose 07:31 gm-1", "glucose 07:32 gm-1", "glucose 07:33 gm-1", "glucose 07:34 gm-1"}, false},
		{"the newest 2", Range{Measurements: []string{"glucose"}, Patient: "P-1", From: minute(0), To: minute(5), Limit: 2},
			[]string{"glucose 07:34 gm-1", "glucose 07:35 gm-1"}, true},
		{"exactly the limit", Range{Measurements: []string{"glucose"}, Patient: "P-1", From: minute(4), To: minute(5), Limit: 2},
			[]string{"glucose 07:34 gm-1", "glucose 07:35 gm-1"}, false},
		{"two measurements of a patient, several devices", Range{Measurements: []string{"bp", "spo2"}, Patient: "P-1", From: minute(0), To: minute(5)},
			[]string{"bp 07:32 cuff-1", "spo2 07:33 ox-1"}, false},
		{"by device", Range{Measurements: []string{"glucose"}, Device: "gm-2", From: minute(0), To: minute(5)},
			[]string{"glucose 07:31 gm-2"}, false},
		{"another patient's device", Range{Measurements: []string{"glucose"}, Device: "gm-2", Patient: "P-1", From: minute(0), To: minute(5)},
			[]string{}, false},
		{"nothing then", Range{Measurements: []string{"glucose"}, Patient: "P-1", From: minute(10), To: minute(20)}, []string{}, false},
	} {
		got, more, err := r.PointsIn(ctx, tt.rg)
		if err != nil {
			t.Errorf("%s: PointsIn: %v", tt.name, err)
			continue
		}
		if g := times(got); !slices.Equal(g, tt.want) || more != tt.wantMore {
			t.Errorf("%s: PointsIn = %v, more %v; want %v, more %v", tt.name, g, more, tt.want, tt.wantMore)
		}
	}

	// A tag with the characters Flux strings escape or interpolate is read back as written.
	odd := `P-"${x}\z`
	if err := w.Write(ctx, AppendMessage(nil, &reading.Message{Device: "gm-9", Patient: odd,
		Readings: []reading.Reading{{Type: reading.Glucose, Time: minute(7), Value: 4.4}}}, Tags{})); err != nil {
		t.Fatal(err)
	}
	got, _, err := r.PointsIn(ctx, Range{Measurements: []string{"glucose"}, Patient: odd, From: minute(0), To: minute(10)})
	if err != nil || len(got) != 1 || got[0].Tags["patient"] != odd || got[0].Fields["value"] != 4.4 {
		t.Errorf("PointsIn(patient %s) = %v, %v; want the one point of gm-9", odd, describeAll(got), err)
	}

	for _, bad := range []Range{{Patient: "P-1", From: minute(0), To: minute(1)}, {Measurements: []string{"glucose"}, From: minute(0), To: minute(1)},
		{Measurements: []string{"glucose"}, Patient: "P-1", From: minute(1), To: minute(0)}} {
		if _, _, err := r.PointsIn(ctx, bad); err == nil {
			t.Errorf("PointsIn(%+v) did not refuse", bad)
		}
	}
}

// A server that does not answer is an error, soon.
func TestReaderUnreachable(t *testing.T) {
	r := NewReader(Config{URL: "http://127.0.0.1:" + fmt.Sprint(testsrv.FreePort(t)), Bucket: "vitalwatch/autogen", Timeout: 2 * time.Second})
	defer r.Close()
	start := time.Now()
	if _, err := r.PointsAt(context.Background(), []PointKey{{Device: "gm-1", Measurement: "glucose", Time: minute(0)}}); err == nil {
		t.Error("PointsAt from a closed port succeeded")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("PointsAt from a closed port took %v", d)
	}
}

func TestFluxString(t *testing.T) {
	for in, want := range map[string]string{
		"vitalwatch/autogen": `"vitalwatch/autogen"`,
		`a"b\c`:              `"a\"b\\c"`,
		"cost ${price}":      `"cost $" + "{price}"`,
		"$5 and {x}":         `"$5 and {x}"`,
	} {
		if got := FluxString(in); got != want {
			t.Errorf("FluxString(%q) = %s; want %s", in, got, want)
		}
	}
}
