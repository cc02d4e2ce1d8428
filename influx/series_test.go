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

// A series is one type of one patient or device in [from, to); its windows hold the mean of
// each field and the count; a patient's readings are every type of theirs but device status,
// an event named by its kind.
func TestReaderSeries(t *testing.T) {
	ix := testsrv.StartInflux(t, testsrv.InfluxOptions{})
	w := writeReadings(t, ix)
	lines := AppendMessage(nil, &reading.Message{Device: "pend-1", Patient: "P-1",
		Readings: []reading.Reading{{Type: reading.SOS, Time: minute(4)}}}, Tags{Site: "sA"})
	if err := w.Write(context.Background(), lines); err != nil {
		t.Fatal(err)
	}
	r := NewReader(Config{URL: ix.URL, Bucket: ix.Bucket, Timeout: 10 * time.Second})
	defer r.Close()
	ctx := context.Background()

	points, more, err := r.SeriesPoints(ctx, Series{Type: reading.Glucose, Patient: "P-1", From: minute(1), To: minute(5)}, 3)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range points {
		got = append(got, p.Time.Format("15:04")+" "+p.Tags["device"]+" "+p.Tags["context"])
	}
	if want := []string{"07:31 gm-1 fasting", "07:32 gm-1 fasting", "07:33 gm-1 fasting"}; !slices.Equal(got, want) || !more {
		t.Errorf("SeriesPoints = %v, more %v; want %v and more", got, more, want)
	}
	points, more, err = r.SeriesPoints(ctx, Series{Type: reading.BP, Device: "cuff-1", From: minute(0), To: minute(10)}, 10)
	if err != nil || more || len(points) != 1 || points[0].Fields["flags"] != "cuff_loose" || points[0].Fields["systolic"] != 185.0 {
		t.Errorf("SeriesPoints(cuff-1 bp) = %v, %v, %v; want the flagged 185/121", points, more, err)
	}

	// Glucose of P-1 at minutes 0-5 is 5.0-5.5: windows of 2 minutes from the epoch.
	windows, err := r.SeriesWindows(ctx, Series{Type: reading.Glucose, Patient: "P-1", From: minute(0), To: minute(6)}, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(windows) != 3 {
		t.Fatalf("SeriesWindows = %+v; want 3 windows", windows)
	}
	for i, win := range windows {
		want := 5 + float64(2*i)/10 + 0.05
		if !win.Start.Equal(minute(2*i)) || win.Count != 2 || win.Fields["value"]-want > 1e-9 || want-win.Fields["value"] > 1e-9 {
			t.Errorf("window %d = %+v; want start %v, count 2, mean %v", i, win, minute(2*i), want)
		}
	}

	var all []string
	err = r.PatientReadings(ctx, "P-1", minute(0), minute(10), func(m reading.Message) { all = append(all, describeMessage(m)) })
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(all)
	want := []string{
		`bp 07:32 cuff-1 patient="P-1" flags=[cuff_loose] 185/121 pulse=80`,
		`glucose 07:30 gm-1 patient="P-1" flags=[] 5 context=fasting`,
		`glucose 07:31 gm-1 patient="P-1" flags=[] 5.1 context=fasting`,
		`glucose 07:32 gm-1 patient="P-1" flags=[] 5.2 context=fasting`,
		`glucose 07:33 gm-1 patient="P-1" flags=[] 5.3 context=fasting`,
		`glucose 07:34 gm-1 patient="P-1" flags=[] 5.4 context=fasting`,
		`glucose 07:35 gm-1 patient="P-1" flags=[] 5.5 context=fasting`,
		`heart_rate 07:33 ox-1 patient="P-1" flags=[] 72`,
		`sos 07:34 pend-1 patient="P-1" flags=[]`,
		`spo2 07:33 ox-1 patient="P-1" flags=[] 91`,
	}
	if !slices.Equal(all, want) {
		t.Errorf("PatientReadings =\n%s\nwant\n%s", strings.Join(all, "\n"), strings.Join(want, "\n"))
	}
}

// Windows average each field over every device's readings, count the readings (a reading
// without a pulse still counts), start no earlier than the range and leave out its stop.
func TestSeriesWindowsAcrossDevices(t *testing.T) {
	ix := testsrv.StartInflux(t, testsrv.InfluxOptions{})
	w := NewWriter(Config{URL: ix.URL, Bucket: ix.Bucket, Timeout: 10 * time.Second})
	defer w.Close()
	at := func(m, s int) time.Time { return time.Date(2026, 11, 19, 10, m, s, 0, time.UTC) }
	bp := func(dev string, t time.Time, sys, dia, pulse float64) []byte {
		r := reading.Reading{Type: reading.BP, Time: t, Systolic: sys, Diastolic: dia, Pulse: pulse, HasPulse: pulse > 0}
		return AppendMessage(nil, &reading.Message{Device: dev, Patient: "P-9", Readings: []reading.Reading{r}}, Tags{Site: "sA"})
	}
	lines := slices.Concat(
		bp("cuff-a", at(0, 0), 200, 120, 99), // before the range
		bp("cuff-a", at(0, 30), 120, 80, 60),
		bp("cuff-b", at(1, 30), 140, 90, 0),
		bp("cuff-a", at(3, 0), 150, 95, 70),
		bp("cuff-b", at(6, 0), 210, 130, 90), // at the range's stop
	)
	if err := w.Write(context.Background(), lines); err != nil {
		t.Fatal(err)
	}
	r := NewReader(Config{URL: ix.URL, Bucket: ix.Bucket, Timeout: 10 * time.Second})
	defer r.Close()
	got, err := r.SeriesWindows(context.Background(), Series{Type: reading.BP, Patient: "P-9", From: at(0, 30), To: at(6, 0)}, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	want := []Window{
		{Start: at(0, 30), Count: 2, Fields: map[string]float64{"systolic": 130, "diastolic": 85, "pulse": 60}},
		{Start: at(2, 0), Count: 1, Fields: map[string]float64{"systolic": 150, "diastolic": 95, "pulse": 70}},
	}
	if len(got) != len(want) {
		t.Fatalf("SeriesWindows = %+v; want %+v", got, want)
	}
	for i := range want {
		if !got[i].Start.Equal(want[i].Start) || got[i].Count != want[i].Count || fmt.Sprint(got[i].Fields) != fmt.Sprint(want[i].Fields) {
			t.Errorf("window %d = %+v; want %+v", i, got[i], want[i])
		}
	}
}
