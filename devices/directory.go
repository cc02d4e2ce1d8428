package devices

import (
	"maps"
	"slices"
	"sync/atomic"
	"time"
)

// Directory is an immutable snapshot of the registry, built for lookups on every message:
// which device is this, where is it, whose reading is this. Build a new one when the registry
// changes and swap it in through a View.
type Directory struct {
	version  int64
	devices  map[string]*entry
	patients map[string]struct{}
	zones    map[string]*time.Location // by site id
	sites    map[string]*Site
	people   map[string]*Patient // with team and plans, when WithPatients was given them
}

type entry struct {
	device      Device
	assignments []Assignment // by From
}

// NewDirectory builds a directory from the registry's devices, assignments and patient ids.
// version identifies the registry state it reflects.
func NewDirectory(version int64, devs []Device, assigns []Assignment, patients []string) *Directory {
	d := &Directory{version: version, devices: make(map[string]*entry, len(devs)), patients: make(map[string]struct{}, len(patients))}
	for _, dev := range devs {
		d.devices[dev.ID] = &entry{device: dev}
	}
	for _, a := range assigns {
		if e, ok := d.devices[a.DeviceID]; ok {
			e.assignments = append(e.assignments, a)
		}
	}
	for _, e := range d.devices {
		slices.SortFunc(e.assignments, func(a, b Assignment) int { return a.From.Compare(b.From) })
	}
	for _, p := range patients {
		d.patients[p] = struct{}{}
	}
	return d
}

// WithSites records the sites' time zones, for Location, and returns d. Call it while building
// the directory, before it is shared.
func (d *Directory) WithSites(sites []Site) *Directory {
	d.zones = make(map[string]*time.Location, len(sites))
	d.sites = make(map[string]*Site, len(sites))
	for _, s := range sites {
		d.sites[s.ID] = &s
		if loc, err := time.LoadLocation(s.TimeZone); err == nil && s.TimeZone != "" {
			d.zones[s.ID] = loc
		}
	}
	return d
}

// Location returns the time zone of the site, in which its days are counted: UTC when the site
// has none or is unknown.
func (d *Directory) Location(siteID string) *time.Location {
	if loc, ok := d.zones[siteID]; ok {
		return loc
	}
	return time.UTC
}

// WithPatients records the patients' teams and care plans, for Patient, and returns d. Call it
// while building the directory, before it is shared.
func (d *Directory) WithPatients(ps []Patient) *Directory {
	d.people = make(map[string]*Patient, len(ps))
	for _, p := range ps {
		d.people[p.ID] = &p
		d.patients[p.ID] = struct{}{}
	}
	return d
}

// Site returns the site with the id. The value is the directory's own: do not change it.
func (d *Directory) Site(id string) (*Site, bool) {
	s, ok := d.sites[id]
	return s, ok
}

// Patient returns the patient with the id, with team and plans. The value is the directory's
// own: do not change it.
func (d *Directory) Patient(id string) (*Patient, bool) {
	p, ok := d.people[id]
	return p, ok
}

// Patients calls fn for every patient given to WithPatients, in no order, until fn returns false.
func (d *Directory) Patients(fn func(p *Patient) bool) {
	for _, p := range d.people {
		if !fn(p) {
			return
		}
	}
}

// Version is the registry state the directory reflects.
func (d *Directory) Version() int64 { return d.version }

// Len is the number of devices.
func (d *Directory) Len() int { return len(d.devices) }

// Device returns the device with the given id.
func (d *Directory) Device(id string) (*Device, bool) {
	e, ok := d.devices[id]
	if !ok {
		return nil, false
	}
	return &e.device, true
}

// Assignments returns the device's assignments, oldest first (nil for an unknown device). The
// slice is the directory's own: do not change it.
func (d *Directory) Assignments(deviceID string) []Assignment {
	if e, ok := d.devices[deviceID]; ok {
		return e.assignments
	}
	return nil
}

// PatientAt returns the patient a home device was assigned to at t, or "" if none.
func (d *Directory) PatientAt(deviceID string, t time.Time) string {
	e, ok := d.devices[deviceID]
	if !ok {
		return ""
	}
	// Assignments of one device do not overlap; the last one starting at or before t is the
	// only candidate.
	as := e.assignments
	i, _ := slices.BinarySearchFunc(as, t, func(a Assignment, t time.Time) int {
		if a.From.After(t) {
			return 1
		}
		return -1
	})
	if i > 0 && as[i-1].Covers(t) {
		return as[i-1].PatientID
	}
	return ""
}

// HasPatient reports whether the registry knows the patient id.
func (d *Directory) HasPatient(id string) bool {
	_, ok := d.patients[id]
	return ok
}

// View holds the current Directory; readers never wait for a refresh.
type View struct {
	p atomic.Pointer[Directory]
}

// NewView returns a view of d.
func NewView(d *Directory) *View {
	v := &View{}
	v.p.Store(d)
	return v
}

// Load returns the current directory.
func (v *View) Load() *Directory { return v.p.Load() }

// Store replaces the directory.
func (v *View) Store(d *Directory) { v.p.Store(d) }

// Devices calls fn for every device with its assignments (oldest first), in no particular
// order, until fn returns false. The values are the directory's own: do not change them.
func (d *Directory) Devices(fn func(dev *Device, assignments []Assignment) bool) {
	for _, e := range d.devices {
		if !fn(&e.device, e.assignments) {
			return
		}
	}
}

// Amend returns a directory of version that is d but for: the devices ids, replaced by those of
// devs with their assignments assigns (an id not among devs is gone); the patients pids,
// replaced by those of people (an id not among them is gone); and the sites, which are sites.
// d is left as it is, and shares with the new directory what did not change: a registry change
// mostly touches a device or a patient, and a city has a hundred thousand of each.
func (d *Directory) Amend(version int64, ids []string, devs []Device, assigns []Assignment, pids []string, people []Patient, sites []Site) *Directory {
	n := &Directory{version: version, devices: maps.Clone(d.devices), patients: maps.Clone(d.patients), people: maps.Clone(d.people)}
	if n.devices == nil {
		n.devices = map[string]*entry{}
	}
	if n.patients == nil {
		n.patients = map[string]struct{}{}
	}
	for _, id := range ids {
		delete(n.devices, id)
	}
	added := make(map[string]*entry, len(devs))
	for _, dev := range devs {
		e := &entry{device: dev}
		n.devices[dev.ID] = e
		added[dev.ID] = e
	}
	for _, a := range assigns {
		if e, ok := added[a.DeviceID]; ok {
			e.assignments = append(e.assignments, a)
		}
	}
	for _, e := range added {
		slices.SortFunc(e.assignments, func(a, b Assignment) int { return a.From.Compare(b.From) })
	}
	for _, id := range pids {
		delete(n.patients, id)
		delete(n.people, id)
	}
	if len(people) > 0 && n.people == nil {
		n.people = make(map[string]*Patient, len(people))
	}
	for _, p := range people {
		n.people[p.ID] = &p
		n.patients[p.ID] = struct{}{}
	}
	return n.WithSites(sites)
}
