package notify

import "github.com/vitalwatch/vitalwatch/alerts"

// The selections and changes that the webhook store takes, in the domain's terms, so that the
// store and the API meet on them without the API importing the store.

// WebhookFilter selects webhooks, by ID.
type WebhookFilter struct {
	// Scope is what the viewer may see: the webhooks of its teams and of its sites. The zero
	// Scope sees nothing: set All for every webhook.
	Scope alerts.Scope
	Team  string
	Site  string
	// After is a cursor: only webhooks with an ID above it.
	After int64
	// Limit is the page size: default 100, at most 1000.
	Limit int
}

// WebhookPatch changes the fields that are not nil. MinSeverity 0 sends every severity.
type WebhookPatch struct {
	URL         *string
	Enabled     *bool
	MinSeverity *alerts.Severity
}

// DeliveryFilter pages a webhook's delivery log, newest first.
type DeliveryFilter struct {
	// Before is a cursor: only deliveries with an ID below it. Zero means from the newest.
	Before int64
	// Limit is the page size: default 100, at most 1000.
	Limit int
}
