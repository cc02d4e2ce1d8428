package simulators

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/vitalwatch/vitalwatch/devices"
)

// RegistryKind is the registry's name for a device of kind k. The names are the same today; the
// mapping is spelled out so that a rename on either side fails here, at compile time or in
// TestRegistryKind, and not in an import.
func (k Kind) RegistryKind() devices.Kind {
	switch k {
	case GlucoseMeter:
		return devices.GlucoseMeter
	case CGM:
		return devices.CGM
	case BPCuff:
		return devices.BPCuff
	case Oximeter:
		return devices.Oximeter
	case Wearable:
		return devices.Wearable
	case Station:
		return devices.Station
	case Thermometer:
		return devices.Thermometer
	case Scale:
		return devices.Scale
	}
	return ""
}

// Secret is the MQTT password of the simulated device id in a fleet of seed: the first 32
// characters (192 bits) of base64url(HMAC-SHA256(key "vitalsim:{seed}", id)). It is derived, not
// random, so that the registry export and a later run with the same --seed agree; anyone who
// knows the seed knows every secret, which is right for a simulator and for nothing else.
func Secret(seed int64, id string) string {
	mac := hmac.New(sha256.New, []byte("vitalsim:"+strconv.FormatInt(seed, 10)))
	mac.Write([]byte(id))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))[:32]
}

// Secret is the MQTT password of the fleet's device id (see the function Secret).
func (f *Fleet) Secret(id string) string { return Secret(f.Seed, id) }

// StationRatedUsesPerDay is the rated capacity of a simulated station. A station sees a
// resident about every 12 minutes from 08:00 to 17:00 and misses some slots (schedule.go), about
// 38 uses a day: 80% of 48, inside the 60-90% band that docs/design.md calls neither spare nor short.
const StationRatedUsesPerDay = 48

// AssignedDaysBefore is how long before the export the home devices were lent out.
const AssignedDaysBefore = 30

// Registry is the fleet as the device registry records it: the centres, their family-doctor
// teams, the patients, the devices with their secrets, and who has each home device.
type Registry struct {
	Sites       []devices.Site
	Teams       []devices.Team
	Patients    []devices.Patient
	Devices     []devices.Device // SecretHash is left empty: a hash is salted, the export is not
	Assignments []devices.Assignment
	Secrets     map[string]string // device id -> its Secret
	// Repairs are the devices' past repairs, in a registry of a history (RegistryOfHistory).
	Repairs []Repair
}

// centre is a simulated community health service centre. The names are of the kind found in
// southern Chengdu; the street addresses are invented.
type centre struct {
	id, name, short, district, address string
	lat, lon                           float64
}

// centres are the sites a fleet can have, in the order they are used. They lie within the area
// where the simulated patients live (person.go), a few kilometres apart.
func centres() []centre {
	return []centre{
		{"site-01", "Hongpailou Community Health Service Centre", "Hongpailou", "Wuhou", "18 Hongpailou Road, Wuhou District, Chengdu", 30.6010, 104.0320},
		{"site-02", "Shahe Community Health Service Centre", "Shahe", "Jinjiang", "102 Shahe Street, Jinjiang District, Chengdu", 30.5990, 104.0910},
		{"site-03", "Zhonghe Community Health Service Centre", "Zhonghe", "Gaoxin", "66 Zhonghe Avenue, Gaoxin District, Chengdu", 30.5420, 104.0620},
		{"site-04", "Guixi Community Health Service Centre", "Guixi", "Gaoxin", "233 Tianfu Avenue Middle, Gaoxin District, Chengdu", 30.5700, 104.0580},
		{"site-05", "Shiyang Community Health Service Centre", "Shiyang", "Gaoxin", "9 Jincheng Road, Gaoxin District, Chengdu", 30.5450, 104.1030},
		{"site-06", "Huayang Community Health Service Centre", "Huayang", "Tianfu New Area", "51 Huayang Street, Tianfu New Area, Chengdu", 30.5380, 104.0180},
	}
}

// siteCount is how many centres a fleet of n devices is spread over: 3 up to 199 devices, one
// more per hundred, at most 6.
func siteCount(n int) int { return min(max(2+n/100, 3), len(centres())) }

// teamsPerSite is the number of family-doctor teams at each centre.
const teamsPerSite = 2

// openingHours is when a centre, and so its stations, is open: the station schedule measures
// from 08:00 to 17:00 every day (schedule.go).
const openingHours = "Mon-Sun 08:00-17:00"

// models names an invented product for each kind, and the prefix of its serial numbers.
var models = map[Kind]struct{ model, serial string }{
	GlucoseMeter: {"VitalSim GM-200", "VSGM"},
	CGM:          {"VitalSim CGM-14", "VSCG"},
	BPCuff:       {"VitalSim BP-310", "VSBP"},
	Oximeter:     {"VitalSim OX-50", "VSOX"},
	Wearable:     {"VitalSim Band 3", "VSWB"},
	Station:      {"VitalSim Kiosk 8", "VSKS"},
	Thermometer:  {"VitalSim TH-2", "VSTH"},
	Scale:        {"VitalSim SC-180", "VSSC"},
}

// Registry returns the fleet as the registry records it, with home devices lent out
// AssignedDaysBefore days before now (at midnight in the patients' zone). Everything but that
// date is a function of the fleet.
//
// Stations go to the centres in turn, or as the fleet's scenario says. A patient belongs to the
// centre where they were first seen: the station's, for a resident first met at a station,
// otherwise the centre nearest their home; within a centre, to one of its teams. A home device
// belongs to its patient's centre, which lent it.
func (f *Fleet) Registry(now time.Time) *Registry {
	local := now.In(localZone())
	from := time.Date(local.Year(), local.Month(), local.Day()-AssignedDaysBefore, 0, 0, 0, 0, localZone())
	return f.registry(from, time.Time{})
}

// RegistrySince is the registry of a fleet whose history starts at start (see HistoryStart):
// as Registry, but every device has been in service, and every home device lent, since start,
// so that utilisation counts each day of the history.
func (f *Fleet) RegistrySince(start time.Time) *Registry {
	start = start.In(localZone())
	return f.registry(start, start)
}

// RegistryOfHistory is RegistrySince(start) with the repairs of the history that ends at end
// (Repairs): the registry that matches the history's readings.
func (f *Fleet) RegistryOfHistory(start, end time.Time) *Registry {
	r := f.RegistrySince(start)
	r.Repairs = f.Repairs(start, end)
	return r
}

// registry is the registry with home devices lent from lentFrom and devices in service from
// inService (zero: not recorded).
func (f *Fleet) registry(lentFrom, inService time.Time) *Registry {
	cs := f.centres
	r := &Registry{Secrets: make(map[string]string, len(f.devices))}
	for i, c := range cs {
		r.Sites = append(r.Sites, devices.Site{
			ID: c.id, Name: c.name, District: c.district, Address: c.address,
			Lat: c.lat, Lon: c.lon, TimeZone: "Asia/Shanghai", OpeningHours: openingHours,
		})
		for t := 1; t <= teamsPerSite; t++ {
			r.Teams = append(r.Teams, devices.Team{
				ID:     fmt.Sprintf("team-%02d-%d", i+1, t),
				SiteID: c.id,
				Name:   fmt.Sprintf("%s family doctor team %d", c.short, t),
			})
		}
	}

	for i, p := range f.patients {
		team := p.site*teamsPerSite + int(splitmix64(uint64(f.Seed)^uint64(i)<<8)%teamsPerSite)
		r.Patients = append(r.Patients, devices.Patient{ID: p.id, TeamID: r.Teams[team].ID, Plans: p.plans(p.resident)})
	}

	rated := StationRatedUsesPerDay
	if f.scenario != nil {
		rated = f.scenario.RatedUsesPerDay
	}
	for _, d := range f.devices {
		m := models[d.Kind]
		dev := devices.Device{
			ID: d.ID, Kind: d.Kind.RegistryKind(), Model: m.model,
			// A lot number from the seed, then the device's place in the fleet: unique.
			Serial:   fmt.Sprintf("%s-%04d-%05d", m.serial, splitmix64(uint64(f.Seed)^streamSeed(d.index, 3))%10000, d.index+1),
			Firmware: d.Firmware, SiteID: cs[d.site].id, Mode: devices.Home, Status: devices.Active,
			InService: inService,
		}
		if d.Kind == Station {
			dev.Mode, dev.RatedUsesPerDay = devices.StationMode, rated
		} else {
			r.Assignments = append(r.Assignments, devices.Assignment{DeviceID: d.ID, PatientID: d.Patient, From: lentFrom})
		}
		r.Devices = append(r.Devices, dev)
		r.Secrets[d.ID] = f.Secret(d.ID)
	}
	return r
}

// nearest is the index of the centre closest to home, by equirectangular distance (exact enough
// across a city).
func nearest(cs []centre, home [2]float64) int {
	best, bestD := 0, math.Inf(1)
	for i, c := range cs {
		dLat := c.lat - home[0]
		dLon := (c.lon - home[1]) * math.Cos(home[0]*math.Pi/180)
		if d := dLat*dLat + dLon*dLon; d < bestD {
			best, bestD = i, d
		}
	}
	return best
}

// plans are the patient's care plans, in the form "condition: measurement frequency": daily for
// what a home device of theirs or a station visit measures (a station sees each resident about
// daily), monthly at the clinic otherwise. Patients with none of the simulated conditions have
// no plan.
func (p *person) plans(resident bool) []string {
	has := func(kinds ...Kind) bool {
		return slices.ContainsFunc(kinds, func(k Kind) bool { return slices.Contains(p.kinds, k) })
	}
	freq := func(measured bool) string {
		if measured {
			return "daily"
		}
		return "monthly"
	}
	var plans []string
	if p.hypertensive {
		plans = append(plans, "hypertension: BP "+freq(resident || has(BPCuff)))
	}
	if p.diabetic {
		plans = append(plans, "diabetes: glucose "+freq(resident || has(GlucoseMeter, CGM)))
	}
	if p.lungDisease {
		plans = append(plans, "COPD: SpO2 "+freq(has(Oximeter, Wearable)))
	}
	return plans
}
