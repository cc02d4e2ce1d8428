package store

import (
	"context"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/devices"
)

// Names that moved to the domain packages, kept for callers not yet moved (tests of alerts,
// fleet and cmd/vitalwatch). The store itself takes the domain's types.

// AlertFilter is alerts.Filter.
//
// Deprecated: use alerts.Filter.
type AlertFilter = alerts.Filter

// DeliveryFilter is alerts.DeliveryFilter.
//
// Deprecated: use alerts.DeliveryFilter.
type DeliveryFilter = alerts.DeliveryFilter

// ListOptions is devices.ListOptions.
//
// Deprecated: use devices.ListOptions.
type ListOptions = devices.ListOptions

// AuditFilter is audit.Filter.
//
// Deprecated: use audit.Filter.
type AuditFilter = audit.Filter

// Kinds of overrides and a transfer's device policy, as in alerts and devices.
//
// Deprecated: use alerts.TeamOverrides, alerts.PatientOverrides and devices.PolicyTravel.
const (
	TeamOverrides    = alerts.TeamOverrides
	PatientOverrides = alerts.PatientOverrides
	DevicesTravel    = devices.PolicyTravel
)

// WithActor is audit.WithActor.
//
// Deprecated: use audit.WithActor.
func WithActor(ctx context.Context, actor string) context.Context {
	return audit.WithActor(ctx, actor)
}
