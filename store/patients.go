package store

import (
	"context"
	"database/sql"
	"encoding/json"

	"github.com/vitalwatch/vitalwatch/devices"
)

const patientColumns = `p.id, p.team_id, p.plans, p.birth_year`

func scanPatient(sc scanner) (devices.Patient, error) {
	var p devices.Patient
	var plans string
	var birthYear sql.NullInt64
	if err := sc.Scan(&p.ID, &p.TeamID, &plans, &birthYear); err != nil {
		return p, err
	}
	if err := json.Unmarshal([]byte(plans), &p.Plans); err != nil {
		return p, err
	}
	if len(p.Plans) == 0 {
		p.Plans = nil
	}
	p.BirthYear = int(birthYear.Int64) // NULL: 0, unknown
	return p, nil
}

// plansJSON is how care plans are stored: a JSON array, [] for none.
func plansJSON(plans []string) string {
	if plans == nil {
		plans = []string{}
	}
	b, _ := json.Marshal(plans) // strings always marshal
	return string(b)
}

// birthYearColumn is how a birth year is stored: NULL when unknown.
func birthYearColumn(year int) sql.NullInt64 {
	return sql.NullInt64{Int64: int64(year), Valid: year != 0}
}

// patientDetail is a patient as the audit log records it; an unknown birth year is left out.
func patientDetail(p devices.Patient) any {
	plans := p.Plans
	if plans == nil {
		plans = []string{}
	}
	return struct {
		Team      string   `json:"team"`
		Plans     []string `json:"plans"`
		BirthYear int      `json:"birth_year,omitempty"`
	}{p.TeamID, plans, p.BirthYear}
}

// CreatePatient adds a patient to an existing team; Conflict if the id is taken.
func (s *Registry) CreatePatient(ctx context.Context, p devices.Patient) error {
	if err := p.ValidateAt(s.now()); err != nil {
		return err
	}
	return s.change(ctx, "patient.create", "patient/"+p.ID, func(tx *sql.Tx) (any, error) {
		return insertPatient(ctx, tx, p)
	})
}

// insertPatient adds a valid patient in tx and returns its audit detail; Conflict if the id is
// taken, Invalid if the team does not exist.
func insertPatient(ctx context.Context, tx *sql.Tx, p devices.Patient) (any, error) {
	if err := mustBeNew(ctx, tx, "patient", p.ID, `SELECT 1 FROM patients WHERE id = $1`); err != nil {
		return nil, onField("id", err)
	}
	if err := mustExist(ctx, tx, "team", p.TeamID, `SELECT 1 FROM teams WHERE id = $1`); err != nil {
		return nil, onField("team", err)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO patients (id, team_id, plans, birth_year) VALUES ($1, $2, $3, $4)`,
		p.ID, p.TeamID, plansJSON(p.Plans), birthYearColumn(p.BirthYear))
	return patientDetail(p), err
}

// UpdatePatient replaces the patient's team, care plans and birth year; NotFound if there is
// no such patient. The patient id, and so the reading history, stay. It neither records a transfer nor
// settles the devices lent to the patient: to move a patient, use TransferPatient.
func (s *Registry) UpdatePatient(ctx context.Context, p devices.Patient) error {
	if err := p.ValidateAt(s.now()); err != nil {
		return err
	}
	return s.change(ctx, "patient.update", "patient/"+p.ID, func(tx *sql.Tx) (any, error) {
		if err := mustFind(ctx, tx, "patient", p.ID, `SELECT 1 FROM patients WHERE id = $1`); err != nil {
			return nil, err
		}
		if err := mustExist(ctx, tx, "team", p.TeamID, `SELECT 1 FROM teams WHERE id = $1`); err != nil {
			return nil, onField("team", err)
		}
		_, err := tx.ExecContext(ctx, `UPDATE patients SET team_id = $2, plans = $3, birth_year = $4 WHERE id = $1`,
			p.ID, p.TeamID, plansJSON(p.Plans), birthYearColumn(p.BirthYear))
		return patientDetail(p), err
	})
}

// SetPatientPlans replaces the patient's care plans and nothing else; NotFound if there is no
// such patient. Unlike UpdatePatient it cannot move the patient, so a change of plans based on
// what was read before a transfer cannot undo the transfer.
func (s *Registry) SetPatientPlans(ctx context.Context, id string, plans []string) error {
	return s.PatchPatient(ctx, id, devices.PatientChange{Plans: &plans})
}

// PatchPatient changes the fields of c and nothing else, in one audited transaction; NotFound
// if there is no such patient, Invalid (naming the field) if the result is not a valid patient.
// Fields left nil keep their stored values, whatever the caller read before, so a change of the
// birth year cannot undo a concurrent change of the plans or a transfer.
func (s *Registry) PatchPatient(ctx context.Context, id string, c devices.PatientChange) error {
	return s.change(ctx, "patient.update", "patient/"+id, func(tx *sql.Tx) (any, error) {
		p, err := getOne(ctx, tx, "patient", id, `SELECT `+patientColumns+` FROM patients p WHERE p.id = $1`, scanPatient)
		if err != nil {
			return nil, err
		}
		if c.Plans != nil {
			p.Plans = *c.Plans
		}
		if c.BirthYear != nil {
			p.BirthYear = *c.BirthYear
		}
		if err := p.ValidateAt(s.now()); err != nil {
			return nil, err
		}
		_, err = tx.ExecContext(ctx, `UPDATE patients SET plans = $2, birth_year = $3 WHERE id = $1`,
			id, plansJSON(p.Plans), birthYearColumn(p.BirthYear))
		return patientDetail(p), err
	})
}

// GetPatient returns the patient with the id; NotFound if there is none.
func (s *Registry) GetPatient(ctx context.Context, id string) (devices.Patient, error) {
	return getOne(ctx, s.readers, "patient", id, `SELECT `+patientColumns+` FROM patients p WHERE p.id = $1`, scanPatient)
}

// ListPatients returns a page of patients by id, optionally of one team, or of the teams of
// one site.
func (s *Registry) ListPatients(ctx context.Context, o devices.ListOptions) ([]devices.Patient, error) {
	if err := only(o, "patients", "team", "site"); err != nil {
		return nil, err
	}
	w := &where{}
	from := "patients p"
	if o.Team != "" {
		w.add("p.team_id = ?", o.Team)
	}
	if o.Site != "" {
		from = "patients p JOIN teams t ON t.id = p.team_id"
		w.add("t.site_id = ?", o.Site)
	}
	return list(ctx, s.DB, "patients", patientColumns, from, "p.id", w, o, scanPatient)
}
