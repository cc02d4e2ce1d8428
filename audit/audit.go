// Package audit is the vocabulary of the audit log: who made a change (the actor, carried in a
// context), and the entries the store records for every change to the registry, the people and
// the alert settings, with the filter that reads them back.
package audit

import (
	"context"
	"strings"
	"time"
)

// Entry is one change: who made it, when, what, to what.
type Entry struct {
	ID    int64
	At    time.Time
	Actor string
	// Action is "<entity>.<verb>": site.create, site.update, team.create, team.update,
	// patient.create, patient.update, patient.transfer, device.create, device.update,
	// device.secret_rotate, device.assign, device.return, device.history_import (a past repair
	// imported from maintenance.csv).
	Action string
	// Subject is "<entity>/<id>", e.g. "device/gm-0042"; assignments are recorded on the device.
	Subject string
	// Detail is JSON of the values the change set (never a secret or its hash).
	Detail string
}

// Filter selects audit entries, newest first.
type Filter struct {
	Subject string
	Actor   string
	Action  string
	// Since and Until, when not zero, keep the entries made at or after Since and before Until.
	Since, Until time.Time
	// Before is a cursor: only entries with an ID below it. Zero means from the newest.
	Before int64
	// Limit is the page size: default 100, at most 1000.
	Limit int
}

type actorKey struct{}

// WithActor returns a context that names who makes the changes done with it, for the audit
// log: a user name or an API token's name. The store refuses a change without an actor.
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// Actor returns the actor that WithActor put in ctx, without surrounding spaces, or "".
func Actor(ctx context.Context) string {
	a, _ := ctx.Value(actorKey{}).(string)
	return strings.TrimSpace(a)
}
