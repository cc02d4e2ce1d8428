package deploy

import (
	"bytes"
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// promtoolInstall is how to get promtool: Debian's prometheus package (make test-deps).
const promtoolInstall = "apt-get install prometheus (make test-deps does), which installs /usr/bin/promtool"

// rule is an alerting rule of prometheus/vitalwatch-rules.yml.
type rule struct {
	Alert       string
	Expr        string
	For         string
	Labels      map[string]string
	Annotations map[string]string
}

func rules(t *testing.T) []rule {
	t.Helper()
	var file struct {
		Groups []struct {
			Name  string
			Rules []rule
		}
	}
	readYAML(t, "prometheus/vitalwatch-rules.yml", &file)
	var out []rule
	for _, g := range file.Groups {
		out = append(out, g.Rules...)
	}
	if len(out) == 0 {
		t.Fatal("prometheus/vitalwatch-rules.yml has no rules")
	}
	return out
}

// promtool runs promtool with args in dir and returns its output; it fails the test with the
// install command when promtool is missing, and skips under -short.
func promtool(t *testing.T, dir string, stdin []byte, args ...string) (string, error) {
	t.Helper()
	if testing.Short() {
		t.Skip("promtool: not under -short")
	}
	bin, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found: %s", promtoolInstall)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// The rules and the configuration that loads them are what Prometheus accepts.
func TestPromtoolCheckRulesAndConfig(t *testing.T) {
	for _, args := range [][]string{{"check", "rules", "vitalwatch-rules.yml"}, {"check", "config", "prometheus.yml"}} {
		if out, err := promtool(t, "prometheus", nil, args...); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// Every rule's unit tests pass: promtool test rules.
func TestPromtoolTestRules(t *testing.T) {
	out, err := promtool(t, "prometheus", nil, "test", "rules", "vitalwatch-rules.test.yml")
	if err != nil || !strings.Contains(out, "SUCCESS") {
		t.Errorf("promtool test rules: %v\n%s", err, out)
	}
}

// Each rule has a severity, a summary and a description, and the unit tests make it fire
// (an expected alert) and keep it quiet (an evaluation expecting none).
func TestEveryRuleIsTested(t *testing.T) {
	var tests struct {
		RuleFiles          []string `yaml:"rule_files"`
		EvaluationInterval string   `yaml:"evaluation_interval"`
		Tests              []struct {
			Interval    string
			InputSeries []struct {
				Series, Values string
			} `yaml:"input_series"`
			AlertRuleTest []struct {
				EvalTime  string `yaml:"eval_time"`
				Alertname string
				ExpAlerts []struct {
					ExpLabels      map[string]string `yaml:"exp_labels"`
					ExpAnnotations map[string]string `yaml:"exp_annotations"`
				} `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		}
	}
	readYAML(t, "prometheus/vitalwatch-rules.test.yml", &tests)
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				quiet[a.Alertname] = true
			}
		}
	}
	for _, r := range rules(t) {
		if !slices.Contains([]string{"critical", "warning"}, r.Labels["severity"]) ||
			r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
			t.Errorf("rule %s: labels %v, annotations %v; want severity critical or warning, a summary and a description",
				r.Alert, r.Labels, r.Annotations)
		}
		if !fires[r.Alert] || !quiet[r.Alert] {
			t.Errorf("rule %s: tested firing %v, quiet %v; want both in vitalwatch-rules.test.yml", r.Alert, fires[r.Alert], quiet[r.Alert])
		}
	}
}

// TestServedMetrics starts vitalwatch serve as make run does and scrapes its /metrics once:
// promtool finds nothing to say about the names, types and help of what it serves, and every
// expression of the dashboards and the alerting rules parses as PromQL and names only metrics,
// labels and label values it serves.
func TestServedMetrics(t *testing.T) {
	body := scrapeServe(t)
	t.Run("promtool check metrics", func(t *testing.T) {
		out, err := promtool(t, ".", body, "check", "metrics")
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			t.Fatal(err)
		}
		if err != nil || strings.TrimSpace(out) != "" {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	})
	t.Run("expressions", func(t *testing.T) {
		s := parseScrape(t, body)
		for _, name := range []string{"vitalwatch_ingest_readings_total", "vitalwatch_alerts_raised_total", "process_resident_memory_bytes", "go_goroutines"} {
			if _, ok := s[name]; !ok {
				t.Fatalf("/metrics lacks %s", name)
			}
		}
		exprs := expressions(t)
		if len(exprs) < 40 {
			t.Errorf("%d expressions; want the dashboards' and the rules'", len(exprs))
		}
		for where, e := range exprs {
			for _, p := range checkExpr(s, e) {
				t.Errorf("%s: %s\n\t%s", where, p, e)
			}
		}
	})
}
