package fleet

import (
	"context"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/reallocation"
)

// Patients tells the changes to patients over time (the registry's audit log), from which the
// growth of each centre's patients on a plan is counted.
type Patients interface {
	// EachPatientRecord calls each with every change, in the log's order; an error from each
	// stops it and is returned.
	EachPatientRecord(ctx context.Context, each func(devices.PatientRecord) error) error
}

// patientRecords reads every change p tells.
func patientRecords(ctx context.Context, p Patients) ([]devices.PatientRecord, error) {
	var out []devices.PatientRecord
	err := p.EachPatientRecord(ctx, func(r devices.PatientRecord) error {
		out = append(out, r)
		return nil
	})
	return out, err
}

// GrowthPeriod is how far back growth is measured: twelve months.
const GrowthPeriod = 12

// Condition is a kind of care plan that asks for home devices: the words that name it in a
// plan (whole words, case-insensitively) and the device kinds its patients use at home.
type Condition struct {
	Name    string
	Phrases []string
	Kinds   []devices.Kind
}

// Conditions are the plans growth is counted for. A plan may name several ("diabetes and
// hypertension"); a patient counts once for each condition any of their plans names.
var Conditions = []Condition{
	{"hypertension", []string{"hypertension", "blood pressure", "bp"}, []devices.Kind{devices.BPCuff}},
	{"diabetes", []string{"diabetes", "glucose", "blood sugar", "insulin", "cgm"}, []devices.Kind{devices.GlucoseMeter, devices.CGM}},
	{"heart_failure", []string{"heart failure", "weight"}, []devices.Kind{devices.Scale}},
	{"copd", []string{"copd", "spo2", "oxygen saturation", "oximetry"}, []devices.Kind{devices.Oximeter}},
}

// conditionsOf returns the indexes in Conditions of the conditions the plans name, as a mask.
func conditionsOf(plans []string) uint {
	var mask uint
	for _, plan := range plans {
		words := " " + strings.Join(strings.FieldsFunc(strings.ToLower(plan), func(r rune) bool {
			return !('a' <= r && r <= 'z' || '0' <= r && r <= '9')
		}), " ") + " "
		for i, c := range Conditions {
			if slices.ContainsFunc(c.Phrases, func(ph string) bool { return strings.Contains(words, " "+ph+" ") }) {
				mask |= 1 << i
			}
		}
	}
	return mask
}

// siteCondition is a condition at a centre.
type siteCondition struct {
	site      string
	condition int
}

// patientsOn counts, from the changes replayed in order up to at (inclusive), the patients of
// each centre on each condition's plans.
func patientsOn(records []devices.PatientRecord, at time.Time) map[siteCondition]int {
	p, conds := newPlansAt(at), planConditions{}
	for _, r := range records {
		p.add(r, conds.of(r))
	}
	return p.counts()
}

// planConditions remembers the conditions each plan names (conditionsOf of that plan alone): a
// city's hundreds of thousands of changes name a few plans, each matched word by word once.
type planConditions map[string]uint

// of is conditionsOf the record's plans; 0 when it does not set them.
func (m planConditions) of(r devices.PatientRecord) uint {
	if !r.PlansSet {
		return 0
	}
	var mask uint
	for _, plan := range r.Plans {
		c, ok := m[plan]
		if !ok {
			c = conditionsOf([]string{plan})
			m[plan] = c
		}
		mask |= c
	}
	return mask
}

// plansAt replays patient changes, given one at a time in the audit log's order, up to a time
// (inclusive): the site and conditions of each patient then. The changes' times need not rise
// with the log's order (instances' clocks differ, an import may carry older times): every
// change at or before the time counts, not only those before the first one after it.
type plansAt struct {
	at       time.Time
	patients map[string]patientPlans
}

// patientPlans is a patient's centre and conditions (a mask of Conditions' indexes).
type patientPlans struct {
	site  string
	conds uint
}

func newPlansAt(at time.Time) *plansAt {
	return &plansAt{at: at, patients: map[string]patientPlans{}}
}

// add replays r, whose plans name conds (planConditions).
func (p *plansAt) add(r devices.PatientRecord, conds uint) {
	if r.At.After(p.at) {
		return
	}
	s := p.patients[r.Patient]
	s.site = r.Site
	if r.PlansSet {
		s.conds = conds
	}
	p.patients[r.Patient] = s
}

// counts is the patients of each centre on each condition's plans.
func (p *plansAt) counts() map[siteCondition]int {
	out := map[siteCondition]int{}
	for _, s := range p.patients {
		for i := range Conditions {
			if s.conds&(1<<i) != 0 {
				out[siteCondition{s.site, i}]++
			}
		}
	}
	return out
}

// Growth is a centre's patients on a plan grown by more than the threshold over GrowthPeriod
// months: the kind it judges is one of the condition's.
type Growth struct {
	Condition string
	// Patients is how many are on the plan now, Before how many GrowthPeriod months ago.
	Patients, Before int
	// Rate is (Patients - Before) / Before.
	Rate float64
	// More is how many devices of the kind the centre would lack at the target utilisation if
	// its demand grew as its patients did: ceil(demand x (1 + Rate) / (rated x target)) less its
	// working devices, and at least 0.
	More int
}

// grows reports whether before patients becoming now is growth beyond threshold: more than
// threshold of before (a centre with none before has no rate, and is not flagged).
func grows(before, now int, threshold float64) (float64, bool) {
	if before <= 0 || threshold <= 0 {
		return 0, false
	}
	rate := float64(now-before) / float64(before)
	return rate, rate > threshold
}

// growthOf is the growth of the stock's kind at its centre, if any: the condition of the kind
// whose patients grew the most beyond the threshold.
func growthOf(st reallocation.Stock, before, now map[siteCondition]int, t reallocation.Thresholds) *Growth {
	var best *Growth
	for i, c := range Conditions {
		if !slices.Contains(c.Kinds, st.Type) {
			continue
		}
		k := siteCondition{st.Site, i}
		rate, ok := grows(before[k], now[k], t.Growth)
		if !ok || best != nil && rate <= best.Rate {
			continue
		}
		g := &Growth{Condition: c.Name, Patients: now[k], Before: before[k], Rate: rate}
		if st.Rated > 0 && t.Target > 0 {
			need := int(math.Ceil(st.Demand*(1+rate)/(st.Rated*t.Target) - 1e-9))
			g.More = max(need-st.Devices, 0)
		}
		best = g
	}
	return best
}

// growth returns the counts of patients on each condition now and GrowthPeriod months ago; nil
// maps when growth is off or no patient history is given. It replays the changes as they are
// read, holding none of them.
func (r *Reports) growth(ctx context.Context) (before, now map[siteCondition]int, err error) {
	if r.patients == nil || r.thresholds.Growth <= 0 {
		return nil, nil, nil
	}
	t := r.now()
	b, n, conds := newPlansAt(t.AddDate(0, -GrowthPeriod, 0)), newPlansAt(t), planConditions{}
	err = r.patients.EachPatientRecord(ctx, func(rec devices.PatientRecord) error {
		c := conds.of(rec)
		b.add(rec, c)
		n.add(rec, c)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return b.counts(), n.counts(), nil
}

// grownKinds returns the device kinds of the conditions whose patients grew beyond the
// thresholds' Growth at some centre, in the order of Conditions.
func grownKinds(before, now map[siteCondition]int, t reallocation.Thresholds) []devices.Kind {
	grown := make([]bool, len(Conditions))
	for k, n := range now {
		if _, ok := grows(before[k], n, t.Growth); ok {
			grown[k.condition] = true
		}
	}
	var kinds []devices.Kind
	for i, c := range Conditions {
		for _, kind := range c.Kinds {
			if grown[i] && !slices.Contains(kinds, kind) {
				kinds = append(kinds, kind)
			}
		}
	}
	return kinds
}

// CentreGrowth is one centre's patients on one plan grown beyond the threshold, with the devices
// of each of the plan's kinds the centre would lack (see Growth). Only kinds the centre has are
// assessed, so a centre with none of a plan's kinds is not flagged for it.
type CentreGrowth struct {
	Site      string
	Condition string
	// Patients is how many are on the plan now, Before how many GrowthPeriod months ago; Rate
	// is (Patients - Before) / Before.
	Patients, Before int
	Rate             float64
	// More is, per kind of the plan the centre has, Growth's More (0 included).
	More map[devices.Kind]int
}

// CentreGrowths returns the growth of every centre's patients on every plan beyond the
// thresholds' Growth, as the assessment flags it, by site and then condition (in the order of
// Conditions); none when growth is off or no patient history is given.
func (r *Reports) CentreGrowths(ctx context.Context) ([]CentreGrowth, error) {
	if r.patients == nil || r.thresholds.Growth <= 0 {
		return nil, nil
	}
	// The patients' counts come first, replayed as the records are read rather than from the
	// assessment's cache, so that no record is held while the stocks are read: at a city's
	// size the records alone take tens of megabytes.
	before, now, err := r.growth(ctx)
	if err != nil {
		return nil, err
	}
	// The stocks are read only when some plan grew somewhere, which most days none did: they
	// are the fleet reports' whole state. One kind's are read alone; several kinds' at once,
	// since each kind's computation is a pass over every device's usage of its own.
	var us []reallocation.Usage
	if kinds := grownKinds(before, now, r.thresholds); len(kinds) > 0 {
		kind := devices.Kind("")
		if len(kinds) == 1 {
			kind = kinds[0]
		}
		if us, _, _, err = r.stocks(ctx, kind, false); err != nil {
			return nil, err
		}
	}
	index := map[siteCondition]int{}
	var out []CentreGrowth
	for _, u := range us {
		g := growthOf(u.Stock, before, now, r.thresholds)
		if g == nil {
			continue
		}
		c := slices.IndexFunc(Conditions, func(c Condition) bool { return c.Name == g.Condition })
		k := siteCondition{u.Site, c}
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, CentreGrowth{Site: u.Site, Condition: g.Condition, Patients: g.Patients, Before: g.Before, Rate: g.Rate,
				More: map[devices.Kind]int{}})
		}
		out[i].More[u.Type] = g.More
	}
	slices.SortFunc(out, func(a, b CentreGrowth) int {
		if a.Site != b.Site {
			return strings.Compare(a.Site, b.Site)
		}
		return slices.IndexFunc(Conditions, func(c Condition) bool { return c.Name == a.Condition }) -
			slices.IndexFunc(Conditions, func(c Condition) bool { return c.Name == b.Condition })
	})
	return out, nil
}
