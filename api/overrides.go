package api

import (
	"context"
	"encoding/json"
	"errors"

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

// replyOverrides answers the overrides o of the team or patient id.
func replyOverrides(c *call, kind, id string, o rules.Overrides) error {
	if o == nil {
		o = rules.Overrides{}
	}
	b, err := json.Marshal(o)
	if err != nil {
		return err
	}
	return c.reply(overridesJSON{Subject: kind + "/" + id, Overrides: b})
}

// overridesHandler serves the overrides of the team or patient id (kind says which).
type overridesHandler func(c *call, kind, id string) error

// overrides finds the team or patient of the path, in the registry's order after the role: the
// id (404), the scope (403); then runs h.
func (a *API) overrides(kind string, h overridesHandler) handler {
	return func(c *call) error {
		if a.opts.Overrides == nil || a.opts.OverrideRules == nil {
			return apiError(errcode.Unavailable, "threshold overrides are not configured")
		}
		if kind == rules.PatientOverrides {
			pt, err := a.patients().one(c)
			if err != nil {
				return err
			}
			return h(c, kind, pt.ID)
		}
		id, err := pathID(c.Request)
		if err != nil {
			return err
		}
		if _, err := a.opts.Registry.GetTeam(c.Context(), id); err != nil {
			return err
		}
		if !c.p.CanTeam(id) {
			return forbidden("team %s is not one of yours", id)
		}
		return h(c, kind, id)
	}
}

func (a *API) getOverrides(c *call, kind, id string) error {
	o, err := a.opts.Overrides.Overrides(c.Context(), kind, id)
	if err != nil {
		return err
	}
	return replyOverrides(c, kind, id, o)
}

func (a *API) putOverrides(c *call, kind, id string) error {
	var body overridesRequest
	if _, err := c.decode(&body); err != nil {
		return err
	}
	var o rules.Overrides
	if err := json.Unmarshal(body.Overrides, &o); err != nil {
		return overridesInvalid(err)
	}
	if err := a.opts.OverrideRules.ValidateOverrides(o); err != nil {
		return overridesInvalid(err)
	}
	if err := a.opts.Overrides.SetOverrides(c.Context(), kind, id, o); err != nil {
		return err
	}
	return replyOverrides(c, kind, id, o)
}

// overridesInvalid is the 400 of overrides that cannot be set: its field names the first rule
// and key at fault, overrides.<rule>.<key> (overrides.<rule> for an unknown or fault rule), so
// that a form shows it next to that threshold; its message says all that is wrong.
func overridesInvalid(err error) error {
	msg := "overrides: " + err.Error()
	var oe *rules.OverrideError
	if !errors.As(err, &oe) {
		return invalid(msg)
	}
	field := "overrides." + oe.Rule
	if oe.Key != "" {
		field += "." + oe.Key
	}
	return invalidField(field, msg)
}

func (a *API) deleteOverrides(c *call, kind, id string) error {
	if err := a.opts.Overrides.DeleteOverrides(c.Context(), kind, id); err != nil {
		return err
	}
	return c.reply(nil)
}
