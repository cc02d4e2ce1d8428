package api

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/vitalwatch/vitalwatch/access"
	"github.com/vitalwatch/vitalwatch/alerts/rules"
	"github.com/vitalwatch/vitalwatch/errcode"
)

// Threshold overrides of a team or a patient: GET, PUT and DELETE on /teams/{id}/overrides and
// /patients/{id}/overrides. Doctors of the team (of the patient's team now) and admins; a fleet
// manager has no business with them (403 whatever the id). Each change is a registry change,
// audited; the alert service of every instance picks it up with the next registry refresh.

// OverrideStore keeps the overrides; package store implements it.
type OverrideStore interface {
	Overrides(ctx context.Context, kind, id string) (rules.Overrides, error)
	SetOverrides(ctx context.Context, kind, id string, o rules.Overrides) error
	DeleteOverrides(ctx context.Context, kind, id string) error
}

// OverrideValidator checks overrides against the rules in force (*rules.Rules): an error
// names each rule and key that is wrong.
type OverrideValidator interface {
	ValidateOverrides(o rules.Overrides) error
}

// overrideRoutes adds the override routes to r (the authenticated /api/v1 group). They sit
// beside the teams' and patients' own routes, which the registry mounts.
func (a *API) overrideRoutes(r chi.Router) {
	for _, kind := range []string{rules.TeamOverrides, rules.PatientOverrides} {
		path := "/" + kind + "s/{id}/overrides"
		r.Get(path, a.registry(a.overrides(kind, a.getOverrides)))
		r.Put(path, a.registry(a.overrides(kind, a.putOverrides)))
		r.Delete(path, a.registry(a.overrides(kind, a.deleteOverrides)))
	}
}

// overridesJSON is the overrides of a team or patient as the API shows them, and the body that
// sets them: per rule id, per threshold key, a number in the rule's unit or a duration such as
// "20m".
type overridesJSON struct {
	Subject   string          `json:"subject"` // team/<id> or patient/<id>
	Overrides json.RawMessage `json:"overrides"`
}

// overridesRequest replaces a team's or patient's overrides; {} removes them all.
type overridesRequest struct {
	Overrides json.RawMessage `json:"overrides"`
}

func overridesOut(kind, id string, o rules.Overrides) (overridesJSON, error) {
	if o == nil {
		o = rules.Overrides{}
	}
	b, err := json.Marshal(o)
	return overridesJSON{Subject: kind + "/" + id, Overrides: b}, err
}

type overridesHandler func(w http.ResponseWriter, r *http.Request, kind, id string) error

// overrides checks access to the team or patient of the path, in the registry's order: the role
// (doctors and admins), the id (404), the scope (403); then runs h.
func (a *API) overrides(kind string, h overridesHandler) registryHandler {
	return func(w http.ResponseWriter, r *http.Request, p *access.Principal) error {
		if err := roleIn(p, "see or change threshold overrides", access.Doctor); err != nil {
			return err
		}
		if a.opts.Overrides == nil || a.opts.OverrideRules == nil {
			return apiError(errcode.Unavailable, "threshold overrides are not configured")
		}
		var id string
		if kind == rules.PatientOverrides {
			pt, err := a.patientFor(r, p)
			if err != nil {
				return err
			}
			id = pt.ID
		} else {
			var err error
			if id, err = pathID(r); err != nil {
				return err
			}
			if _, err := a.opts.Registry.GetTeam(r.Context(), id); err != nil {
				return err
			}
			if !p.CanTeam(id) {
				return forbidden("team %s is not one of yours", id)
			}
		}
		if _, err := queryParams(r); err != nil {
			return err
		}
		return h(w, r, kind, id)
	}
}

func (a *API) getOverrides(w http.ResponseWriter, r *http.Request, kind, id string) error {
	o, err := a.opts.Overrides.Overrides(r.Context(), kind, id)
	if err != nil {
		return err
	}
	out, err := overridesOut(kind, id, o)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) putOverrides(w http.ResponseWriter, r *http.Request, kind, id string) error {
	var body overridesRequest
	has, err := decodeBody(r, &body, nil)
	if err != nil {
		return err
	}
	if err := required(has, "overrides"); err != nil {
		return err
	}
	var o rules.Overrides
	if err := json.Unmarshal(body.Overrides, &o); err != nil {
		return invalid("overrides: " + err.Error())
	}
	if err := a.opts.OverrideRules.ValidateOverrides(o); err != nil {
		return invalid("overrides: " + err.Error())
	}
	if err := a.opts.Overrides.SetOverrides(r.Context(), kind, id, o); err != nil {
		return err
	}
	out, err := overridesOut(kind, id, o)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) deleteOverrides(w http.ResponseWriter, r *http.Request, kind, id string) error {
	if err := a.opts.Overrides.DeleteOverrides(r.Context(), kind, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
