package summary_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/errcode"
	"github.com/vitalwatch/vitalwatch/reading"
	"github.com/vitalwatch/vitalwatch/summary"
)

// registry is a device lookup over a fixed registry that counts its calls per device.
type registry struct {
	devs  map[string]devices.Device
	calls map[string]int
}

func (r *registry) lookup(id string) (devices.Device, error) {
	r.calls[id]++
	if d, ok := r.devs[id]; ok {
		return d, nil
	}
	return devices.Device{}, errcode.Errorf(errcode.NotFound, "no device %s", id)
}

// A patient's messages from March 1 to 14 with the readings' window from March 8 and the home
// BP window from March 5: each device is looked up once, quality flags and a calibration
// that was due put a reading in doubt, a CGM's glucose without a source is CGM glucose, and
// an unknown device's readings are neither CGM nor home.
func TestCollector(t *testing.T) {
	reg := &registry{calls: map[string]int{}, devs: map[string]devices.Device{
		"cgm-1":   {ID: "cgm-1", Kind: devices.CGM, Mode: devices.Home},
		"gm-1":    {ID: "gm-1", Kind: devices.GlucoseMeter, Mode: devices.Home, NextCalibration: at(10, 0, 0)},
		"cuff-1":  {ID: "cuff-1", Kind: devices.BPCuff, Mode: devices.Home},
		"st-1":    {ID: "st-1", Kind: devices.Station, Mode: devices.StationMode},
		"cgm-off": {ID: "cgm-off", Kind: devices.CGM, Mode: devices.Home, NextCalibration: at(9, 0, 0)},
	}}
	glucose := func(t time.Time, source string, v float64) reading.Reading {
		return reading.Reading{Type: reading.Glucose, Source: source, Time: t, Value: v}
	}
	bp := func(t time.Time, sys, dia float64) reading.Reading {
		return reading.Reading{Type: reading.BP, Time: t, Systolic: sys, Diastolic: dia}
	}
	msg := func(device string, flags []string, rs ...reading.Reading) reading.Message {
		return reading.Message{Device: device, Flags: flags, Readings: rs}
	}
	msgs := []reading.Message{
		msg("cgm-1", nil, glucose(at(8, 1, 0), "", 6.1), glucose(at(8, 1, 5), "", 6.2)),
		msg("cgm-1", nil, glucose(at(7, 1, 0), "", 6.0)),                                           // before From
		msg("cgm-1", []string{"sensor_malfunction", "battery_low"}, glucose(at(8, 2, 0), "", 2.0)), // one quality flag
		msg("gm-1", []string{"battery_low"}, glucose(at(9, 7, 0), "fingerstick", 5.5)),             // not a quality flag
		msg("gm-1", nil, glucose(at(11, 7, 0), "", 7.5)),                                           // calibration due
		msg("cgm-off", []string{"calibration_required"}, glucose(at(9, 1, 0), "", 3.0)),            // both
		msg("cuff-1", nil, bp(at(6, 7, 0), 130, 80), bp(at(9, 7, 0), 132, 82)),                     // home: one before From
		msg("cuff-1", nil, bp(at(4, 7, 0), 150, 90)),                                               // before HomeSince
		msg("cuff-1", []string{"cuff_loose"}, bp(at(9, 20, 0), 200, 120)),                          // home, in doubt
		msg("st-1", nil, bp(at(9, 9, 0), 140, 85)),                                                 // a station's: not home
		msg("gone", nil, glucose(at(12, 1, 0), "", 8.0), bp(at(12, 7, 0), 120, 75)),                // unknown device
	}
	span := summary.Span{From: at(8, 0, 0), HomeSince: at(5, 0, 0)}
	c := summary.NewCollector(summary.Input{AsOf: at(15, 9, 0), Loc: shanghai, GlucoseDays: 7}, span, reg.lookup)
	for _, m := range msgs {
		c.Add(m)
	}
	got, err := c.Input()
	if err != nil {
		t.Fatalf("Input() error = %v; want none (an unknown device is not an error)", err)
	}
	if !got.AsOf.Equal(at(15, 9, 0)) || got.Loc != shanghai || got.GlucoseDays != 7 {
		t.Errorf("Input() = AsOf %v, Loc %v, GlucoseDays %d; want the Input given kept", got.AsOf, got.Loc, got.GlucoseDays)
	}
	wantReadings := []reading.Reading{
		glucose(at(8, 1, 0), "cgm", 6.1), glucose(at(8, 1, 5), "cgm", 6.2),
		glucose(at(9, 7, 0), "fingerstick", 5.5),
		bp(at(9, 7, 0), 132, 82),
		bp(at(9, 9, 0), 140, 85),
		glucose(at(12, 1, 0), "", 8.0), bp(at(12, 7, 0), 120, 75),
	}
	if !reflect.DeepEqual(got.Readings, wantReadings) {
		t.Errorf("Readings = %+v\nwant %+v", got.Readings, wantReadings)
	}
	wantDoubtful := []summary.Doubtful{
		{Reading: glucose(at(8, 2, 0), "cgm", 2.0), Reasons: []string{"sensor_malfunction"}, Home: true},
		{Reading: glucose(at(11, 7, 0), "", 7.5), Reasons: []string{summary.ReasonCalibrationOverdue}, Home: true},
		{Reading: glucose(at(9, 1, 0), "cgm", 3.0), Reasons: []string{"calibration_required", "calibration_overdue"}, Home: true},
		{Reading: bp(at(9, 20, 0), 200, 120), Reasons: []string{"cuff_loose"}, Home: true},
	}
	if !reflect.DeepEqual(got.Doubtful, wantDoubtful) {
		t.Errorf("Doubtful = %+v\nwant %+v", got.Doubtful, wantDoubtful)
	}
	wantHome := []reading.Reading{bp(at(6, 7, 0), 130, 80), bp(at(9, 7, 0), 132, 82)}
	if !reflect.DeepEqual(got.HomeBP, wantHome) {
		t.Errorf("HomeBP = %+v\nwant %+v", got.HomeBP, wantHome)
	}
	for _, id := range []string{"cgm-1", "gm-1", "cuff-1", "st-1", "cgm-off", "gone"} {
		if reg.calls[id] != 1 {
			t.Errorf("device %s looked up %d times; want once", id, reg.calls[id])
		}
	}

	// The summary counts what the collector sorted: the CGM's two good readings, the meter's
	// one, and each report's doubtful readings.
	s := summary.Compute(got)
	if s.CGM.Readings != 2 || s.CGM.Excluded.Readings != 2 || s.Meter.Readings != 2 || s.Meter.Excluded.Readings != 1 {
		t.Errorf("Compute: CGM %d readings (%d left out), meter %d (%d left out); want 2 (2), 2 (1)",
			s.CGM.Readings, s.CGM.Excluded.Readings, s.Meter.Readings, s.Meter.Excluded.Readings)
	}
}

// With Types, only readings of those types are collected; with no HomeSince, no home BP.
func TestCollectorTypes(t *testing.T) {
	reg := &registry{calls: map[string]int{}, devs: map[string]devices.Device{
		"st-1": {ID: "st-1", Kind: devices.Station, Mode: devices.Home},
	}}
	c := summary.NewCollector(summary.Input{}, summary.Span{From: at(1, 0, 0), Types: []reading.Type{reading.Glucose}}, reg.lookup)
	c.Add(reading.Message{Device: "st-1", Readings: []reading.Reading{
		{Type: reading.Glucose, Time: at(2, 7, 0), Value: 5.0},
		{Type: reading.BP, Time: at(2, 7, 0), Systolic: 120, Diastolic: 80},
		{Type: reading.SpO2, Time: at(2, 7, 0), Value: 97},
	}})
	c.Add(reading.Message{Device: "st-1", Flags: []string{"time_fault"}, Readings: []reading.Reading{
		{Type: reading.Glucose, Time: at(2, 8, 0), Value: 5.0}, {Type: reading.BP, Time: at(2, 8, 0), Systolic: 120, Diastolic: 80},
	}})
	got, err := c.Input()
	if err != nil || len(got.Readings) != 1 || got.Readings[0].Type != reading.Glucose || len(got.Doubtful) != 1 ||
		got.Doubtful[0].Type != reading.Glucose || len(got.HomeBP) != 0 {
		t.Errorf("Input() = %d readings, %d doubtful, %d home BP, %v; want one glucose reading, one doubtful glucose, no home BP",
			len(got.Readings), len(got.Doubtful), len(got.HomeBP), err)
	}
}

// A lookup error other than not found is the collector's error, given once all is read.
func TestCollectorLookupError(t *testing.T) {
	broken := errors.New("store closed")
	calls := 0
	c := summary.NewCollector(summary.Input{}, summary.Span{}, func(string) (devices.Device, error) {
		calls++
		return devices.Device{}, broken
	})
	for _, id := range []string{"a", "b", "a"} {
		c.Add(reading.Message{Device: id, Readings: []reading.Reading{{Type: reading.Glucose, Time: at(2, 7, 0), Value: 5}}})
	}
	if _, err := c.Input(); !errors.Is(err, broken) || calls != 2 {
		t.Errorf("Input() error = %v after %d lookups; want %v after 2", err, calls, broken)
	}
}
