package simulators

import (
	"fmt"
	"slices"
	"time"

	"github.com/vitalwatch/vitalwatch/devices"
)

// ScriptLentBefore is how long before a script's start its devices entered service and its home
// devices were lent: every reading it sends, a backlog included, is credited to the patient.
const ScriptLentBefore = 30 * 24 * time.Hour

// Registry returns what the registry must hold to play the script started at start: its sites,
// teams, patients with their care plans, devices (in service, and home devices lent, from
// ScriptLentBefore before start; the calibration date start plus the device's offset) with
// their secrets (Secret of seed, as the fleet's), and the loans of its home devices.
func (s *Script) Registry(start time.Time, seed int64) *Registry {
	from := start.Add(-ScriptLentBefore)
	r := &Registry{
		Sites:    slices.Clone(s.Sites),
		Teams:    slices.Clone(s.Teams),
		Secrets:  make(map[string]string, len(s.Devices)),
		Patients: make([]devices.Patient, 0, len(s.Patients)),
	}
	for _, p := range s.Patients {
		p.Plans = slices.Clone(p.Plans)
		r.Patients = append(r.Patients, p)
	}
	for _, d := range s.Devices {
		m := models[d.Kind]
		dev := devices.Device{ID: d.ID, Kind: d.Kind.RegistryKind(), Model: m.model, Serial: m.serial + "-" + d.ID,
			Firmware: "1.0.0", SiteID: d.Site, Mode: d.Mode, Status: d.Status, RatedUsesPerDay: d.RatedUsesPerDay,
			InService: from}
		if d.HasCalibration {
			dev.NextCalibration = start.Add(d.NextCalibration)
		}
		r.Devices = append(r.Devices, dev)
		r.Secrets[d.ID] = Secret(seed, d.ID)
		if d.Patient != "" {
			r.Assignments = append(r.Assignments, devices.Assignment{DeviceID: d.ID, PatientID: d.Patient, From: from})
		}
	}
	return r
}

// AddScript adds the registry of the script started at start (Script.Registry) to r, a fleet's,
// so that the script plays on top of the fleet: a site or team that r has already is r's (a
// script may stage its day at one of the fleet's centres), while a patient or device of the
// script that r has already is an error, since the script must decide all it sends.
func (r *Registry) AddScript(s *Script, start time.Time, seed int64) error {
	sr := s.Registry(start, seed)
	for _, p := range sr.Patients {
		if slices.ContainsFunc(r.Patients, func(q devices.Patient) bool { return q.ID == p.ID }) {
			return fmt.Errorf("scenario %s: patient %s is also one of the fleet's", s.Name, p.ID)
		}
	}
	for _, d := range sr.Devices {
		if slices.ContainsFunc(r.Devices, func(e devices.Device) bool { return e.ID == d.ID }) {
			return fmt.Errorf("scenario %s: device %s is also one of the fleet's", s.Name, d.ID)
		}
	}
	for _, site := range sr.Sites {
		if !slices.ContainsFunc(r.Sites, func(x devices.Site) bool { return x.ID == site.ID }) {
			r.Sites = append(r.Sites, site)
		}
	}
	for _, t := range sr.Teams {
		if !slices.ContainsFunc(r.Teams, func(x devices.Team) bool { return x.ID == t.ID }) {
			r.Teams = append(r.Teams, t)
		}
	}
	r.Patients = append(r.Patients, sr.Patients...)
	r.Devices = append(r.Devices, sr.Devices...)
	r.Assignments = append(r.Assignments, sr.Assignments...)
	if r.Secrets == nil {
		r.Secrets = map[string]string{}
	}
	for id, secret := range sr.Secrets {
		r.Secrets[id] = secret
	}
	return nil
}
