package simulators

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// scriptParser reads a script's YAML nodes strictly: an unknown or repeated key, a value of the
// wrong kind or out of range is an error that names the key's path and line. It collects the
// errors rather than stopping at the first, so that one run lists what is wrong with a file.
type scriptParser struct {
	errs []error
}

// maxScriptErrors bounds the errors reported for one file.
const maxScriptErrors = 20

func (p *scriptParser) errorf(path string, n *yaml.Node, format string, args ...any) {
	if len(p.errs) >= maxScriptErrors {
		return
	}
	msg := fmt.Sprintf(format, args...)
	if path != "" {
		msg = path + ": " + msg
	}
	if n != nil {
		msg += fmt.Sprintf(" (line %d)", n.Line)
	}
	p.errs = append(p.errs, errors.New(msg))
}

func (p *scriptParser) err() error { return errors.Join(p.errs...) }

// join names a key below path.
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// fields calls the handler of each key of the mapping n. A key without a handler, a repeated
// key, or a node that is not a mapping is an error. It returns the keys present.
func (p *scriptParser) fields(path string, n *yaml.Node, handlers map[string]func(path string, v *yaml.Node)) map[string]bool {
	seen := map[string]bool{}
	if n.Kind != yaml.MappingNode {
		p.errorf(path, n, "must be a mapping, not %s", describe(n))
		return seen
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := k.Value
		h, ok := handlers[key]
		switch {
		case k.Kind != yaml.ScalarNode:
			p.errorf(path, k, "keys must be names, not %s", describe(k))
		case seen[key]:
			p.errorf(join(path, key), k, "given twice")
		case !ok:
			p.errorf(join(path, key), k, "unknown key (known: %s)", strings.Join(sortedKeys(handlers), ", "))
		default:
			seen[key] = true
			h(join(path, key), v)
		}
	}
	return seen
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// list calls fn for each item of the sequence n, with the item's path ("steps[3]").
func (p *scriptParser) list(path string, n *yaml.Node, fn func(path string, i int, item *yaml.Node)) {
	if n.Kind != yaml.SequenceNode {
		p.errorf(path, n, "must be a list, not %s", describe(n))
		return
	}
	for i, item := range n.Content {
		fn(fmt.Sprintf("%s[%d]", path, i), i, item)
	}
}

// scalar returns the value of a scalar node of one of the YAML tags, or reports what it is.
func (p *scriptParser) scalar(path string, n *yaml.Node, want string, tags ...string) (string, bool) {
	if n.Kind == yaml.ScalarNode {
		for _, t := range tags {
			if n.Tag == t {
				return n.Value, true
			}
		}
	}
	p.errorf(path, n, "must be %s, not %s", want, describe(n))
	return "", false
}

func (p *scriptParser) str(path string, n *yaml.Node) string {
	s, _ := p.scalar(path, n, "a string", "!!str")
	return s
}

func (p *scriptParser) strs(path string, n *yaml.Node) []string {
	out := []string{}
	p.list(path, n, func(path string, _ int, item *yaml.Node) {
		out = append(out, p.str(path, item))
	})
	return out
}

func (p *scriptParser) number(path string, n *yaml.Node) float64 {
	s, ok := p.scalar(path, n, "a number", "!!int", "!!float")
	if !ok {
		return 0
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		p.errorf(path, n, "must be a finite number, not %q", s)
		return 0
	}
	return f
}

// numbers reads a list of numbers.
func (p *scriptParser) numbers(path string, n *yaml.Node) []float64 {
	out := []float64{}
	p.list(path, n, func(path string, _ int, item *yaml.Node) {
		out = append(out, p.number(path, item))
	})
	return out
}

func (p *scriptParser) integer(path string, n *yaml.Node, min, max int) int {
	s, ok := p.scalar(path, n, "a whole number", "!!int")
	if !ok {
		return 0
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < min || v > max {
		p.errorf(path, n, "must be a whole number from %d to %d, not %s", min, max, s)
		return 0
	}
	return v
}

func (p *scriptParser) boolean(path string, n *yaml.Node) bool {
	s, ok := p.scalar(path, n, "true or false", "!!bool")
	return ok && (s == "true" || s == "True" || s == "TRUE")
}

// duration reads a duration as parseOffset does; negative ones only when allowed.
func (p *scriptParser) duration(path string, n *yaml.Node, negative bool) time.Duration {
	s, ok := p.scalar(path, n, "a duration such as 90s, 12m, 3d or 1d7h30m", "!!str", "!!int")
	if !ok {
		return 0
	}
	d, err := parseOffset(s)
	if err != nil {
		p.errorf(path, n, "%v", err)
		return 0
	}
	if d < 0 && !negative {
		p.errorf(path, n, "must not be negative, got %s", s)
		return 0
	}
	return d
}

// maxOffset bounds the durations of a script: a year.
const maxOffset = 366 * 24 * time.Hour

// parseOffset reads a duration written as Go does ("90s", "12m", "7h30m") with whole days
// before it ("3d", "1d7h30m"), and an optional sign. A bare "0" is zero.
func parseOffset(s string) (time.Duration, error) {
	bad := fmt.Errorf("%q is not a duration such as 90s, 12m, 3d or 1d7h30m", s)
	body, neg := strings.CutPrefix(s, "-")
	if body == "0" {
		return 0, nil
	}
	var total time.Duration
	if n, rest, ok := strings.Cut(body, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 || n == "" || n[0] == '+' {
			return 0, bad
		}
		total, body = time.Duration(days)*24*time.Hour, rest
		if total > maxOffset {
			return 0, fmt.Errorf("%q is longer than a year", s)
		}
	} else if body == "" {
		return 0, bad
	}
	if body != "" {
		v, err := time.ParseDuration(body)
		if err != nil || v < 0 || strings.HasPrefix(body, "+") {
			return 0, bad
		}
		total += v
	}
	if total > maxOffset {
		return 0, fmt.Errorf("%q is longer than a year", s)
	}
	if neg {
		total = -total
	}
	return total, nil
}

// describe names what a node is, for errors.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "empty"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "nothing"
}
