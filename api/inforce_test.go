package api

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vitalwatch/vitalwatch/devices"
)

// inForceFixture is the registry fixture with the API bringing its changes into force through
// a Refresher, as serve wires it, and no periodic refresh at all.
func inForceFixture(t *testing.T, changed func(context.Context) error) *registryFixture {
	t.Helper()
	f := newRegistryFixture(t)
	a, err := New(Options{Gatherer: prometheus.NewRegistry(), DeadLetters: f.store, Registry: f.store, Devices: f.view,
		Auth: registryPrincipals, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), RegistryChanged: changed})
	if err != nil {
		t.Fatal(err)
	}
	f.api = a
	return f
}

func TestChangeIsInForceWhenTheRequestAnswers(t *testing.T) {
	var f *registryFixture
	f = inForceFixture(t, func(ctx context.Context) error {
		return devices.NewRefresher(f.view, f.store, nil, slog.New(slog.NewTextHandler(io.Discard, nil))).Refresh(ctx)
	})

	// A device lent now measures for its patient from the next message on.
	f.want(200, "fleetA", "POST", "/devices/dA1/assign", `{"patient": "pA2"}`, nil)
	if got := f.view.Load().PatientAt("dA1", time.Now().Add(time.Second)); got != "pA2" {
		t.Errorf("right after assign answered, PatientAt(dA1) = %q; want pA2", got)
	}

	// A new device's secret is known the moment it is registered.
	w := f.want(201, "fleetA", "POST", "/devices", `{"id": "dA9", "kind": "glucose_meter", "site": "sA", "mode": "home"}`, nil)
	if _, ok := f.view.Load().Device("dA9"); !ok {
		t.Errorf("right after POST /devices answered (%s), the view has no dA9", strings.TrimSpace(w.Body.String()))
	}

	// Returning it ends the loan here at once too.
	f.want(200, "fleetA", "POST", "/devices/dA1/return", `{}`, nil)
	if got := f.view.Load().PatientAt("dA1", time.Now().Add(time.Second)); got != "" {
		t.Errorf("right after return answered, PatientAt(dA1) = %q; want none", got)
	}

	// A refused change changes nothing and needs no refresh; reads need none either.
	before := f.view.Load()
	f.want(403, "docA", "POST", "/devices/dA1/assign", `{"patient": "pA2"}`, nil)
	f.want(200, "admin", "GET", "/devices", "", nil)
	if f.view.Load() != before {
		t.Error("a refused change or a read replaced the view")
	}
}

func TestChangeStoredEvenWhenItCannotBeBroughtIntoForce(t *testing.T) {
	calls := 0
	f := inForceFixture(t, func(context.Context) error { calls++; return errors.New("store unreachable") })
	f.want(200, "fleetA", "POST", "/devices/dA1/assign", `{"patient": "pA2"}`, nil)
	if calls != 1 {
		t.Errorf("RegistryChanged called %d times for one change; want 1", calls)
	}
	f.refresh()
	if got := f.view.Load().PatientAt("dA1", time.Now().Add(time.Second)); got != "pA2" {
		t.Errorf("after the next refresh, PatientAt(dA1) = %q; want pA2", got)
	}
}
