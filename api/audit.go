package api

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/vitalwatch/vitalwatch/audit"
)

// auditJSON is one registry change in the audit log.
type auditJSON struct {
	ID      int64     `json:"id"`
	At      time.Time `json:"at"`
	Actor   string    `json:"actor"`
	Action  string    `json:"action"`  // <entity>.<verb>, e.g. device.assign
	Subject string    `json:"subject"` // <entity>/<id>, e.g. device/cuff-0042
	// Detail holds the values the change set; never a secret or its hash.
	Detail json.RawMessage `json:"detail"`
}

// listAudit serves GET /api/v1/audit?subject=&actor=&action=&since=&until=&before=&limit=,
// newest first, to admins only. A page's next is the cursor for before=.
func (a *API) listAudit(c *call) error {
	q := c.q
	f := audit.Filter{Subject: q.Get("subject"), Actor: q.Get("actor"), Action: q.Get("action")}
	var err error
	if f.Since, err = timeParam(c, "since", time.Time{}); err != nil {
		return err
	}
	if f.Until, err = timeParam(c, "until", time.Time{}); err != nil {
		return err
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return invalid("since: must be before until")
	}
	if f.Before, f.Limit, err = pageParams(q, "before"); err != nil {
		return err
	}
	entries, err := a.opts.Registry.AuditLog(c.Context(), f)
	if err != nil {
		return err
	}
	return c.reply(pageOf(entries, f.Limit, func(e audit.Entry) string { return strconv.FormatInt(e.ID, 10) },
		func(e audit.Entry) auditJSON {
			return auditJSON{ID: e.ID, At: e.At, Actor: e.Actor, Action: e.Action, Subject: e.Subject, Detail: json.RawMessage(e.Detail)}
		}))
}
