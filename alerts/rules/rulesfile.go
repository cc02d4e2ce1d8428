package rules

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
	"gopkg.in/yaml.v3"
)

// MinLateAfter and MaxLateAfter bound a rules file's late_after.
const (
	MinLateAfter = time.Minute
	MaxLateAfter = 7 * 24 * time.Hour
)

// LoadRules reads a rules file (YAML). See ParseRules.
func LoadRules(path string) (*Rules, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r, err := ParseRules(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// ParseRules reads a rules file (YAML): a version (a whole number >= 1, required even when
// nothing else is given, see versionRequired), an optional late_after duration (MinLateAfter to
// MaxLateAfter), and under rules, per rule id, only what differs from the defaults:
//
//	version: 3
//	late_after: 2h
//	rules:
//	  glucose_low:
//	    below: 4.0
//	  spo2_low:
//	    very_low_at_or_below: 88      # a practice with many COPD patients
//	    severity: {very_low: critical}
//	  heart_rate:
//	    enabled: false
//	  cgm_low_episode:
//	    duration: 20m
//	  battery_low:
//	    severity: info                # one level: a bare severity will do
//
// Numbers are plain YAML numbers, durations Go durations ("15m", "72h"), severities one of
// info, warning, urgent, critical. Every problem is reported, each naming its key and line, e.g.
// "rules.glucose_low.below: must be a number, not "low" (line 5)".
func ParseRules(data []byte) (*Rules, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("rules file is not YAML: %w", err)
	}
	r := DefaultRules()
	r.base.version = 0
	var p fileParser
	if len(doc.Content) == 0 {
		return nil, errors.New("version: required, and the rules file is empty: " + versionRequired)
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("rules file: must be a mapping of version, late_after and rules (line %d)", root.Line)
	}
	p.mapping("", root, func(key string, k, n *yaml.Node) {
		switch key {
		case "version":
			v, ok := p.whole(key, n)
			if ok && v < 1 {
				p.errorf(key, n, "must be a whole number >= 1")
			}
			r.base.version = int(v)
		case "late_after":
			if d, ok := p.duration(key, n); ok {
				if d < MinLateAfter || d > MaxLateAfter {
					p.errorf(key, n, "must be from 1m to 168h (7 days), not %s", n.Value)
				} else {
					r.base.lateAfter = d
				}
			}
		case "rules":
			if n.Tag == "!!null" {
				return // "rules:" with nothing under it: the defaults
			}
			if n.Kind != yaml.MappingNode {
				p.errorf(key, n, "must be a mapping of rule ids")
				return
			}
			p.mapping("rules.", n, func(id string, k, n *yaml.Node) {
				i, ok := ruleByID(id)
				if !ok {
					p.errorf("rules."+id, k, "unknown rule; rules are %s", strings.Join(RuleIDs(), ", "))
					return
				}
				p.rule("rules."+id, i, n, &r.base.r[i])
			})
		default:
			p.errorf(key, k, "unknown key; want version, late_after or rules")
		}
	})
	if r.base.version == 0 && !p.has("version") {
		p.errs = append(p.errs, errors.New("version: required: "+versionRequired))
	}
	if len(p.errs) == 0 {
		for _, o := range orderings {
			if err := o.check(&r.base, "rules."); err != nil {
				p.errs = append(p.errs, err)
			}
		}
	}
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return r, nil
}

// versionRequired says why a rules file needs its version even when it changes nothing else:
// every alert records it, and only the version tells which file's severities, late_after and
// enabled rules raised the alert, as the thresholds it also records do not.
const versionRequired = "a whole number >= 1, which every alert records to tell which rules raised it, " +
	"even in a file that changes nothing else; raise it with each change (the built-in defaults are version 1, so start at 2)"

// fileParser collects the errors of a rules file, each naming its key.
type fileParser struct {
	errs []error
	seen []string
}

func (p *fileParser) errorf(key string, n *yaml.Node, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("%s: %s (line %d)", key, fmt.Sprintf(format, args...), n.Line))
}

func (p *fileParser) has(key string) bool { return slices.Contains(p.seen, key) }

// mapping calls fn for each key of the mapping n, reporting keys given twice.
func (p *fileParser) mapping(prefix string, n *yaml.Node, fn func(key string, k, v *yaml.Node)) {
	lines := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.errorf(strings.TrimSuffix(prefix, "."), k, "keys must be plain names")
			continue
		}
		if line, dup := lines[k.Value]; dup {
			p.errorf(prefix+k.Value, k, "given twice (also on line %d)", line)
			continue
		}
		lines[k.Value] = k.Line
		p.seen = append(p.seen, prefix+k.Value)
		fn(k.Value, k, v)
	}
}

func (p *fileParser) rule(path string, i ruleIndex, n *yaml.Node, v *ruleValues) {
	spec := &catalogue[i]
	if n.Kind != yaml.MappingNode {
		if n.Tag == "!!null" {
			return // "glucose_low:" with nothing under it: the defaults
		}
		p.errorf(path, n, "must be a mapping of settings")
		return
	}
	p.mapping(path+".", n, func(key string, k, n *yaml.Node) {
		at := path + "." + key
		switch key {
		case "enabled":
			var b bool
			if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&b) != nil {
				p.errorf(at, n, "must be true or false")
				return
			}
			v.on = b
			return
		case "severity":
			p.severity(at, spec, n, v)
			return
		}
		j := paramByKey(i, key)
		if j < 0 {
			p.errorf(at, k, "unknown setting; %s has %s", spec.id, strings.Join(settingKeys(spec), ", "))
			return
		}
		if f, ok := p.param(at, spec.params[j], n); ok {
			v.p[j] = f
		}
	})
}

// settingKeys lists what a rule's settings may name.
func settingKeys(spec *ruleSpec) []string {
	keys := []string{"enabled", "severity"}
	for _, p := range spec.params {
		keys = append(keys, p.key)
	}
	return keys
}

func (p *fileParser) severity(at string, spec *ruleSpec, n *yaml.Node, v *ruleValues) {
	if n.Kind == yaml.ScalarNode {
		if len(spec.levels) > 1 {
			p.errorf(at, n, "%s has levels %s: give a severity per level, e.g. {%s: %s}", spec.id, levelNames(spec), spec.levels[1].name, spec.levels[1].def)
			return
		}
		s, err := alerts.ParseSeverity(n.Value)
		if err != nil {
			p.errorf(at, n, "%v", err)
			return
		}
		v.sev[0] = s
		return
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(at, n, "must be a severity or a mapping of level to severity")
		return
	}
	p.mapping(at+".", n, func(name string, k, n *yaml.Node) {
		j := slices.IndexFunc(spec.levels, func(l level) bool { return l.name == name })
		if j < 0 {
			p.errorf(at+"."+name, k, "unknown level; %s has %s", spec.id, levelNames(spec))
			return
		}
		s, err := alerts.ParseSeverity(n.Value)
		if n.Kind != yaml.ScalarNode || err != nil {
			p.errorf(at+"."+name, n, "must be one of info, warning, urgent, critical")
			return
		}
		v.sev[j] = s
	})
}

func levelNames(spec *ruleSpec) string {
	names := make([]string, len(spec.levels))
	for i, l := range spec.levels {
		names[i] = l.name
	}
	return strings.Join(names, ", ")
}

// param reads one parameter's value and checks its range.
func (p *fileParser) param(at string, spec param, n *yaml.Node) (float64, bool) {
	var f float64
	switch spec.kind {
	case duration:
		d, ok := p.duration(at, n)
		if !ok {
			return 0, false
		}
		f = d.Seconds()
	case count:
		w, ok := p.whole(at, n)
		if !ok {
			return 0, false
		}
		f = float64(w)
	default:
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") || n.Decode(&f) != nil || !finite(f) {
			p.errorf(at, n, "must be a number, not %s", describeNode(n))
			return 0, false
		}
	}
	if err := spec.check(f); err != "" {
		p.errorf(at, n, "%s", err)
		return 0, false
	}
	return f, true
}

func (p *fileParser) whole(at string, n *yaml.Node) (int64, bool) {
	var v int64
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || n.Decode(&v) != nil {
		p.errorf(at, n, "must be a whole number, not %s", describeNode(n))
		return 0, false
	}
	return v, true
}

func (p *fileParser) duration(at string, n *yaml.Node) (time.Duration, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		p.errorf(at, n, "must be a duration such as 15m or 72h, not %s", describeNode(n))
		return 0, false
	}
	d, err := time.ParseDuration(n.Value)
	if err != nil {
		p.errorf(at, n, "must be a duration such as 15m or 72h, not %q", n.Value)
		return 0, false
	}
	return d, true
}

func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	if n.Tag == "!!null" {
		return "empty"
	}
	return strconv.Quote(n.Value)
}
