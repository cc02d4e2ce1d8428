package api

import (
	"context"
	"strconv"
	"time"

	"github.com/vitalwatch/vitalwatch/access"
	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/alerts/notify"
)

// Webhooks over HTTP: register, list, change and delete the receivers of a team's or a site's
// alert events, and read their delivery log. Who may, after the id (404):
//   - a doctor, the webhooks of their own teams (which receive their clinical alerts);
//   - a fleet manager, the webhooks of their own sites (which receive their device faults);
//   - an admin, every webhook.
//
// Anything else is 403. The secret is in the answer to POST /webhooks and to
// POST /webhooks/{id}/rotate-secret only: it is not shown again. Unless
// Options.AllowPrivateWebhooks, a URL naming this machine or an address that is not public
// (loopback, link-local, private, unspecified, multicast, shared, reserved), in whatever form
// the HTTP client or the resolver reads as one (0x7f000001, 2130706433, 127.1, [::127.0.0.1],
// full-width digits), is refused by POST and PATCH (alerts.CheckWebhookTarget); the deliverer
// checks the addresses that names resolve to.

// WebhookStore is what the API needs of the webhook store; package store implements it.
type WebhookStore interface {
	CreateWebhook(ctx context.Context, w notify.Webhook) (notify.Webhook, error)
	GetWebhook(ctx context.Context, id int64) (notify.Webhook, error)
	ListWebhooks(ctx context.Context, f notify.WebhookFilter) ([]notify.Webhook, error)
	UpdateWebhook(ctx context.Context, id int64, p notify.WebhookPatch) (notify.Webhook, error)
	RotateWebhookSecret(ctx context.Context, id int64, secret string) (notify.Webhook, error)
	DeleteWebhook(ctx context.Context, id int64) error
	ListWebhookDeliveries(ctx context.Context, id int64, f notify.DeliveryFilter) ([]notify.Delivery, error)
}

// webhookJSON is a webhook as the API shows it, without its secret.
type webhookJSON struct {
	ID          int64     `json:"id"`
	Team        string    `json:"team,omitempty"` // receives the clinical alerts of this team
	Site        string    `json:"site,omitempty"` // or the device faults of this site
	URL         string    `json:"url"`
	Enabled     bool      `json:"enabled"`
	MinSeverity string    `json:"min_severity,omitempty"` // the lowest severity sent; every one if absent
	CreatedBy   string    `json:"created_by"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// createdWebhookJSON is a new webhook with its secret, shown this once.
type createdWebhookJSON struct {
	webhookJSON
	// Secret keys the X-VitalWatch-Signature of every delivery: HMAC-SHA256 of the body.
	Secret string `json:"secret"`
}

// webhookRequest registers a webhook (one of team and site, url, enabled: default true,
// min_severity) or changes one (url, enabled, min_severity; "" or null for every severity).
type webhookRequest struct {
	Team        string `json:"team"`
	Site        string `json:"site"`
	URL         string `json:"url"`
	Enabled     bool   `json:"enabled"`
	MinSeverity string `json:"min_severity"`
}

// deliveryJSON is one delivery of the log.
type deliveryJSON struct {
	ID        int64  `json:"id"`
	Event     int64  `json:"event"` // the alert event's id, as in the live feed
	EventType string `json:"event_type"`
	// Key is the idempotency key: the X-VitalWatch-Delivery header and the body's id.
	Key          string    `json:"key"`
	State        string    `json:"state"`
	Attempts     int       `json:"attempts"`
	LastStatus   int       `json:"last_status,omitempty"`
	LastError    string    `json:"last_error,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	FirstAttempt time.Time `json:"first_attempt_at,omitzero"`
	LastAttempt  time.Time `json:"last_attempt_at,omitzero"`
	NextAttempt  time.Time `json:"next_attempt_at,omitzero"` // of a pending delivery
	DeliveredAt  time.Time `json:"delivered_at,omitzero"`
}

func webhookOut(w notify.Webhook) webhookJSON {
	out := webhookJSON{ID: w.ID, Team: w.Team, Site: w.Site, URL: w.URL, Enabled: w.Enabled, CreatedBy: w.CreatedBy,
		CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt}
	if w.MinSeverity > 0 {
		out.MinSeverity = w.MinSeverity.String()
	}
	return out
}

func deliveryOut(d notify.Delivery) deliveryJSON {
	return deliveryJSON{ID: d.ID, Event: d.EventID, EventType: string(d.EventType), Key: d.Key, State: string(d.State),
		Attempts: d.Attempts, LastStatus: d.LastStatus, LastError: d.LastError, CreatedAt: d.CreatedAt,
		FirstAttempt: d.FirstAttempt, LastAttempt: d.LastAttempt, NextAttempt: d.NextAttempt, DeliveredAt: d.DeliveredAt}
}

// mayWebhook refuses p a webhook of a team or site that is not theirs, saying why.
func mayWebhook(p *access.Principal, team, site string) error {
	switch {
	case p.IsAdmin():
		return nil
	case p.Role == access.Doctor && team == "":
		return forbidden("a doctor manages the webhooks of their teams; site %s's are for its fleet managers", site)
	case p.Role == access.Doctor && !p.CanTeam(team):
		return forbidden("team %s is not one of yours", team)
	case p.Role == access.FleetManager && site == "":
		return forbidden("a fleet manager manages the webhooks of their sites; team %s's are for its doctors", team)
	case p.Role == access.FleetManager && !p.CanSite(site):
		return forbidden("site %s is not one of yours", site)
	case p.Role != access.Doctor && p.Role != access.FleetManager:
		return forbidden("a %s may not manage webhooks", p.Role)
	}
	return nil
}

// webhookFor returns the webhook of the path's id when the caller may manage it: 400 for an id
// that is not one, 404 if there is none, 403 if it is not of the caller's teams or sites.
func (a *API) webhookFor(c *call) (notify.Webhook, error) {
	return byNumber(c, "a webhook", a.opts.Webhooks.GetWebhook, func(w notify.Webhook) error { return mayWebhook(c.p, w.Team, w.Site) })
}

// parseMinSeverity reads min_severity: "" is every severity.
func parseMinSeverity(v string) (alerts.Severity, error) {
	if v == "" {
		return 0, nil
	}
	s, err := alerts.ParseSeverity(v)
	if err != nil {
		return 0, invalidField("min_severity", "min_severity: "+err.Error())
	}
	return s, nil
}

// listWebhooks serves GET /api/v1/webhooks?team=&site=&after=&limit=, by id, of the webhooks the
// caller may manage. A page's next is the cursor for after=.
func (a *API) listWebhooks(c *call) error {
	f := notify.WebhookFilter{Scope: alerts.ScopeOf(c.p), Team: c.q.Get("team"), Site: c.q.Get("site")}
	if err := scopedIDParams(c.q, c.p, "team", "site"); err != nil {
		return err
	}
	var err error
	if f.After, f.Limit, err = pageParams(c.q, "after"); err != nil {
		return err
	}
	list, err := a.opts.Webhooks.ListWebhooks(c.Context(), f)
	if err != nil {
		return err
	}
	return c.reply(pageOf(list, f.Limit, func(wh notify.Webhook) string { return strconv.FormatInt(wh.ID, 10) }, webhookOut))
}

// createWebhook serves POST /api/v1/webhooks: the answer holds the new secret, shown once.
func (a *API) createWebhook(c *call) error {
	var req webhookRequest
	has, err := c.decode(&req)
	if err != nil {
		return err
	}
	if (req.Team == "") == (req.Site == "") {
		return invalid("give exactly one of team (for its clinical alerts) and site (for its device faults)")
	}
	if err := mayWebhook(c.p, req.Team, req.Site); err != nil {
		return err
	}
	if err := notify.CheckWebhookTarget(req.URL, a.opts.AllowPrivateWebhooks); err != nil {
		return err
	}
	sev, err := parseMinSeverity(req.MinSeverity)
	if err != nil {
		return err
	}
	enabled := req.Enabled || !has["enabled"]
	wh, err := a.opts.Webhooks.CreateWebhook(c.Context(), notify.Webhook{Team: req.Team, Site: req.Site, URL: req.URL,
		Secret: notify.NewWebhookSecret(), Enabled: enabled, MinSeverity: sev})
	if err != nil {
		return err
	}
	return c.created(strconv.FormatInt(wh.ID, 10), createdWebhookJSON{webhookJSON: webhookOut(wh), Secret: wh.Secret})
}

// getWebhook serves GET /api/v1/webhooks/{id}, without its secret.
func (a *API) getWebhook(c *call) error {
	wh, err := a.webhookFor(c)
	if err != nil {
		return err
	}
	return c.reply(webhookOut(wh))
}

// updateWebhook serves PATCH /api/v1/webhooks/{id}: url, enabled, min_severity.
func (a *API) updateWebhook(c *call) error {
	wh, err := a.webhookFor(c)
	if err != nil {
		return err
	}
	var req webhookRequest
	has, err := c.decode(&req)
	if err != nil {
		return err
	}
	var patch notify.WebhookPatch
	if has["url"] {
		if err := notify.CheckWebhookTarget(req.URL, a.opts.AllowPrivateWebhooks); err != nil {
			return err
		}
		patch.URL = &req.URL
	}
	if has["enabled"] {
		patch.Enabled = &req.Enabled
	}
	if has["min_severity"] {
		sev, err := parseMinSeverity(req.MinSeverity)
		if err != nil {
			return err
		}
		patch.MinSeverity = &sev
	}
	wh, err = a.opts.Webhooks.UpdateWebhook(c.Context(), wh.ID, patch)
	if err != nil {
		return err
	}
	return c.reply(webhookOut(wh))
}

// rotateWebhookSecret serves POST /api/v1/webhooks/{id}/rotate-secret: the webhook gets a new
// secret, in the answer this once, and every request sent from then on is signed with it
// (retries of events queued before included); the old one stops verifying at once. The store
// audits it, without the secret.
func (a *API) rotateWebhookSecret(c *call) error {
	wh, err := a.webhookFor(c)
	if err != nil {
		return err
	}
	if _, err := c.decode(&struct{}{}); err != nil {
		return err
	}
	wh, err = a.opts.Webhooks.RotateWebhookSecret(c.Context(), wh.ID, notify.NewWebhookSecret())
	if err != nil {
		return err
	}
	return c.reply(createdWebhookJSON{webhookJSON: webhookOut(wh), Secret: wh.Secret})
}

// deleteWebhook serves DELETE /api/v1/webhooks/{id}: the webhook and its delivery log go.
func (a *API) deleteWebhook(c *call) error {
	wh, err := a.webhookFor(c)
	if err != nil {
		return err
	}
	if err := a.opts.Webhooks.DeleteWebhook(c.Context(), wh.ID); err != nil {
		return err
	}
	return c.reply(nil)
}

// listDeliveries serves GET /api/v1/webhooks/{id}/deliveries?before=&limit=: the delivery log,
// newest first. A page's next is the cursor for before=.
func (a *API) listDeliveries(c *call) error {
	wh, err := a.webhookFor(c)
	if err != nil {
		return err
	}
	var f notify.DeliveryFilter
	if f.Before, f.Limit, err = pageParams(c.q, "before"); err != nil {
		return err
	}
	ds, err := a.opts.Webhooks.ListWebhookDeliveries(c.Context(), wh.ID, f)
	if err != nil {
		return err
	}
	return c.reply(pageOf(ds, f.Limit, func(d notify.Delivery) string { return strconv.FormatInt(d.ID, 10) }, deliveryOut))
}

// deliveryStateNames lists the states of a delivery.
func deliveryStateNames() []string {
	return []string{string(notify.DeliveryPending), string(notify.DeliveryDelivered), string(notify.DeliveryFailed)}
}
