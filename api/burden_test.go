package api

import (
	"context"
	"encoding/csv"
	"math"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/audit"
)

// The alert burden over HTTP: each role sees the figures of the alerts it may see, per team or
// site and rule, in JSON or CSV. (The figures themselves, on a clock, are store's tests.)
func TestAlertBurdenOverAPI(t *testing.T) {
	f := newRegistryFixture(t)
	seedAlerts(f) // 1 glucose_very_low of pA1 (tA), 2 of pB1 (tB), 3 battery_low of dA1 (sA), 4 of dB1 (sB)
	ctx := context.Background()
	for _, fd := range []alerts.Finding{
		clinicalAt("glucose_very_low", "pA2", "tA", alerts.Urgent, 1), // 5
		clinicalAt("spo2_low", "pA1", "tA", alerts.Warning, 2),        // 6
	} {
		if _, _, _, err := f.store.ApplyFinding(ctx, fd); err != nil {
			t.Fatal(err)
		}
	}
	asDoc := audit.WithActor(ctx, "user:docA")
	if _, _, err := f.store.AcknowledgeAlert(asDoc, 1, ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.store.ResolveAlert(asDoc, 1, "ate"); err != nil {
		t.Fatal(err)
	}
	cleared := faultAt("battery_low", "dA1", "sA", alerts.Info, 10) // the battery of dA1 is charged: 3 resolves itself
	cleared.Resolve = true
	if _, _, _, err := f.store.ApplyFinding(ctx, cleared); err != nil {
		t.Fatal(err)
	}
	doc := loadOpenAPI(t)

	type row struct {
		owner, rule       string
		alerts, subjects  int
		population        int
		acknowledged      int
		auto, byPerson    int
		perSubjectPerWeek float64
	}
	rowsOf := func(p burdenPage) []row {
		var out []row
		for _, b := range p.Items {
			r := row{b.Team + b.Site, b.Rule, b.Alerts, b.Subjects, b.Population, b.Acknowledged, b.ResolvedAutomatically,
				b.ResolvedByPerson, -1}
			if b.PerSubjectPerWeek != nil {
				r.perSubjectPerWeek = math.Round(*b.PerSubjectPerWeek*1e6) / 1e6
			}
			out = append(out, r)
		}
		return out
	}
	// Default period: 28 days, 4 weeks. tA has 2 patients, tB 1; sA has 3 devices, sB 2.
	tAGlucose := row{"tA", "glucose_very_low", 2, 2, 2, 1, 0, 1, 0.25}
	tASpO2 := row{"tA", "spo2_low", 1, 1, 2, 0, 0, 0, 0.125}
	tBGlucose := row{"tB", "glucose_very_low", 1, 1, 1, 0, 0, 0, 0.25}
	sABattery := row{"sA", "battery_low", 1, 1, 3, 0, 1, 0, 1.0 / 12}
	sBBattery := row{"sB", "battery_low", 1, 1, 2, 0, 0, 0, 0.125}
	sABattery.perSubjectPerWeek = math.Round(sABattery.perSubjectPerWeek*1e6) / 1e6
	for _, tt := range []struct {
		token, query string
		want         []row
	}{
		{"admin", "", []row{tAGlucose, tASpO2, tBGlucose, sABattery, sBBattery}},
		{"docA", "", []row{tAGlucose, tASpO2}},
		{"docA", "?team=tA&rule=spo2_low", []row{tASpO2}},
		{"docB", "", []row{tBGlucose}},
		{"fleetA", "", []row{sABattery}},
		{"fleetAB", "?site=sB", []row{sBBattery}},
		{"admin", "?team=tB&site=sA", []row{tBGlucose, sABattery}},
		{"admin", "?from=2026-01-01&to=2026-01-31", nil}, // long before the alerts were raised
	} {
		var p burdenPage
		w := f.want(200, tt.token, "GET", "/alerts/burden"+tt.query, "", &p)
		if got := rowsOf(p); !slices.Equal(got, tt.want) {
			t.Errorf("GET /alerts/burden%s as %s = %+v; want %+v", tt.query, tt.token, got, tt.want)
		}
		if err := doc.checkAnswer("GET", "/alerts/burden", 200, w.Body.Bytes()); err != nil {
			t.Errorf("GET /alerts/burden%s as %s does not fit the OpenAPI document: %v\n%s", tt.query, tt.token, err, w.Body)
		}
	}

	var p burdenPage
	f.want(200, "docA", "GET", "/alerts/burden", "", &p)
	if p.Weeks != 4 || p.To.Sub(p.From) != 28*24*time.Hour || time.Since(p.To) > time.Minute {
		t.Errorf("default period %v to %v, %v weeks; want the 4 weeks to now", p.From, p.To, p.Weeks)
	}
	if m := p.Items[0].MedianAckSeconds; m == nil || *m < 0 || *m > 60 || p.Items[1].MedianAckSeconds != nil {
		t.Errorf("median seconds to acknowledge = %v, %v; want a few seconds for glucose_very_low, none for spo2_low",
			p.Items[0].MedianAckSeconds, p.Items[1].MedianAckSeconds)
	}
	p = burdenPage{}
	f.want(200, "admin", "GET", "/alerts/burden?from=2026-11-01&to=2026-11-30", "", &p)
	if want := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC); !p.From.Equal(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)) || !p.To.Equal(want) {
		t.Errorf("from=2026-11-01&to=2026-11-30 is %v to %v; want the whole of November", p.From, p.To)
	}
	p = burdenPage{}
	f.want(200, "admin", "GET", "/alerts/burden?to=2026-11-22T08:00:00%2B08:00", "", &p)
	if want := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC); !p.To.Equal(want) || !p.From.Equal(want.AddDate(0, 0, -28)) {
		t.Errorf("to=2026-11-22T08:00:00+08:00 alone is %v to %v; want the 28 days before %v", p.From, p.To, want)
	}

	// CSV, by format= or by Accept.
	for _, how := range []struct{ query, accept string }{{"?format=csv", ""}, {"", "text/csv"}} {
		r := httptest.NewRequest("GET", "/api/v1/alerts/burden"+how.query, nil)
		r.Header.Set("Authorization", "Bearer docA")
		if how.accept != "" {
			r.Header.Set("Accept", how.accept)
		}
		req := httptest.NewRecorder()
		f.api.ServeHTTP(req, r)
		if req.Code != 200 || !strings.HasPrefix(req.Header().Get("Content-Type"), "text/csv") {
			t.Fatalf("GET /alerts/burden%s Accept %q = %d %s %s; want CSV", how.query, how.accept, req.Code, req.Header().Get("Content-Type"), req.Body)
		}
		recs, err := csv.NewReader(req.Body).ReadAll()
		if err != nil || len(recs) != 3 {
			t.Fatalf("CSV %q: %d records, %v; want a header and 2 rows", req.Body, len(recs), err)
		}
		col := map[string]int{}
		for i, name := range recs[0] {
			col[name] = i
		}
		row := recs[1]
		if row[col["team"]] != "tA" || row[col["rule"]] != "glucose_very_low" || row[col["alerts"]] != "2" || row[col["population"]] != "2" ||
			row[col["alerts_per_subject_per_week"]] != "0.25" || row[col["acknowledged"]] != "1" || row[col["resolved_by_person"]] != "1" ||
			row[col["median_seconds_to_acknowledge"]] == "" || recs[2][col["median_seconds_to_acknowledge"]] != "" {
			t.Errorf("CSV rows %v (columns %v); want tA's glucose_very_low figures, and no median for spo2_low", recs[1:], recs[0])
		}
	}

	for _, tt := range []struct {
		token, query string
		status       int
		says         string
	}{
		{"admin", "?from=yesterday", 400, `from: "yesterday" is not an RFC 3339 time`},
		{"admin", "?to=2026-13-01", 400, "to: "},
		{"admin", "?from=2026-11-30&to=2026-11-01", 400, "from: 2026-11-30T00:00:00Z is not before to"},
		{"admin", "?from=2025-01-01&to=2026-11-01", 400, "at most 366 days"},
		{"admin", "?rule=a%20b", 400, "rule: "},
		{"admin", "?format=xml", 400, `format: "xml" is not json or csv`},
		{"admin", "?since=2026-11-01", 400, `unknown parameter "since"`},
		{"docA", "?team=tB", 403, "team tB is not one of yours"},
		{"docA", "?site=sA", 403, "site sA is not one of yours"},
		{"fleetA", "?team=tA", 403, "team tA is not one of yours"},
	} {
		w := f.call(tt.token, "GET", "/alerts/burden"+tt.query, "")
		if msg := errorOf(w.Body.Bytes()); w.Code != tt.status || !strings.Contains(msg, tt.says) {
			t.Errorf("GET /alerts/burden%s as %s = %d %s; want %d saying %q", tt.query, tt.token, w.Code, msg, tt.status, tt.says)
		}
	}
}
