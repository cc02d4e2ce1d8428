package alerts

import (
	"slices"
	"time"
)

// Alert burden: how heavily each rule weighs on the people who receive it, so that a team can
// tune a rule that fires too often. Per rule, for one team's clinical alerts or one site's
// faults, over a period: how often it fires for each patient (or device) it could fire for, how
// quickly people acknowledge it, and how often it resolves by itself.

// Burden is the alert burden of one rule for one team (clinical alerts) or one site (faults)
// over the period [From, To): the alerts raised (created) in it, by their routing now.
type Burden struct {
	Category Category
	Team     string // the team, for clinical alerts
	Site     string // the site, for faults
	Rule     string
	From, To time.Time
	// Alerts is how many alerts of the rule were raised in the period.
	Alerts int
	// Subjects is how many distinct patients (clinical) or devices (faults) they were about.
	Subjects int
	// Population is how many patients the team has, or how many devices (retired ones aside)
	// the site has, as the registry says now: what alerts per patient per week divide by.
	Population int
	// Acknowledged is how many of the alerts were acknowledged, and AckMedian the median time
	// from being raised to being acknowledged, of those; 0 when none was.
	Acknowledged int
	AckMedian    time.Duration
	// ResolvedBySystem is how many resolved automatically (by SystemActor: a fault whose
	// condition cleared, a normal retest), ResolvedByPerson how many a person resolved; the
	// rest are still open or acknowledged.
	ResolvedBySystem int
	ResolvedByPerson int
	// Late, Silenced and Doubt count the alerts that notified no one for that reason: every
	// finding was a backlog, under a silence, or in doubt.
	Late, Silenced, Doubt int
}

// Weeks is the length of the period in weeks.
func (b Burden) Weeks() float64 { return b.To.Sub(b.From).Hours() / (7 * 24) }

// PerSubjectPerWeek is alerts per patient (clinical) or per device (faults) per week:
// Alerts / Population / Weeks. It is false when there is no population or no period to divide
// by.
func (b Burden) PerSubjectPerWeek() (float64, bool) {
	weeks := b.Weeks()
	if b.Population <= 0 || weeks <= 0 {
		return 0, false
	}
	return float64(b.Alerts) / float64(b.Population) / weeks, true
}

// ResolvedAutomaticallyShare is the share of the alerts raised that resolved automatically,
// 0 without alerts.
func (b Burden) ResolvedAutomaticallyShare() float64 {
	if b.Alerts == 0 {
		return 0
	}
	return float64(b.ResolvedBySystem) / float64(b.Alerts)
}

// MedianDuration is the median of ds (the mean of the middle two of an even count), 0 for
// none. ds is not changed.
func MedianDuration(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	mid := len(s) / 2
	if len(s)%2 == 1 {
		return s[mid]
	}
	return s[mid-1] + (s[mid]-s[mid-1])/2
}
