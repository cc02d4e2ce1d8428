package api

import (
	"errors"
	"time"

	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/devices/csvimport"
)

// Patients: a doctor sees, creates, changes and transfers the patients of their own teams, an
// admin all of them; a fleet manager none.

// patientJSON is a patient as the API shows it, and the body that creates one.
type patientJSON struct {
	ID    string   `json:"id"`
	Team  string   `json:"team"`
	Plans []string `json:"plans"` // care plans such as "hypertension: BP daily"
	// BirthYear is the year of birth, only the year (devices.Patient): absent when unknown; 0
	// or null in a request makes it unknown.
	BirthYear int `json:"birth_year,omitempty"`
}

func patientOut(p devices.Patient) patientJSON {
	j := patientJSON{ID: p.ID, Team: p.TeamID, Plans: p.Plans, BirthYear: p.BirthYear}
	if j.Plans == nil {
		j.Plans = []string{}
	}
	return j
}

func (j patientJSON) patient() devices.Patient {
	return devices.Patient{ID: j.ID, TeamID: j.Team, Plans: j.Plans, BirthYear: j.BirthYear}
}

// transferRequest moves a patient to another team.
type transferRequest struct {
	Team         string    `json:"team"`
	DevicePolicy string    `json:"device_policy"` // travel or return
	At           time.Time `json:"at,omitzero"`   // default now
}

// transferJSON is a patient's move to another team, as recorded.
type transferJSON struct {
	Patient      string    `json:"patient"`
	FromTeam     string    `json:"from_team"`
	ToTeam       string    `json:"to_team"`
	At           time.Time `json:"at"`
	Actor        string    `json:"actor"`
	DevicePolicy string    `json:"device_policy"`
}

func transferOut(t devices.Transfer) transferJSON {
	return transferJSON{Patient: t.PatientID, FromTeam: t.FromTeam, ToTeam: t.ToTeam, At: t.At, Actor: t.Actor,
		DevicePolicy: t.DevicePolicy}
}

// patients serves the patients' routes, each limited to the caller's teams.
func (a *API) patients() resource[devices.Patient, patientJSON] {
	return resource[devices.Patient, patientJSON]{reg: a.opts.Registry,
		get: Registry.GetPatient, list: Registry.ListPatients, create: Registry.CreatePatient,
		createAll: Registry.CreatePatients, parse: csvimport.Patients,
		id: func(p devices.Patient) string { return p.ID }, out: patientOut,
		in:      func(j patientJSON) (devices.Patient, error) { return j.patient(), nil },
		scopeBy: "team", scopeOf: func(p devices.Patient) string { return p.TeamID },
		outside: "patient %s is not in one of your teams"}
}

// updatePatient changes the fields given.
func (a *API) updatePatient(c *call) error {
	cur, err := a.patients().one(c)
	if err != nil {
		return err
	}
	var j patientJSON
	has, err := c.decode(&j)
	if err != nil {
		return err
	}
	// Only the fields given: the team changes by a transfer, and neither that nor a change of
	// the other field made since cur was read may be undone.
	var ch devices.PatientChange
	if has["plans"] {
		ch.Plans = &j.Plans
	}
	if has["birth_year"] {
		ch.BirthYear = &j.BirthYear
	}
	if err := a.opts.Registry.PatchPatient(c.Context(), cur.ID, ch); err != nil {
		return err
	}
	now, err := a.opts.Registry.GetPatient(c.Context(), cur.ID)
	if err != nil {
		return err
	}
	return c.reply(patientOut(now))
}

// transferPatient moves a patient of one of the caller's teams to any team. The old team's
// access ends with it.
func (a *API) transferPatient(c *call) error {
	cur, err := a.patients().one(c)
	if err != nil {
		return err
	}
	var req transferRequest
	if _, err := c.decode(&req); err != nil {
		return err
	}
	if req.DevicePolicy != devices.PolicyTravel && req.DevicePolicy != devices.PolicyReturn {
		return invalid("device_policy: must be " + devices.PolicyTravel + " (the devices lent to the patient go along) or " +
			devices.PolicyReturn + " (they are returned to their centre)")
	}
	if err := a.opts.Registry.TransferPatient(c.Context(), cur.ID, req.Team, req.DevicePolicy, timeOr(req.At)); err != nil {
		return err
	}
	trs, err := a.opts.Registry.Transfers(c.Context(), cur.ID)
	if err != nil {
		return err
	}
	if len(trs) == 0 {
		return errors.New("transfer of " + cur.ID + " is not recorded")
	}
	return c.reply(transferOut(trs[len(trs)-1]))
}

func (a *API) listTransfers(c *call) error {
	pt, err := a.patients().one(c)
	if err != nil {
		return err
	}
	trs, err := a.opts.Registry.Transfers(c.Context(), pt.ID)
	if err != nil {
		return err
	}
	return c.reply(pageOf(trs, 0, nil, transferOut))
}
