package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
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
	// Each row becomes its record as it is read: a city's patients have hundreds of thousands
	// of these changes, and their rows as read (the detail's JSON) would double what the
	// records take. The plans' names are few, and each record refers to one copy of each.
	plans := map[string]string{}
	out, err := queryAll(ctx, s.readers, `SELECT at_ms, action, subject, detail FROM audit_log
		WHERE action IN ('patient.create', 'patient.update', 'patient.transfer') ORDER BY id`, nil,
		func(sc scanner) (devices.PatientRecord, error) {
			var at int64
			var action, subject string
			var detail []byte
			if err := sc.Scan(&at, &action, &subject, &detail); err != nil {
				return devices.PatientRecord{}, err
			}
			var d struct {
				Team   string   `json:"team"`
				Plans  []string `json:"plans"`
				ToTeam string   `json:"to_team"`
			}
			if err := json.Unmarshal(detail, &d); err != nil {
				return devices.PatientRecord{}, fmt.Errorf("%s of %s: %w", action, subject, err)
			}
			c := devices.PatientRecord{Patient: strings.TrimPrefix(subject, "patient/"), At: time.UnixMilli(at).UTC()}
			if action == "patient.transfer" {
				c.Site = siteOf[d.ToTeam]
				return c, nil
			}
			for i, p := range d.Plans {
				if name, ok := plans[p]; ok {
					d.Plans[i] = name
				} else {
					plans[p] = p
				}
			}
			c.Site, c.Plans, c.PlansSet = siteOf[d.Team], d.Plans, true
			return c, nil
		})
	if err != nil {
		return nil, fmt.Errorf("patient changes: %w", err)
	}
	return out, nil
}
