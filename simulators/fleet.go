// Package simulators models a fleet of community health devices: what each kind of device
// measures, when, in which units and with which faults, so that the rest of VitalWatch can be
// exercised with realistic traffic. It builds payloads of the device contract (docs/design.md "Device
// contract (MQTT)"); it does not talk MQTT, which is cmd/vitalsim's job. It also describes the
// fleet as the device registry records it (Registry: sites, teams, patients, devices and their
// secrets, assignments), and writes that as CSV files for import.
//
// A fleet is a pure function of its size, seed and mix, and of its Scenario if it has one (idle
// and overloaded centres, a failing station): the same arguments give the same devices,
// patients, registry and, for the same sequence of calls with the same times, byte-identical
// payloads. A Backlog is what a device would have sent over a past period, for backfilling
// months of history.
package simulators

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Kind is a kind of device.
type Kind string

// The device kinds of a fleet.
const (
	GlucoseMeter Kind = "glucose_meter" // home meter, fingerstick, 1-4 readings a day
	CGM          Kind = "cgm"           // continuous glucose monitor, a reading every 5 minutes
	BPCuff       Kind = "bp_cuff"       // home blood-pressure cuff, morning and evening
	Oximeter     Kind = "oximeter"      // fingertip pulse oximeter: SpO2 and heart rate
	Wearable     Kind = "wearable"      // watch or band: heart rate, steps, some SpO2, falls
	Station      Kind = "station"       // shared station at a centre: BP, weight, glucose of residents
	Thermometer  Kind = "thermometer"   // home thermometer
	Scale        Kind = "scale"         // home body-weight scale
)

// Kinds lists every device kind in a stable order; fleets are built in this order.
var Kinds = []Kind{GlucoseMeter, CGM, BPCuff, Oximeter, Wearable, Station, Thermometer, Scale}

// Valid reports whether k is one of Kinds.
func (k Kind) Valid() bool { return slices.Contains(Kinds, k) }

// code is the kind's part of a device id: sim-{code}-0001.
func (k Kind) code() string {
	switch k {
	case GlucoseMeter:
		return "glu"
	case CGM:
		return "cgm"
	case BPCuff:
		return "bp"
	case Oximeter:
		return "oxi"
	case Wearable:
		return "wear"
	case Station:
		return "stn"
	case Thermometer:
		return "temp"
	case Scale:
		return "scale"
	}
	return "dev"
}

// Mix gives the relative weight of each kind in a fleet. Kinds absent from the map, and kinds
// that are not valid, get no devices.
type Mix map[Kind]int

// DefaultMix is a district's fleet: mostly home glucose meters and cuffs for the diabetes and
// hypertension programmes, a few of everything else.
func DefaultMix() Mix {
	return Mix{
		GlucoseMeter: 30, CGM: 5, BPCuff: 30, Oximeter: 10,
		Wearable: 10, Station: 5, Thermometer: 5, Scale: 5,
	}
}

// ParseMix parses "glucose_meter=3,bp_cuff=2" (weights are non-negative integers). A kind alone,
// "cgm", has weight 1.
func ParseMix(s string) (Mix, error) {
	m := Mix{}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, weight, hasWeight := strings.Cut(part, "=")
		k := Kind(strings.TrimSpace(name))
		if !k.Valid() {
			return nil, fmt.Errorf("mix: unknown device kind %q (kinds: %s)", k, kindList())
		}
		w := 1
		if hasWeight {
			var err error
			w, err = strconv.Atoi(strings.TrimSpace(weight))
			if err != nil || w < 0 {
				return nil, fmt.Errorf("mix: weight of %s: %q is not a non-negative integer", k, weight)
			}
		}
		m[k] += w
	}
	if m.total() == 0 {
		return nil, fmt.Errorf("mix: %q gives no device a weight", s)
	}
	return m, nil
}

// String formats m the way ParseMix reads it, in the order of Kinds.
func (m Mix) String() string {
	var parts []string
	for _, k := range Kinds {
		if w := m[k]; w > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", k, w))
		}
	}
	return strings.Join(parts, ",")
}

func (m Mix) total() int {
	t := 0
	for _, k := range Kinds {
		t += max(m[k], 0)
	}
	return t
}

// counts splits n devices over the kinds by largest remainder, ties going to the earlier kind.
func (m Mix) counts(n int) map[Kind]int {
	total := m.total()
	out := make(map[Kind]int, len(Kinds))
	type rem struct {
		k Kind
		r int
	}
	var rems []rem
	given := 0
	for _, k := range Kinds {
		w := max(m[k], 0)
		out[k] = n * w / total
		given += out[k]
		if w > 0 {
			rems = append(rems, rem{k, n * w % total})
		}
	}
	slices.SortStableFunc(rems, func(a, b rem) int { return b.r - a.r })
	for i := 0; given < n; i++ {
		out[rems[i%len(rems)].k]++
		given++
	}
	return out
}

func kindList() string {
	names := make([]string, len(Kinds))
	for i, k := range Kinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}

// Fleet is a set of simulated devices and the patients who use them.
type Fleet struct {
	Seed     int64
	devices  []*Device
	byID     map[string]*Device
	patients []*person
	centres  []centre  // the centres the devices belong to
	scenario *Scenario // nil: every device on its natural schedule
	failing  *Device   // the scenario's failing station, or nil
}

// NewFleet builds n devices from seed, split over kinds by mix (DefaultMix when mix gives no
// weight to any valid kind). Device ids are sim-{kind}-0001 numbered per kind, patients
// P-000001 numbered in order of first use. Some patients have several home devices (a meter and a
// cuff), and station residents may also have home devices, as in a real district.
func NewFleet(n int, seed int64, mix Mix) *Fleet { return newFleet(n, seed, mix, nil) }

// NewScenarioFleet builds a fleet of n devices shaped by sc (see Scenario), or NewFleet's fleet
// when sc is nil. The centres and their stations are the scenario's; the other devices are home
// devices split over the home kinds of mix (DefaultMix's when mix has none). Each station
// measures its centre's load of its rated uses a day, and each home device is used on its share
// of the days, at least once on each of them.
func NewScenarioFleet(n int, seed int64, mix Mix, sc *Scenario) *Fleet {
	return newFleet(n, seed, mix, sc)
}

func newFleet(n int, seed int64, mix Mix, sc *Scenario) *Fleet {
	if mix.total() == 0 {
		mix = DefaultMix()
	}
	n = max(n, 0)
	f := &Fleet{Seed: seed, byID: make(map[string]*Device, n), scenario: sc}
	r := rand.New(rand.NewPCG(uint64(seed), 0x7669_7461_6c73_696d)) // "vitalsim"
	var counts map[Kind]int
	var stationSites []int
	if sc == nil {
		counts = mix.counts(n)
		f.centres = centres()[:siteCount(n)]
	} else {
		stationSites = sc.stationSites(n)
		counts = mix.withoutStations().counts(n - len(stationSites))
		counts[Station] = len(stationSites)
		f.centres = centres()[:len(sc.Centres)]
	}
	zone := localZone()
	stations := 0
	for _, k := range Kinds {
		for i := 1; i <= counts[k]; i++ {
			d := newDevice(fmt.Sprintf("sim-%s-%04d", k.code(), i), k, len(f.devices), seed, zone, r)
			if k == Station {
				var size int
				if sc == nil {
					d.site = stations % len(f.centres)
					size = 15 + r.IntN(26)
				} else {
					d.site = stationSites[stations]
					size = residentsFor(sc.stationUses(d.site), r.Float64())
				}
				stations++
				for range size {
					d.residents = append(d.residents, f.residentFor(r))
				}
				for _, p := range d.residents {
					d.Residents = append(d.Residents, p.id)
				}
			} else {
				d.person = f.ownerFor(k, r)
				d.person.kinds = append(d.person.kinds, k)
				d.Patient = d.person.id
				d.applyProfile(ProfileFor(k, i))
			}
			f.devices = append(f.devices, d)
			f.byID[d.ID] = d
		}
	}
	f.place()
	if sc != nil {
		f.shape()
	}
	return f
}

// place puts each patient and home device at a centre. A patient belongs to the centre where
// they were first seen, in the order of the devices: the station's, for a resident first met at
// a station, otherwise the centre nearest their home. A home device belongs to its patient's
// centre, which lent it.
func (f *Fleet) place() {
	seen := make(map[*person]bool, len(f.patients))
	for _, d := range f.devices {
		if d.Kind == Station {
			for _, p := range d.residents {
				p.resident = true
				if !seen[p] {
					p.site, seen[p] = d.site, true
				}
			}
			continue
		}
		if !seen[d.person] {
			d.person.site, seen[d.person] = nearest(f.centres, d.person.home), true
		}
		d.site = d.person.site
	}
}

// shape gives each device the scenario's load of its centre, and marks the failing station:
// the last one of its centre.
func (f *Fleet) shape() {
	sc := f.scenario
	for _, d := range f.devices {
		if d.Kind == Station {
			d.schedule = stationSchedule(sc.stationUses(d.site))
			if d.site == sc.Failing {
				f.failing = d
			}
			continue
		}
		d.share = sc.homeShare(d.Kind, d.site)
	}
}

// ownerFor picks the patient of a new home device of kind k: sometimes an existing patient who
// has no device of that kind yet, otherwise a new one.
func (f *Fleet) ownerFor(k Kind, r *rand.Rand) *person {
	if len(f.patients) > 0 && r.Float64() < 0.35 {
		for range 3 {
			p := f.patients[r.IntN(len(f.patients))]
			if !slices.Contains(p.kinds, k) {
				return p
			}
		}
	}
	return f.newPerson(r)
}

// residentFor picks a station resident: half of them also have home devices or use another
// station.
func (f *Fleet) residentFor(r *rand.Rand) *person {
	if len(f.patients) > 0 && r.IntN(2) == 0 {
		return f.patients[r.IntN(len(f.patients))]
	}
	return f.newPerson(r)
}

func (f *Fleet) newPerson(r *rand.Rand) *person {
	p := newPerson(fmt.Sprintf("P-%06d", len(f.patients)+1), r)
	f.patients = append(f.patients, p)
	return p
}

// Devices returns the devices in a stable order (by kind as in Kinds, then by number).
func (f *Fleet) Devices() []*Device { return f.devices }

// Device returns the device with id, or nil.
func (f *Fleet) Device(id string) *Device { return f.byID[id] }

// Len is the number of devices.
func (f *Fleet) Len() int { return len(f.devices) }

// Scenario is the scenario that shapes the fleet, or nil.
func (f *Fleet) Scenario() *Scenario { return f.scenario }

// Failing is the scenario's failing station, or nil: it reports sensor_malfunction on its last
// day of readings in a history and sends nothing after (see Backlog).
func (f *Fleet) Failing() *Device { return f.failing }

// Site is the id of the centre device d belongs to.
func (f *Fleet) Site(d *Device) string { return f.centres[d.site].id }

// Patients returns the ids of every patient of the fleet, home device owners and station
// residents, in order of first use.
func (f *Fleet) Patients() []string {
	ids := make([]string, len(f.patients))
	for i, p := range f.patients {
		ids[i] = p.id
	}
	return ids
}

// localZone is where the simulated patients live; their days (meals, mornings) follow it. China
// Standard Time has no daylight saving, so a fixed zone is exact.
func localZone() *time.Location { return time.FixedZone("CST", 8*60*60) }
