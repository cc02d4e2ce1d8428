package simulators

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/reading"
)

// Script is a scripted scenario: what a few devices of a few residents send, and when, and the
// alerts the platform must raise for it, exactly. `vitalsim --scenario FILE` plays one on the
// wall clock on top of the simulated fleet; the scenario tests play each file under
// simulators/scenarios through the whole pipeline on a virtual clock and compare the alerts.
// A script is read from YAML (see ParseScript); its registry (Registry) is what an operator
// imports for it, and Play turns it into the messages to publish.
//
// Scripted devices send only what the steps say (and a heartbeat, if they have one): the
// script, not a random schedule, decides every value, so that the alerts it raises are known.
type Script struct {
	Name        string
	Description string
	// Zone is the zone of StartOfDay: time_zone, else the first site's zone, else UTC.
	Zone *time.Location
	// StartOfDay is the local time of day the script's time 0 falls on when a test plays it
	// (start: "07:30"), so that morning and evening readings are what they say; HasStartOfDay
	// is false when the script does not care.
	StartOfDay    time.Duration
	HasStartOfDay bool
	// Length is how long the script plays: its duration, or else the time of its last message.
	// A player lets the time-driven rules run at the end of it.
	Length time.Duration

	Sites    []devices.Site
	Teams    []devices.Team
	Patients []devices.Patient
	Devices  []ScriptDevice
	Steps    []Step
	// Expect are the alerts the script must raise: no more, no fewer.
	Expect []Expectation
}

// ScriptDevice is a device of a script, as the registry records it.
type ScriptDevice struct {
	ID     string
	Kind   Kind
	Site   string
	Mode   devices.Mode
	Status devices.Status
	// Patient is who a home device is lent to; empty for a station or an unlent device.
	Patient         string
	RatedUsesPerDay int
	// NextCalibration is when calibration is due, from the script's start (negative: overdue
	// before it starts), when HasCalibration.
	NextCalibration time.Duration
	HasCalibration  bool
	// Heartbeat is how often the device sends a status message saying it is online, from the
	// start to the end of the script, except while it is silent; 0 for none.
	Heartbeat time.Duration
	// TimeFormat is how it writes ts: RFC3339 in its site's zone, or UnixMilli.
	TimeFormat TimeFormat
}

// Step is something a device does at a time: send readings, send a status, drain its battery,
// or fall silent. A step may repeat.
type Step struct {
	Line   int // in the file
	At     time.Duration
	Device string
	Note   string // what the step means, for people watching a run
	// Delay is how long after it was measured the message is sent: a hub uploading a backlog.
	Delay time.Duration
	// Skew is how far the device's clock is off: its ts is the measurement time plus Skew.
	Skew time.Duration
	// Times is how many times the step is done, Every apart (repeat); 1 without a repeat.
	Times int
	Every time.Duration

	// Telemetry: Readings, with Patient (a station's resident), Flags and Battery.
	Readings   []ScriptReading
	Patient    string
	Flags      []string
	Battery    float64
	HasBattery bool
	// Status is a status message; Status.HasOnline && !Status.Online is the last will.
	Status *ScriptStatus
	// Silent says the device sends nothing, not even its heartbeat, until its next step.
	Silent bool
	// Drain is a battery running down, sent as status messages.
	Drain *BatteryDrain
}

// ScriptReading is one reading of a telemetry step: the wire form, with the value of each
// repetition when Values is set.
type ScriptReading struct {
	Reading
	Values []float64
}

// ScriptStatus is a status message of the device contract.
type ScriptStatus struct {
	Battery    float64
	HasBattery bool
	Signal     float64
	HasSignal  bool
	Firmware   string
	Online     bool
	HasOnline  bool
	Flags      []string
}

// BatteryDrain is a battery falling from From to To percent over Over, reported in a status
// message every Every (both ends included).
type BatteryDrain struct {
	From, To    float64
	Over, Every time.Duration
}

// Severities and states an expectation may name (alerts.Severity, alerts.State).
var (
	scriptSeverities = []string{"info", "warning", "urgent", "critical"}
	scriptStates     = []string{"open", "acknowledged", "resolved"}
)

// LoadScript reads the script in the YAML file at path (see ParseScript).
func LoadScript(path string) (*Script, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("scenario: %w", err)
	}
	s, err := ParseScript(data)
	if err != nil {
		return nil, fmt.Errorf("scenario %s: %w", path, err)
	}
	return s, nil
}

// ParseScript reads a script from YAML. The reading is strict: an unknown key, a bad duration,
// a reference to a device, patient, team or site the script does not declare, a reading type or
// unit outside the device contract, or a step that does two things is an error naming the key
// and line. Values themselves are not checked against plausibility: a script may send the
// implausible readings the platform must reject.
//
//	name: an-evening
//	description: A fall nobody cancels, a CGM dip, a battery running down.
//	start: "18:00"                  # the local time of day of time 0, when a test plays it
//	sites:    [{id: site-01, name: Hongpailou, time_zone: Asia/Shanghai}]
//	teams:    [{id: team-01-1, site: site-01, name: Team 1}]
//	patients: [{id: P-1, team: team-01-1, plans: ["insulin-treated diabetes: glucose daily"]}]
//	devices:
//	  - {id: band-1, kind: wearable, site: site-01, patient: P-1, heartbeat: 5m}
//	  - {id: cgm-1, kind: cgm, site: site-01, patient: P-1}
//	  - {id: stn-1, kind: station, site: site-01, next_calibration: -2d}
//	steps:
//	  - {at: 0s, device: cgm-1, repeat: {every: 5m}, readings: [{type: glucose, values: [3.4, 2.9, 2.8]}]}
//	  - {at: 5m, device: stn-1, patient: P-1, readings: [{type: bp, systolic: 132, diastolic: 84}]}
//	  - {at: 10m, device: band-1, readings: [{type: fall, lat: 30.6, lon: 104.03}]}
//	  - {at: 15m, device: band-1, battery_drain: {from: 30, to: 18, over: 1h, every: 30m}}
//	  - {at: 2h, device: band-1, status: {online: false}}
//	expect:                         # every alert it raises (here more than this one)
//	  - {rule: fall, patient: P-1, severity: critical, state: open}
func ParseScript(data []byte) (*Script, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, fmt.Errorf("empty: a script is a mapping of name, description, devices, steps and expect")
	}
	p := &scriptParser{}
	s := &Script{Zone: time.UTC}
	top := map[string]*yaml.Node{}
	keep := func(key string) func(string, *yaml.Node) {
		return func(_ string, v *yaml.Node) { top[key] = v }
	}
	root := doc.Content[0]
	p.fields("", root, map[string]func(string, *yaml.Node){
		"name": keep("name"), "description": keep("description"), "time_zone": keep("time_zone"),
		"start": keep("start"), "duration": keep("duration"), "sites": keep("sites"), "teams": keep("teams"),
		"patients": keep("patients"), "devices": keep("devices"), "steps": keep("steps"), "expect": keep("expect"),
	})
	if root.Kind != yaml.MappingNode {
		return nil, p.err()
	}
	for _, key := range []string{"name", "description", "devices", "steps", "expect"} {
		if top[key] == nil {
			p.errorf(key, root, "required")
		}
	}
	if n := top["name"]; n != nil {
		if s.Name = p.str("name", n); s.Name != "" && !scriptName.MatchString(s.Name) {
			p.errorf("name", n, "%q is not 1-64 characters of a-z, 0-9 and - (the file's name, without .yaml)", s.Name)
		}
	}
	if n := top["description"]; n != nil {
		s.Description = strings.TrimSpace(p.str("description", n))
	}
	c := &scriptChecker{p: p, s: s}
	c.sites(top["sites"])
	c.teams(top["teams"])
	c.patients(top["patients"])
	c.zone(top["time_zone"])
	if n := top["start"]; n != nil {
		s.StartOfDay, s.HasStartOfDay = p.timeOfDay("start", n)
	}
	c.devices(top["devices"])
	c.steps(top["steps"])
	c.length(top["duration"])
	c.expect(top["expect"])
	if err := p.err(); err != nil {
		return nil, err
	}
	return s, nil
}

// scriptName is the form of a script's name.
var scriptName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)

// scriptChecker reads the parts of a script in the order their references need: sites, teams,
// patients, devices, then steps and expectations.
type scriptChecker struct {
	p          *scriptParser
	s          *Script
	siteIDs    map[string]bool
	teamIDs    map[string]bool
	patientIDs map[string]bool
	deviceByID map[string]*ScriptDevice
}

func (c *scriptChecker) id(path string, n *yaml.Node, seen map[string]bool, what string) string {
	id := c.p.str(path, n)
	switch {
	case id == "":
	case !reading.ValidID(id):
		c.p.errorf(path, n, "%q is not a valid %s id: 1-64 characters of A-Z a-z 0-9 . _ : -", id, what)
	case seen[id]:
		c.p.errorf(path, n, "%s %q is declared twice", what, id)
	default:
		seen[id] = true
	}
	return id
}

// required reports the keys of want missing from got.
func (c *scriptChecker) required(path string, n *yaml.Node, got map[string]bool, want ...string) {
	for _, k := range want {
		if !got[k] {
			c.p.errorf(join(path, k), n, "required")
		}
	}
}

func (c *scriptChecker) sites(n *yaml.Node) {
	c.siteIDs = map[string]bool{}
	if n == nil {
		return
	}
	ids := map[string]bool{}
	c.p.list("sites", n, func(path string, _ int, item *yaml.Node) {
		var st devices.Site
		got := c.p.fields(path, item, map[string]func(string, *yaml.Node){
			"id":            func(path string, v *yaml.Node) { st.ID = c.id(path, v, ids, "site") },
			"name":          func(path string, v *yaml.Node) { st.Name = c.p.str(path, v) },
			"district":      func(path string, v *yaml.Node) { st.District = c.p.str(path, v) },
			"address":       func(path string, v *yaml.Node) { st.Address = c.p.str(path, v) },
			"lat":           func(path string, v *yaml.Node) { st.Lat = c.p.number(path, v) },
			"lon":           func(path string, v *yaml.Node) { st.Lon = c.p.number(path, v) },
			"opening_hours": func(path string, v *yaml.Node) { st.OpeningHours = c.p.str(path, v) },
			"time_zone": func(path string, v *yaml.Node) {
				if st.TimeZone = c.p.str(path, v); st.TimeZone != "" {
					if _, err := time.LoadLocation(st.TimeZone); err != nil {
						c.p.errorf(path, v, "%q is not an IANA time zone", st.TimeZone)
					}
				}
			},
		})
		c.required(path, item, got, "id", "name")
		if err := st.Validate(); err == nil && st.ID != "" {
			c.s.Sites = append(c.s.Sites, st)
			c.siteIDs[st.ID] = true
		} else if st.ID != "" && st.Name != "" {
			c.p.errorf(path, item, "%v", err)
		}
	})
}

func (c *scriptChecker) teams(n *yaml.Node) {
	c.teamIDs = map[string]bool{}
	if n == nil {
		return
	}
	ids := map[string]bool{}
	c.p.list("teams", n, func(path string, _ int, item *yaml.Node) {
		var t devices.Team
		got := c.p.fields(path, item, map[string]func(string, *yaml.Node){
			"id":   func(path string, v *yaml.Node) { t.ID = c.id(path, v, ids, "team") },
			"name": func(path string, v *yaml.Node) { t.Name = c.p.str(path, v) },
			"site": func(path string, v *yaml.Node) {
				if t.SiteID = c.p.str(path, v); t.SiteID != "" && !c.siteIDs[t.SiteID] {
					c.p.errorf(path, v, "unknown site %q: declare it under sites", t.SiteID)
				}
			},
		})
		c.required(path, item, got, "id", "site", "name")
		c.s.Teams = append(c.s.Teams, t)
		c.teamIDs[t.ID] = true
	})
}

func (c *scriptChecker) patients(n *yaml.Node) {
	c.patientIDs = map[string]bool{}
	if n == nil {
		return
	}
	ids := map[string]bool{}
	c.p.list("patients", n, func(path string, _ int, item *yaml.Node) {
		var pt devices.Patient
		got := c.p.fields(path, item, map[string]func(string, *yaml.Node){
			"id": func(path string, v *yaml.Node) { pt.ID = c.id(path, v, ids, "patient") },
			"team": func(path string, v *yaml.Node) {
				if pt.TeamID = c.p.str(path, v); pt.TeamID != "" && !c.teamIDs[pt.TeamID] {
					c.p.errorf(path, v, "unknown team %q: declare it under teams", pt.TeamID)
				}
			},
			"plans": func(path string, v *yaml.Node) {
				pt.Plans = c.p.strs(path, v)
				for i, plan := range pt.Plans {
					if plan == "" || len(plan) > 200 || strings.Contains(plan, PlanSeparator) {
						c.p.errorf(fmt.Sprintf("%s[%d]", path, i), v, "a care plan is 1-200 characters without %q", PlanSeparator)
					}
				}
			},
		})
		c.required(path, item, got, "id", "team")
		c.s.Patients = append(c.s.Patients, pt)
		c.patientIDs[pt.ID] = true
	})
}

// zone sets the script's zone: time_zone, else its first site's.
func (c *scriptChecker) zone(n *yaml.Node) {
	name := ""
	if n != nil {
		name = c.p.str("time_zone", n)
	} else if len(c.s.Sites) > 0 {
		name = c.s.Sites[0].TimeZone
	}
	if name == "" {
		return
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		c.p.errorf("time_zone", n, "%q is not an IANA time zone", name)
		return
	}
	c.s.Zone = loc
}

// timeOfDay reads "HH:MM" as the time since midnight.
func (p *scriptParser) timeOfDay(path string, n *yaml.Node) (time.Duration, bool) {
	s := p.str(path, n)
	t, err := time.Parse("15:04", s)
	if s != "" && err != nil {
		p.errorf(path, n, "%q is not a time of day such as \"07:30\"", s)
		return 0, false
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, s != ""
}

// DefaultStationUses is the rated uses per day of a script's station that does not give one.
const DefaultStationUses = StationRatedUsesPerDay

func (c *scriptChecker) devices(n *yaml.Node) {
	c.deviceByID = map[string]*ScriptDevice{}
	if n == nil {
		return
	}
	ids := map[string]bool{}
	c.p.list("devices", n, func(path string, _ int, item *yaml.Node) {
		d := ScriptDevice{Status: devices.Active, TimeFormat: RFC3339}
		mode := ""
		got := c.p.fields(path, item, map[string]func(string, *yaml.Node){
			"id": func(path string, v *yaml.Node) { d.ID = c.id(path, v, ids, "device") },
			"kind": func(path string, v *yaml.Node) {
				if d.Kind = Kind(c.p.str(path, v)); d.Kind != "" && !d.Kind.Valid() {
					c.p.errorf(path, v, "unknown device kind %q (known: %v)", d.Kind, Kinds)
				}
			},
			"site": func(path string, v *yaml.Node) {
				if d.Site = c.p.str(path, v); d.Site != "" && !c.siteIDs[d.Site] {
					c.p.errorf(path, v, "unknown site %q: declare it under sites", d.Site)
				}
			},
			"mode": func(path string, v *yaml.Node) {
				if mode = c.p.str(path, v); mode != string(devices.Home) && mode != string(devices.StationMode) {
					c.p.errorf(path, v, "mode %q is not home or station", mode)
				}
			},
			"status": func(path string, v *yaml.Node) {
				if d.Status = devices.Status(c.p.str(path, v)); !d.Status.Valid() || d.Status == devices.InTransit {
					c.p.errorf(path, v, "status %q is not active, maintenance or retired", d.Status)
				}
			},
			"patient": func(path string, v *yaml.Node) {
				if d.Patient = c.p.str(path, v); d.Patient != "" && !c.patientIDs[d.Patient] {
					c.p.errorf(path, v, "unknown patient %q: declare it under patients", d.Patient)
				}
			},
			"rated_uses_per_day": func(path string, v *yaml.Node) { d.RatedUsesPerDay = c.p.integer(path, v, 1, 10000) },
			"next_calibration": func(path string, v *yaml.Node) {
				d.NextCalibration, d.HasCalibration = c.p.duration(path, v, true), true
			},
			"heartbeat": func(path string, v *yaml.Node) {
				if d.Heartbeat = c.p.duration(path, v, false); d.Heartbeat < time.Minute {
					c.p.errorf(path, v, "a heartbeat is at least 1m")
				}
			},
			"time_format": func(path string, v *yaml.Node) {
				switch f := c.p.str(path, v); f {
				case "rfc3339":
				case "unix_ms":
					d.TimeFormat = UnixMilli
				default:
					c.p.errorf(path, v, "time format %q is not rfc3339 or unix_ms", f)
				}
			},
		})
		c.required(path, item, got, "id", "kind", "site")
		switch {
		case mode == "" && d.Kind == Station, mode == string(devices.StationMode):
			d.Mode = devices.StationMode
		default:
			d.Mode = devices.Home
		}
		if d.Mode == devices.StationMode {
			if d.Patient != "" {
				c.p.errorf(join(path, "patient"), item, "a station is not lent to a patient: each of its readings names one")
			}
			if d.RatedUsesPerDay == 0 {
				d.RatedUsesPerDay = DefaultStationUses
			}
		} else if got["rated_uses_per_day"] {
			c.p.errorf(join(path, "rated_uses_per_day"), item, "only a station has rated uses per day")
		}
		c.s.Devices = append(c.s.Devices, d)
	})
	for i := range c.s.Devices {
		c.deviceByID[c.s.Devices[i].ID] = &c.s.Devices[i]
	}
}

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

// end is the offset of the step's last message from the start of the script.
func (s *Step) end() time.Duration {
	if s.Drain != nil {
		return s.At + s.Drain.Over + s.Delay
	}
	return s.At + time.Duration(s.Times-1)*s.Every + s.Delay
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

// Device returns the script's device id, or nil.
func (s *Script) Device(id string) *ScriptDevice {
	for i := range s.Devices {
		if s.Devices[i].ID == id {
			return &s.Devices[i]
		}
	}
	return nil
}

// StartAt is when a player that may choose (a test) starts the script so that it ends before
// now: on the local day at least a day before the script's length ends before now, at its
// StartOfDay (or midnight).
func (s *Script) StartAt(now time.Time) time.Time {
	local := now.Add(-s.Length - 24*time.Hour).In(s.Zone)
	h, m := int(s.StartOfDay/time.Hour), int(s.StartOfDay%time.Hour/time.Minute)
	return time.Date(local.Year(), local.Month(), local.Day(), h, m, 0, 0, s.Zone)
}

// String names the script and its size, for logs.
func (s *Script) String() string {
	return s.Name + " (" + strconv.Itoa(len(s.Steps)) + " steps, " + strconv.Itoa(len(s.Expect)) + " alerts expected)"
}
