package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/internal/jsondecode"
)

// EachPatientRecord calls each with every change to a patient that the audit log holds
// (patient.create, patient.update, patient.transfer), oldest first, each with the site of the
// team the change left the patient in and, but for a transfer, the plans. Each record is made
// as its row is read and is the caller's to keep or drop: a city's patients have hundreds of
// thousands of these changes, and a caller that counts them need not hold them all. The plans'
// names are few, and the records refer to one copy of each. An error from each stops the read
// and is returned.
func (s *Registry) EachPatientRecord(ctx context.Context, each func(devices.PatientRecord) error) error {
	type team struct{ id, site string }
	teams, err := queryAll(ctx, s.readers, `SELECT id, site_id FROM teams`, nil, func(sc scanner) (team, error) {
		var t team
		return t, sc.Scan(&t.id, &t.site)
	})
	if err != nil {
		return fmt.Errorf("patient changes: %w", err)
	}
	siteOf := make(map[string]string, len(teams))
	for _, t := range teams {
		siteOf[t.id] = t.site
	}
	plans := map[string]string{}
	var eachErr error
	err = eachRow(ctx, s.readers, `SELECT id, at_ms, action, subject, detail FROM audit_log
		WHERE action IN ('patient.create', 'patient.update', 'patient.transfer') ORDER BY id`, nil,
		func(sc scanner) error {
			var id, at int64
			var action, subject string
			var detail sql.RawBytes // the driver's, read before the next row
			if err := sc.Scan(&id, &at, &action, &subject, &detail); err != nil {
				return err
			}
			type change struct {
				Team   string   `json:"team"`
				Plans  []string `json:"plans"`
				ToTeam string   `json:"to_team"`
			}
			// Decoded by segmentio's decoder, which allocates a fraction of what the standard
			// library's does; an error quotes none of the detail.
			var d change
			if err := jsondecode.Unmarshal(detail, &d); err != nil {
				return fmt.Errorf("%s, audit log entry %d: %w", action, id, err) // no subject: a patient id stays out of logs
			}
			c := devices.PatientRecord{Patient: strings.TrimPrefix(subject, "patient/"), At: time.UnixMilli(at).UTC()}
			if action == "patient.transfer" {
				c.Site = siteOf[d.ToTeam]
			} else {
				for i, p := range d.Plans {
					if name, ok := plans[p]; ok {
						d.Plans[i] = name
					} else {
						plans[p] = p
					}
				}
				c.Site, c.Plans, c.PlansSet = siteOf[d.Team], d.Plans, true
			}
			eachErr = each(c)
			return eachErr
		})
	if err != nil && err == eachErr {
		return err
	}
	if err != nil {
		return fmt.Errorf("patient changes: %w", err)
	}
	return nil
}
