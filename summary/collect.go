package summary

import (
	"slices"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/errcode"
	"github.com/vitalwatch/vitalwatch/reading"
)

// ReasonCalibrationOverdue is why a reading of a device measured after its next calibration
// date is in doubt, as the alert rules hold it (calibration_overdue).
const ReasonCalibrationOverdue = alerts.RuleCalibrationOverdue

// DeviceLookup returns a device as the registry has it now. An error of code
// errcode.NotFound stands for a device the registry no longer has, read as a zero Device
// (neither a CGM nor a home device, no calibration date).
type DeviceLookup func(id string) (devices.Device, error)

// Span says which of the messages a Collector reads go where.
type Span struct {
	// From is the earliest reading of Input.Readings and Input.Doubtful.
	From time.Time
	// HomeSince is the earliest home blood-pressure reading of Input.HomeBP; zero collects
	// none.
	HomeSince time.Time
	// Types, when not empty, are the only reading types collected.
	Types []reading.Type
}

// A Collector sorts a patient's messages, as they are read from the series, into an Input's
// Readings, Doubtful and HomeBP: each device is looked up once; a reading with a quality flag
// (reading.QualityFlag), or from a device whose calibration was due when it measured, is in
// doubt; a CGM's glucose sent without a source is CGM glucose (Source "cgm"), as the alert
// engine reads it; home BP is that of the home devices. Add is the callback to pass to the
// series' reader.
type Collector struct {
	in     Input
	span   Span
	lookup DeviceLookup
	devs   map[string]devices.Device // by id, as lookup gave them
	err    error                     // the first lookup error other than not found
}

// NewCollector returns a Collector that adds to in (whose other fields it keeps) what span
// selects, with the devices of lookup.
func NewCollector(in Input, span Span, lookup DeviceLookup) *Collector {
	return &Collector{in: in, span: span, lookup: lookup, devs: map[string]devices.Device{}}
}

// Add sorts the readings of m.
func (c *Collector) Add(m reading.Message) {
	d, ok := c.devs[m.Device]
	if !ok {
		var err error
		if d, err = c.lookup(m.Device); err != nil && c.err == nil && errcode.Of(err) != errcode.NotFound {
			c.err = err
		}
		c.devs[m.Device] = d
	}
	var flags []string
	for _, f := range m.Flags {
		if reading.QualityFlag(f) {
			flags = append(flags, f)
		}
	}
	home := d.Mode == devices.Home
	for _, r := range m.Readings {
		if len(c.span.Types) > 0 && !slices.Contains(c.span.Types, r.Type) {
			continue
		}
		if r.Type == reading.Glucose && r.Source == "" && d.Kind == devices.CGM {
			r.Source = "cgm"
		}
		reasons := flags
		if !d.NextCalibration.IsZero() && r.Time.After(d.NextCalibration) {
			reasons = append(slices.Clip(flags), ReasonCalibrationOverdue)
		}
		switch {
		case len(reasons) > 0:
			if !r.Time.Before(c.span.From) {
				c.in.Doubtful = append(c.in.Doubtful, Doubtful{Reading: r, Reasons: reasons, Home: home})
			}
			continue // in doubt: no figure counts it
		case !r.Time.Before(c.span.From):
			c.in.Readings = append(c.in.Readings, r)
		}
		if r.Type == reading.BP && home && !c.span.HomeSince.IsZero() && !r.Time.Before(c.span.HomeSince) {
			c.in.HomeBP = append(c.in.HomeBP, r)
		}
	}
}

// Input returns the Input with what Add sorted, or the first error of the device lookup other
// than not found.
func (c *Collector) Input() (Input, error) {
	if c.err != nil {
		return Input{}, c.err
	}
	return c.in, nil
}
