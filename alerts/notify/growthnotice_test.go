package notify

import (
	"testing"

	"github.com/vitalwatch/vitalwatch/alerts"
)

// A centre's growth notice goes to its site's webhooks, when raised (it notifies) and when it
// resolves, and to no team's nor other site's; an update that notifies no one is not sent.
func TestWebhookGetsGrowthNotice(t *testing.T) {
	notice := alerts.Alert{ID: 7, Rule: alerts.RuleCentreGrowth, Category: alerts.Fault, Severity: alerts.Info,
		Subject: alerts.Subject{Kind: alerts.SubjectSite, ID: "s-01"}, Site: "s-01", NotifiedSeverity: alerts.Info}
	raised := alerts.Event{ID: 10, Type: alerts.EventRaised, Severity: alerts.Info, Notify: true, Alert: notice}
	updated := alerts.Event{ID: 11, Type: alerts.EventUpdated, Severity: alerts.Info, Alert: notice}
	resolved := alerts.Event{ID: 12, Type: alerts.EventResolved, Severity: alerts.Info, Alert: notice}
	site := Webhook{Site: "s-01", Enabled: true, MinSeverity: alerts.Info}
	for _, tt := range []struct {
		name string
		w    Webhook
		ev   alerts.Event
		want bool
	}{
		{"raised, its site", site, raised, true},
		{"resolved, its site", site, resolved, true},
		{"updated without notifying", site, updated, false},
		{"another site", Webhook{Site: "s-02", Enabled: true, MinSeverity: alerts.Info}, raised, false},
		{"a team", Webhook{Team: "t-01", Enabled: true, MinSeverity: alerts.Info}, raised, false},
		{"warnings and above", Webhook{Site: "s-01", Enabled: true, MinSeverity: alerts.Warning}, raised, false},
	} {
		if got := tt.w.Matches(tt.ev); got != tt.want {
			t.Errorf("%s: Matches = %v; want %v", tt.name, got, tt.want)
		}
	}
}
