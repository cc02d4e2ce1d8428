package api

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// A request that fails inside is logged by its route, never by its path, which can hold a
// patient's id: logs above debug carry no patient ids.
func TestFailedRequestLogNamesTheRouteNotThePatient(t *testing.T) {
	f := newRegistryFixture(t)
	var logs bytes.Buffer
	a, err := New(Options{Gatherer: prometheus.NewRegistry(), DeadLetters: f.store, Registry: f.store, Devices: f.view,
		Auth: registryPrincipals, Log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	if err != nil {
		t.Fatal(err)
	}
	f.api = a
	f.store.Close() // every query now fails inside
	f.want(500, "admin", "GET", "/patients/pA1", "", nil)
	if got := logs.String(); strings.Contains(got, "pA1") || !strings.Contains(got, "/patients/{id}") {
		t.Errorf("log of a failed request = %q; want the route /api/v1/patients/{id} and no patient id", got)
	}
}
