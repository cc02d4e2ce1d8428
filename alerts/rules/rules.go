package rules

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/reading"
)

// DefaultLateAfter is how old a reading may be when it arrives before its findings are late.
const DefaultLateAfter = time.Hour

// DefaultVersion is the version of DefaultRules.
const DefaultVersion = 1

// ruleValues are one rule's settings in force.
type ruleValues struct {
	on  bool
	sev [maxLevels]alerts.Severity
	p   [maxParams]float64
}

// Thresholds are the settings in force for one patient (or, for fault rules, for every device):
// the rules file's, with a team's and a patient's overrides applied. A Thresholds is immutable
// and may be shared; get one from Rules.Defaults or Rules.Effective.
type Thresholds struct {
	version   int
	lateAfter time.Duration
	r         [numRules]ruleValues
}

// Version is the version of the rules file the thresholds come from.
func (t *Thresholds) Version() int { return t.version }

// LateAfter is how old a reading may be when it arrives before its findings are late.
func (t *Thresholds) LateAfter() time.Duration { return t.lateAfter }

// Enabled reports whether the rule is on.
func (t *Thresholds) Enabled(rule string) bool {
	i, ok := ruleByID(rule)
	return ok && t.r[i].on
}

// Value returns a threshold of a rule by key, durations in seconds.
func (t *Thresholds) Value(rule, key string) (float64, bool) {
	i, ok := ruleByID(rule)
	if !ok {
		return 0, false
	}
	j := paramByKey(i, key)
	if j < 0 {
		return 0, false
	}
	return t.r[i].p[j], true
}

// Severity returns the severity of a rule's level (e.g. spo2_low, "very_low").
func (t *Thresholds) Severity(rule, level string) (alerts.Severity, bool) {
	i, ok := ruleByID(rule)
	if !ok {
		return 0, false
	}
	for j, l := range catalogue[i].levels {
		if l.name == level {
			return t.r[i].sev[j], true
		}
	}
	return 0, false
}

func (t *Thresholds) on(i ruleIndex) bool                      { return t.r[i].on }
func (t *Thresholds) p(i ruleIndex, j int) float64             { return t.r[i].p[j] }
func (t *Thresholds) d(i ruleIndex, j int) time.Duration       { return seconds(t.r[i].p[j]) }
func (t *Thresholds) sev(i ruleIndex, lvl int) alerts.Severity { return t.r[i].sev[lvl] }

// used returns the thresholds of rule i by key, durations in seconds, for a finding.
func (t *Thresholds) used(i ruleIndex) map[string]float64 {
	ps := catalogue[i].params
	if len(ps) == 0 {
		return nil
	}
	m := make(map[string]float64, len(ps))
	for j, p := range ps {
		m[p.key] = t.r[i].p[j]
	}
	return m
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// Rules is a rules file: its version, late_after and every rule's settings. It is immutable.
type Rules struct {
	base Thresholds
}

// DefaultRules returns the catalogue with the defaults of docs/domain.md, every rule on, version
// DefaultVersion.
func DefaultRules() *Rules {
	r := &Rules{base: Thresholds{version: DefaultVersion, lateAfter: DefaultLateAfter}}
	for i := range catalogue {
		v := &r.base.r[i]
		v.on = true
		for j, l := range catalogue[i].levels {
			v.sev[j] = l.def
		}
		for j, p := range catalogue[i].params {
			v.p[j] = p.def
		}
	}
	return r
}

// Version is the rules file's version; every finding records it.
func (r *Rules) Version() int { return r.base.version }

// LateAfter is the rules file's late_after.
func (r *Rules) LateAfter() time.Duration { return r.base.lateAfter }

// Defaults returns the file's thresholds, without overrides. Fault rules always use these.
func (r *Rules) Defaults() *Thresholds { return &r.base }

// Format writes r as a complete rules file, every setting spelled out: the reference for what a
// file may set.
func (r *Rules) Format() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "version: %d\nlate_after: %s\nrules:\n", r.base.version, r.base.lateAfter)
	for i := range catalogue {
		spec, v := &catalogue[i], &r.base.r[i]
		fmt.Fprintf(&b, "  %s:\n    enabled: %t\n", spec.id, v.on)
		if len(spec.levels) == 1 {
			fmt.Fprintf(&b, "    severity: %s\n", v.sev[0])
		} else {
			parts := make([]string, len(spec.levels))
			for j, l := range spec.levels {
				parts[j] = l.name + ": " + v.sev[j].String()
			}
			fmt.Fprintf(&b, "    severity: {%s}\n", strings.Join(parts, ", "))
		}
		for j, p := range spec.params {
			s := strconv.FormatFloat(v.p[j], 'f', -1, 64)
			if p.kind == duration {
				s = seconds(v.p[j]).String()
			}
			fmt.Fprintf(&b, "    %s: %s\n", p.key, s)
		}
	}
	return b.Bytes()
}

// History returns how far back readings of type t must be replayed through Engine.Warm after a
// restart for every window of the rules file to be whole: the repeated_errors window for any
// type (messages with error flags), and
//
//	glucose      missed_measurement's after; cgm_low_episode's duration + recovery + 2 max_gap
//	bp           after; bp_home_average's days + series_gap_days + 1 (whole local days: the window
//	             and the gap before it that shows whether its series began earlier); twice the
//	             retest window
//	weight       after; weight_gain's window
//	temperature  after; fever's baseline_window
//	spo2         after
//	heart_rate   1h: the last stuck_sensor count readings of a wearable
//	fall, cancel the 10 minutes in which a late cancel still resolves a raised fall
//
// Overrides that lengthen a window need correspondingly more. Status messages need only each
// device's latest (WarmStatus), rejections the implausible_values window (WarmRejected).
func (r *Rules) History(t reading.Type) time.Duration {
	th := &r.base
	h := th.d(ruleRepeatedErrors, windowSpan)
	after := th.d(ruleMissedMeasurement, missedAfter)
	switch t {
	case reading.Glucose:
		h = max(h, after, th.d(ruleCGMLowEpisode, cgmDuration)+th.d(ruleCGMLowEpisode, cgmRecovery)+2*th.d(ruleCGMLowEpisode, cgmMaxGap))
	case reading.BP:
		h = max(h, after, time.Duration(th.p(ruleBPHomeAverage, homeDays)+th.p(ruleBPHomeAverage, homeSeriesGap)+1)*24*time.Hour, 2*th.d(ruleBPCrisis, crisisRetest))
	case reading.Weight:
		h = max(h, after, th.d(ruleWeightGain, weightWindow))
	case reading.Temperature:
		h = max(h, after, th.d(ruleFever, feverWindow))
	case reading.SpO2:
		h = max(h, after)
	case reading.HeartRate:
		h = max(h, time.Hour)
	case reading.Fall, reading.Cancel:
		h = max(h, keepRaisedFall)
	}
	return h
}
