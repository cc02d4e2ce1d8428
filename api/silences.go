package api

import (
	"context"
	"errors"
	"strconv"
	"time"

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

// maySilence checks that p may see subject, in the registry's order: the role, the id, the
// scope; missing turns the error of the last two (asIs, asInvalid).
func (a *API) maySilence(ctx context.Context, p *access.Principal, subject alerts.Subject, missing func(error) error) error {
	switch subject.Kind {
	case "patient":
		if err := roleIn(p, "silence patients", access.Doctor); err != nil {
			return err
		}
		_, err := a.patients().lookup(ctx, p, subject.ID)
		return missing(err)
	case "device":
		if err := roleIn(p, "silence devices", access.FleetManager); err != nil {
			return err
		}
		_, err := a.devices().lookup(ctx, p, subject.ID)
		return missing(err)
	case alerts.SubjectSite:
		return invalid("subject: " + strconv.Quote(subject.String()) + " is a site: a site's notice cannot be silenced or snoozed, only acknowledged or resolved")
	}
	return invalid("subject: " + strconv.Quote(subject.String()) + " is not patient/<id> or device/<id>")
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

func (a *API) listSilences(c *call) error {
	q := c.q
	f := alerts.SilenceFilter{Scope: alerts.ScopeOf(c.p)}
	var err error
	if v := q.Get("subject"); v != "" {
		if f.Subject, err = parseSubject("subject", v); err != nil {
			return err
		}
		if err := a.maySilence(c.Context(), c.p, f.Subject, asInvalid); err != nil {
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
	if f.Limit, err = limitOf(q); err != nil {
		return err
	}
	ss, err := a.opts.Silences.ListSilences(c.Context(), f)
	if err != nil {
		return err
	}
	p := pageOf(ss, f.Limit, func(si alerts.Silence) string { return strconv.FormatInt(si.ID, 10) }, silenceOut)
	return c.reply(silencePage(p))
}

func (a *API) createSilence(c *call) error {
	var body silenceRequest
	if _, err := c.decode(&body); err != nil {
		return err
	}
	subject, err := parseSubject("subject", body.Subject)
	if err != nil {
		return err
	}
	if err := a.maySilence(c.Context(), c.p, subject, asInvalid); err != nil {
		return err
	}
	si, err := a.opts.Silences.CreateSilence(c.Context(), alerts.Silence{Subject: subject, From: timeOr(body.From),
		Until: body.Until, Reason: body.Reason})
	if err != nil {
		return err
	}
	return c.created(strconv.FormatInt(si.ID, 10), silenceOut(si))
}

func (a *API) deleteSilence(c *call) error {
	// The subject may be gone from the registry since; an admin can still delete the silence.
	si, err := byNumber(c, "a silence", a.opts.Silences.GetSilence, func(si alerts.Silence) error {
		return a.maySilence(c.Context(), c.p, si.Subject, asIs)
	})
	if err != nil {
		return err
	}
	if err := a.opts.Silences.DeleteSilence(c.Context(), si.ID); err != nil {
		return err
	}
	return c.reply(nil)
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
func (a *API) snoozeAlert(c *call) error {
	al, err := a.alertFor(c)
	if err != nil {
		return err
	}
	var body snoozeRequest
	has, err := c.decode(&body)
	if err != nil {
		return err
	}
	from := timeOr(time.Time{})
	until := body.Until
	switch {
	case has["until"] == has["for"]:
		return invalidField("for", "until or for: give one, the end of the snooze or how long it lasts")
	case has["for"]:
		d, err := time.ParseDuration(body.For)
		if err != nil || d <= 0 {
			return invalidField("for", "for: "+strconv.Quote(body.For)+" is not a positive duration such as \"72h\"")
		}
		until = from.Add(d)
	}
	if err := a.maySilence(c.Context(), c.p, al.Subject, asIs); err != nil {
		return err
	}
	si, err := a.opts.Silences.CreateSilence(c.Context(), alerts.Silence{Subject: al.Subject, From: from,
		Until: until, Reason: body.Reason})
	if err != nil {
		return err
	}
	c.w.Header().Set("Location", "/api/v1/silences/"+strconv.FormatInt(si.ID, 10))
	return c.reply(silenceOut(si))
}
