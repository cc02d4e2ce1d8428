package deploy

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// grafanaVariables are what Grafana puts in place of the variables of the platform dashboard
// before Prometheus sees an expression.
var grafanaVariables = strings.NewReplacer("$__rate_interval", "1m", "$__interval", "1m", "$__range", "6h",
	"$job", "vitalwatch", "$instance", ".*")

// prometheusMade are series Prometheus makes itself for every target.
var prometheusMade = map[string][]string{"up": nil}

// targetLabels are the labels Prometheus adds to every scraped series.
var targetLabels = []string{"job", "instance"}

// served is what a scrape of /metrics exposes: the families by name.
type served map[string]*dto.MetricFamily

func parseScrape(t *testing.T, body []byte) served {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return mfs
}

// family is the family a series name belongs to, with a histogram's or a summary's _bucket,
// _sum and _count, and the labels its series may have.
func (s served) family(name string) (*dto.MetricFamily, []string, bool) {
	if mf, ok := s[name]; ok {
		return mf, s.labelNames(mf), true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suffix)
		if !ok {
			continue
		}
		mf, ok := s[base]
		if !ok || mf.GetType() != dto.MetricType_HISTOGRAM && mf.GetType() != dto.MetricType_SUMMARY {
			continue
		}
		names := s.labelNames(mf)
		if suffix == "_bucket" {
			names = append(names, "le")
		}
		return mf, names, true
	}
	return nil, nil, false
}

func (s served) labelNames(mf *dto.MetricFamily) []string {
	var names []string
	for _, m := range mf.GetMetric() {
		for _, l := range m.GetLabel() {
			if !slices.Contains(names, l.GetName()) {
				names = append(names, l.GetName())
			}
		}
	}
	return names
}

// labelValues are the values of label name among mf's series.
func labelValues(mf *dto.MetricFamily, name string) []string {
	var values []string
	for _, m := range mf.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == name && !slices.Contains(values, l.GetValue()) {
				values = append(values, l.GetValue())
			}
		}
	}
	return values
}

// simpleAlternation matches a regular expression that is a plain list of values, a|b|c.
var simpleAlternation = regexp.MustCompile(`^[A-Za-z0-9_]+(\|[A-Za-z0-9_]+)*$`)

// checkExpr parses the PromQL expression expr (after Grafana's variables) and returns what is
// wrong with it against what serve exposes: a metric it does not serve, a label its series do
// not have, a label value none of them has (for = and != and plain alternations), or a
// grouping label that none of the selectors grouped has.
func checkExpr(s served, expr string) []string {
	e, err := parser.ParseExpr(grafanaVariables.Replace(expr))
	if err != nil {
		return []string{fmt.Sprintf("does not parse: %v", err)}
	}
	var problems []string
	labelsOf := func(vs *parser.VectorSelector) ([]string, *dto.MetricFamily, bool) {
		if names, ok := prometheusMade[vs.Name]; ok {
			return append(names, targetLabels...), nil, true
		}
		mf, names, ok := s.family(vs.Name)
		return append(names, targetLabels...), mf, ok
	}
	parser.Inspect(e, func(node parser.Node, _ []parser.Node) error {
		switch n := node.(type) {
		case *parser.VectorSelector:
			if n.Name == "" {
				problems = append(problems, fmt.Sprintf("selector %s names no metric", n))
				return nil
			}
			names, mf, ok := labelsOf(n)
			if !ok {
				problems = append(problems, fmt.Sprintf("metric %s is not served by /metrics", n.Name))
				return nil
			}
			for _, m := range n.LabelMatchers {
				if m.Name == labels.MetricName {
					continue
				}
				if !slices.Contains(names, m.Name) {
					problems = append(problems, fmt.Sprintf("%s has no label %s (it has %v)", n.Name, m.Name, names))
					continue
				}
				if mf == nil || slices.Contains(targetLabels, m.Name) {
					continue
				}
				values := labelValues(mf, m.Name)
				var want []string
				switch {
				case m.Type == labels.MatchEqual || m.Type == labels.MatchNotEqual:
					want = []string{m.Value}
				case m.Type == labels.MatchRegexp && simpleAlternation.MatchString(m.Value):
					want = strings.Split(m.Value, "|")
				}
				for _, v := range want {
					if !slices.Contains(values, v) {
						problems = append(problems, fmt.Sprintf("%s{%s} has no series with %s=%q (values %v)", n.Name, m, m.Name, v, values))
					}
				}
			}
		case *parser.AggregateExpr:
			var inner []string
			parser.Inspect(n.Expr, func(node parser.Node, _ []parser.Node) error {
				if vs, ok := node.(*parser.VectorSelector); ok {
					names, _, _ := labelsOf(vs)
					inner = append(inner, names...)
				}
				return nil
			})
			for _, g := range n.Grouping {
				if !slices.Contains(inner, g) {
					problems = append(problems, fmt.Sprintf("%s groups by %s, which none of its series has", n.Op, g))
				}
			}
		}
		return nil
	})
	return problems
}
