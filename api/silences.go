package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/vitalwatch/vitalwatch/access"
	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/errcode"
)

// Silences of a patient's or a device's alerts: GET and POST /silences, DELETE /silences/{id}.
// Who may see the subject may silence it, see its silences and delete them: a doctor for the
// patients of their teams, a fleet manager for the devices at their sites, an admin for all. A
// doctor and a device, or a fleet manager and a patient, is 403 whatever the id. Silenced
// findings are still recorded as alerts, with the reason; they notify nobody.

// SilenceStore keeps silences; package store implements it.
type SilenceStore interface {
	CreateSilence(ctx context.Context, si alerts.Silence) (alerts.Silence, error)
	GetSilence(ctx context.Context, id int64) (alerts.Silence, error)
	ListSilences(ctx context.Context, f alerts.SilenceFilter) ([]alerts.Silence, error)
	DeleteSilence(ctx context.Context, id int64) error
}

func (a *API) silenceRoutes() chi.Router {
	r := chi.NewRouter()
	r.Get("/", a.registry(a.silences(a.listSilences)))
	r.Post("/", a.registry(a.silences(a.createSilence)))
	r.Delete("/{id}", a.registry(a.silences(a.deleteSilence)))
	return r
}

// silenceJSON is a silence as the API shows it.
type silenceJSON struct {
	ID        int64     `json:"id"`
	Subject   string    `json:"subject"` // patient/<id> or device/<id>
	From      time.Time `json:"from"`
	Until     time.Time `json:"until"`
	Reason    string    `json:"reason"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
}

func silenceOut(si alerts.Silence) silenceJSON {
	return silenceJSON{ID: si.ID, Subject: si.Subject.String(), From: si.From, Until: si.Until, Reason: si.Reason,
		CreatedBy: si.CreatedBy, CreatedAt: si.CreatedAt}
}

// silenceRequest silences a patient or a device.
type silenceRequest struct {
	Subject string    `json:"subject"`       // patient/<id> or device/<id>
	From    time.Time `json:"from,omitzero"` // default now
	Until   time.Time `json:"until"`
	Reason  string    `json:"reason"` // e.g. "in hospital"
}

// silencePage is one page of silences, newest first; Next is the before= of the next page.
type silencePage struct {
	Items []silenceJSON `json:"items"`
	Next  string        `json:"next,omitempty"`
}

// silences answers 503 when silences are not configured, then runs h.
func (a *API) silences(h registryHandler) registryHandler {
	return func(w http.ResponseWriter, r *http.Request, p *access.Principal) error {
		if a.opts.Silences == nil {
			return apiError(errcode.Unavailable, "silences are not configured")
		}
		return h(w, r, p)
	}
}

// maySilence checks that p may see subject, in the registry's order: the role, the id (missing
// is notFound's error), the scope.
func (a *API) maySilence(ctx context.Context, p *access.Principal, subject alerts.Subject, missing func(error) error) error {
	switch subject.Kind {
	case "patient":
		if err := roleIn(p, "silence patients", access.Doctor); err != nil {
			return err
		}
		pt, err := a.opts.Registry.GetPatient(ctx, subject.ID)
		if err != nil {
			return missing(err)
		}
		if !p.CanTeam(pt.TeamID) {
			return forbidden("patient %s is not in one of your teams", subject.ID)
		}
	case "device":
		if err := roleIn(p, "silence devices", access.FleetManager); err != nil {
			return err
		}
		d, err := a.opts.Registry.GetDevice(ctx, subject.ID)
		if err != nil {
			return missing(err)
		}
		if !p.CanSite(d.SiteID) {
			return forbidden("device %s is not at one of your sites", subject.ID)
		}
	default:
		return invalid("subject: " + strconv.Quote(subject.String()) + " is not patient/<id> or device/<id>")
	}
	return nil
}

// asIs returns err unchanged: for the subject of a silence named in the path, whose absence is
// 404.
func asIs(err error) error { return err }

// asInvalid turns the absence of a subject named in a body or a query into a 400.
func asInvalid(err error) error {
	var de *errcode.Error
	if errors.As(err, &de) && de.Code == errcode.NotFound {
		return invalid("subject: " + de.Message)
	}
	return err
}

func parseSubject(field, raw string) (alerts.Subject, error) {
	s, ok := alerts.ParseSubject(raw)
	if !ok {
		return s, invalid(field + ": " + strconv.Quote(raw) + " is not patient/<id> or device/<id>")
	}
	return s, nil
}

func (a *API) listSilences(w http.ResponseWriter, r *http.Request, p *access.Principal) error {
	q, err := queryParams(r, "subject", "active", "before", "limit")
	if err != nil {
		return err
	}
	f := alerts.SilenceFilter{Scope: alertScope(p), Limit: 100}
	if v := q.Get("subject"); v != "" {
		if f.Subject, err = parseSubject("subject", v); err != nil {
			return err
		}
		if err := a.maySilence(r.Context(), p, f.Subject, asInvalid); err != nil {
			return err
		}
	}
	switch q.Get("active") {
	case "", "false":
	case "true":
		f.EndsAfter = time.Now()
	default:
		return invalid("active: must be true or false")
	}
	if v := q.Get("before"); v != "" {
		if f.Before, err = strconv.ParseInt(v, 10, 64); err != nil || f.Before <= 0 {
			return invalid("before: must be a silence id (a positive whole number)")
		}
	}
	if v := q.Get("limit"); v != "" {
		if f.Limit, err = limitParam(v); err != nil {
			return err
		}
	}
	ss, err := a.opts.Silences.ListSilences(r.Context(), f)
	if err != nil {
		return err
	}
	out := silencePage{Items: make([]silenceJSON, 0, len(ss))}
	for _, si := range ss {
		out.Items = append(out.Items, silenceOut(si))
	}
	if len(ss) == f.Limit {
		out.Next = strconv.FormatInt(ss[len(ss)-1].ID, 10)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) createSilence(w http.ResponseWriter, r *http.Request, p *access.Principal) error {
	if _, err := queryParams(r); err != nil {
		return err
	}
	var body silenceRequest
	has, err := decodeBody(r, &body, nil)
	if err != nil {
		return err
	}
	if err := required(has, "subject", "until", "reason"); err != nil {
		return err
	}
	subject, err := parseSubject("subject", body.Subject)
	if err != nil {
		return err
	}
	if err := a.maySilence(r.Context(), p, subject, asInvalid); err != nil {
		return err
	}
	si, err := a.opts.Silences.CreateSilence(r.Context(), alerts.Silence{Subject: subject, From: timeOr(body.From),
		Until: body.Until, Reason: body.Reason})
	if err != nil {
		return err
	}
	writeCreated(w, r, strconv.FormatInt(si.ID, 10), silenceOut(si))
	return nil
}

func (a *API) deleteSilence(w http.ResponseWriter, r *http.Request, p *access.Principal) error {
	raw := chi.URLParam(r, "id")
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		return invalid("id " + strconv.Quote(raw) + " in the path is not a silence id (a positive whole number)")
	}
	if _, err := queryParams(r); err != nil {
		return err
	}
	si, err := a.opts.Silences.GetSilence(r.Context(), id)
	if err != nil {
		return err
	}
	// The subject may be gone from the registry since; an admin can still delete the silence.
	if err := a.maySilence(r.Context(), p, si.Subject, asIs); err != nil {
		return err
	}
	if err := a.opts.Silences.DeleteSilence(r.Context(), id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// snoozeRequest snoozes an alert: its subject is silenced until Until, or for For from now
// (one of the two), for Reason.
type snoozeRequest struct {
	Until  time.Time `json:"until,omitzero"`
	For    string    `json:"for,omitempty"` // a Go duration such as "72h"
	Reason string    `json:"reason"`
}

// snoozeAlert serves POST /api/v1/alerts/{id}/snooze: it silences the alert's subject (its
// patient, or its device for a fault) from now until until (or for a duration), for reason,
// and answers 201 with
// the silence, whose address is under /silences. It is the alert inbox's shortcut to
// POST /silences, with the same rules: the caller must see the alert and may silence its
// subject.
func (a *API) snoozeAlert(w http.ResponseWriter, r *http.Request, p *access.Principal) error {
	if _, err := queryParams(r); err != nil {
		return err
	}
	al, err := a.alertFor(r, p)
	if err != nil {
		return err
	}
	var body snoozeRequest
	has, err := decodeBody(r, &body, nil)
	if err != nil {
		return err
	}
	if err := required(has, "reason"); err != nil {
		return err
	}
	from := timeOr(time.Time{})
	until := body.Until
	switch {
	case has["until"] == has["for"]:
		return invalid("until or for: give one, the end of the snooze or how long it lasts")
	case has["for"]:
		d, err := time.ParseDuration(body.For)
		if err != nil || d <= 0 {
			return invalid("for: " + strconv.Quote(body.For) + " is not a positive duration such as \"72h\"")
		}
		until = from.Add(d)
	}
	if err := a.maySilence(r.Context(), p, al.Subject, asIs); err != nil {
		return err
	}
	si, err := a.opts.Silences.CreateSilence(r.Context(), alerts.Silence{Subject: al.Subject, From: from,
		Until: until, Reason: body.Reason})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/silences/"+strconv.FormatInt(si.ID, 10))
	writeJSON(w, http.StatusCreated, silenceOut(si))
	return nil
}
