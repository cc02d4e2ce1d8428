package simulators

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vitalwatch/vitalwatch/devices"
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

// end is the offset of the step's last message from the start of the script.
func (s *Step) end() time.Duration {
	if s.Drain != nil {
		return s.At + s.Drain.Over + s.Delay
	}
	return s.At + time.Duration(s.Times-1)*s.Every + s.Delay
}

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
