package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/errcode"
)

// Alert burden (alerts.Burden). The counts are one GROUP BY over the alerts raised in the
// period; the median time to acknowledge is computed here from a second query of the
// acknowledged ones, since neither SQLite nor the SQL both dialects share has a percentile.
// Acknowledged is the number of delays that second query read, so that it and the median
// always describe the same alerts. The population (patients of a team, devices of a site) is
// the registry's now: the registry keeps no history of team sizes. A period's alerts are found
// by the index on created_ms (migration 0014).

// ownerColumn is whom an alert weighs on: its team if clinical, its site if a fault.
const ownerColumn = `CASE WHEN category = 'clinical' THEN team ELSE site END`

// burdenKey identifies one figure.
type burdenKey struct {
	category alerts.Category
	owner    string
	rule     string
}

// AlertBurden returns the burden of each rule for each team (clinical) and site (faults) that
// f selects, clinical first, then by team or site and rule. A rule with no alert in the period
// has no figure. Invalid without a period.
func (s *Alerts) AlertBurden(ctx context.Context, f alerts.BurdenFilter) ([]alerts.Burden, error) {
	if f.From.IsZero() || f.To.IsZero() || !f.From.Before(f.To) {
		return nil, errcode.Errorf(errcode.Invalid, "alert burden: the period must have a start before its end, not %v to %v", f.From, f.To)
	}
	fail := func(err error) ([]alerts.Burden, error) {
		return nil, fmt.Errorf("alert burden %s to %s: %w", f.From.Format(time.RFC3339), f.To.Format(time.RFC3339), err)
	}
	w := burdenWhere(f)
	system := w.arg(alerts.SystemActor)
	q := `SELECT category, ` + ownerColumn + `, rule, COUNT(*), COUNT(DISTINCT subject),
		SUM(CASE WHEN state = 'resolved' AND resolved_by = ` + system + ` THEN 1 ELSE 0 END),
		SUM(CASE WHEN state = 'resolved' AND resolved_by <> ` + system + ` THEN 1 ELSE 0 END),
		SUM(late), SUM(CASE WHEN silenced <> '' THEN 1 ELSE 0 END), SUM(CASE WHEN doubt <> '' THEN 1 ELSE 0 END)
		FROM alerts` + w.sql() + ` GROUP BY category, ` + ownerColumn + `, rule`
	out, err := queryAll(ctx, s.db, q, w.args, func(sc scanner) (alerts.Burden, error) {
		b := alerts.Burden{From: f.From, To: f.To}
		var owner string
		err := sc.Scan(&b.Category, &owner, &b.Rule, &b.Alerts, &b.Subjects, &b.ResolvedBySystem, &b.ResolvedByPerson,
			&b.Late, &b.Silenced, &b.Doubt)
		if b.Category == alerts.Clinical {
			b.Team = owner
		} else {
			b.Site = owner
		}
		return b, err
	})
	if err != nil {
		return fail(err)
	}
	if len(out) == 0 {
		return out, nil
	}

	// The delays of the same alerts, acknowledged ones only.
	delays := map[burdenKey][]time.Duration{}
	w = burdenWhere(f)
	w.conds = append(w.conds, "acknowledged_ms IS NOT NULL")
	rows, err := s.db.QueryContext(ctx, `SELECT category, `+ownerColumn+`, rule, acknowledged_ms - created_ms FROM alerts`+w.sql(), w.args...)
	if err != nil {
		return fail(err)
	}
	defer rows.Close()
	for rows.Next() {
		var k burdenKey
		var ms int64
		if err := rows.Scan(&k.category, &k.owner, &k.rule, &ms); err != nil {
			return fail(err)
		}
		delays[k] = append(delays[k], time.Duration(ms)*time.Millisecond)
	}
	if err := rows.Err(); err != nil {
		return fail(err)
	}

	population, err := s.burdenPopulation(ctx, out)
	if err != nil {
		return fail(err)
	}
	for i := range out {
		b := &out[i]
		k := burdenKey{b.Category, b.Team + b.Site, b.Rule}
		b.Acknowledged, b.AckMedian = len(delays[k]), alerts.MedianDuration(delays[k])
		b.Population = population[burdenKey{category: b.Category, owner: k.owner}]
	}
	slices.SortFunc(out, func(a, b alerts.Burden) int {
		return cmp.Or(strings.Compare(string(a.Category), string(b.Category)), strings.Compare(a.Team+a.Site, b.Team+b.Site),
			strings.Compare(a.Rule, b.Rule))
	})
	return out, nil
}

// burdenWhere selects the alerts of f.
func burdenWhere(f alerts.BurdenFilter) *where {
	w := &where{}
	w.add("created_ms >= ?", f.From.UnixMilli())
	w.add("created_ms < ?", f.To.UnixMilli())
	scopeWhere(w, f.Scope)
	if f.Team != "" || f.Site != "" {
		var narrow alerts.Scope
		if f.Team != "" {
			narrow.Teams = []string{f.Team}
		}
		if f.Site != "" {
			narrow.Sites = []string{f.Site}
		}
		scopeWhere(w, narrow)
	}
	if f.Rule != "" {
		w.add("rule = ?", f.Rule)
	}
	return w
}

// burdenPopulation counts, for the figures' teams and sites, the patients of each team and the
// devices of each site that are not retired, keyed by category and owner.
func (s *Alerts) burdenPopulation(ctx context.Context, figures []alerts.Burden) (map[burdenKey]int, error) {
	owners := map[alerts.Category][]string{}
	for _, b := range figures {
		if o := b.Team + b.Site; !slices.Contains(owners[b.Category], o) {
			owners[b.Category] = append(owners[b.Category], o)
		}
	}
	out := map[burdenKey]int{}
	for _, c := range []struct {
		category alerts.Category
		query    string
	}{
		{alerts.Clinical, `SELECT team_id, COUNT(*) FROM patients WHERE team_id IN (%s) GROUP BY team_id`},
		{alerts.Fault, `SELECT site_id, COUNT(*) FROM devices WHERE site_id IN (%s) AND status <> 'retired' GROUP BY site_id`},
	} {
		ids := owners[c.category]
		if len(ids) == 0 {
			continue
		}
		w := &where{}
		ps := make([]string, len(ids))
		for i, id := range ids {
			ps[i] = w.arg(id)
		}
		type count struct {
			owner string
			n     int
		}
		counts, err := queryAll(ctx, s.db, fmt.Sprintf(c.query, strings.Join(ps, ", ")), w.args, func(sc scanner) (count, error) {
			var n count
			return n, sc.Scan(&n.owner, &n.n)
		})
		if err != nil {
			return nil, err
		}
		for _, n := range counts {
			out[burdenKey{category: c.category, owner: n.owner}] = n.n
		}
	}
	return out, nil
}
