package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/vitalwatch/vitalwatch/access"
	"github.com/vitalwatch/vitalwatch/devices"
)

// Patients: a doctor sees, creates, changes and transfers the patients of their own teams, an
// admin all of them; a fleet manager none.
func (a *API) patientRoutes() chi.Router {
	r := chi.NewRouter()
	r.Get("/", a.registry(a.listPatients))
	r.Post("/", a.registry(a.createPatient))
	r.Post("/import", a.registry(a.importPatients))
	r.Get("/{id}", a.registry(a.getPatient))
	r.Patch("/{id}", a.registry(a.updatePatient))
	r.Post("/{id}/transfer", a.registry(a.transferPatient))
	r.Get("/{id}/transfers", a.registry(a.listTransfers))
	return r
}

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

// doctors refuses a principal who may not work with patients at all.
func doctors(p *access.Principal) error { return roleIn(p, "see or change patients", access.Doctor) }

// patientFor returns the patient of the path's id when p may see it: NotFound if there is none,
// Forbidden if it is in a team that is not p's.
func (a *API) patientFor(r *http.Request, p *access.Principal) (devices.Patient, error) {
	id, err := pathID(r)
	if err != nil {
		return devices.Patient{}, err
	}
	pt, err := a.opts.Registry.GetPatient(r.Context(), id)
	if err != nil {
		return pt, err
	}
	if !p.CanTeam(pt.TeamID) {
		return pt, forbidden("patient %s is not in one of your teams", id)
	}
	return pt, nil
}

func (a *API) listPatients(w http.ResponseWriter, r *http.Request, p *access.Principal) error {
	if err := doctors(p); err != nil {
		return err
	}
	o, err := listParams(r, "team", "site")
	if err != nil {
		return err
	}
	var patients []devices.Patient
	switch {
	case p.IsAdmin():
		patients, err = a.opts.Registry.ListPatients(r.Context(), o)
	case o.Team != "":
		if !p.CanTeam(o.Team) {
			return forbidden("team %s is not one of yours", o.Team)
		}
		patients, err = a.opts.Registry.ListPatients(r.Context(), o)
	default:
		patients, err = listIn(r.Context(), o, p.Teams, func(o *devices.ListOptions, team string) { o.Team = team },
			a.opts.Registry.ListPatients, func(p devices.Patient) string { return p.ID })
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pageOf(patients, o.Limit, func(p devices.Patient) string { return p.ID }, patientOut))
	return nil
}

func (a *API) getPatient(w http.ResponseWriter, r *http.Request, p *access.Principal) error {
	if err := doctors(p); err != nil {
		return err
	}
	if _, err := queryParams(r); err != nil {
		return err
	}
	pt, err := a.patientFor(r, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, patientOut(pt))
	return nil
}

func (a *API) createPatient(w http.ResponseWriter, r *http.Request, p *access.Principal) error {
	if err := doctors(p); err != nil {
		return err
	}
	if _, err := queryParams(r); err != nil {
		return err
	}
	var j patientJSON
	has, err := decodeBody(r, &j, nil)
	if err != nil {
		return err
	}
	if err := required(has, "id", "team"); err != nil {
		return err
	}
	if !p.CanTeam(j.Team) {
		return forbidden("team %s is not one of yours", j.Team)
	}
	if err := a.opts.Registry.CreatePatient(r.Context(), j.patient()); err != nil {
		return err
	}
	writeCreated(w, r, j.ID, patientOut(j.patient()))
	return nil
}

func (a *API) updatePatient(w http.ResponseWriter, r *http.Request, p *access.Principal) error {
	if err := doctors(p); err != nil {
		return err
	}
	if _, err := queryParams(r); err != nil {
		return err
	}
	cur, err := a.patientFor(r, p)
	if err != nil {
		return err
	}
	var j patientJSON
	has, err := decodeBody(r, &j, map[string]string{
		"id":   "an id cannot change",
		"team": "move a patient to another team with POST /api/v1/patients/{id}/transfer",
	})
	if err != nil {
		return err
	}
	// Only the fields given: the team changes by a transfer, and neither that nor a change of
	// the other field made since cur was read may be undone.
	var c devices.PatientChange
	if has["plans"] {
		c.Plans = &j.Plans
	}
	if has["birth_year"] {
		c.BirthYear = &j.BirthYear
	}
	if err := a.opts.Registry.PatchPatient(r.Context(), cur.ID, c); err != nil {
		return err
	}
	now, err := a.opts.Registry.GetPatient(r.Context(), cur.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, patientOut(now))
	return nil
}

// transferPatient moves a patient of one of p's teams to any team. The old team's access ends
// with it.
func (a *API) transferPatient(w http.ResponseWriter, r *http.Request, p *access.Principal) error {
	if err := doctors(p); err != nil {
		return err
	}
	if _, err := queryParams(r); err != nil {
		return err
	}
	cur, err := a.patientFor(r, p)
	if err != nil {
		return err
	}
	var req transferRequest
	has, err := decodeBody(r, &req, nil)
	if err != nil {
		return err
	}
	if err := required(has, "team", "device_policy"); err != nil {
		return err
	}
	if req.DevicePolicy != devices.PolicyTravel && req.DevicePolicy != devices.PolicyReturn {
		return invalid("device_policy: must be " + devices.PolicyTravel + " (the devices lent to the patient go along) or " +
			devices.PolicyReturn + " (they are returned to their centre)")
	}
	if err := a.opts.Registry.TransferPatient(r.Context(), cur.ID, req.Team, req.DevicePolicy, timeOr(req.At)); err != nil {
		return err
	}
	trs, err := a.opts.Registry.Transfers(r.Context(), cur.ID)
	if err != nil {
		return err
	}
	if len(trs) == 0 {
		return errors.New("transfer of " + cur.ID + " is not recorded")
	}
	writeJSON(w, http.StatusOK, transferOut(trs[len(trs)-1]))
	return nil
}

func (a *API) listTransfers(w http.ResponseWriter, r *http.Request, p *access.Principal) error {
	if err := doctors(p); err != nil {
		return err
	}
	if _, err := queryParams(r); err != nil {
		return err
	}
	pt, err := a.patientFor(r, p)
	if err != nil {
		return err
	}
	trs, err := a.opts.Registry.Transfers(r.Context(), pt.ID)
	if err != nil {
		return err
	}
	out := page[transferJSON]{Items: make([]transferJSON, 0, len(trs))}
	for _, t := range trs {
		out.Items = append(out.Items, transferOut(t))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
