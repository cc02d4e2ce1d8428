package deploy

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/influx"
	"github.com/vitalwatch/vitalwatch/internal/testsrv"
	"github.com/vitalwatch/vitalwatch/reading"
)

// valueTypes are the reading types stored with one field, value, in a measurement of their
// own: every type but blood pressure (systolic, diastolic, pulse) and the events (one
// measurement, event, with the kind as a tag). The readings dashboard's type variable offers
// exactly these.
func valueTypes() []string {
	var out []string
	for _, typ := range reading.Types {
		if typ != reading.BP && !typ.IsEvent() {
			out = append(out, influx.Measurement(typ))
		}
	}
	return out
}

// sitePoints are a day of a site's readings of every type and its devices' battery, encoded
// as ingest encodes them, with quality flags on some and glucose from a CGM and a meter.
func sitePoints(site string, now time.Time) []byte {
	var lines []byte
	at := now.Add(-2 * time.Hour)
	for i, typ := range reading.Types {
		r := reading.Reading{Type: typ, Time: at.Add(time.Duration(i) * time.Minute), Value: 5.5}
		switch {
		case typ == reading.BP:
			r.Systolic, r.Diastolic, r.Pulse, r.HasPulse, r.Position = 128, 82, 71, true, "sitting"
		case typ == reading.Glucose:
			r.Context = "fasting"
		case typ.IsEvent():
			r.Value = 0
		}
		device := site + "-dev-" + string(typ)
		m := reading.Message{Device: device, Patient: "p-" + site, Readings: []reading.Reading{r}, Flags: []string{"low_signal"}}
		lines = influx.AppendMessage(lines, &m, influx.Tags{DeviceType: "station", Site: site})
		r.Time, r.Source = r.Time.Add(30*time.Second), "cgm"
		m = reading.Message{Device: device, Patient: "p-" + site, Readings: []reading.Reading{r}}
		lines = influx.AppendMessage(lines, &m, influx.Tags{DeviceType: "cgm", Site: site})
		lines = influx.AppendStatus(lines, &reading.Status{Device: device, Time: r.Time, Battery: 40 + float64(i), HasBattery: true},
			influx.Tags{DeviceType: "station", Site: site})
	}
	return lines
}

// influxQL runs q against database db and returns its series.
func influxQL(t *testing.T, ix *testsrv.Influx, q string) ([]struct {
	Name    string
	Tags    map[string]string
	Columns []string
	Values  [][]any
}, string) {
	t.Helper()
	resp, err := http.Get(ix.URL + "/query?" + url.Values{"db": {ix.Database}, "q": {q}, "epoch": {"ms"}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Results []struct {
			Series []struct {
				Name    string
				Tags    map[string]string
				Columns []string
				Values  [][]any
			}
			Error string
		}
		Error string
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	if body.Error != "" {
		return nil, body.Error
	}
	if len(body.Results) != 1 {
		t.Fatalf("%s: %d results; want 1", q, len(body.Results))
	}
	return body.Results[0].Series, body.Results[0].Error
}

// Every InfluxQL query of the readings dashboard, run by a real InfluxDB 1.8 over points that
// ingest's encoder wrote for two sites, answers the chosen site's readings: each names
// measurements, fields and tags that exist (InfluxQL answers nothing, not an error, for a
// field or tag that does not), for every reading type the type variable offers, and nothing
// for a site that has no readings. The site variable lists the sites.
func TestReadingsDashboardQueriesInfluxDB(t *testing.T) {
	var d dashboard
	for path, dash := range dashboards(t) {
		if strings.HasSuffix(path, "vitalwatch-site-readings.json") {
			d = dash
		}
	}
	if d.UID == "" {
		t.Fatal("no readings dashboard")
	}
	var types []string
	siteQuery := ""
	for _, v := range d.Templating.List {
		switch v.Name {
		case "type":
			var q string
			if err := json.Unmarshal(v.Query, &q); err != nil {
				t.Fatal(err)
			}
			types = strings.Split(q, ",")
		case "site":
			if err := json.Unmarshal(v.Query, &siteQuery); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !slices.Equal(types, valueTypes()) {
		t.Errorf("type variable offers %v; want the one-value reading types %v", types, valueTypes())
	}

	ix := testsrv.StartInflux(t, testsrv.InfluxOptions{})
	now := time.Now()
	w := influx.NewWriter(influx.Config{URL: ix.URL, Bucket: ix.Bucket, Timeout: 10 * time.Second})
	defer w.Close()
	if err := w.Write(context.Background(), append(sitePoints("site-01", now), sitePoints("site-02", now)...)); err != nil {
		t.Fatal(err)
	}

	series, errText := influxQL(t, ix, siteQuery)
	var sites []string
	for _, s := range series {
		for _, v := range s.Values {
			if !slices.Contains(sites, v[1].(string)) {
				sites = append(sites, v[1].(string))
			}
		}
	}
	if errText != "" || !slices.Equal(sites, []string{"site-01", "site-02"}) {
		t.Errorf("site variable %q = %v, %s; want site-01 and site-02", siteQuery, sites, errText)
	}

	queries := 0
	for _, p := range allPanels(d) {
		for _, tg := range p.Targets {
			for _, typ := range types {
				if typ != types[0] && !strings.Contains(tg.Query, "$type") {
					continue
				}
				for _, site := range []string{"site-01", "no-such-site"} {
					q := strings.NewReplacer("$timeFilter", "time > now() - 1d", "$__interval", "1h", "$site", site,
						"$type", typ).Replace(tg.Query)
					queries++
					series, errText := influxQL(t, ix, q)
					if errText != "" {
						t.Errorf("panel %q %s: %s\n\t%s", p.Title, tg.RefID, errText, q)
						continue
					}
					// Each column (each field asked for) has a value somewhere.
					values, columns := 0, map[string]bool{}
					for _, s := range series {
						for _, row := range s.Values {
							for i, v := range row[1:] {
								if f, ok := v.(float64); ok && f != 0 {
									values++
									columns[s.Columns[i+1]] = true
								}
							}
						}
					}
					if site == "site-01" && (len(series) == 0 || len(columns) != len(series[0].Columns)-1) {
						t.Errorf("panel %q %s (type %s) found values in columns %v of %v\n\t%s", p.Title, tg.RefID, typ,
							columns, series, q)
					}
					if site != "site-01" && values != 0 {
						t.Errorf("panel %q %s (type %s) found %d values for a site without readings\n\t%s", p.Title, tg.RefID, typ, values, q)
					}
				}
			}
		}
	}
	if queries < 20 {
		t.Errorf("ran %d queries; want every target for every type", queries)
	}
}
