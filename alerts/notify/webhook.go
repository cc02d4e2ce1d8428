package notify

import (
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/errcode"
	"github.com/vitalwatch/vitalwatch/reading"
)

// Webhooks (docs/design.md "Alerts"): signed HTTP POSTs of alert events to a team's
// or a site's receivers (an SMS gateway, a hospital system).
//
//   - What is sent: an event that notifies people (raised, severity_raised, or the first clean
//     repeat of an alert that was quiet: Event.Notify), every escalated event, and the resolved
//     event of an alert that had notified someone, so that a receiver can close what it opened.
//     A repeat that notifies no one (updated) and acknowledgements are not sent.
//   - To whom: a clinical alert's event to the enabled webhooks of its team, a fault's to those
//     of its site, each at or above the webhook's minimum severity (for resolved, the severity
//     it had notified), and only events written after the webhook was created.
//   - How: the Deliverer follows the alert events from a cursor kept in the store and, in one
//     step with moving the cursor, writes one delivery per matching webhook to an outbox. It
//     then claims due deliveries under a lease, so that two instances never send one at once,
//     and POSTs each; 2xx is delivered, anything else is retried with exponential backoff until
//     at least RetryPolicy.GiveUpAfter has passed since the first attempt, then failed. The body
//     and the idempotency key are fixed when the delivery is written, so every retry is the same
//     request and a receiver can drop repeats by the key. The signature is made when a request
//     is sent, with the webhook's secret then: after a rotation, every request, a retry of an
//     event queued before it included, is signed with the new secret.
//   - Where to: a webhook makes the platform POST from inside its network, so a URL naming an
//     internal address would let whoever manages a webhook reach internal services. Unless
//     private targets are allowed (config alerts.webhooks.allow_private, for receivers on the
//     same network), a webhook's URL may not name localhost or a literal loopback, link-local,
//     private, unspecified or multicast address (CheckWebhookTarget, when it is registered or
//     changed), and the deliverer's client checks the address it connects to, after the name
//     is resolved, on every connection (net.Dialer.Control): a name that resolves to such an
//     address, at registration or only later (DNS rebinding), is refused as well. A refused
//     attempt is a failed attempt like a refused connection: the delivery log records it with
//     the reason, and it is retried with the usual backoff until GiveUpAfter, so that a URL or
//     DNS record put right in time still gets the event.

// Webhook is a receiver of the alert events of one team (clinical alerts) or one site (faults).
type Webhook struct {
	ID   int64
	Team string // exactly one of Team and Site
	Site string
	URL  string // http or https
	// Secret keys the HMAC-SHA256 signature of each body. It is stored as given, since the
	// signature needs it, shown once when the webhook is created or its secret rotated, and
	// never logged.
	Secret  string
	Enabled bool
	// MinSeverity is the lowest severity sent; 0 sends every severity.
	MinSeverity alerts.Severity
	// FromEvent is the last alert event written before the webhook was created: only later
	// events are sent to it.
	FromEvent int64
	CreatedBy string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// MaxWebhookURL bounds a webhook's URL, in bytes.
const MaxWebhookURL = 2000

// Check refuses a webhook that cannot be stored: not exactly one of team and site, a URL that
// is not an absolute http or https URL, a severity out of range, no secret.
func (w Webhook) Check() error {
	switch {
	case (w.Team == "") == (w.Site == ""):
		return errcode.Errorf(errcode.Invalid, "a webhook is for one team or one site: give exactly one of team and site")
	case w.Team != "" && !reading.ValidID(w.Team):
		return errcode.Errorf(errcode.Invalid, "team: %q is not an id", w.Team)
	case w.Site != "" && !reading.ValidID(w.Site):
		return errcode.Errorf(errcode.Invalid, "site: %q is not an id", w.Site)
	case w.MinSeverity != 0 && (w.MinSeverity < alerts.Info || w.MinSeverity > alerts.Critical):
		return errcode.Errorf(errcode.Invalid, "min_severity: %v is not a severity", w.MinSeverity)
	case w.Secret == "":
		return errcode.Errorf(errcode.Invalid, "a webhook needs a secret")
	}
	return CheckWebhookURL(w.URL)
}

// WebhookSends reports whether an event of this kind is sent to webhooks at all (see the top of
// the file).
func WebhookSends(ev alerts.Event) bool {
	switch ev.Type {
	case alerts.EventEscalated:
		return true
	case alerts.EventResolved:
		return ev.Alert.NotifiedSeverity > 0
	case alerts.EventRaised, alerts.EventSeverityRaised, alerts.EventUpdated:
		return ev.Notify
	}
	return false
}

// Matches reports whether ev is sent to w: w is enabled and was created before ev, ev is sent
// at all, it is routed to w's team (clinical) or site (fault), and it is at or above w's
// minimum severity.
func (w Webhook) Matches(ev alerts.Event) bool {
	if !w.Enabled || ev.ID <= w.FromEvent || !WebhookSends(ev) {
		return false
	}
	switch ev.Alert.Category {
	case alerts.Clinical:
		if w.Team == "" || w.Team != ev.Alert.Team {
			return false
		}
	case alerts.Fault:
		if w.Site == "" || w.Site != ev.Alert.Site {
			return false
		}
	default:
		return false
	}
	sev := ev.Severity
	if ev.Type == alerts.EventResolved {
		sev = ev.Alert.NotifiedSeverity
	}
	return sev >= w.MinSeverity
}
