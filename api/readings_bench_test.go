package api

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/influx"
	"github.com/vitalwatch/vitalwatch/internal/testsrv"
	"github.com/vitalwatch/vitalwatch/store"
)

// benchYearEnd is when the benchmark's year of CGM readings ends: the summaries are as of it.
var benchYearEnd = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)

// BenchmarkPatientSeries times the readings and summary routes of a patient with a year of
// 5-minute CGM readings (105,120) in a real influxd: the year's glucose, downsampled into at
// most 2000 windows; the summary with the 14-day CGM report (reading the default 31 days); the
// summary with a 90-day CGM report (days=90). Each request runs benchSeriesRuns times per
// iteration; the figures reported are the medians, in ms. It needs influxd, like the tests of
// package influx: go test -run '^$' -bench PatientSeries -benchtime 1x ./api/
func BenchmarkPatientSeries(b *testing.B) {
	a := seriesBenchAPI(b, yearOfCGM())
	from := benchYearEnd.AddDate(-1, 0, 0).Format(time.RFC3339)
	to := benchYearEnd.Format(time.RFC3339)
	requests := []struct{ name, path string }{
		{"readings_year_ms", "/patients/pA1/readings?type=glucose&from=" + from + "&to=" + to},
		{"summary_14d_ms", "/patients/pA1/summary?to=" + to},
		{"summary_90d_ms", "/patients/pA1/summary?to=" + to + "&days=90"},
	}
	// The answers hold what was loaded: 2000 windows of the year, 14 and 90 days of readings.
	for path, want := range map[string]int{requests[1].path: 14 * 288, requests[2].path: 90 * 288} {
		var s summaryJSON
		if err := json.Unmarshal(callAs(a, "docA", path).Body.Bytes(), &s); err != nil || s.CGM.Readings != want || !s.CGM.AGP.Reportable {
			b.Fatalf("GET %s: %d CGM readings, AGP reportable %v (%v); want %d, reportable", path, s.CGM.Readings, s.CGM.AGP.Reportable, err, want)
		}
	}
	var year readingSeriesJSON
	if err := json.Unmarshal(callAs(a, "docA", requests[0].path).Body.Bytes(), &year); err != nil || len(year.Windows) < 1990 {
		b.Fatalf("GET %s: %d windows (%v); want about 2000", requests[0].path, len(year.Windows), err)
	}
	const benchSeriesRuns = 5
	times := make([][]float64, len(requests))
	for range b.N {
		for i, rq := range requests {
			for range benchSeriesRuns {
				start := time.Now()
				w := callAs(a, "docA", rq.path)
				times[i] = append(times[i], float64(time.Since(start).Microseconds())/1000)
				if w.Code != 200 {
					b.Fatalf("GET %s = %d %s", rq.path, w.Code, w.Body)
				}
			}
		}
	}
	for i, rq := range requests {
		slices.Sort(times[i])
		b.ReportMetric(times[i][len(times[i])/2], rq.name)
	}
}

// yearOfCGM is a year of line protocol for pA1's CGM cgmA, a reading every 5 minutes up to
// benchYearEnd: a daily curve between about 5 and 11 mmol/L.
func yearOfCGM() []string {
	start := benchYearEnd.AddDate(-1, 0, 0)
	var lines []string
	for t := start; t.Before(benchYearEnd); t = t.Add(5 * time.Minute) {
		h := float64(t.Hour()) + float64(t.Minute())/60
		v := 7.5 + 2.5*math.Sin(2*math.Pi*h/24) + 0.5*math.Sin(float64(t.Unix())/7919)
		lines = append(lines, line("glucose", "device=cgmA,device_type=cgm,patient=pA1,site=sA,source=cgm", fmt.Sprintf("value=%.1f", v), t))
	}
	return lines
}

// seriesBenchAPI is an API over a store with pA1 (team tA, site sA) and their CGM cgmA, and a
// real influxd holding lines.
func seriesBenchAPI(b *testing.B, lines []string) *API {
	b.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(b.TempDir(), "vw.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	seed := audit.WithActor(ctx, "bench:seed")
	for _, err := range []error{
		st.CreateSites(seed, []devices.Site{{ID: "sA", Name: "Riverside CHC", TimeZone: "Asia/Shanghai"}}),
		st.CreateTeams(seed, []devices.Team{{ID: "tA", SiteID: "sA", Name: "Team A"}}),
		st.CreatePatients(seed, []devices.Patient{{ID: "pA1", TeamID: "tA", Plans: []string{"diabetes: CGM"}}}),
		st.CreateDevices(seed, []devices.Device{{ID: "cgmA", Kind: devices.CGM, SiteID: "sA", Mode: devices.Home,
			Status: devices.Active, SecretHash: devices.HashSecret("secret of cgmA")}}),
		st.AssignDevice(seed, "cgmA", "pA1", benchYearEnd.AddDate(-1, 0, -1)),
	} {
		if err != nil {
			b.Fatal(err)
		}
	}
	view := devices.NewView(devices.NewDirectory(-1, nil, nil, nil))
	if err := devices.Refresh(ctx, view, st); err != nil {
		b.Fatal(err)
	}
	ix := testsrv.StartInflux(b, testsrv.InfluxOptions{})
	w := influx.NewWriter(influx.Config{URL: ix.URL, Bucket: ix.Bucket})
	defer w.Close()
	for len(lines) > 0 {
		n := min(len(lines), 5000)
		if err := w.Write(ctx, []byte(strings.Join(lines[:n], "\n")+"\n")); err != nil {
			b.Fatal(err)
		}
		lines = lines[n:]
	}
	r := influx.NewReader(influx.Config{URL: ix.URL, Bucket: ix.Bucket})
	b.Cleanup(r.Close)
	a, err := New(Options{Gatherer: prometheus.NewRegistry(), Registry: st, Devices: view, Series: r, Auth: registryPrincipals,
		Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	return a
}

// callAs sends GET /api/v1+path as the principal of token.
func callAs(a *API, token, path string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", "/api/v1"+path, nil)
	req.RemoteAddr = "10.0.0.1:5000"
	req.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	a.ServeHTTP(w, req)
	return w
}
