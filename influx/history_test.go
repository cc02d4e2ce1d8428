package influx

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/internal/testsrv"
	"github.com/vitalwatch/vitalwatch/reading"
)

// describeMessage is a message of one reading in one line, as ReadingsOf decodes it.
func describeMessage(m reading.Message) string {
	r := m.Readings[0]
	s := fmt.Sprintf("%s %s %s patient=%q flags=%v", r.Type, r.Time.Format("15:04"), m.Device, m.Patient, m.Flags)
	switch {
	case r.Type == reading.BP:
		s += fmt.Sprintf(" %v/%v", r.Systolic, r.Diastolic)
		if r.HasPulse {
			s += fmt.Sprintf(" pulse=%v", r.Pulse)
		}
	case r.Type.IsEvent():
		if r.HasLocation {
			s += fmt.Sprintf(" at=%v,%v", r.Lat, r.Lon)
		}
	default:
		s += fmt.Sprintf(" %v", r.Value)
	}
	for _, tag := range []struct{ k, v string }{{"context", r.Context}, {"source", r.Source}, {"position", r.Position}} {
		if tag.v != "" {
			s += " " + tag.k + "=" + tag.v
		}
	}
	return s
}

func TestReaderReadingsOf(t *testing.T) {
	ix := testsrv.StartInflux(t, testsrv.InfluxOptions{})
	w := writeReadings(t, ix)
	var lines []byte
	lines = AppendMessage(lines, &reading.Message{Device: "pend-1", Patient: "P-1",
		Readings: []reading.Reading{{Type: reading.Fall, Time: minute(4), Lat: 52.5, Lon: 13.25, HasLocation: true}, {Type: reading.SOS, Time: minute(4)}}},
		Tags{Site: "sA"})
	lines = AppendMessage(lines, &reading.Message{Device: "cuff-2", Patient: "P-2",
		Readings: []reading.Reading{{Type: reading.BP, Time: minute(3), Systolic: 120, Diastolic: 80, Position: "sitting", Source: "manual"}}},
		Tags{Site: "sB"})
	if err := w.Write(context.Background(), lines); err != nil {
		t.Fatalf("Write: %v", err)
	}
	r := NewReader(Config{URL: ix.URL, Bucket: ix.Bucket, Timeout: 10 * time.Second})
	defer r.Close()

	tests := []struct {
		name        string
		typ         reading.Type
		start, stop time.Time
		want        []string
	}{
		{"glucose, stop excluded", reading.Glucose, minute(1), minute(5), []string{
			`glucose 07:31 gm-1 patient="P-1" flags=[] 5.1 context=fasting`,
			`glucose 07:32 gm-1 patient="P-1" flags=[] 5.2 context=fasting`,
			`glucose 07:33 gm-1 patient="P-1" flags=[] 5.3 context=fasting`,
			`glucose 07:34 gm-1 patient="P-1" flags=[] 5.4 context=fasting`,
			`glucose 07:31 gm-2 patient="P-2" flags=[] 3.1`,
		}},
		{"bp with flags, pulse and tags", reading.BP, minute(0), minute(10), []string{
			`bp 07:32 cuff-1 patient="P-1" flags=[cuff_loose] 185/121 pulse=80`,
			`bp 07:33 cuff-2 patient="P-2" flags=[] 120/80 source=manual position=sitting`,
		}},
		{"an event kind, with its location", reading.Fall, minute(0), minute(10), []string{
			`fall 07:34 pend-1 patient="P-1" flags=[] at=52.5,13.25`,
		}},
		{"another event kind, without", reading.SOS, minute(0), minute(10), []string{
			`sos 07:34 pend-1 patient="P-1" flags=[]`,
		}},
		{"nothing in range", reading.SpO2, minute(4), minute(10), []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := []string{}
			err := r.ReadingsOf(context.Background(), tt.typ, tt.start, tt.stop, func(m reading.Message) {
				if len(m.Readings) != 1 {
					t.Errorf("a message of %d readings; want 1", len(m.Readings))
					return
				}
				got = append(got, describeMessage(m))
			})
			if err != nil {
				t.Fatalf("ReadingsOf(%s): %v", tt.typ, err)
			}
			slices.Sort(got)
			want := slices.Clone(tt.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("ReadingsOf(%s, %s, %s) =\n%s\nwant\n%s", tt.typ, tt.start.Format("15:04"), tt.stop.Format("15:04"),
					strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func TestReaderReadingsOfUnreachable(t *testing.T) {
	r := NewReader(Config{URL: "http://127.0.0.1:" + fmt.Sprint(testsrv.FreePort(t)), Bucket: "vitalwatch/autogen", Timeout: 2 * time.Second})
	defer r.Close()
	calls := 0
	err := r.ReadingsOf(context.Background(), reading.Glucose, readingsBase, minute(5), func(reading.Message) { calls++ })
	if err == nil || calls != 0 {
		t.Errorf("ReadingsOf from nowhere = %v after %d readings; want an error and none", err, calls)
	}
}

// A Reader serves concurrent requests from its first query on: under the race detector, this
// fails if the queries share state that the first one writes (the client's query API caches
// its URL so).
func TestReaderConcurrentFirstQueries(t *testing.T) {
	r := NewReader(Config{URL: "http://127.0.0.1:" + fmt.Sprint(testsrv.FreePort(t)), Bucket: "vitalwatch/autogen", Timeout: 2 * time.Second})
	defer r.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			errs <- r.ReadingsOf(context.Background(), reading.Glucose, readingsBase, minute(5), func(reading.Message) {})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err == nil {
			t.Error("a query of nowhere answered no error")
		}
	}
}
