package simulators

import (
	"regexp"
	"slices"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/reading"
)

// Severities and states an expectation may name (alerts.Severity, alerts.State).
var (
	scriptSeverities = []string{"info", "warning", "urgent", "critical"}
	scriptStates     = []string{"open", "acknowledged", "resolved"}
)

func (c *scriptChecker) steps(n *yaml.Node) {
	if n == nil {
		return
	}
	c.p.list("steps", n, func(path string, _ int, item *yaml.Node) {
		st := Step{Line: item.Line, Times: 1}
		var repeat *yaml.Node
		actions := 0
		action := func(f func(string, *yaml.Node)) func(string, *yaml.Node) {
			return func(path string, v *yaml.Node) { actions++; f(path, v) }
		}
		got := c.p.fields(path, item, map[string]func(string, *yaml.Node){
			"at":     func(path string, v *yaml.Node) { st.At = c.p.duration(path, v, false) },
			"device": func(path string, v *yaml.Node) { st.Device = c.p.str(path, v) },
			"note":   func(path string, v *yaml.Node) { st.Note = c.p.str(path, v) },
			"delay":  func(path string, v *yaml.Node) { st.Delay = c.p.duration(path, v, false) },
			"skew":   func(path string, v *yaml.Node) { st.Skew = c.p.duration(path, v, true) },
			"repeat": func(_ string, v *yaml.Node) { repeat = v },
			"patient": func(path string, v *yaml.Node) {
				if st.Patient = c.p.str(path, v); st.Patient != "" && !c.patientIDs[st.Patient] {
					c.p.errorf(path, v, "unknown patient %q: declare it under patients", st.Patient)
				}
			},
			"flags":   func(path string, v *yaml.Node) { st.Flags = c.flags(path, v) },
			"battery": func(path string, v *yaml.Node) { st.Battery, st.HasBattery = c.percent(path, v), true },
			"readings": action(func(path string, v *yaml.Node) {
				c.p.list(path, v, func(path string, _ int, item *yaml.Node) {
					st.Readings = append(st.Readings, c.reading(path, item))
				})
				if len(st.Readings) == 0 {
					c.p.errorf(path, v, "needs at least one reading")
				}
			}),
			"status": action(func(path string, v *yaml.Node) { st.Status = c.status(path, v) }),
			"silent": action(func(path string, v *yaml.Node) {
				if st.Silent = c.p.boolean(path, v); !st.Silent {
					c.p.errorf(path, v, "silent: true is the only value; leave the key out otherwise")
				}
			}),
			"battery_drain": action(func(path string, v *yaml.Node) { st.Drain = c.drain(path, v) }),
		})
		c.required(path, item, got, "at", "device")
		dev := c.deviceByID[st.Device]
		if got["device"] && dev == nil && st.Device != "" {
			c.p.errorf(join(path, "device"), item, "unknown device %q: declare it under devices", st.Device)
		}
		if actions != 1 {
			c.p.errorf(path, item, "must do one thing: readings, status, silent or battery_drain")
		}
		if st.Readings == nil {
			for _, k := range []string{"patient", "flags", "battery"} {
				if got[k] {
					c.p.errorf(join(path, k), item, "goes with readings only (a status has its own)")
				}
			}
		}
		if dev != nil && st.Readings != nil {
			switch {
			case dev.Mode == devices.StationMode && st.Patient == "":
				c.p.errorf(join(path, "patient"), item, "required: a reading of station %s names the resident who measured", dev.ID)
			case dev.Mode == devices.Home && st.Patient != "":
				c.p.errorf(join(path, "patient"), item, "home device %s is lent to its patient, whose readings these are: leave patient out", dev.ID)
			}
		}
		if repeat != nil {
			c.repeat(join(path, "repeat"), repeat, &st)
		}
		c.values(path, item, &st, repeat != nil)
		if (st.Silent || st.Drain != nil) && repeat != nil {
			c.p.errorf(join(path, "repeat"), item, "a silent step or a battery drain does not repeat")
		}
		c.s.Steps = append(c.s.Steps, st)
	})
}

// values checks the per-repetition values of the step's readings: every list has one value a
// repetition, and they need a repeat.
func (c *scriptChecker) values(path string, item *yaml.Node, st *Step, repeat bool) {
	n := 0
	for _, r := range st.Readings {
		if r.Values == nil {
			continue
		}
		switch {
		case !repeat:
			c.p.errorf(join(path, "readings"), item, "values (a list) need a repeat; give value for one reading")
			return
		case n != 0 && len(r.Values) != n:
			c.p.errorf(join(path, "readings"), item, "every values list of a step has the same length")
			return
		}
		n = len(r.Values)
	}
	switch {
	case n == 0:
	case st.Times == 0:
		st.Times = n
	case st.Times != n:
		c.p.errorf(join(path, "repeat.times"), item, "%d repetitions but %d values", st.Times, n)
	}
	if st.Times == 0 {
		c.p.errorf(join(path, "repeat"), item, "needs times, or readings with values to count them")
		st.Times = 1
	}
}

func (c *scriptChecker) repeat(path string, n *yaml.Node, st *Step) {
	st.Times = 0
	got := c.p.fields(path, n, map[string]func(string, *yaml.Node){
		"every": func(path string, v *yaml.Node) {
			if st.Every = c.p.duration(path, v, false); st.Every <= 0 {
				c.p.errorf(path, v, "must be positive")
			}
		},
		"times": func(path string, v *yaml.Node) { st.Times = c.p.integer(path, v, 1, 10000) },
	})
	c.required(path, n, got, "every")
}

func (c *scriptChecker) flags(path string, n *yaml.Node) []string {
	fs := c.p.strs(path, n)
	for _, f := range fs {
		if !validScriptFlag(f) {
			c.p.errorf(path, n, "flag %q is not 1-40 characters of a-z, 0-9 and _", f)
		}
	}
	return fs
}

func validScriptFlag(f string) bool {
	if len(f) == 0 || len(f) > 40 {
		return false
	}
	for i := 0; i < len(f); i++ {
		if b := f[i]; !('a' <= b && b <= 'z' || '0' <= b && b <= '9' || b == '_') {
			return false
		}
	}
	return true
}

func (c *scriptChecker) percent(path string, n *yaml.Node) float64 {
	v := c.p.number(path, n)
	if v < 0 || v > 100 {
		c.p.errorf(path, n, "a battery level is 0-100 %%, not %v", v)
	}
	return v
}

// scriptUnits are the units a script may give each reading type, the canonical one first
// (docs/design.md "Device contract"); events have none.
var scriptUnits = map[reading.Type][]string{
	reading.Glucose:     {unitMmolL, unitMgdL},
	reading.BP:          {unitMmHg},
	reading.HeartRate:   {unitPerMin},
	reading.SpO2:        {unitPercent},
	reading.Temperature: {unitCel, unitDegF},
	reading.Weight:      {unitKg, unitLb},
	reading.Steps:       {unitCount},
	reading.Fall:        nil,
	reading.SOS:         nil,
	reading.Cancel:      nil,
}

// Qualifier values of the device contract.
var (
	scriptContexts  = []string{"fasting", "before_meal", "after_meal", "bedtime", "random"}
	scriptSources   = []string{"fingerstick", "cgm"}
	scriptPositions = []string{"sitting", "standing", "lying"}
)

func (c *scriptChecker) reading(path string, n *yaml.Node) ScriptReading {
	var r ScriptReading
	str := func(dst *string, allowed []string) func(string, *yaml.Node) {
		return func(path string, v *yaml.Node) {
			if *dst = c.p.str(path, v); *dst != "" && !slices.Contains(allowed, *dst) {
				c.p.errorf(path, v, "%q is not one of %v", *dst, allowed)
			}
		}
	}
	var lat, lon bool
	got := c.p.fields(path, n, map[string]func(string, *yaml.Node){
		"type":      func(path string, v *yaml.Node) { r.Type = reading.Type(c.p.str(path, v)) },
		"value":     func(path string, v *yaml.Node) { r.Value = c.p.number(path, v) },
		"values":    func(path string, v *yaml.Node) { r.Values = c.p.numbers(path, v) },
		"systolic":  func(path string, v *yaml.Node) { r.Systolic = c.p.number(path, v) },
		"diastolic": func(path string, v *yaml.Node) { r.Diastolic = c.p.number(path, v) },
		"pulse":     func(path string, v *yaml.Node) { r.Pulse = c.p.number(path, v) },
		"unit":      func(path string, v *yaml.Node) { r.Unit = c.p.str(path, v) },
		"context":   str(&r.Context, scriptContexts),
		"source":    str(&r.Source, scriptSources),
		"position":  str(&r.Position, scriptPositions),
		"lat":       func(path string, v *yaml.Node) { r.Lat, lat = c.p.number(path, v), true },
		"lon":       func(path string, v *yaml.Node) { r.Lon, lon = c.p.number(path, v), true },
	})
	units, known := scriptUnits[r.Type]
	switch {
	case !got["type"]:
		c.p.errorf(join(path, "type"), n, "required")
		return r
	case !known:
		c.p.errorf(join(path, "type"), n, "unknown reading type %q (known: %v)", r.Type, reading.Types)
		return r
	}
	// The keys each type takes.
	takes := map[string]bool{"type": true}
	switch {
	case r.Type == reading.BP:
		for _, k := range []string{"systolic", "diastolic", "pulse", "unit", "position"} {
			takes[k] = true
		}
		c.required(path, n, got, "systolic", "diastolic")
	case r.Type.IsEvent():
		takes["lat"], takes["lon"] = true, true
		if lat != lon {
			c.p.errorf(path, n, "give both lat and lon, or neither")
		}
		r.HasLocation = lat && lon
	default:
		takes["value"], takes["values"], takes["unit"] = true, true, true
		if r.Type == reading.Glucose {
			takes["context"], takes["source"] = true, true
		}
		if got["value"] == got["values"] {
			c.p.errorf(path, n, "give value, or values (one a repetition), not both nor neither")
		}
		if got["values"] && len(r.Values) == 0 {
			c.p.errorf(join(path, "values"), n, "needs at least one value")
		}
	}
	for k := range got {
		if !takes[k] {
			c.p.errorf(join(path, k), n, "not part of a %s reading", r.Type)
		}
	}
	switch {
	case r.Unit == "" && len(units) > 0:
		r.Unit = units[0]
	case r.Unit != "" && !slices.Contains(units, r.Unit):
		c.p.errorf(join(path, "unit"), n, "unknown unit %q for %s (known: %v)", r.Unit, r.Type, units)
	}
	return r
}

func (c *scriptChecker) status(path string, n *yaml.Node) *ScriptStatus {
	st := &ScriptStatus{}
	got := c.p.fields(path, n, map[string]func(string, *yaml.Node){
		"battery":  func(path string, v *yaml.Node) { st.Battery, st.HasBattery = c.percent(path, v), true },
		"signal":   func(path string, v *yaml.Node) { st.Signal, st.HasSignal = c.p.number(path, v), true },
		"firmware": func(path string, v *yaml.Node) { st.Firmware = c.p.str(path, v) },
		"online":   func(path string, v *yaml.Node) { st.Online, st.HasOnline = c.p.boolean(path, v), true },
		"flags":    func(path string, v *yaml.Node) { st.Flags = c.flags(path, v) },
	})
	if len(got) == 0 {
		c.p.errorf(path, n, "say something: battery, signal, firmware, online or flags")
	}
	if st.HasSignal && (st.Signal < -150 || st.Signal > 0) {
		c.p.errorf(join(path, "signal"), n, "signal %v dBm is outside -150..0", st.Signal)
	}
	return st
}

func (c *scriptChecker) drain(path string, n *yaml.Node) *BatteryDrain {
	d := &BatteryDrain{}
	got := c.p.fields(path, n, map[string]func(string, *yaml.Node){
		"from":  func(path string, v *yaml.Node) { d.From = c.percent(path, v) },
		"to":    func(path string, v *yaml.Node) { d.To = c.percent(path, v) },
		"over":  func(path string, v *yaml.Node) { d.Over = c.p.duration(path, v, false) },
		"every": func(path string, v *yaml.Node) { d.Every = c.p.duration(path, v, false) },
	})
	c.required(path, n, got, "from", "to", "over", "every")
	if got["over"] && got["every"] && (d.Every <= 0 || d.Over < d.Every) {
		c.p.errorf(path, n, "every must be positive and at most over")
	}
	return d
}

// length sets the script's length: duration, which must reach its last message, or else that.
func (c *scriptChecker) length(n *yaml.Node) {
	last := time.Duration(0)
	for i := range c.s.Steps {
		last = max(last, c.s.Steps[i].end())
	}
	c.s.Length = last
	if n == nil {
		return
	}
	d := c.p.duration("duration", n, false)
	if d < last {
		c.p.errorf("duration", n, "%v ends before the last message, at %v", d, last)
		return
	}
	c.s.Length = d
}

func (c *scriptChecker) expect(n *yaml.Node) {
	if n == nil {
		return
	}
	if n.Kind == yaml.SequenceNode && len(n.Content) == 0 {
		c.s.Expect = []Expectation{}
		return
	}
	c.p.list("expect", n, func(path string, _ int, item *yaml.Node) {
		e := Expectation{Line: item.Line}
		var subjects int
		got := c.p.fields(path, item, map[string]func(string, *yaml.Node){
			"rule": func(path string, v *yaml.Node) {
				if e.Rule = c.p.str(path, v); !ruleID.MatchString(e.Rule) {
					c.p.errorf(path, v, "%q is not a rule id such as glucose_low", e.Rule)
				}
			},
			"patient": func(path string, v *yaml.Node) {
				subjects++
				id := c.p.str(path, v)
				if !c.patientIDs[id] {
					c.p.errorf(path, v, "unknown patient %q: declare it under patients", id)
				}
				e.Subject = "patient/" + id
			},
			"device": func(path string, v *yaml.Node) {
				subjects++
				id := c.p.str(path, v)
				if c.deviceByID[id] == nil {
					c.p.errorf(path, v, "unknown device %q: declare it under devices", id)
				}
				e.Subject = "device/" + id
			},
			"severity": func(path string, v *yaml.Node) {
				if e.Severity = c.p.str(path, v); !slices.Contains(scriptSeverities, e.Severity) {
					c.p.errorf(path, v, "severity %q is not one of %v", e.Severity, scriptSeverities)
				}
			},
			"state": func(path string, v *yaml.Node) {
				if e.State = c.p.str(path, v); !slices.Contains(scriptStates, e.State) {
					c.p.errorf(path, v, "state %q is not one of %v", e.State, scriptStates)
				}
			},
			"count": func(path string, v *yaml.Node) { e.Count = c.p.integer(path, v, 1, 1000000) },
			"late":  func(path string, v *yaml.Node) { b := c.p.boolean(path, v); e.Late = &b },
			"doubt": func(path string, v *yaml.Node) { b := c.p.boolean(path, v); e.Doubt = &b },
		})
		c.required(path, item, got, "rule", "severity")
		if subjects != 1 {
			c.p.errorf(path, item, "name the subject: patient or device, one of them")
		}
		c.s.Expect = append(c.s.Expect, e)
	})
}

// ruleID is the form of a rule id.
var ruleID = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
