package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/vitalwatch/vitalwatch/access"
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

// listAudit serves GET /api/v1/audit?subject=&actor=&action=&before=&limit=, newest first, to
// admins only. A page's next is the cursor for before=.
func (a *API) listAudit(w http.ResponseWriter, r *http.Request, p *access.Principal) error {
	if err := adminOnly(p, "read the audit log"); err != nil {
		return err
	}
	q, err := queryParams(r, "subject", "actor", "action", "before", "limit")
	if err != nil {
		return err
	}
	f := audit.Filter{Subject: q.Get("subject"), Actor: q.Get("actor"), Action: q.Get("action"), Limit: 100}
	if v := q.Get("before"); v != "" {
		n, err := cursorParam("before", v)
		if err != nil {
			return err
		}
		f.Before = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := limitParam(v)
		if err != nil {
			return err
		}
		f.Limit = n
	}
	entries, err := a.opts.Registry.AuditLog(r.Context(), f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pageOf(entries, f.Limit, func(e audit.Entry) string { return strconv.FormatInt(e.ID, 10) },
		func(e audit.Entry) auditJSON {
			return auditJSON{ID: e.ID, At: e.At, Actor: e.Actor, Action: e.Action, Subject: e.Subject, Detail: json.RawMessage(e.Detail)}
		}))
	return nil
}
