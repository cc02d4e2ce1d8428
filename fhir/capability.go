package fhir

import "slices"

// GET /fhir/r4/metadata: the CapabilityStatement, which lists exactly what this server does:
// the resources, their interactions, search parameters and operations. It needs no
// credentials, as FHIR clients read it before they sign in.

// capabilityDate is when this statement last changed.
const capabilityDate = "2026-12-07"

// capabilities serves GET metadata.
func (s *Server) capabilities(c *call) error {
	read := []CapabilityAction{{Code: "read"}}
	readSearch := []CapabilityAction{{Code: "read"}, {Code: "search-type"}}
	patient := func(doc string) CapabilityParam {
		return CapabilityParam{Name: "patient", Type: "reference", Definition: "http://hl7.org/fhir/SearchParameter/clinical-patient", Documentation: doc}
	}
	var observationProfiles []string
	for _, k := range kinds {
		for _, p := range k.profiles {
			if !slices.Contains(observationProfiles, p) {
				observationProfiles = append(observationProfiles, p)
			}
		}
	}
	for _, p := range summaryParts {
		observationProfiles = append(observationProfiles, profileCGMBase+p.profile)
	}
	cs := CapabilityStatement{ResourceType: "CapabilityStatement", Status: "active", Date: capabilityDate,
		Publisher: "VitalWatch", Kind: "instance", Software: &CapabilitySoftware{Name: "VitalWatch"},
		Implementation: &CapabilityImplemented{Description: "VitalWatch: readings of community health devices, the registry of patients (by pseudonymous id) and devices, and clinical alerts, read-only",
			URL: c.base()},
		FHIRVersion: "4.0.1", Format: []string{"json"},
		Rest: []CapabilityRest{{Mode: "server",
			Documentation: "Read-only. Searches answer searchset Bundles of at most _count entries (1-500, default 100), newest first, with a next link while there are more; an unknown parameter is a 400. Errors are OperationOutcomes.",
			Security: &CapabilitySecurity{Service: []CodeableConcept{{Text: "Bearer API token, or the web app's session cookie"}},
				Description: "Send Authorization: Bearer TOKEN (a VitalWatch API token). A doctor sees the patients of their teams, a fleet manager the devices of their sites, an admin everything."},
			Resource: []CapabilityResource{
				{Type: "Patient", Interaction: read, Documentation: "A resident by pseudonymous id, with their family-doctor team as generalPractitioner",
					Operation: []CapabilityOperation{{Name: "everything", Definition: "http://hl7.org/fhir/OperationDefinition/Patient-everything",
						Documentation: "The patient, their team and site, the devices lent to them, their CGM summary, clinical alerts and readings; parameters start, end (dates) and _count"}}},
				{Type: "Observation", Interaction: readSearch, Profile: "http://hl7.org/fhir/StructureDefinition/Observation", SupportedProfile: observationProfiles,
					Documentation: "Each accepted reading (vital-signs profile), and the CGM summary of the HL7 CGM IG",
					SearchParam: []CapabilityParam{
						patient("Required"),
						{Name: "code", Type: "token", Definition: "http://hl7.org/fhir/SearchParameter/clinical-code", Documentation: "LOINC or IEEE 11073 codes of readings, or the CGM summary's codes (then without date)"},
						{Name: "date", Type: "date", Definition: "http://hl7.org/fhir/SearchParameter/clinical-date", Documentation: "The measurement time; prefixes eq, ge, gt, le, lt; repeatable"},
					}},
				{Type: "Device", Interaction: readSearch, Documentation: "A registered device with its IEEE 11073 type",
					SearchParam: []CapabilityParam{{Name: "patient", Type: "reference", Definition: "http://hl7.org/fhir/SearchParameter/Device-patient",
						Documentation: "The devices lent to the patient now; without it, a fleet manager's sites' devices (an admin's: all)"}}},
				{Type: "Organization", Interaction: read, Documentation: "A family-doctor team (team-...) or a community health centre (site-...)"},
				{Type: "Flag", Interaction: readSearch, Documentation: "A clinical alert; its DetectedIssue (flag-detail) holds the readings that raised it",
					SearchParam: []CapabilityParam{patient("The patient's flags"),
						{Name: "status", Type: "token", Documentation: "VitalWatch's own (FHIR R4 defines no status search on Flag): active (open or acknowledged) or inactive (resolved)"}}},
				{Type: "DetectedIssue", Interaction: read, Documentation: "What a clinical alert found, with its evidence readings as Observations"},
			}}}}
	return s.reply(c, cs)
}
