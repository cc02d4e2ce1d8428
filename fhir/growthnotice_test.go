package fhir

import (
	"context"
	"strconv"
	"testing"

	"github.com/vitalwatch/vitalwatch/alerts"
)

// A site's growth notice (centre_growth, subject site/ID) is no clinical alert: the FHIR API
// serves it as no Flag or DetectedIssue: an admin and a doctor of the site's team find none, a
// fleet manager is refused clinical alerts as before.
func TestGrowthNoticeIsNoFlag(t *testing.T) {
	f := newFixture(t)
	a, _, _, err := f.st.ApplyFinding(context.Background(), alerts.Finding{Rule: alerts.RuleCentreGrowth, RuleVersion: 1,
		Category: alerts.Fault, Severity: alerts.Info, Subject: alerts.Subject{Kind: alerts.SubjectSite, ID: "sA"}, Site: "sA", At: now,
		Value: "hypertension 100→121 +21%: bp_cuff +3", Thresholds: map[string]float64{"growth": 0.2, "hypertension.more.bp_cuff": 3}})
	if err != nil {
		t.Fatal(err)
	}
	id := strconv.FormatInt(a.ID, 10)
	pages := f.all("admin", "/Flag?_count=1")
	if n := len(resources[Flag](f, pages...)); n != 3 {
		t.Errorf("admin's flags with a growth notice: %d; want the 3 clinical ones", n)
	}
	for user, code := range map[string]int{"admin": 404, "doca": 404, "fleeta": 403} {
		for _, path := range []string{"/Flag/" + id, "/DetectedIssue/" + id} {
			if w := f.do(user, path); w.Code != code {
				t.Errorf("GET %s as %s = %d %s; want %d", path, user, w.Code, w.Body, code)
			}
		}
	}
	var b bundle
	f.get("doca", "/Flag", &b)
	if n := len(resources[Flag](f, b)); n != 2 {
		t.Errorf("the flags of a doctor at the notice's site = %d; want their 2 clinical ones", n)
	}
}
