package fhir

// The FHIR R4 (4.0.1) resources and datatypes this server writes, with only the elements it
// fills. They are small typed structs rather than a generated model of all of FHIR (see
// docs/fhir.md for why); the tests check every resource they produce against the official
// FHIR R4 JSON schema. Empty elements are left out, as FHIR JSON requires: an element is never
// null or empty.

// Coding is a code from a code system.
type Coding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

// CodeableConcept is a concept as codes and text.
type CodeableConcept struct {
	Coding []Coding `json:"coding,omitempty"`
	Text   string   `json:"text,omitempty"`
}

// Quantity is a measured amount in a UCUM unit.
type Quantity struct {
	Value  float64 `json:"value"`
	Unit   string  `json:"unit,omitempty"`
	System string  `json:"system,omitempty"`
	Code   string  `json:"code,omitempty"`
}

// Reference points at another resource, relative to the server's base ("Patient/P-1").
type Reference struct {
	Reference string `json:"reference,omitempty"`
	Display   string `json:"display,omitempty"`
}

// Identifier is a business identifier: a value unique in its system.
type Identifier struct {
	System string `json:"system,omitempty"`
	Value  string `json:"value,omitempty"`
}

// Period is a time range; either end may be open.
type Period struct {
	Start string `json:"start,omitempty"`
	End   string `json:"end,omitempty"`
}

// Annotation is a note.
type Annotation struct {
	Text string `json:"text"`
}

// Meta holds the profiles a resource claims to conform to.
type Meta struct {
	Profile []string `json:"profile,omitempty"`
}

// Extension is an extension with one of the value types used here.
type Extension struct {
	URL                  string           `json:"url"`
	ValueReference       *Reference       `json:"valueReference,omitempty"`
	ValueCodeableConcept *CodeableConcept `json:"valueCodeableConcept,omitempty"`
}

// Address is a postal address as text.
type Address struct {
	Text     string `json:"text,omitempty"`
	District string `json:"district,omitempty"`
}

// Observation is a measurement: a reading, or a figure of a CGM summary.
type Observation struct {
	ResourceType      string                 `json:"resourceType"`
	ID                string                 `json:"id,omitempty"`
	Meta              *Meta                  `json:"meta,omitempty"`
	Identifier        []Identifier           `json:"identifier,omitempty"`
	Status            string                 `json:"status"`
	Category          []CodeableConcept      `json:"category,omitempty"`
	Code              CodeableConcept        `json:"code"`
	Subject           *Reference             `json:"subject,omitempty"`
	EffectiveDateTime string                 `json:"effectiveDateTime,omitempty"`
	EffectivePeriod   *Period                `json:"effectivePeriod,omitempty"`
	ValueQuantity     *Quantity              `json:"valueQuantity,omitempty"`
	Note              []Annotation           `json:"note,omitempty"`
	Device            *Reference             `json:"device,omitempty"`
	HasMember         []Reference            `json:"hasMember,omitempty"`
	Component         []ObservationComponent `json:"component,omitempty"`
}

// ObservationComponent is one value of a panel, such as the systolic pressure of a BP reading.
type ObservationComponent struct {
	Code          CodeableConcept `json:"code"`
	ValueQuantity *Quantity       `json:"valueQuantity,omitempty"`
}

// Device is a registered device.
type Device struct {
	ResourceType   string                 `json:"resourceType"`
	ID             string                 `json:"id,omitempty"`
	Identifier     []Identifier           `json:"identifier,omitempty"`
	Status         string                 `json:"status,omitempty"`
	StatusReason   []CodeableConcept      `json:"statusReason,omitempty"`
	SerialNumber   string                 `json:"serialNumber,omitempty"`
	DeviceName     []DeviceName           `json:"deviceName,omitempty"`
	ModelNumber    string                 `json:"modelNumber,omitempty"`
	Type           *CodeableConcept       `json:"type,omitempty"`
	Specialization []DeviceSpecialization `json:"specialization,omitempty"`
	Version        []DeviceVersion        `json:"version,omitempty"`
	Patient        *Reference             `json:"patient,omitempty"`
	Owner          *Reference             `json:"owner,omitempty"`
}

// DeviceName is a name of a device, of a type such as model-name.
type DeviceName struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// DeviceSpecialization is a standard the device follows: its IEEE 11073 device specialization.
type DeviceSpecialization struct {
	SystemType CodeableConcept `json:"systemType"`
}

// DeviceVersion is a version of the device, such as its firmware.
type DeviceVersion struct {
	Type  *CodeableConcept `json:"type,omitempty"`
	Value string           `json:"value"`
}

// Patient is a resident, by pseudonymous id only.
type Patient struct {
	ResourceType         string       `json:"resourceType"`
	ID                   string       `json:"id,omitempty"`
	Identifier           []Identifier `json:"identifier,omitempty"`
	Active               bool         `json:"active"`
	GeneralPractitioner  []Reference  `json:"generalPractitioner,omitempty"`
	ManagingOrganization *Reference   `json:"managingOrganization,omitempty"`
}

// Organization is a family-doctor team or a community health centre (site).
type Organization struct {
	ResourceType string            `json:"resourceType"`
	ID           string            `json:"id,omitempty"`
	Identifier   []Identifier      `json:"identifier,omitempty"`
	Active       bool              `json:"active"`
	Type         []CodeableConcept `json:"type,omitempty"`
	Name         string            `json:"name,omitempty"`
	Address      []Address         `json:"address,omitempty"`
	PartOf       *Reference        `json:"partOf,omitempty"`
}

// Flag is a clinical alert: a warning about a patient to whoever looks at their record.
type Flag struct {
	ResourceType string            `json:"resourceType"`
	ID           string            `json:"id,omitempty"`
	Extension    []Extension       `json:"extension,omitempty"`
	Identifier   []Identifier      `json:"identifier,omitempty"`
	Status       string            `json:"status"`
	Category     []CodeableConcept `json:"category,omitempty"`
	Code         CodeableConcept   `json:"code"`
	Subject      Reference         `json:"subject"`
	Period       *Period           `json:"period,omitempty"`
}

// DetectedIssue is what a clinical alert found, with the readings that showed it as evidence.
type DetectedIssue struct {
	ResourceType       string                  `json:"resourceType"`
	ID                 string                  `json:"id,omitempty"`
	Identifier         []Identifier            `json:"identifier,omitempty"`
	Status             string                  `json:"status"`
	Code               *CodeableConcept        `json:"code,omitempty"`
	Severity           string                  `json:"severity,omitempty"`
	Patient            *Reference              `json:"patient,omitempty"`
	IdentifiedDateTime string                  `json:"identifiedDateTime,omitempty"`
	Evidence           []DetectedIssueEvidence `json:"evidence,omitempty"`
	Detail             string                  `json:"detail,omitempty"`
}

// DetectedIssueEvidence points at the resources that show the issue.
type DetectedIssueEvidence struct {
	Detail []Reference `json:"detail,omitempty"`
}

// Bundle is a page of search results.
type Bundle struct {
	ResourceType string        `json:"resourceType"`
	Type         string        `json:"type"`
	Total        *int          `json:"total,omitempty"`
	Link         []BundleLink  `json:"link,omitempty"`
	Entry        []BundleEntry `json:"entry,omitempty"`
}

// BundleLink is a link of a search page: self, next.
type BundleLink struct {
	Relation string `json:"relation"`
	URL      string `json:"url"`
}

// BundleEntry is one resource of a page.
type BundleEntry struct {
	FullURL  string        `json:"fullUrl,omitempty"`
	Resource any           `json:"resource,omitempty"`
	Search   *BundleSearch `json:"search,omitempty"`
}

// BundleSearch says why an entry is in a page: it matched, or it was included.
type BundleSearch struct {
	Mode string `json:"mode"`
}

// OperationOutcome is an error.
type OperationOutcome struct {
	ResourceType string  `json:"resourceType"`
	Issue        []Issue `json:"issue"`
}

// Issue is one problem of an OperationOutcome.
type Issue struct {
	Severity    string   `json:"severity"`
	Code        string   `json:"code"`
	Diagnostics string   `json:"diagnostics,omitempty"`
	Expression  []string `json:"expression,omitempty"`
}

// CapabilityStatement says what the server implements.
type CapabilityStatement struct {
	ResourceType   string                 `json:"resourceType"`
	Status         string                 `json:"status"`
	Date           string                 `json:"date"`
	Publisher      string                 `json:"publisher,omitempty"`
	Kind           string                 `json:"kind"`
	Software       *CapabilitySoftware    `json:"software,omitempty"`
	Implementation *CapabilityImplemented `json:"implementation,omitempty"`
	FHIRVersion    string                 `json:"fhirVersion"`
	Format         []string               `json:"format"`
	Rest           []CapabilityRest       `json:"rest"`
}

// CapabilitySoftware names the software.
type CapabilitySoftware struct {
	Name string `json:"name"`
}

// CapabilityImplemented is this installation.
type CapabilityImplemented struct {
	Description string `json:"description"`
	URL         string `json:"url,omitempty"`
}

// CapabilityRest is the RESTful API.
type CapabilityRest struct {
	Mode          string               `json:"mode"`
	Documentation string               `json:"documentation,omitempty"`
	Security      *CapabilitySecurity  `json:"security,omitempty"`
	Resource      []CapabilityResource `json:"resource"`
}

// CapabilitySecurity says how clients authenticate.
type CapabilitySecurity struct {
	Service     []CodeableConcept `json:"service,omitempty"`
	Description string            `json:"description,omitempty"`
}

// CapabilityResource is what the server does with one resource type.
type CapabilityResource struct {
	Type             string                `json:"type"`
	Profile          string                `json:"profile,omitempty"`
	SupportedProfile []string              `json:"supportedProfile,omitempty"`
	Documentation    string                `json:"documentation,omitempty"`
	Interaction      []CapabilityAction    `json:"interaction"`
	SearchParam      []CapabilityParam     `json:"searchParam,omitempty"`
	Operation        []CapabilityOperation `json:"operation,omitempty"`
}

// CapabilityAction is an interaction: read, search-type.
type CapabilityAction struct {
	Code string `json:"code"`
}

// CapabilityParam is a search parameter.
type CapabilityParam struct {
	Name          string `json:"name"`
	Definition    string `json:"definition,omitempty"`
	Type          string `json:"type"`
	Documentation string `json:"documentation,omitempty"`
}

// CapabilityOperation is an operation such as $everything.
type CapabilityOperation struct {
	Name          string `json:"name"`
	Definition    string `json:"definition"`
	Documentation string `json:"documentation,omitempty"`
}
