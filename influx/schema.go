// Package influx stores readings and device status in InfluxDB: the schema of docs/design.md
// ("InfluxDB schema") encoded as line protocol, and a writer over influxdb-client-go.
package influx

import (
	"strconv"
	"strings"
	"time"

	"github.com/vitalwatch/vitalwatch/reading"
)

// Measurement names that are not reading types.
const (
	MeasurementEvent  = "event"
	MeasurementStatus = "device_status"
)

// Tags are the registry facts attached to every point of a device: what the decoder cannot know.
// Empty values are left out of the point.
type Tags struct {
	DeviceType string
	Site       string
	// Patient is the pseudonymous patient id the reading is credited to. It overrides the
	// patient named in the payload when set.
	Patient string
}

// Measurement returns the measurement a reading type is stored in.
func Measurement(t reading.Type) string {
	if t.IsEvent() {
		return MeasurementEvent
	}
	return string(t)
}

// AppendMessage appends one line-protocol line per reading of m to dst, with millisecond
// timestamps. The same reading always encodes to the same series and time, so a redelivered
// message overwrites its own points instead of adding new ones.
func AppendMessage(dst []byte, m *reading.Message, tags Tags) []byte {
	patient := tags.Patient
	if patient == "" {
		patient = m.Patient
	}
	flags := strings.Join(m.Flags, ",")
	for i := range m.Readings {
		r := &m.Readings[i]
		dst = append(dst, Measurement(r.Type)...)
		// Tags in key order, as InfluxDB sorts them anyway.
		dst = appendTag(dst, "context", r.Context)
		dst = appendTag(dst, "device", m.Device)
		dst = appendTag(dst, "device_type", tags.DeviceType)
		if r.Type.IsEvent() {
			dst = appendTag(dst, "kind", string(r.Type))
		}
		dst = appendTag(dst, "patient", patient)
		dst = appendTag(dst, "position", r.Position)
		dst = appendTag(dst, "site", tags.Site)
		dst = appendTag(dst, "source", r.Source)
		f := fields{dst: append(dst, ' ')}
		switch {
		case r.Type == reading.BP:
			f.float("systolic", r.Systolic)
			f.float("diastolic", r.Diastolic)
			if r.HasPulse {
				f.float("pulse", r.Pulse)
			}
		case r.Type.IsEvent():
			f.float("value", 1)
			if r.HasLocation {
				f.float("lat", r.Lat)
				f.float("lon", r.Lon)
			}
		default:
			f.float("value", r.Value)
		}
		if flags != "" {
			f.string("flags", flags)
		}
		if m.HasSeq {
			f.int("seq", m.Seq)
		}
		dst = appendTime(f.dst, r.Time)
	}
	return dst
}

// AppendStatus appends the device_status line of s to dst.
func AppendStatus(dst []byte, s *reading.Status, tags Tags) []byte {
	if !s.HasBattery && !s.HasSignal && s.Firmware == "" && !s.HasOnline && len(s.Flags) == 0 {
		return dst // nothing to store: a point needs at least one field
	}
	dst = append(dst, MeasurementStatus...)
	dst = appendTag(dst, "device", s.Device)
	dst = appendTag(dst, "device_type", tags.DeviceType)
	dst = appendTag(dst, "site", tags.Site)
	f := fields{dst: append(dst, ' ')}
	if s.HasBattery {
		f.float("battery", s.Battery)
	}
	if s.Firmware != "" {
		f.string("firmware", s.Firmware)
	}
	if len(s.Flags) > 0 {
		f.string("flags", strings.Join(s.Flags, ","))
	}
	if s.HasOnline {
		f.bool("online", s.Online)
	}
	if s.HasSignal {
		f.float("signal", s.Signal)
	}
	return appendTime(f.dst, s.Time)
}

// StatusOfMessage returns the device status carried by a telemetry message (its battery),
// and whether there is any.
func StatusOfMessage(m *reading.Message) (reading.Status, bool) {
	if !m.HasBattery || len(m.Readings) == 0 {
		return reading.Status{}, false
	}
	return reading.Status{
		Device:     m.Device,
		Time:       m.Readings[0].Time,
		Battery:    m.Battery,
		HasBattery: true,
	}, true
}

func appendTag(dst []byte, key, value string) []byte {
	if value == "" {
		return dst
	}
	dst = append(dst, ',')
	dst = append(dst, key...)
	dst = append(dst, '=')
	for i := 0; i < len(value); i++ {
		switch c := value[i]; c {
		case ',', '=', ' ':
			dst = append(dst, '\\', c)
		case '\n', '\r':
			dst = append(dst, ' ') // newlines cannot be escaped in line protocol
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// fields appends the field set of one line, placing the commas between fields.
type fields struct {
	dst []byte
	n   int
}

func (f *fields) key(k string) {
	if f.n > 0 {
		f.dst = append(f.dst, ',')
	}
	f.n++
	f.dst = append(f.dst, k...)
	f.dst = append(f.dst, '=')
}

func (f *fields) float(k string, v float64) {
	f.key(k)
	f.dst = strconv.AppendFloat(f.dst, v, 'f', -1, 64)
}

func (f *fields) int(k string, v int64) {
	f.key(k)
	f.dst = strconv.AppendInt(f.dst, v, 10)
	f.dst = append(f.dst, 'i')
}

func (f *fields) bool(k string, v bool) {
	f.key(k)
	f.dst = strconv.AppendBool(f.dst, v)
}

// string appends a string field, quoted and escaped as line protocol requires.
func (f *fields) string(k, v string) {
	f.key(k)
	f.dst = append(f.dst, '"')
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '"', '\\':
			f.dst = append(f.dst, '\\', c)
		case '\n', '\r':
			f.dst = append(f.dst, ' ')
		default:
			f.dst = append(f.dst, c)
		}
	}
	f.dst = append(f.dst, '"')
}

// appendTime ends a line with its timestamp in milliseconds.
func appendTime(dst []byte, t time.Time) []byte {
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, t.UnixMilli(), 10)
	return append(dst, '\n')
}
