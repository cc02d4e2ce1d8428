package notify

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
)

// DeliveryState is where a delivery is: pending (to be sent, or sent again), delivered (a 2xx
// answer) or failed (given up).
type DeliveryState string

// Delivery states.
const (
	DeliveryPending   DeliveryState = "pending"
	DeliveryDelivered DeliveryState = "delivered"
	DeliveryFailed    DeliveryState = "failed"
)

// Delivery is one event to send to one webhook, and what became of it: the delivery log.
type Delivery struct {
	ID        int64
	WebhookID int64
	EventID   int64
	EventType alerts.EventType
	// Key is the idempotency key: the body's id and the X-VitalWatch-Delivery header, the same
	// on every attempt.
	Key string
	// Payload is the exact body sent on every attempt.
	Payload      []byte
	State        DeliveryState
	Attempts     int
	LastStatus   int    // the HTTP status of the last attempt; 0 if it got none
	LastError    string // why the last attempt failed
	CreatedAt    time.Time
	FirstAttempt time.Time
	LastAttempt  time.Time
	NextAttempt  time.Time // when a pending delivery is due
	DeliveredAt  time.Time
	// LeaseOwner and LeaseUntil are the claim on a delivery being sent: no one else claims it
	// before LeaseUntil, and only the same claim records its outcome.
	LeaseOwner string
	LeaseUntil time.Time
}

// RetryPolicy says when a failed delivery is tried again.
type RetryPolicy struct {
	First       time.Duration // the wait after the first failed attempt: default 10s
	Max         time.Duration // the longest wait: default 1h
	GiveUpAfter time.Duration // no retry once this long has passed since the first attempt: default 24h
}

// withDefaults fills the zero fields.
func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.First <= 0 {
		p.First = 10 * time.Second
	}
	if p.Max <= 0 {
		p.Max = time.Hour
	}
	if p.GiveUpAfter <= 0 {
		p.GiveUpAfter = 24 * time.Hour
	}
	return p
}

// Backoff is the wait after the attempts-th failed attempt: First, doubling, at most Max.
func (p RetryPolicy) Backoff(attempts int) time.Duration {
	p = p.withDefaults()
	d := p.First
	for i := 1; i < attempts && d < p.Max; i++ {
		d *= 2
	}
	return min(d, p.Max)
}

// Record sets the outcome of an attempt made at now that got status (0 for none) or failed
// with errText: delivered on a 2xx; else pending again after the backoff, or failed when
// GiveUpAfter has passed since the first attempt.
func (d *Delivery) Record(status int, errText string, now time.Time, p RetryPolicy) {
	p = p.withDefaults()
	d.Attempts++
	if d.FirstAttempt.IsZero() {
		d.FirstAttempt = now
	}
	d.LastAttempt, d.LastStatus, d.LastError = now, status, errText
	switch {
	case status >= 200 && status < 300:
		d.State, d.DeliveredAt, d.LastError, d.NextAttempt = DeliveryDelivered, now, "", time.Time{}
	case now.Sub(d.FirstAttempt) >= p.GiveUpAfter:
		d.State, d.NextAttempt = DeliveryFailed, time.Time{}
	default:
		d.State, d.NextAttempt = DeliveryPending, now.Add(p.Backoff(d.Attempts))
	}
}

// WebhookPayload is the JSON body of a delivery.
type WebhookPayload struct {
	ID    string       `json:"id"` // the idempotency key
	Event WebhookEvent `json:"event"`
	Alert WebhookAlert `json:"alert"`
}

// WebhookEvent is the change an event made, in a delivery.
type WebhookEvent struct {
	ID       int64            `json:"id"` // the alert event's id, as in the live feed
	Type     alerts.EventType `json:"type"`
	At       time.Time        `json:"at"`
	Actor    string           `json:"actor"`
	Note     string           `json:"note,omitempty"`
	Severity alerts.Severity  `json:"severity"`
}

// WebhookAlert is the alert after the change, in a delivery: as the API shows it, without
// its evidence.
type WebhookAlert struct {
	ID              int64              `json:"id"`
	Rule            string             `json:"rule"`
	RuleVersion     int                `json:"rule_version"`
	Category        alerts.Category    `json:"category"`
	Severity        alerts.Severity    `json:"severity"`
	Subject         string             `json:"subject"` // patient/<id> or device/<id>
	Patient         string             `json:"patient,omitempty"`
	Device          string             `json:"device,omitempty"`
	Team            string             `json:"team,omitempty"`
	Site            string             `json:"site,omitempty"`
	State           alerts.State       `json:"state"`
	FirstSeen       time.Time          `json:"first_seen"`
	LastSeen        time.Time          `json:"last_seen"`
	Count           int                `json:"count"`
	LastValue       string             `json:"last_value,omitempty"`
	Thresholds      map[string]float64 `json:"thresholds,omitempty"`
	AcknowledgedBy  string             `json:"acknowledged_by,omitempty"`
	AcknowledgedAt  time.Time          `json:"acknowledged_at,omitzero"`
	ResolvedBy      string             `json:"resolved_by,omitempty"`
	ResolvedAt      time.Time          `json:"resolved_at,omitzero"`
	ResolutionNote  string             `json:"resolution_note,omitempty"`
	EscalationLevel int                `json:"escalation_level"`
}

// NewDelivery is the delivery of ev to w, created at now, with a fresh idempotency key and its
// body.
func NewDelivery(w Webhook, ev alerts.Event, now time.Time) (Delivery, error) {
	b := make([]byte, 16)
	rand.Read(b)
	key := "whd_" + hex.EncodeToString(b)
	a := ev.Alert
	body, err := json.Marshal(WebhookPayload{ID: key,
		Event: WebhookEvent{ID: ev.ID, Type: ev.Type, At: ev.At.UTC(), Actor: ev.Actor, Note: ev.Note, Severity: ev.Severity},
		Alert: WebhookAlert{ID: a.ID, Rule: a.Rule, RuleVersion: a.RuleVersion, Category: a.Category, Severity: a.Severity,
			Subject: a.Subject.String(), Patient: a.Patient, Device: a.Device, Team: a.Team, Site: a.Site, State: a.State,
			FirstSeen: a.FirstSeen, LastSeen: a.LastSeen, Count: a.Count, LastValue: a.LastValue, Thresholds: a.Thresholds,
			AcknowledgedBy: a.AcknowledgedBy, AcknowledgedAt: a.AcknowledgedAt, ResolvedBy: a.ResolvedBy,
			ResolvedAt: a.ResolvedAt, ResolutionNote: a.ResolutionNote, EscalationLevel: a.EscalationLevel}})
	if err != nil {
		return Delivery{}, fmt.Errorf("webhook %d, event %d: %w", w.ID, ev.ID, err)
	}
	return Delivery{WebhookID: w.ID, EventID: ev.ID, EventType: ev.Type, Key: key, Payload: body,
		State: DeliveryPending, CreatedAt: now, NextAttempt: now}, nil
}
