package store

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/errcode"
)

// Alert burden (alerts.Burden). The counts are one aggregation over the alerts raised in the
// period; the median time to acknowledge is computed here from the list of the acknowledged
// ones' delays that the same query returns per figure, since neither SQLite nor the SQL both
// dialects share has a percentile. The population (patients of a team, devices of a site) is
// the registry's now: the registry keeps no history of team sizes. A period's alerts are read
// from an index with every column the query reads: in PostgreSQL alerts_burden (migration
// 0020) by creation and then sorted, or for a long period alerts_burden_figure (migration
// 0025) in figure order, as the planner chooses; in SQLite alerts_burden_group (migration
// 0022), by figure then creation, one figure after another as burden_groups lists them.

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
	// The delays to acknowledge come in the same scan, as one list per figure: reading them
	// row by row was a second pass over the period and a row for each acknowledged alert.
	delays := `group_concat(acknowledged_ms - created_ms)`
	if s.dialect == postgres {
		delays = `string_agg((acknowledged_ms - created_ms)::text, ',')`
	}
	// The sums over a figure's alerts (in PostgreSQL, over a figure's patient's, summed again).
	sums := `SUM(CASE WHEN state = 'resolved' AND resolved_by = ` + system + ` THEN 1 ELSE 0 END) AS by_system,
		SUM(CASE WHEN state = 'resolved' AND resolved_by <> ` + system + ` THEN 1 ELSE 0 END) AS by_person,
		SUM(late) AS late, SUM(CASE WHEN silenced <> '' THEN 1 ELSE 0 END) AS silenced,
		SUM(CASE WHEN doubt <> '' THEN 1 ELSE 0 END) AS doubt, ` + delays + ` AS delays`
	var q string
	if s.dialect == postgres {
		// Per figure and patient first, then per figure, the patients counted as its rows,
		// instead of COUNT(DISTINCT), whose aggregate sorts each figure's patients again after
		// the sort by figure: a year of a city's alerts (a million) took 1.8 s, 1.4 s this way;
		// a month (77,000) the same either way. Made to hash, it spilled to disk and was slower.
		q = `SELECT category, owner, rule, SUM(n), COUNT(*), SUM(by_system), SUM(by_person), SUM(late), SUM(silenced),
			SUM(doubt), string_agg(delays, ',')
			FROM (SELECT category, ` + ownerColumn + ` AS owner, rule, subject, COUNT(*) AS n, ` + sums + `
				FROM alerts` + w.sql() + ` GROUP BY category, ` + ownerColumn + `, rule, subject) per_subject
			GROUP BY category, owner, rule`
	} else {
		// Group after group (burden_groups, in order, those of the scope), the period's alerts
		// of each from the index by group and creation (migration 0022), instead of sorting
		// them all by group.
		groupsWhere(w, f)
		q = `SELECT b_category, b_owner, b_rule, COUNT(*), COUNT(DISTINCT subject), ` + sums + `
			FROM burden_groups CROSS JOIN alerts INDEXED BY alerts_burden_group` + w.sql() + `
			AND category = b_category AND ` + ownerColumn + ` = b_owner AND rule = b_rule
			GROUP BY b_category, b_owner, b_rule`
	}
	// In PostgreSQL, the sort of a month of a city's alerts (some 80,000) by figure is more than
	// the 4 MB of work_mem by default, and went to disk; it gets 64 MB, in its own read-only
	// transaction.
	var qr querier = s.db
	if s.dialect == postgres {
		tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
		if err != nil {
			return fail(err)
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, `SET LOCAL work_mem = '64MB'`); err != nil {
			return fail(err)
		}
		// Planned for its own period each time: a cached plan, made for a period of any length,
		// reads a year's million alerts by creation and sorts them, rather than in figure order
		// from alerts_burden_figure (migration 0025): 1.4-1.6 s instead of 0.58.
		if _, err := tx.ExecContext(ctx, `SET LOCAL plan_cache_mode = force_custom_plan`); err != nil {
			return fail(err)
		}
		qr = tx
	}
	out, err := queryAll(ctx, qr, q, w.args, func(sc scanner) (alerts.Burden, error) {
		b := alerts.Burden{From: f.From, To: f.To}
		var owner string
		var acked sql.NullString
		err := sc.Scan(&b.Category, &owner, &b.Rule, &b.Alerts, &b.Subjects, &b.ResolvedBySystem, &b.ResolvedByPerson,
			&b.Late, &b.Silenced, &b.Doubt, &acked)
		if b.Category == alerts.Clinical {
			b.Team = owner
		} else {
			b.Site = owner
		}
		if err != nil || !acked.Valid || acked.String == "" {
			return b, err
		}
		ds := make([]time.Duration, 0, strings.Count(acked.String, ",")+1)
		for v := range strings.SplitSeq(acked.String, ",") {
			ms, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return b, fmt.Errorf("delay to acknowledge %q: %w", v, err)
			}
			ds = append(ds, time.Duration(ms)*time.Millisecond)
		}
		b.Acknowledged, b.AckMedian = len(ds), alerts.MedianDuration(ds)
		return b, nil
	})
	if err != nil {
		return fail(err)
	}
	if len(out) == 0 {
		return out, nil
	}

	population, err := s.burdenPopulation(ctx, out)
	if err != nil {
		return fail(err)
	}
	for i := range out {
		b := &out[i]
		b.Population = population[burdenKey{category: b.Category, owner: b.Team + b.Site}]
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

// groupsWhere adds to w the conditions on burden_groups that the alerts of f meet: the same as
// burdenWhere's on the alerts, on the groups, so that only the scope's groups are read.
func groupsWhere(w *where, f alerts.BurdenFilter) {
	scope := func(sc alerts.Scope) { scopeWhereIn(w, sc, "b_category", "b_owner", "b_owner") }
	scope(f.Scope)
	if f.Team != "" || f.Site != "" {
		var narrow alerts.Scope
		if f.Team != "" {
			narrow.Teams = []string{f.Team}
		}
		if f.Site != "" {
			narrow.Sites = []string{f.Site}
		}
		scope(narrow)
	}
	if f.Rule != "" {
		w.add("b_rule = ?", f.Rule)
	}
}

// burdenPopulation counts, for the figures' teams and sites, the patients of each team and the
// devices of each site that are not retired, keyed by category and owner.
func (s *Alerts) burdenPopulation(ctx context.Context, figures []alerts.Burden) (map[burdenKey]int, error) {
	owners := map[alerts.Category][]string{}
	seen := map[burdenKey]bool{}
	for _, b := range figures {
		k := burdenKey{category: b.Category, owner: b.Team + b.Site}
		if !seen[k] {
			seen[k] = true
			owners[b.Category] = append(owners[b.Category], k.owner)
		}
	}
	if len(seen) > populationNamed {
		return s.allPopulation(ctx)
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

// populationNamed is how many teams and sites a burden's population counts by name; beyond,
// every team's and site's are counted, once per registry version (allPopulation).
const populationNamed = 100

// populationCache keeps every team's and site's population as of one registry version: a
// city's burden names a thousand of each, and counting them took a third of its time.
type populationCache struct {
	mu      sync.Mutex
	version int64
	counts  map[burdenKey]int // nil: none counted yet
}

// allPopulation returns the population of every team and site, as burdenPopulation counts it,
// kept per registry version (every change of a patient's team or a device's site or status is a
// registry change). The map is shared: callers must not change it.
func (s *Alerts) allPopulation(ctx context.Context) (map[burdenKey]int, error) {
	var version int64
	if err := s.db.QueryRowContext(ctx, `SELECT version FROM registry_version WHERE id = 1`).Scan(&version); err != nil {
		return nil, err
	}
	c := s.population
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts != nil && c.version == version {
		return c.counts, nil
	}
	type count struct {
		owner string
		n     int
	}
	scan := func(sc scanner) (count, error) {
		var n count
		return n, sc.Scan(&n.owner, &n.n)
	}
	out := map[burdenKey]int{}
	for _, q := range []struct {
		category alerts.Category
		query    string
	}{
		{alerts.Clinical, `SELECT team_id, COUNT(*) FROM patients GROUP BY team_id`},
		{alerts.Fault, `SELECT site_id, COUNT(*) FROM devices WHERE status <> 'retired' GROUP BY site_id`},
	} {
		counts, err := queryAll(ctx, s.db, q.query, nil, scan)
		if err != nil {
			return nil, err
		}
		for _, n := range counts {
			out[burdenKey{category: q.category, owner: n.owner}] = n.n
		}
	}
	c.version, c.counts = version, out
	return out, nil
}
