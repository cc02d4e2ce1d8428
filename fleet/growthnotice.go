package fleet

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
)

// The growth notice (docs/utilisation.md "Growth"): the growth the assessment flags is also an
// alert, centre_growth, about the site (subject site/ID, category fault, so routed to the
// site's fleet managers, its webhooks and the admins, never to doctors), at the rule's
// severity (info by default). GrowthNotices checks every centre periodically:
//   - a centre with at least one plan grown beyond the threshold has one open notice, raised
//     the first time and updated (count, last value, thresholds) when its figures change; a
//     check that finds the same figures writes nothing;
//   - a notice whose centre no longer grows (or with growth or the rule turned off) resolves
//     itself, as a fault whose condition cleared.
//
// Instances sharing the store may check at the same time: the store keeps one open alert per
// (rule, subject), so the second raise repeats the first one's alert at the same severity,
// which notifies no one; and a second resolve finds nothing open.

// NoticeStore reads the open notices and records findings (store.Store).
type NoticeStore interface {
	ListAlerts(ctx context.Context, f alerts.Filter) ([]alerts.Alert, error)
}

// GrowthRule is the rules' say on centre_growth: whether it is on, its severity and the
// rules' version, which every alert records.
type GrowthRule struct {
	Enabled  bool
	Severity alerts.Severity
	Version  int
}

// GrowthNotices raises, updates and resolves the centre_growth notices. Create it with
// NewGrowthNotices.
type GrowthNotices struct {
	reports   *Reports
	store     NoticeStore
	lifecycle *alerts.Lifecycle
	rule      GrowthRule
	log       *slog.Logger
}

// NewGrowthNotices returns the notices of reports' growth, kept in store through lifecycle,
// which publishes their events (the live feed, webhooks) as it does the engine's.
func NewGrowthNotices(reports *Reports, store NoticeStore, lifecycle *alerts.Lifecycle, rule GrowthRule, log *slog.Logger) *GrowthNotices {
	return &GrowthNotices{reports: reports, store: store, lifecycle: lifecycle, rule: rule, log: log.With("component", "growth notices")}
}

// GrowthCheckDelay is how long after start the first check waits, so that it does not add to
// a start's load.
const GrowthCheckDelay = time.Minute

// Run checks after delay, then every interval, until ctx ends. A failed check is logged and
// tried again at the next.
func (g *GrowthNotices) Run(ctx context.Context, delay, interval time.Duration) error {
	timer := time.NewTimer(delay)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		start := time.Now()
		changes, err := g.Check(ctx)
		if err != nil && ctx.Err() == nil {
			g.log.Warn("growth check failed; trying again at the next", "err", err)
		} else if err == nil {
			g.log.Info("growth checked", "changes", len(changes), "took", time.Since(start).Round(time.Millisecond))
		}
		timer.Reset(interval)
	}
}

// Check raises or updates the notice of every centre whose patients on a plan grew beyond the
// threshold, and resolves the open notices of the others; it returns the changes made.
func (g *GrowthNotices) Check(ctx context.Context) ([]alerts.Change, error) {
	var growths []CentreGrowth
	if g.rule.Enabled {
		// The check is no report: what it reads and computes (at a city's size some 200 MB of
		// the registry's state, the patients' records and the usage) is kept only if reports
		// use it too, and goes at once otherwise, not CacheIdle after the daily check.
		uses := g.reports.uses()
		var err error
		growths, err = g.reports.CentreGrowths(ctx)
		g.reports.setUses(uses)
		g.reports.ForgetIdle(CacheIdle)
		if err != nil {
			return nil, fmt.Errorf("growth: %w", err)
		}
	}
	open, err := g.openNotices(ctx)
	if err != nil {
		return nil, err
	}
	now := g.reports.now().UTC()
	var findings []alerts.Finding
	bySite := map[string][]CentreGrowth{}
	for _, cg := range growths {
		bySite[cg.Site] = append(bySite[cg.Site], cg)
	}
	for _, site := range slices.Sorted(maps.Keys(bySite)) {
		f := g.finding(site, bySite[site], now)
		if a, ok := open[site]; ok && a.LastValue == f.Value && maps.Equal(a.Thresholds, f.Thresholds) &&
			a.Severity >= f.Severity && a.RuleVersion == f.RuleVersion {
			continue // the same figures: nothing to tell
		}
		findings = append(findings, f)
	}
	for _, site := range slices.Sorted(maps.Keys(open)) {
		if _, ok := bySite[site]; ok {
			continue
		}
		note := fmt.Sprintf("resolved automatically: no plan's patients at the centre grew by more than %g over %d months",
			g.reports.thresholds.Growth, GrowthPeriod)
		if !g.rule.Enabled || g.reports.thresholds.Growth <= 0 || g.reports.patients == nil {
			note = "resolved automatically: the growth notice is off"
		}
		findings = append(findings, alerts.Finding{Rule: alerts.RuleCentreGrowth, RuleVersion: g.rule.Version, Category: alerts.Fault,
			Severity: alerts.Info, Subject: alerts.Subject{Kind: alerts.SubjectSite, ID: site}, Site: site, At: now,
			Resolve: true, Note: note})
	}
	if len(findings) == 0 {
		return nil, nil
	}
	return g.lifecycle.Apply(ctx, findings)
}

// finding is the notice of the growths of one site.
func (g *GrowthNotices) finding(site string, gs []CentreGrowth, now time.Time) alerts.Finding {
	t := g.reports.thresholds
	th := map[string]float64{"growth": t.Growth, "target": t.Target}
	var values []string
	for _, cg := range gs {
		rate := math.Round(cg.Rate*1e4) / 1e4
		th[cg.Condition+".before"] = float64(cg.Before)
		th[cg.Condition+".patients"] = float64(cg.Patients)
		th[cg.Condition+".rate"] = rate
		var more []string
		for _, k := range slices.Sorted(maps.Keys(cg.More)) {
			th[cg.Condition+".more."+string(k)] = float64(cg.More[k])
			more = append(more, fmt.Sprintf("%s +%d", k, cg.More[k]))
		}
		values = append(values, fmt.Sprintf("%s %d→%d +%.0f%%: %s", cg.Condition, cg.Before, cg.Patients, rate*100, strings.Join(more, ", ")))
	}
	sev := g.rule.Severity
	if sev < alerts.Info || sev > alerts.Critical {
		sev = alerts.Info
	}
	return alerts.Finding{Rule: alerts.RuleCentreGrowth, RuleVersion: g.rule.Version, Category: alerts.Fault, Severity: sev,
		Subject: alerts.Subject{Kind: alerts.SubjectSite, ID: site}, Site: site, At: now,
		Value: strings.Join(values, "; "), Thresholds: th}
}

// openNotices returns the open or acknowledged centre_growth alerts, by site.
func (g *GrowthNotices) openNotices(ctx context.Context) (map[string]alerts.Alert, error) {
	out := map[string]alerts.Alert{}
	for _, state := range []alerts.State{alerts.Open, alerts.Acknowledged} {
		f := alerts.Filter{Scope: alerts.Scope{All: true}, Rule: alerts.RuleCentreGrowth, State: state, Limit: 1000}
		for {
			page, err := g.store.ListAlerts(ctx, f)
			if err != nil {
				return nil, fmt.Errorf("open growth notices: %w", err)
			}
			for _, a := range page {
				if a.Subject.Kind == alerts.SubjectSite {
					out[a.Subject.ID] = a
				}
			}
			if len(page) < f.Limit {
				break
			}
			f.Before = page[len(page)-1].ID
		}
	}
	return out, nil
}
