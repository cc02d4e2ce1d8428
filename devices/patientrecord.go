package devices

import "time"

// PatientRecord is one change to a patient as the registry's audit log records it: created,
// changed (team, plans) or transferred to another team, with the site of the team it left the
// patient in. Replayed in order, the changes say which centre each patient belonged to, with
// which care plans, at any time since the log began.
type PatientRecord struct {
	Patient string
	At      time.Time
	Site    string // the site of the patient's team after the change
	// Plans are the patient's care plans after the change; PlansSet is false for a transfer,
	// which keeps them.
	Plans    []string
	PlansSet bool
}
