package rules

// Kinds of threshold overrides: whose thresholds they change. The store keeps a team's
// under its team id and a patient's under the patient id.
const (
	TeamOverrides    = "team"
	PatientOverrides = "patient"
)
