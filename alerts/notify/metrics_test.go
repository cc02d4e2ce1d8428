package notify_test

import (
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/alerts/notify"
	"github.com/vitalwatch/vitalwatch/devices"
)

// counter is the value of the series of name whose labels are "name=value" pairs, as gathered
// from reg.
func counter(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var got []string
			for _, l := range m.GetLabel() {
				got = append(got, l.GetName()+"="+l.GetValue())
			}
			if slices.Equal(got, labels) {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("%s%v not gathered", name, labels)
	return 0
}

// The lifecycle and the escalator publish through Metrics.Counting: a new alert counts once
// by rule and severity (a repeat does not), and an escalation step counts by whether someone
// was paged; every series is there at zero from the start.
func TestMetricsCountRaisedAlertsAndEscalations(t *testing.T) {
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	m := notify.NewMetrics(reg, []string{"glucose_very_low", "spo2_low"})
	for _, sev := range []string{"info", "warning", "urgent", "critical"} {
		if got := counter(t, reg, "vitalwatch_alerts_raised_total", "rule=spo2_low", "severity="+sev); got != 0 {
			t.Errorf("raised{spo2_low,%s} at start = %v; want 0", sev, got)
		}
	}
	s := openStore(t, filepath.Join(t.TempDir(), "vw.db"))
	if err := s.CreateSites(asAdminWH, []devices.Site{{ID: "sA", Name: "A"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateTeams(asAdminWH, []devices.Team{{ID: "tA", SiteID: "sA", Name: "A"}}); err != nil { // no lead, no roster
		t.Fatal(err)
	}
	counted := m.Counting(nil)
	life := alerts.NewLifecycle(s, counted, slog.New(slog.DiscardHandler))
	f := clinical("glucose_very_low", "pA1", "tA", alerts.Urgent)
	for range 2 { // raised, then repeated
		if _, err := life.Apply(ctx, []alerts.Finding{f}); err != nil {
			t.Fatal(err)
		}
		f.At = f.At.Add(time.Minute)
	}
	for _, c := range []struct {
		rule, severity string
		want           float64
	}{{"glucose_very_low", "urgent", 1}, {"glucose_very_low", "critical", 0}, {"spo2_low", "urgent", 0}} {
		if got := counter(t, reg, "vitalwatch_alerts_raised_total", "rule="+c.rule, "severity="+c.severity); got != c.want {
			t.Errorf("raised{%s,%s} = %v; want %v (a repeat is not a new alert)", c.rule, c.severity, got, c.want)
		}
	}

	esc := notify.NewEscalator(s, counted, 15*time.Minute, func() time.Time { return time.Now().Add(16 * time.Minute) },
		slog.New(slog.DiscardHandler))
	evs, err := esc.Tick(ctx)
	if err != nil || len(evs) != 1 {
		t.Fatalf("Tick = %d events, %v; want the one escalation to no one", len(evs), err)
	}
	counted.Publish(alerts.Event{Type: alerts.EventEscalated, Note: "usr_lead"}) // as a step to a lead is published
	if none, person := counter(t, reg, "vitalwatch_alert_escalations_total", "target=none"),
		counter(t, reg, "vitalwatch_alert_escalations_total", "target=person"); none != 1 || person != 1 {
		t.Errorf("escalations none = %v, person = %v; want 1 and 1", none, person)
	}
}

// Each webhook attempt counts by what it left the delivery as: retrying after a failure that
// will be retried, delivered on a 2xx, failed when it gives up.
func TestMetricsCountWebhookAttempts(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := notify.NewMetrics(reg, nil)
	f := newWHFixture(t, notify.DelivererOptions{AllowPrivate: true, Metrics: m,
		Retry: notify.RetryPolicy{GiveUpAfter: 25 * time.Second}})
	flaky := newReceiver(t, f.clock, func(n int) int {
		if n == 1 {
			return http.StatusServiceUnavailable
		}
		return http.StatusNoContent
	})
	down := newReceiver(t, f.clock, func(int) int { return http.StatusInternalServerError })
	f.webhook(notify.Webhook{Team: "tA", URL: flaky.URL})
	f.webhook(notify.Webhook{Team: "tA", URL: down.URL})
	f.apply(clinical("glucose_very_low", "pA1", "tA", alerts.Urgent))
	for _, at := range []time.Duration{0, 10 * time.Second, 30 * time.Second} {
		f.runAt(base.Add(at))
	}
	// flaky: 503 at 0 (retrying), 204 at 10 s (delivered); down: 500 at 0 and 10 s (retrying),
	// 500 at 30 s, past the 25 s of giving up (failed).
	for outcome, want := range map[string]float64{"retrying": 3, "delivered": 1, "failed": 1} {
		if got := counter(t, reg, "vitalwatch_webhook_attempts_total", "outcome="+outcome); got != want {
			t.Errorf("attempts{outcome=%s} = %v; want %v", outcome, got, want)
		}
	}
}
