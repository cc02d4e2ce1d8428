package api

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
)

// growthNoticeAt is a centre_growth notice about site, as package fleet raises it.
func growthNoticeAt(site string, minutes int) alerts.Finding {
	return alerts.Finding{Rule: alerts.RuleCentreGrowth, RuleVersion: 1, Category: alerts.Fault, Severity: alerts.Info,
		Subject: alerts.Subject{Kind: alerts.SubjectSite, ID: site}, Site: site, At: alertTime.Add(time.Duration(minutes) * time.Minute),
		Value: "hypertension 100→121 +21%: bp_cuff +3",
		Thresholds: map[string]float64{"growth": 0.2, "target": 0.75, "hypertension.before": 100, "hypertension.patients": 121,
			"hypertension.rate": 0.21, "hypertension.more.bp_cuff": 3}}
}

// A site's growth notice goes to the fleet managers of that site (and the admins): in their
// lists, details and live feeds, not in a doctor's nor another site's fleet manager's. It can
// be acknowledged and resolved without a note, not snoozed.
func TestGrowthNoticeOverAPI(t *testing.T) {
	af := newAlertFixture(t)
	doc := loadOpenAPI(t)
	evs := af.apply(clinicalAt("glucose_very_low", "pA1", "tA", alerts.Urgent, 0), growthNoticeAt("sA", 1))
	if len(evs) != 2 || evs[1].AlertID != 2 || !evs[1].Notify {
		t.Fatalf("applied = %+v; want the notice raised as alert 2, notifying", evs)
	}
	for _, tt := range []struct {
		name string
		want []int64
	}{
		{"admin", []int64{2, 1}},
		{"docA", []int64{1}},
		{"docB", []int64{}},
		{"fleetA", []int64{2}},
		{"fleetB", []int64{}},
	} {
		if got := alertIDs(t, af.do(200, tt.name, "GET", "/alerts", "", nil).Body.Bytes()); !slices.Equal(got, tt.want) {
			t.Errorf("GET /alerts as %s = %v; want %v", tt.name, got, tt.want)
		}
	}
	if got := alertIDs(t, af.do(200, "fleetA", "GET", "/alerts?rule=centre_growth&site=sA&category=fault", "", nil).Body.Bytes()); !slices.Equal(got, []int64{2}) {
		t.Errorf("GET /alerts?rule=centre_growth&site=sA as fleetA = %v; want [2]", got)
	}

	var d alertDetailJSON
	w := af.do(200, "fleetA", "GET", "/alerts/2", "", &d)
	if err := doc.checkAnswer("GET", "/alerts/{id}", 200, w.Body.Bytes()); err != nil {
		t.Errorf("detail does not fit the OpenAPI document: %v\n%s", err, w.Body)
	}
	if d.Subject != "site/sA" || d.Site != "sA" || d.Category != "fault" || d.Severity != "info" || d.Patient != "" || d.Device != "" ||
		d.LastValue != "hypertension 100→121 +21%: bp_cuff +3" || d.Thresholds["hypertension.more.bp_cuff"] != 3 ||
		d.Thresholds["hypertension.rate"] != 0.21 || len(d.Evidence) != 0 || len(d.Events) != 1 || !d.Events[0].Notify {
		t.Errorf("detail of the notice = %+v", d)
	}
	af.refused(403, "docA", "GET", "/alerts/2", "", "alert 2 is a notice to the fleet managers of site sA")
	af.refused(403, "fleetB", "GET", "/alerts/2", "", "alert 2 is about site sA, not one of yours")
	af.refused(400, "fleetA", "POST", "/alerts/2/snooze", `{"for": "72h", "reason": "budget next year"}`, "a site's notice cannot be silenced")

	// The live feed: fleetA's has the notice, docA's and fleetB's do not.
	for name, want := range map[string]bool{"fleetA": true, "admin": true, "docA": false, "fleetB": false} {
		body := af.callStream(af.tokens[name], "/alerts/stream", "0", 300*time.Millisecond).Body.String()
		if got := strings.Contains(body, `"subject":"site/sA"`); got != want {
			t.Errorf("live feed of %s has the notice: %v; want %v\n%s", name, got, want, body)
		}
	}

	var a alertJSON
	af.do(200, "fleetA", "POST", "/alerts/2/acknowledge", `{"note": "asking for 3 cuffs"}`, &a)
	af.do(200, "fleetA", "POST", "/alerts/2/resolve", "", &a)
	if a.State != "resolved" || a.ResolvedBy != af.actor("fleetA") {
		t.Errorf("resolved notice = %+v", a)
	}
}
