package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts/notify"
	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/errcode"
)

// Webhooks keeps the webhooks and their outbox of deliveries.
type Webhooks struct{ *DB }

// NewWebhooks returns a Webhooks over db.
func NewWebhooks(db *DB) *Webhooks { return &Webhooks{db} }

// Webhooks (notify.Webhook), their outbox of deliveries (notify.Delivery) and the cursor over
// the alert events (migration 0010). The rules, in both dialects:
//   - Creating, changing, rotating the secret of and deleting a webhook writes an audit_log row
//     (webhook.create, webhook.update, webhook.secret_rotate, webhook.delete on "webhook/<id>")
//     with the actor from WithActor; the secret is never in it. Deleting a webhook deletes its
//     deliveries.
//   - EnqueueWebhookDeliveries moves the cursor by compare and set, in the transaction that
//     writes the deliveries: of two instances that read the same events, one writes them.
//   - ClaimWebhookDeliveries leases rows with one UPDATE whose WHERE requires the lease to have
//     run out. PostgreSQL re-checks that condition on a row another transaction has just
//     leased (and the subquery skips locked rows); SQLite has one writer. So two claimers
//     never get the same delivery while its lease runs. FinishWebhookDelivery writes only
//     under the same claim (owner and lease end), so a sender whose lease ran out cannot
//     overwrite the outcome of the one that took over.

const webhookColumns = `id, team, site, url, secret, enabled, min_severity, from_event, created_by, created_ms, updated_ms`

// scanWebhook reads a webhook's row.
func scanWebhook(sc scanner) (notify.Webhook, error) {
	var w notify.Webhook
	var enabled int
	var created, updated int64
	err := sc.Scan(&w.ID, &w.Team, &w.Site, &w.URL, &w.Secret, &enabled, &w.MinSeverity, &w.FromEvent,
		&w.CreatedBy, &created, &updated)
	w.Enabled = enabled == 1
	w.CreatedAt, w.UpdatedAt = time.UnixMilli(created).UTC(), time.UnixMilli(updated).UTC()
	return w, err
}

// webhookSubject is a webhook's subject in the audit log.
func webhookSubject(id int64) string { return "webhook/" + strconv.FormatInt(id, 10) }

// webhookDetail is what the audit log says of a webhook: everything but its secret.
type webhookDetail struct {
	Team        string `json:"team,omitempty"`
	Site        string `json:"site,omitempty"`
	URL         string `json:"url"`
	Enabled     bool   `json:"enabled"`
	MinSeverity string `json:"min_severity,omitempty"`
}

func webhookDetailOf(w notify.Webhook) webhookDetail {
	d := webhookDetail{Team: w.Team, Site: w.Site, URL: w.URL, Enabled: w.Enabled}
	if w.MinSeverity > 0 {
		d.MinSeverity = w.MinSeverity.String()
	}
	return d
}

// webhookWrite runs fn in a transaction that will write, for the context's actor; errors the
// caller can act on come back as they are, others prefixed with what.
func (s *Webhooks) webhookWrite(ctx context.Context, what string, fn func(tx *sql.Tx, actor string) error) error {
	actor := audit.Actor(ctx)
	if actor == "" {
		return errcode.Errorf(errcode.Invalid, "no actor: a webhook change must say who makes it")
	}
	tx, err := s.beginAlertWrite(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer tx.Rollback()
	if err := fn(tx, actor); err != nil {
		var de *errcode.Error
		if errors.As(err, &de) {
			return err
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// CreateWebhook stores w for the context's actor, with its secret as given, and returns it
// with its ID. Only events written after it are sent to it. Invalid for a webhook that fails
// Check, or a team or site that does not exist.
func (s *Webhooks) CreateWebhook(ctx context.Context, w notify.Webhook) (notify.Webhook, error) {
	if err := w.Check(); err != nil {
		return notify.Webhook{}, err
	}
	err := s.webhookWrite(ctx, "create webhook", func(tx *sql.Tx, actor string) error {
		if w.Team != "" {
			if err := mustExist(ctx, tx, "team", w.Team, `SELECT 1 FROM teams WHERE id = $1`); err != nil {
				return onField("team", err)
			}
		} else if err := mustExist(ctx, tx, "site", w.Site, `SELECT 1 FROM sites WHERE id = $1`); err != nil {
			return onField("site", err)
		}
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM alert_events`).Scan(&w.FromEvent); err != nil {
			return err
		}
		now := s.nowMillis()
		w.CreatedBy, w.CreatedAt, w.UpdatedAt = actor, now, now
		err := tx.QueryRowContext(ctx, `INSERT INTO webhooks (team, site, url, secret, enabled, min_severity, from_event,
			created_by, created_ms, updated_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
			w.Team, w.Site, w.URL, w.Secret, boolInt(w.Enabled), int(w.MinSeverity), w.FromEvent, actor,
			now.UnixMilli(), now.UnixMilli()).Scan(&w.ID)
		if err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, "webhook.create", webhookSubject(w.ID), webhookDetailOf(w))
	})
	if err != nil {
		return notify.Webhook{}, err
	}
	return w, nil
}

// GetWebhook returns the webhook, with its secret; NotFound if there is none.
func (s *Webhooks) GetWebhook(ctx context.Context, id int64) (notify.Webhook, error) {
	return getWebhook(ctx, s.db, id)
}

func getWebhook(ctx context.Context, q querier, id int64) (notify.Webhook, error) {
	w, err := scanWebhook(q.QueryRowContext(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return w, errcode.Errorf(errcode.NotFound, "webhook %d not found", id)
	}
	if err != nil {
		return w, fmt.Errorf("get %s: %w", webhookSubject(id), err)
	}
	return w, nil
}

// ListWebhooks returns the webhooks that f selects, in ID order.
func (s *Webhooks) ListWebhooks(ctx context.Context, f notify.WebhookFilter) ([]notify.Webhook, error) {
	w := &where{}
	if !f.Scope.All {
		var either []string
		for _, t := range f.Scope.Teams {
			either = append(either, "team = "+w.arg(t))
		}
		for _, st := range f.Scope.Sites {
			either = append(either, "site = "+w.arg(st))
		}
		if len(either) == 0 {
			either = []string{"1 = 0"}
		}
		w.conds = append(w.conds, "("+strings.Join(either, " OR ")+")")
	}
	if f.Team != "" {
		w.add("team = ?", f.Team)
	}
	if f.Site != "" {
		w.add("site = ?", f.Site)
	}
	if f.After > 0 {
		w.add("id > ?", f.After)
	}
	q := `SELECT ` + webhookColumns + ` FROM webhooks` + w.sql() + ` ORDER BY id LIMIT ` + w.arg(pageSize(f.Limit))
	out, err := queryAll(ctx, s.readers, q, w.args, scanWebhook)
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	return out, nil
}

// AllWebhooks returns every webhook, with its secret, in ID order: what the deliverer matches
// events against.
func (s *Webhooks) AllWebhooks(ctx context.Context) ([]notify.Webhook, error) {
	out, err := queryAll(ctx, s.readers, `SELECT `+webhookColumns+` FROM webhooks ORDER BY id`, nil, scanWebhook)
	if err != nil {
		return nil, fmt.Errorf("all webhooks: %w", err)
	}
	return out, nil
}

// UpdateWebhook changes the webhook for the context's actor and returns it. A disabled webhook
// gets no new deliveries, and those queued wait until it is enabled again. NotFound if there
// is none; Invalid for a change that fails Check.
func (s *Webhooks) UpdateWebhook(ctx context.Context, id int64, p notify.WebhookPatch) (notify.Webhook, error) {
	var w notify.Webhook
	err := s.webhookWrite(ctx, "update "+webhookSubject(id), func(tx *sql.Tx, actor string) error {
		var err error
		if w, err = getWebhook(ctx, tx, id); err != nil {
			return err
		}
		if p.URL != nil {
			w.URL = *p.URL
		}
		if p.Enabled != nil {
			w.Enabled = *p.Enabled
		}
		if p.MinSeverity != nil {
			w.MinSeverity = *p.MinSeverity
		}
		if err := w.Check(); err != nil {
			return err
		}
		w.UpdatedAt = s.nowMillis()
		if _, err := tx.ExecContext(ctx, `UPDATE webhooks SET url = $2, enabled = $3, min_severity = $4, updated_ms = $5 WHERE id = $1`,
			id, w.URL, boolInt(w.Enabled), int(w.MinSeverity), w.UpdatedAt.UnixMilli()); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, "webhook.update", webhookSubject(id), webhookDetailOf(w))
	})
	if err != nil {
		return notify.Webhook{}, err
	}
	return w, nil
}

// RotateWebhookSecret gives webhook id the secret, as given (the signatures need it), for the
// context's actor, and returns the webhook with it. Every request sent from then on is signed
// with it, retries of deliveries queued before included. NotFound if there is no such
// webhook; Invalid without a secret.
func (s *Webhooks) RotateWebhookSecret(ctx context.Context, id int64, secret string) (notify.Webhook, error) {
	if secret == "" {
		return notify.Webhook{}, errcode.Errorf(errcode.Invalid, "webhook %d needs a secret", id)
	}
	var w notify.Webhook
	err := s.webhookWrite(ctx, "rotate the secret of "+webhookSubject(id), func(tx *sql.Tx, actor string) error {
		var err error
		if w, err = getWebhook(ctx, tx, id); err != nil {
			return err
		}
		w.Secret, w.UpdatedAt = secret, s.nowMillis()
		if _, err := tx.ExecContext(ctx, `UPDATE webhooks SET secret = $2, updated_ms = $3 WHERE id = $1`,
			id, w.Secret, w.UpdatedAt.UnixMilli()); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, "webhook.secret_rotate", webhookSubject(id), webhookDetailOf(w))
	})
	if err != nil {
		return notify.Webhook{}, err
	}
	return w, nil
}

// DeleteWebhook deletes the webhook and its deliveries for the context's actor; NotFound if
// there is none.
func (s *Webhooks) DeleteWebhook(ctx context.Context, id int64) error {
	return s.webhookWrite(ctx, "delete "+webhookSubject(id), func(tx *sql.Tx, actor string) error {
		w, err := getWebhook(ctx, tx, id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE webhook_id = $1`, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM webhooks WHERE id = $1`, id); err != nil {
			return err
		}
		return s.audit(ctx, tx, actor, "webhook.delete", webhookSubject(id), webhookDetailOf(w))
	})
}

// WebhookCursor returns the ID of the last alert event whose deliveries were written.
func (s *Webhooks) WebhookCursor(ctx context.Context) (int64, error) {
	var id int64
	if err := s.db.QueryRowContext(ctx, `SELECT event_id FROM webhook_cursor WHERE id = 1`).Scan(&id); err != nil {
		return 0, fmt.Errorf("webhook cursor: %w", err)
	}
	return id, nil
}

// EnqueueWebhookDeliveries writes ds (each pending, due at its NextAttempt) and moves the
// cursor from from to to, in one transaction, if the cursor is still at from. It returns false,
// having written nothing, if the cursor had moved: another instance wrote those deliveries.
func (s *Webhooks) EnqueueWebhookDeliveries(ctx context.Context, from, to int64, ds []notify.Delivery) (bool, error) {
	fail := func(err error) (bool, error) {
		return false, fmt.Errorf("enqueue webhook deliveries of events %d-%d: %w", from+1, to, err)
	}
	tx, err := s.beginAlertWrite(ctx)
	if err != nil {
		return fail(err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE webhook_cursor SET event_id = $2 WHERE id = 1 AND event_id = $1`, from, to)
	if err != nil {
		return fail(err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return false, err
	}
	for _, d := range ds {
		if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, idem_key, payload,
			state, created_ms, next_ms) VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7)
			ON CONFLICT (webhook_id, event_id) DO NOTHING`,
			d.WebhookID, d.EventID, string(d.EventType), d.Key, string(d.Payload), d.CreatedAt.UnixMilli(),
			d.NextAttempt.UnixMilli()); err != nil {
			return fail(err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fail(err)
	}
	return true, nil
}

const deliveryColumns = `id, webhook_id, event_id, event_type, idem_key, payload, state, attempts, last_status, last_error,
	created_ms, first_attempt_ms, last_attempt_ms, next_ms, delivered_ms, lease_owner, lease_until_ms`

// deliveryLogColumns are deliveryColumns without the payload, which the log leaves out.
var deliveryLogColumns = strings.Replace(deliveryColumns, "payload", "''", 1)

// scanDelivery reads a delivery's row.
func scanDelivery(sc scanner) (notify.Delivery, error) {
	var d notify.Delivery
	var payload string
	var created, leaseUntil int64
	var first, last, next, delivered sql.NullInt64
	err := sc.Scan(&d.ID, &d.WebhookID, &d.EventID, &d.EventType, &d.Key, &payload, &d.State, &d.Attempts,
		&d.LastStatus, &d.LastError, &created, &first, &last, &next, &delivered, &d.LeaseOwner, &leaseUntil)
	if payload != "" {
		d.Payload = []byte(payload)
	}
	d.CreatedAt = time.UnixMilli(created).UTC()
	d.FirstAttempt, d.LastAttempt, d.NextAttempt, d.DeliveredAt = fromMillis(first), fromMillis(last), fromMillis(next), fromMillis(delivered)
	if leaseUntil > 0 {
		d.LeaseUntil = time.UnixMilli(leaseUntil).UTC()
	}
	return d, err
}

// ClaimWebhookDeliveries leases to owner, until now+lease, up to limit (1-1000) pending
// deliveries of enabled webhooks that are due at now and whose lease has run out, the longest
// due first, and returns them with their payloads.
func (s *Webhooks) ClaimWebhookDeliveries(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]notify.Delivery, error) {
	if owner == "" || lease <= 0 {
		return nil, errcode.Errorf(errcode.Invalid, "a claim needs an owner and a lease")
	}
	nowMs, until := now.UnixMilli(), now.Add(lease).UnixMilli()
	skip := ""
	if s.dialect == postgres {
		skip = ` FOR UPDATE OF d SKIP LOCKED`
	}
	q := `UPDATE webhook_deliveries SET lease_owner = $1, lease_until_ms = $2
		WHERE id IN (SELECT d.id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
			WHERE d.state = 'pending' AND d.next_ms <= $3 AND d.lease_until_ms <= $3 AND w.enabled = 1
			ORDER BY d.next_ms, d.id LIMIT $4` + skip + `)
		AND state = 'pending' AND lease_until_ms <= $3
		RETURNING ` + deliveryColumns
	out, err := queryAll(ctx, s.db, q, []any{owner, until, nowMs, pageSize(limit)}, scanDelivery)
	if err != nil {
		return nil, fmt.Errorf("claim webhook deliveries: %w", err)
	}
	return out, nil
}

// FinishWebhookDelivery records the outcome of an attempt on d (its state, attempts, status,
// error and times, as notify.Delivery.Record set them) and ends the lease, if d's claim
// (LeaseOwner and LeaseUntil) still holds; Conflict if it does not.
func (s *Webhooks) FinishWebhookDelivery(ctx context.Context, d notify.Delivery) error {
	res, err := s.db.ExecContext(ctx, `UPDATE webhook_deliveries SET state = $4, attempts = $5, last_status = $6,
		last_error = $7, first_attempt_ms = $8, last_attempt_ms = $9, next_ms = $10, delivered_ms = $11,
		lease_owner = '', lease_until_ms = 0
		WHERE id = $1 AND lease_owner = $2 AND lease_until_ms = $3`,
		d.ID, d.LeaseOwner, d.LeaseUntil.UnixMilli(), string(d.State), d.Attempts, d.LastStatus, d.LastError,
		millis(d.FirstAttempt), millis(d.LastAttempt), millis(d.NextAttempt), millis(d.DeliveredAt))
	if err != nil {
		return fmt.Errorf("finish webhook delivery %d: %w", d.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("finish webhook delivery %d: %w", d.ID, err)
	} else if n == 0 {
		return errcode.Errorf(errcode.Conflict, "webhook delivery %d: the claim of %s has been lost", d.ID, d.LeaseOwner)
	}
	return nil
}

// ListWebhookDeliveries returns the delivery log of webhook id, newest first, without the
// payloads; NotFound if there is no such webhook.
func (s *Webhooks) ListWebhookDeliveries(ctx context.Context, id int64, f notify.DeliveryFilter) ([]notify.Delivery, error) {
	if _, err := s.GetWebhook(ctx, id); err != nil {
		return nil, err
	}
	w := &where{}
	w.add("webhook_id = ?", id)
	if f.Before > 0 {
		w.add("id < ?", f.Before)
	}
	q := `SELECT ` + deliveryLogColumns + ` FROM webhook_deliveries` + w.sql() + ` ORDER BY id DESC LIMIT ` + w.arg(pageSize(f.Limit))
	out, err := queryAll(ctx, s.db, q, w.args, scanDelivery)
	if err != nil {
		return nil, fmt.Errorf("deliveries of %s: %w", webhookSubject(id), err)
	}
	return out, nil
}
