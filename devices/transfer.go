package devices

import "time"

// Device policies of a patient transfer: what becomes of the home devices lent to the patient.
const (
	// PolicyTravel sends each device along: its site becomes the new team's site, and the loan
	// continues, so its readings go on being credited to the patient.
	PolicyTravel = "travel"
	// PolicyReturn ends each loan at the time of the transfer; the device stays at its site, in
	// the pool, to be lent again.
	PolicyReturn = "return"
)

// Transfer is a patient's move from one team to another, as the registry records it.
type Transfer struct {
	ID           int64
	PatientID    string
	FromTeam     string
	ToTeam       string
	At           time.Time
	Actor        string
	DevicePolicy string // PolicyTravel or PolicyReturn
}
