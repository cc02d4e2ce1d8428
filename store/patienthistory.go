package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/vitalwatch/vitalwatch/devices"
)

// PatientRecords returns every change to a patient that the audit log holds (patient.create,
// patient.update, patient.transfer), oldest first, each with the site of the team the change
// left the patient in and, but for a transfer, the plans.
func (s *Registry) PatientRecords(ctx context.Context) ([]devices.PatientRecord, error) {
	type team struct{ id, site string }
	teams, err := queryAll(ctx, s.readers, `SELECT id, site_id FROM teams`, nil, func(sc scanner) (team, error) {
		var t team
		return t, sc.Scan(&t.id, &t.site)
	})
	if err != nil {
		return nil, fmt.Errorf("patient changes: %w", err)
	}
	siteOf := make(map[string]string, len(teams))
	for _, t := range teams {
		siteOf[t.id] = t.site
	}
	type row struct {
		at                      int64
		action, subject, detail string
	}
	rows, err := queryAll(ctx, s.readers, `SELECT at_ms, action, subject, detail FROM audit_log
		WHERE action IN ('patient.create', 'patient.update', 'patient.transfer') ORDER BY id`, nil,
		func(sc scanner) (row, error) {
			var r row
			return r, sc.Scan(&r.at, &r.action, &r.subject, &r.detail)
		})
	if err != nil {
		return nil, fmt.Errorf("patient changes: %w", err)
	}
	out := make([]devices.PatientRecord, 0, len(rows))
	for _, r := range rows {
		var d struct {
			Team   string   `json:"team"`
			Plans  []string `json:"plans"`
			ToTeam string   `json:"to_team"`
		}
		if err := json.Unmarshal([]byte(r.detail), &d); err != nil {
			return nil, fmt.Errorf("patient changes: %s of %s: %w", r.action, r.subject, err)
		}
		c := devices.PatientRecord{Patient: r.subject[len("patient/"):], At: time.UnixMilli(r.at).UTC()}
		if r.action == "patient.transfer" {
			c.Site = siteOf[d.ToTeam]
		} else {
			c.Site, c.Plans, c.PlansSet = siteOf[d.Team], d.Plans, true
		}
		out = append(out, c)
	}
	return out, nil
}
