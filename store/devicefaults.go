package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
)

// faultChunk is how many devices one query of DeviceFaults names.
const faultChunk = 500

// DeviceFaults returns the fault alerts of the rules given raised for the devices given, in any
// state, by device and first seen, with their id, rule, category, subject, device, site, state,
// first and last seen and resolution time only (the repair turnaround's starts). It reads them
// through the index alerts_device (device, id), a few hundred devices a query: a repair's device
// has few alerts.
func (s *Alerts) DeviceFaults(ctx context.Context, rules []string, deviceIDs []string) ([]alerts.Alert, error) {
	out := []alerts.Alert{}
	if len(rules) == 0 {
		return out, nil
	}
	// SQLite's planner, without statistics, would read every alert of the rules through
	// alerts_rule: most of a city's faults.
	from := "alerts"
	if s.dialect == sqlite {
		from = "alerts INDEXED BY alerts_device"
	}
	for len(deviceIDs) > 0 {
		chunk := deviceIDs[:min(faultChunk, len(deviceIDs))]
		deviceIDs = deviceIDs[len(chunk):]
		w := &where{}
		in := func(vs []string) string {
			ps := make([]string, len(vs))
			for i, v := range vs {
				ps[i] = w.arg(v)
			}
			return strings.Join(ps, ", ")
		}
		w.conds = append(w.conds, "device IN ("+in(chunk)+")", "rule IN ("+in(rules)+")", "category = 'fault'")
		q := `SELECT id, rule, subject, device, site, state, first_seen_ms, last_seen_ms, resolved_ms FROM ` + from + w.sql() +
			` ORDER BY device, first_seen_ms, id`
		got, err := queryAll(ctx, s.readers, q, w.args, func(sc scanner) (alerts.Alert, error) {
			a := alerts.Alert{Category: alerts.Fault}
			var subject string
			var first, last int64
			var resolved sql.NullInt64
			if err := sc.Scan(&a.ID, &a.Rule, &subject, &a.Device, &a.Site, &a.State, &first, &last, &resolved); err != nil {
				return a, err
			}
			a.Subject.Kind, a.Subject.ID, _ = strings.Cut(subject, "/")
			a.FirstSeen, a.LastSeen = time.UnixMilli(first).UTC(), time.UnixMilli(last).UTC()
			a.ResolvedAt = fromMillis(resolved)
			return a, nil
		})
		if err != nil {
			return nil, fmt.Errorf("device faults: %w", err)
		}
		out = append(out, got...)
	}
	return out, nil
}
