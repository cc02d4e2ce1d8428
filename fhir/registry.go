package fhir

import (
	"github.com/vitalwatch/vitalwatch/devices"
)

// The registry's rows as resources: a patient (by pseudonymous id only: the registry keeps no
// name, and the birth year stays in VitalWatch), a device, and a team or a site as an
// Organization.

// patientResource is p, managed by its team (as its general practitioner, an Organization) and
// the team's site.
func patientResource(p devices.Patient, team devices.Team) Patient {
	gp := teamRef(team.ID)
	gp.Display = team.Name
	site := siteRef(team.SiteID)
	return Patient{ResourceType: "Patient", ID: registryID("", p.ID),
		Identifier: []Identifier{{System: systemPatient, Value: p.ID}}, Active: true,
		GeneralPractitioner: []Reference{gp}, ManagingOrganization: &site}
}

// deviceResource is d, lent to patient now ("" for none).
func deviceResource(d devices.Device, patient string) Device {
	out := Device{ResourceType: "Device", ID: registryID("", d.ID), Identifier: []Identifier{{System: systemDevice, Value: d.ID}},
		Status: "inactive", SerialNumber: d.Serial, ModelNumber: d.Model}
	// Only an active device is in service; the registry's status says why another is not.
	if d.Status.InService() {
		out.Status = "active"
	}
	out.StatusReason = []CodeableConcept{{Text: string(d.Status)}}
	if d.Model != "" {
		out.DeviceName = []DeviceName{{Name: d.Model, Type: "model-name"}}
	}
	t := deviceType(d.Kind)
	out.Type = &t
	if len(t.Coding) > 0 {
		out.Specialization = []DeviceSpecialization{{SystemType: CodeableConcept{Coding: t.Coding}}}
	}
	if d.Firmware != "" {
		out.Version = []DeviceVersion{{Type: &firmwareVersion, Value: d.Firmware}}
	}
	if patient != "" {
		ref := patientRef(patient)
		out.Patient = &ref
	}
	owner := siteRef(d.SiteID)
	out.Owner = &owner
	return out
}

// teamResource is a family-doctor team, part of its site.
func teamResource(t devices.Team) Organization {
	site := siteRef(t.SiteID)
	return Organization{ResourceType: "Organization", ID: registryID(teamPrefix, t.ID),
		Identifier: []Identifier{{System: systemTeam, Value: t.ID}}, Active: true,
		Type: []CodeableConcept{{Coding: []Coding{{System: systemOrgType, Code: "team", Display: "Organizational team"}}}},
		Name: t.Name, PartOf: &site}
}

// siteResource is a community health centre.
func siteResource(s devices.Site) Organization {
	out := Organization{ResourceType: "Organization", ID: registryID(sitePrefix, s.ID),
		Identifier: []Identifier{{System: systemSite, Value: s.ID}}, Active: true,
		Type: []CodeableConcept{{Coding: []Coding{{System: systemOrgType, Code: "prov", Display: "Healthcare Provider"}}}},
		Name: s.Name}
	if s.Address != "" || s.District != "" {
		out.Address = []Address{{Text: s.Address, District: s.District}}
	}
	return out
}
