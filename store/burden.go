package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/errcode"
)

// Alert burden (alerts.Burden). The counts are one aggregation over the alerts raised in the
// period; the median time to acknowledge is computed here from the list of the acknowledged
// ones' delays that the same query returns per figure, since neither SQLite nor the SQL both
// dialects share has a percentile. The population (patients of a team, devices of a site) is
// the registry's now: the registry keeps no history of team sizes. A period's alerts are read
// from an index with every column the query reads: in PostgreSQL alerts_burden (migration
// 0020) by creation and then grouped in hash tables or sorted (burdenHashRows), or for a long
// period alerts_burden_figure (migration 0025) in figure order, as the planner chooses; in
// SQLite alerts_burden_group (migration 0022), by figure then creation, one figure after
// another as burden_groups lists them. A burden of many teams and sites is read in parts,
// side by side (burdenParts).

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
	parts, err := s.burdenParts(ctx, f)
	if err != nil {
		return fail(err)
	}
	hashed := false
	if s.dialect == postgres {
		n, err := s.periodAlerts(ctx, f)
		if err != nil {
			return fail(err)
		}
		hashed = n/float64(len(parts)) <= burdenHashRows && !s.burdenSorted
	}
	// The parts' figures are disjoint: each is read on its own connection, side by side.
	found := make([][]alerts.Burden, len(parts))
	g, gctx := errgroup.WithContext(ctx)
	for i, part := range parts {
		g.Go(func() (err error) {
			found[i], err = s.burdenOf(gctx, f, part, hashed)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return fail(err)
	}
	out := slices.Concat(found...)
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

// burdenHashRows is how many alerts a part of the burden reads at most, as PostgreSQL's planner
// estimates them, to be grouped in hash tables rather than sorted. On a city's alerts, a part of
// a month (37,000) took 60 ms hashed against 80 sorted; a part of a year (480,000) 1.4 s hashed,
// its alerts more than work_mem holds, against 0.4 s sorted.
const burdenHashRows = 150_000

// periodAlerts is PostgreSQL's planner's estimate of the alerts raised in f's period.
func (s *Alerts) periodAlerts(ctx context.Context, f alerts.BurdenFilter) (float64, error) {
	var plan string
	err := s.readers.QueryRowContext(ctx, `EXPLAIN (FORMAT JSON) SELECT 1 FROM alerts WHERE created_ms >= `+
		strconv.FormatInt(f.From.UnixMilli(), 10)+` AND created_ms < `+strconv.FormatInt(f.To.UnixMilli(), 10)).Scan(&plan)
	if err != nil {
		return 0, err
	}
	var plans []struct {
		Plan struct {
			Rows float64 `json:"Plan Rows"`
		}
	}
	if err := json.Unmarshal([]byte(plan), &plans); err != nil {
		return 0, fmt.Errorf("the planner's estimate of a period's alerts: %w", err)
	}
	if len(plans) != 1 {
		return 0, fmt.Errorf("the planner's estimate of a period's alerts: %d plans in %q; want one", len(plans), plan)
	}
	return plans[0].Plan.Rows, nil
}

// burdenOf returns the figures of f whose owners are in part, in no order. In PostgreSQL,
// hashed groups the alerts in hash tables (see burdenHashRows), or else sorts them.
func (s *Alerts) burdenOf(ctx context.Context, f alerts.BurdenFilter, part ownerRanges, hashed bool) ([]alerts.Burden, error) {
	w := burdenWhere(f)
	system := w.arg(alerts.SystemActor)
	// The delays to acknowledge come in the same scan, as one list per figure: reading them
	// row by row was a second pass over the period and a row for each acknowledged alert.
	delays := `group_concat(acknowledged_ms - created_ms)`
	if s.dialect == postgres {
		delays = `string_agg((acknowledged_ms - created_ms)::text, ',')`
	}
	// The sums over a figure's alerts (in PostgreSQL's sorted plan, over a figure's patient's,
	// summed again).
	sums := `SUM(CASE WHEN state = 'resolved' AND resolved_by = ` + system + ` THEN 1 ELSE 0 END) AS by_system,
		SUM(CASE WHEN state = 'resolved' AND resolved_by <> ` + system + ` THEN 1 ELSE 0 END) AS by_person,
		SUM(late) AS late, SUM(CASE WHEN silenced <> '' THEN 1 ELSE 0 END) AS silenced,
		SUM(CASE WHEN doubt <> '' THEN 1 ELSE 0 END) AS doubt, ` + delays + ` AS delays`
	var q string
	switch {
	case s.dialect == postgres && hashed:
		part.where(w, "category", ownerColumn)
		// The period's alerts once (materialized), grouped by figure in one hash table and by
		// figure and patient in another, whose rows count the patients: nothing sorted.
		q = `WITH a AS MATERIALIZED (SELECT category, ` + ownerColumn + ` AS owner, rule, subject, state, resolved_by, late,
				silenced, doubt, acknowledged_ms, created_ms FROM alerts` + w.sql() + `)
			SELECT f.category, f.owner, f.rule, f.n, p.subjects, f.by_system, f.by_person, f.late, f.silenced, f.doubt, f.delays
			FROM (SELECT category, owner, rule, COUNT(*) AS n, ` + sums + ` FROM a GROUP BY category, owner, rule) f
			JOIN (SELECT category, owner, rule, COUNT(*) AS subjects
				FROM (SELECT DISTINCT category, owner, rule, subject FROM a) d GROUP BY category, owner, rule) p
			USING (category, owner, rule)`
	case s.dialect == postgres:
		part.where(w, "category", ownerColumn)
		// Per figure and patient first, then per figure, the patients counted as its rows,
		// instead of COUNT(DISTINCT), whose aggregate sorts each figure's patients again after
		// the sort by figure: a year of a city's alerts (a million) took 1.8 s, 1.4 s this way;
		// a month (77,000) the same either way. Made to hash, it spilled to disk and was slower.
		q = `SELECT category, owner, rule, SUM(n), COUNT(*), SUM(by_system), SUM(by_person), SUM(late), SUM(silenced),
			SUM(doubt), string_agg(delays, ',')
			FROM (SELECT category, ` + ownerColumn + ` AS owner, rule, subject, COUNT(*) AS n, ` + sums + `
				FROM alerts` + w.sql() + ` GROUP BY category, ` + ownerColumn + `, rule, subject) per_subject
			GROUP BY category, owner, rule`
	default:
		// Group after group (burden_groups, in order, those of the scope), the period's alerts
		// of each from the index by group and creation (migration 0022), instead of sorting
		// them all by group.
		groupsWhere(w, f)
		part.where(w, "b_category", "b_owner")
		q = `SELECT b_category, b_owner, b_rule, COUNT(*), COUNT(DISTINCT subject), ` + sums + `
			FROM burden_groups CROSS JOIN alerts INDEXED BY alerts_burden_group` + w.sql() + `
			AND category = b_category AND ` + ownerColumn + ` = b_owner AND rule = b_rule
			GROUP BY b_category, b_owner, b_rule`
	}
	// In PostgreSQL, the sort or the hash tables of a month of a city's alerts (some 80,000) are
	// more than the 4 MB of work_mem by default, and went to disk; they get 64 MB, in a read-only
	// transaction of their own.
	var qr querier = s.readers
	if s.dialect == postgres {
		tx, err := s.readers.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
		if err != nil {
			return nil, err
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, `SET LOCAL work_mem = '64MB'`); err != nil {
			return nil, err
		}
		// Planned for its own period each time: a cached plan, made for a period of any length,
		// reads a year's million alerts by creation and sorts them, rather than in figure order
		// from alerts_burden_figure (migration 0025): 1.4-1.6 s instead of 0.58.
		if _, err := tx.ExecContext(ctx, `SET LOCAL plan_cache_mode = force_custom_plan`); err != nil {
			return nil, err
		}
		qr = tx
	}
	return queryAll(ctx, qr, q, w.args, func(sc scanner) (alerts.Burden, error) {
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
}

// ownerRanges is one part of the burden's figures: the clinical alerts of the teams in one
// range of ids, and the faults of the sites in another.
type ownerRanges struct {
	teams, sites idRange
}

// idRange is the ids from from up to (not including) to; an empty bound is open. none is the
// empty range.
type idRange struct {
	from, to string
	none     bool
}

// cond is the condition that the expression owner is in r, with its parameters in w.
func (r idRange) cond(w *where, owner string) string {
	if r.none {
		return "1 = 0"
	}
	c := "1 = 1"
	if r.from != "" {
		c = owner + " >= " + w.arg(r.from)
	}
	if r.to != "" {
		c += " AND " + owner + " < " + w.arg(r.to)
	}
	return c
}

// where adds to w the condition that a row's owner is in r, on the columns named.
func (r ownerRanges) where(w *where, category, owner string) {
	if r == (ownerRanges{}) {
		return
	}
	w.conds = append(w.conds, "(("+category+" = 'clinical' AND "+r.teams.cond(w, owner)+") OR ("+
		category+" <> 'clinical' AND "+r.sites.cond(w, owner)+"))")
}

// burdenParts splits the figures f asks for into up to burdenSplit parts
// of about as many teams and sites each, to be read side by side: a city's month of alerts took
// 100-150 ms in one query. A burden of a few teams or sites is one part. The parts' ranges
// cover every id, so that an alert of a team or site that is no longer registered is counted.
func (s *Alerts) burdenParts(ctx context.Context, f alerts.BurdenFilter) ([]ownerRanges, error) {
	n := s.burdenSplit
	if n == 0 {
		n = min(runtime.GOMAXPROCS(0), readerConns)
	}
	if n < 2 || f.Team != "" || f.Site != "" {
		return []ownerRanges{{}}, nil
	}
	teams, sites := f.Scope.Teams, f.Scope.Sites
	if f.Scope.All {
		var err error
		if teams, err = queryAll(ctx, s.readers, `SELECT id FROM teams`, nil, scanString); err != nil {
			return nil, err
		}
		if sites, err = queryAll(ctx, s.readers, `SELECT id FROM sites`, nil, scanString); err != nil {
			return nil, err
		}
	}
	if len(teams)+len(sites) < burdenPartOwners*n {
		return []ownerRanges{{}}, nil
	}
	teams, sites = slices.Sorted(slices.Values(teams)), slices.Sorted(slices.Values(sites))
	// split returns the i-th of n ranges of ids: the first from the start and the last to
	// the end; without ids, the first everything and the others nothing.
	split := func(ids []string, i int) idRange {
		if len(ids) == 0 {
			return idRange{none: i > 0}
		}
		var r idRange
		if i > 0 {
			r.from = ids[len(ids)*i/n]
		}
		if i < n-1 {
			r.to = ids[len(ids)*(i+1)/n]
		}
		return r
	}
	parts := make([]ownerRanges, n)
	for i := range parts {
		parts[i] = ownerRanges{teams: split(teams, i), sites: split(sites, i)}
	}
	return parts, nil
}

// burdenPartOwners is how many teams and sites a part of the burden has at least.
const burdenPartOwners = 16

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
		counts, err := queryAll(ctx, s.readers, fmt.Sprintf(c.query, strings.Join(ps, ", ")), w.args, func(sc scanner) (count, error) {
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
	if err := s.readers.QueryRowContext(ctx, `SELECT version FROM registry_version WHERE id = 1`).Scan(&version); err != nil {
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
		counts, err := queryAll(ctx, s.readers, q.query, nil, scan)
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
