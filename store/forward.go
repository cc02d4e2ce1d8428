package store

import (
	"context"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/alerts/notify"
	"github.com/vitalwatch/vitalwatch/alerts/rules"
	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/devices"
)

// Names that moved to the domain packages, kept for callers not yet moved (tests of alerts/rules,
// alerts/notify, fleet and cmd/vitalwatch). The store itself takes the domain's types.

// AlertFilter is alerts.Filter.
//
// Deprecated: use alerts.Filter.
type AlertFilter = alerts.Filter

// DeliveryFilter is notify.DeliveryFilter.
//
// Deprecated: use notify.DeliveryFilter.
type DeliveryFilter = notify.DeliveryFilter

// AuditFilter is audit.Filter.
//
// Deprecated: use audit.Filter.
type AuditFilter = audit.Filter

// Kinds of overrides and a transfer's device policy, as in alerts/rules and devices.
//
// Deprecated: use rules.TeamOverrides, rules.PatientOverrides and devices.PolicyTravel.
const (
	TeamOverrides    = rules.TeamOverrides
	PatientOverrides = rules.PatientOverrides
	DevicesTravel    = devices.PolicyTravel
)

// WithActor is audit.WithActor.
//
// Deprecated: use audit.WithActor.
func WithActor(ctx context.Context, actor string) context.Context {
	return audit.WithActor(ctx, actor)
}
