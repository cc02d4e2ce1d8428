package deploy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// dashboard is the part of a Grafana dashboard JSON model the tests read.
type dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Datasource *datasourceRef  `json:"datasource"`
			Query      json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Time struct{ From, To string } `json:"time"`
}

type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type panel struct {
	ID         int                      `json:"id"`
	Type       string                   `json:"type"`
	Title      string                   `json:"title"`
	Datasource *datasourceRef           `json:"datasource"`
	GridPos    struct{ H, W, X, Y int } `json:"gridPos"`
	Targets    []target                 `json:"targets"`
	Panels     []panel                  `json:"panels"` // a collapsed row's
}

type target struct {
	RefID      string         `json:"refId"`
	Datasource *datasourceRef `json:"datasource"`
	Expr       string         `json:"expr"`  // Prometheus
	Query      string         `json:"query"` // InfluxQL, with rawQuery
	RawQuery   bool           `json:"rawQuery"`
}

// panelTypes are the Grafana panel types the dashboards may use: built into Grafana 10 and 11.
var panelTypes = []string{"row", "timeseries", "stat", "gauge", "table", "bargauge", "text"}

// minSchemaVersion is the dashboard schema of Grafana 10.4; Grafana migrates older ones on load,
// and a dashboard written for it loads in Grafana 10 and 11.
const minSchemaVersion = 39

// provisioned are the datasources of grafana/provisioning/datasources, by uid.
func provisioned(t *testing.T) map[string]string {
	t.Helper()
	var file struct {
		APIVersion  int `yaml:"apiVersion"`
		Datasources []struct {
			Name, UID, Type, Access, URL string
			JSONData                     map[string]any `yaml:"jsonData"`
		} `yaml:"datasources"`
	}
	readYAML(t, "grafana/provisioning/datasources/vitalwatch.yml", &file)
	if file.APIVersion != 1 {
		t.Errorf("datasources apiVersion = %d; want 1", file.APIVersion)
	}
	out := map[string]string{}
	for _, d := range file.Datasources {
		if d.Name == "" || d.UID == "" || d.Access != "proxy" || !strings.HasPrefix(d.URL, "http") {
			t.Errorf("datasource %+v; want a name, a uid, access proxy and an http URL", d)
		}
		if d.Type == "influxdb" && d.JSONData["dbName"] != "vitalwatch" {
			t.Errorf("InfluxDB datasource reads database %v; want vitalwatch, the database of influx.bucket's default", d.JSONData["dbName"])
		}
		out[d.UID] = d.Type
	}
	return out
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// dashboards reads every dashboard JSON of grafana/dashboards.
func dashboards(t *testing.T) map[string]dashboard {
	t.Helper()
	paths, err := filepath.Glob("grafana/dashboards/*.json")
	if err != nil || len(paths) < 2 {
		t.Fatalf("dashboards %v, %v; want the platform's and the readings'", paths, err)
	}
	out := map[string]dashboard{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard
		dec := json.NewDecoder(strings.NewReader(string(b)))
		if err := dec.Decode(&d); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out[p] = d
	}
	return out
}

// every panel of d, rows' panels included.
func allPanels(d dashboard) []panel {
	var out []panel
	for _, p := range d.Panels {
		out = append(out, p)
		out = append(out, p.Panels...)
	}
	return out
}

// Each dashboard is one Grafana loads as it is: a uid and title of its own, a current schema,
// panels of built-in types with unique ids laid on the 24-column grid without overlapping,
// each with a provisioned datasource and targets of that datasource, and variables that read
// from a provisioned datasource. The dashboards provider points where the docs say to copy
// them.
func TestDashboardsAreValid(t *testing.T) {
	sources := provisioned(t)
	var provider struct {
		APIVersion int `yaml:"apiVersion"`
		Providers  []struct {
			Name, Folder, Type    string
			DisableDeletion       bool `yaml:"disableDeletion"`
			AllowUIUpdates        bool `yaml:"allowUiUpdates"`
			UpdateIntervalSeconds int  `yaml:"updateIntervalSeconds"`
			Options               struct{ Path string }
		}
	}
	readYAML(t, "grafana/provisioning/dashboards/vitalwatch.yml", &provider)
	if provider.APIVersion != 1 || len(provider.Providers) != 1 || provider.Providers[0].Type != "file" ||
		provider.Providers[0].Options.Path == "" {
		t.Errorf("dashboard provider %+v; want one file provider with a path", provider)
	}
	uids := map[string]string{}
	for path, d := range dashboards(t) {
		if d.UID == "" || d.Title == "" || d.SchemaVersion < minSchemaVersion || d.Time.From == "" {
			t.Errorf("%s: uid %q, title %q, schemaVersion %d, time %+v; want a uid, a title, schema %d or later and a time range",
				path, d.UID, d.Title, d.SchemaVersion, d.Time, minSchemaVersion)
		}
		if other, ok := uids[d.UID]; ok {
			t.Errorf("%s and %s share the uid %s", path, other, d.UID)
		}
		uids[d.UID] = path
		for _, v := range d.Templating.List {
			if v.Type == "query" && (v.Datasource == nil || sources[v.Datasource.UID] != v.Datasource.Type) {
				t.Errorf("%s: variable %s reads from %+v; want a provisioned datasource", path, v.Name, v.Datasource)
			}
		}
		ids := map[int]bool{}
		var cells [][4]int
		for _, p := range allPanels(d) {
			if p.ID <= 0 || ids[p.ID] {
				t.Errorf("%s: panel %q has id %d; want a positive id of its own", path, p.Title, p.ID)
			}
			ids[p.ID] = true
			if !slices.Contains(panelTypes, p.Type) || p.Title == "" {
				t.Errorf("%s: panel %d type %q title %q; want a built-in type and a title", path, p.ID, p.Type, p.Title)
			}
			g := p.GridPos
			if g.W <= 0 || g.H <= 0 || g.X < 0 || g.Y < 0 || g.X+g.W > 24 {
				t.Errorf("%s: panel %q at %+v; want it on the 24-column grid", path, p.Title, g)
			}
			for _, c := range cells {
				if g.X < c[0]+c[2] && c[0] < g.X+g.W && g.Y < c[1]+c[3] && c[1] < g.Y+g.H {
					t.Errorf("%s: panel %q at %+v overlaps another at %v", path, p.Title, g, c)
				}
			}
			cells = append(cells, [4]int{g.X, g.Y, g.W, g.H})
			if p.Type == "row" || p.Type == "text" {
				continue
			}
			if p.Datasource == nil || sources[p.Datasource.UID] != p.Datasource.Type {
				t.Errorf("%s: panel %q datasource %+v; want one provisioned (%v)", path, p.Title, p.Datasource, sources)
				continue
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s: panel %q has no targets", path, p.Title)
			}
			refs := map[string]bool{}
			for _, tg := range p.Targets {
				if tg.RefID == "" || refs[tg.RefID] {
					t.Errorf("%s: panel %q target refId %q; want one of its own", path, p.Title, tg.RefID)
				}
				refs[tg.RefID] = true
				if tg.Datasource != nil && *tg.Datasource != *p.Datasource {
					t.Errorf("%s: panel %q target %s reads %+v, the panel %+v", path, p.Title, tg.RefID, tg.Datasource, p.Datasource)
				}
				switch p.Datasource.Type {
				case "prometheus":
					if tg.Expr == "" {
						t.Errorf("%s: panel %q target %s has no expr", path, p.Title, tg.RefID)
					}
				case "influxdb":
					if !tg.RawQuery || tg.Query == "" {
						t.Errorf("%s: panel %q target %s; want a raw InfluxQL query", path, p.Title, tg.RefID)
					}
				}
			}
		}
	}
}

// expressions are the PromQL expressions of the dashboards (their targets and query
// variables) and of the alerting rules, each with where it is.
func expressions(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	labelValues := regexp.MustCompile(`^label_values\((.+), *[a-z_]+\)$`)
	for path, d := range dashboards(t) {
		for _, p := range allPanels(d) {
			for _, tg := range p.Targets {
				if tg.Expr != "" {
					out[path+": "+p.Title+" "+tg.RefID] = tg.Expr
				}
			}
		}
		for _, v := range d.Templating.List {
			if v.Datasource == nil || v.Datasource.Type != "prometheus" {
				continue
			}
			var q struct{ Query string }
			if err := json.Unmarshal(v.Query, &q); err != nil {
				t.Fatalf("%s: variable %s: %v", path, v.Name, err)
			}
			m := labelValues.FindStringSubmatch(q.Query)
			if m == nil {
				t.Errorf("%s: variable %s query %q; want label_values(selector, label)", path, v.Name, q.Query)
				continue
			}
			out[path+": variable "+v.Name] = m[1]
		}
	}
	for _, r := range rules(t) {
		out["prometheus/vitalwatch-rules.yml: "+r.Alert] = r.Expr
	}
	return out
}
