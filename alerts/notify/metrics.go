package notify

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vitalwatch/vitalwatch/alerts"
)

// Metrics counts what this instance's alert services do, for /metrics: the alerts its rules
// raise, the escalation steps it takes, and its webhook attempts. Each instance counts its own;
// sum them over instances.
type Metrics struct {
	raised      *prometheus.CounterVec
	escalations *prometheus.CounterVec
	attempts    *prometheus.CounterVec
}

// Escalation targets and webhook attempt outcomes, the values of their labels.
const (
	targetPerson = "person"
	targetNone   = "none"

	attemptDelivered = "delivered"
	attemptRetrying  = "retrying"
	attemptFailed    = "failed"
)

// NewMetrics registers the alert metrics with reg. Every rule of ruleIDs (rules.RuleIDs) starts
// at zero at every severity, as do the escalation targets and the attempt outcomes, so that a
// rate or an increase sees the first one.
func NewMetrics(reg prometheus.Registerer, ruleIDs []string) *Metrics {
	m := &Metrics{
		raised: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vitalwatch_alerts_raised_total",
			Help: "Alerts raised by this instance's rules (new open alerts, not repeats), by rule and severity."},
			[]string{"rule", "severity"}),
		escalations: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vitalwatch_alert_escalations_total",
			Help: "Escalation steps taken by this instance, by target: person (a lead or an on-call doctor paged) " +
				"or none (the team has no lead and no on-call roster)."}, []string{"target"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vitalwatch_webhook_attempts_total",
			Help: "Webhook delivery attempts made by this instance, by outcome: delivered (a 2xx answer), " +
				"retrying (failed, to be sent again) or failed (failed, given up)."}, []string{"outcome"}),
	}
	for _, rule := range ruleIDs {
		for s := alerts.Info; s <= alerts.Critical; s++ {
			m.raised.WithLabelValues(rule, s.String())
		}
	}
	for _, t := range []string{targetPerson, targetNone} {
		m.escalations.WithLabelValues(t)
	}
	for _, o := range []string{attemptDelivered, attemptRetrying, attemptFailed} {
		m.attempts.WithLabelValues(o)
	}
	reg.MustRegister(m.raised, m.escalations, m.attempts)
	return m
}

// Counting returns a publisher that counts the raised and escalated events published through
// it, then passes them on to next (if not nil). The lifecycle and the escalator publish
// through it.
func (m *Metrics) Counting(next alerts.Publisher) alerts.Publisher {
	return countingPublisher{m: m, next: next}
}

type countingPublisher struct {
	m    *Metrics
	next alerts.Publisher
}

func (p countingPublisher) Publish(events ...alerts.Event) {
	for _, ev := range events {
		switch ev.Type {
		case alerts.EventRaised:
			p.m.raised.WithLabelValues(ev.Alert.Rule, ev.Alert.Severity.String()).Inc()
		case alerts.EventEscalated:
			target := targetPerson
			if ev.Note == "" { // the escalated event's note is the user paged
				target = targetNone
			}
			p.m.escalations.WithLabelValues(target).Inc()
		}
	}
	if p.next != nil {
		p.next.Publish(events...)
	}
}

// attempt counts a webhook attempt whose outcome left the delivery in state s.
func (m *Metrics) attempt(s DeliveryState) {
	if m == nil {
		return
	}
	switch s {
	case DeliveryDelivered:
		m.attempts.WithLabelValues(attemptDelivered).Inc()
	case DeliveryFailed:
		m.attempts.WithLabelValues(attemptFailed).Inc()
	default:
		m.attempts.WithLabelValues(attemptRetrying).Inc()
	}
}
