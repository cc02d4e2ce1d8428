package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/influx"
)

// fakeReadings is an InfluxDB that holds points, for the logic of an alert's evidence; err
// makes it unreachable. It records the ranges asked for.
type fakeReadings struct {
	points []influx.Point
	err    error
	ranges []influx.Range
}

func (fr *fakeReadings) PointsAt(_ context.Context, keys []influx.PointKey) ([]influx.Point, error) {
	if fr.err != nil {
		return nil, fr.err
	}
	var out []influx.Point
	for _, p := range fr.points {
		for _, k := range keys {
			if k.Device == p.Tags["device"] && k.Time.Equal(p.Time) && (k.Measurement == p.Measurement || k.Measurement == "") {
				out = append(out, p)
				break
			}
		}
	}
	return out, nil
}

func (fr *fakeReadings) PointsIn(_ context.Context, rg influx.Range) ([]influx.Point, bool, error) {
	fr.ranges = append(fr.ranges, rg)
	if fr.err != nil {
		return nil, false, fr.err
	}
	var out []influx.Point
	for _, p := range fr.points {
		if slices.Contains(rg.Measurements, p.Measurement) && p.Tags["patient"] == rg.Patient && !p.Time.Before(rg.From) && !p.Time.After(rg.To) {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b influx.Point) int { return a.Time.Compare(b.Time) })
	more := len(out) > rg.Limit
	if more {
		out = out[len(out)-rg.Limit:]
	}
	return out, more, nil
}

// glucosePoint is a glucose point of patient from device, minutes after alertTime.
func glucosePoint(device, patient string, minutes int, value float64) influx.Point {
	return influx.Point{Measurement: "glucose", Time: alertTime.Add(time.Duration(minutes) * time.Minute),
		Tags:   map[string]string{"device": device, "patient": patient, "site": "sA", "context": "fasting"},
		Fields: map[string]any{"value": value, "seq": int64(minutes), "flags": "fasting"}}
}

// serveEvidence makes the fixture's API read evidence with readings (none if nil).
func serveEvidence(f *registryFixture, readings ReadingReader) {
	f.t.Helper()
	var err error
	f.api, err = New(Options{Gatherer: prometheus.NewRegistry(), Registry: f.store, Alerts: f.store, Readings: readings,
		Auth: registryPrincipals, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.t.Fatal(err)
	}
}

// An alert's detail reads its evidence back from InfluxDB: the recorded readings as InfluxDB
// has them, marked when it no longer has one, and the patient's other readings of the
// measurement from first to last seen; without InfluxDB, the evidence as recorded, with a
// warning, and still 200.
func TestAlertEvidenceFromInfluxDB(t *testing.T) {
	f := newRegistryFixture(t)
	doc := loadOpenAPI(t)
	for _, fd := range []alerts.Finding{
		clinicalAt("glucose_very_low", "pA1", "tA", alerts.Urgent, 0), // 1: evidence dA2 at 0 and 5
		faultAt("battery_low", "dA1", "sA", alerts.Warning, 0),        // 2: no evidence
		clinicalAt("glucose_very_low", "pA1", "tA", alerts.Urgent, 5),
	} {
		if _, _, _, err := f.store.ApplyFinding(context.Background(), fd); err != nil {
			t.Fatal(err)
		}
	}
	fr := &fakeReadings{points: []influx.Point{
		glucosePoint("dA2", "pA1", 0, 2.8),  // recorded, as InfluxDB has it
		glucosePoint("stA", "pA1", 2, 3.4),  // another reading of pA1 in the window
		glucosePoint("dA2", "pA2", 3, 2.0),  // another patient's
		glucosePoint("dA2", "pA1", 10, 6.0), // after last seen
		{Measurement: "bp", Time: alertTime.Add(time.Minute), Tags: map[string]string{"device": "dA1", "patient": "pA1"},
			Fields: map[string]any{"systolic": 120.0, "diastolic": 80.0}}, // another measurement
		// dA2's reading at 5 is not there any more.
	}}
	serveEvidence(f, fr)

	type entry struct {
		device          string
		minute          int
		value           float64
		recorded, inDB  bool
		hasTags, hasSeq bool
	}
	entries := func(d alertDetailJSON) []entry {
		var out []entry
		for _, e := range d.Evidence {
			x := entry{device: e.Device, minute: int(e.Time.Sub(alertTime) / time.Minute), value: e.Value, recorded: e.Recorded,
				inDB: e.InInfluxDB != nil && *e.InInfluxDB, hasTags: e.Tags["site"] == "sA", hasSeq: e.Fields["seq"] != nil}
			if e.InInfluxDB == nil {
				x.device += " (not read)"
			}
			out = append(out, x)
		}
		return out
	}
	var d alertDetailJSON
	w := f.want(200, "docA", "GET", "/alerts/1", "", &d)
	if err := doc.checkAnswer("GET", "/alerts/{id}", 200, w.Body.Bytes()); err != nil {
		t.Errorf("detail does not fit the OpenAPI document: %v\n%s", err, w.Body)
	}
	want := []entry{
		{"dA2", 0, 2.8, true, true, true, true},
		{"stA", 2, 3.4, false, true, true, true},
		{"dA2", 5, 2.9, true, false, false, false},
	}
	if got := entries(d); !slices.Equal(got, want) || d.EvidenceSource != "influxdb" || d.EvidenceWarning != "" || d.EvidenceTruncated {
		t.Errorf("evidence of alert 1 = %+v from %q (warning %q); want %+v from influxdb", got, d.EvidenceSource, d.EvidenceWarning, want)
	}
	if len(d.Evidence) == 3 && (!slices.Equal(d.Evidence[0].Flags, []string{"fasting"}) || d.Evidence[0].Tags["context"] != "fasting") {
		t.Errorf("evidence read back = %+v; want its flags and tags", d.Evidence[0])
	}
	if len(fr.ranges) != 1 || fr.ranges[0].Patient != "pA1" || !slices.Equal(fr.ranges[0].Measurements, []string{"glucose"}) ||
		!fr.ranges[0].From.Equal(alertTime) || !fr.ranges[0].To.Equal(alertTime.Add(5*time.Minute)) || fr.ranges[0].Limit != 100 {
		t.Errorf("ranges read = %+v; want pA1's glucose from first to last seen, at most 100", fr.ranges)
	}

	// The window holds more than 100 readings: the newest 100, and it says so.
	for i := range 150 {
		fr.points = append(fr.points, glucosePoint("stA", "pA1", 1, 4+float64(i)/100))
		fr.points[len(fr.points)-1].Time = alertTime.Add(time.Minute + time.Duration(i)*time.Millisecond)
	}
	d = alertDetailJSON{}
	f.want(200, "docA", "GET", "/alerts/1", "", &d)
	if !d.EvidenceTruncated || len(d.Evidence) != 102 {
		t.Errorf("a window of 151 readings: %d shown, truncated %v; want the 2 recorded and the newest 100, truncated", len(d.Evidence), d.EvidenceTruncated)
	}

	// A fault without evidence reads nothing.
	fr.ranges = nil
	d = alertDetailJSON{}
	f.want(200, "fleetA", "GET", "/alerts/2", "", &d)
	if d.Evidence != nil || d.EvidenceSource != "recorded" || d.EvidenceWarning != "" || len(fr.ranges) != 0 {
		t.Errorf("detail of a fault without evidence: %+v from %q, warning %q, ranges %v; want nothing read", d.Evidence, d.EvidenceSource, d.EvidenceWarning, fr.ranges)
	}

	// InfluxDB down (a fake, then a real reader of a closed port), or not configured: the
	// evidence as recorded, with a warning.
	port := 0
	if l, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		port = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	closed := influx.NewReader(influx.Config{URL: fmt.Sprintf("http://127.0.0.1:%d", port), Bucket: "vitalwatch/autogen", Timeout: 2 * time.Second})
	defer closed.Close()
	for _, tt := range []struct {
		name     string
		readings ReadingReader
		warning  string
	}{
		{"unreachable", &fakeReadings{err: errors.New("dial tcp 127.0.0.1:8086: connection refused")}, "InfluxDB could not be read"},
		{"closed port", closed, "InfluxDB could not be read"},
		{"not configured", nil, "InfluxDB is not configured"},
	} {
		serveEvidence(f, tt.readings)
		d = alertDetailJSON{}
		w := f.want(200, "docA", "GET", "/alerts/1", "", &d)
		want := []entry{{"dA2 (not read)", 0, 2.9, true, false, false, false}, {"dA2 (not read)", 5, 2.9, true, false, false, false}}
		if got := entries(d); !slices.Equal(got, want) || d.EvidenceSource != "recorded" || !strings.Contains(d.EvidenceWarning, tt.warning) {
			t.Errorf("%s: evidence %+v from %q, warning %q; want %+v as recorded, warning %q", tt.name, got, d.EvidenceSource, d.EvidenceWarning, want, tt.warning)
		}
		if strings.Contains(w.Body.String(), "8086") || strings.Contains(w.Body.String(), strconv.Itoa(port)) {
			t.Errorf("%s: the answer tells where InfluxDB is: %s", tt.name, w.Body)
		}
		if err := doc.checkAnswer("GET", "/alerts/{id}", 200, w.Body.Bytes()); err != nil {
			t.Errorf("%s: detail does not fit the OpenAPI document: %v", tt.name, err)
		}
	}
}
