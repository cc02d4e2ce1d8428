package api

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vitalwatch/vitalwatch/access"
	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/fleet"
	"github.com/vitalwatch/vitalwatch/internal/testsrv"
	"github.com/vitalwatch/vitalwatch/reallocation"
	"github.com/vitalwatch/vitalwatch/store"
	"github.com/vitalwatch/vitalwatch/usage"
)

// BenchmarkReports times the fleet reports and the big lists of a city: 1,000 centres, 100,000
// devices with a year of usage day counts (about 28 million), and a million alerts. It builds
// that store once per dialect (a temporary SQLite file; a database of a test PostgreSQL server),
// through the store's own writes where they keep something up to date (the registry, the usage
// counts) and in bulk SQL for the rest (periods, loans, alerts), then sends each request
// BENCH_REPORTS_RUNS times (default 7) and reports the medians in ms; the log has the median,
// minimum and maximum of each. Building the fixture takes minutes; run it alone:
//
//	go test -run '^$' -bench Reports -benchtime 1x -timeout 90m ./api/
//	go test -run '^$' -bench 'Reports/sqlite' -benchtime 1x -timeout 60m ./api/
//
// BENCH_REPORTS_DEVICES (default 100000, 100 a centre) and BENCH_REPORTS_ALERTS (default
// 1000000) make a smaller city for a quick run. BENCH_REPORTS_PROFILE=dir writes a CPU profile
// of each request's runs to dir/<dialect>-<request>.pprof; BENCH_REPORTS_EXPLAIN=1 logs the query
// plans of the lists (run with -v to see the whole log).
func BenchmarkReports(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		benchReports(b, filepath.Join(b.TempDir(), "vw.db"))
	})
	b.Run("postgres", func(b *testing.B) {
		pg := testsrv.StartPostgres(b)
		benchReports(b, pg.NewDatabase(b))
	})
}

// The fixture's clock: the assessment looks at October to December 2025; usage covers 2025.
var (
	reportsNow  = time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)
	reportsYear = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
)

// reportRequests are the requests timed, as whom. Those with cold are sent each time after a
// registry change (a centre's address), which the API's view has loaded: the first report
// after a change reads the devices' periods again and starts its computation anew.
var reportRequests = []struct {
	name, token, path string
	cold              bool
}{
	{"utilisation_site_3m", "admin", "/utilisation?from=2025-10&to=2025-12&by=site", false},
	{"utilisation_site_3m_cold", "admin", "/utilisation?from=2025-10&to=2025-12&by=site", true},
	{"assessment_cold", "admin", "/reallocation/assessment", true},
	{"utilisation_type_3m", "admin", "/utilisation?from=2025-10&to=2025-12&by=type", false},
	{"utilisation_district_12m", "admin", "/utilisation?from=2025-01&to=2025-12&by=district", false},
	{"utilisation_device_site", "fleet1", "/utilisation?from=2025-10&to=2025-12&by=device", false},
	{"utilisation_days_site", "fleet1", "/utilisation/days?month=2025-12", false},
	{"assessment", "admin", "/reallocation/assessment", false},
	{"plan", "admin", "/reallocation/plan", false},
	{"plan_fleet", "fleet1", "/reallocation/plan", false},
	{"alternatives", "admin", "/devices/d000101/alternatives", false},
	{"alerts", "admin", "/alerts", false},
	{"alerts_open", "admin", "/alerts?state=open", false},
	{"alerts_doctor", "doc1", "/alerts", false},
	{"alerts_doctor_open", "doc1", "/alerts?state=open", false},
	{"alerts_fleet_faults", "fleet1", "/alerts", false},
	{"alerts_rule", "admin", "/alerts?rule=device_fault", false},
	{"alerts_severity_4", "admin", "/alerts?severity=critical&limit=1000", false},
	{"alerts_site", "admin", "/alerts?site=s0500", false},
	{"alerts_since", "admin", "/alerts?since=2025-06-01T00:00:00Z&until=2025-06-02T00:00:00Z", false},
	{"alerts_since_wide", "admin", "/alerts?since=2025-01-01T00:00:00Z", false},
	{"alerts_until_old", "admin", "/alerts?until=2025-01-10T00:00:00Z", false},
	{"alerts_old_page", "admin", "/alerts?before=100000", false},
	{"burden", "admin", "/alerts/burden?to=2026-01-15", false},
	{"burden_team", "doc1", "/alerts/burden?to=2026-01-15&team=t0001", false},
	{"burden_year", "admin", "/alerts/burden?from=2025-01-15&to=2026-01-15", false},
	{"devices_1000", "admin", "/devices?limit=1000", false},
	{"devices_site", "admin", "/devices?site=s0500", false},
	{"devices_kind_page", "admin", "/devices?kind=scale&after=d050000&limit=1000", false},
	{"devices_maintenance", "admin", "/devices?status=maintenance&limit=1000", false},
}

func benchReports(b *testing.B, dsn string) {
	devicesN := benchEnvInt(b, "BENCH_REPORTS_DEVICES", 100_000)
	alertsN := benchEnvInt(b, "BENCH_REPORTS_ALERTS", 1_000_000)
	runs := benchEnvInt(b, "BENCH_REPORTS_RUNS", 7)
	ctx := context.Background()
	start := time.Now()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	fx := buildReportsFixture(b, st, dsn, max(devicesN/100, 1), alertsN)
	b.Logf("fixture: %d centres, %d devices, %d day counts, %d alerts, built in %s",
		fx.centres, fx.devices, fx.counts, fx.alerts, time.Since(start).Round(time.Second))

	view := devices.NewView(devices.NewDirectory(-1, nil, nil, nil))
	if err := devices.Refresh(ctx, view, st); err != nil {
		b.Fatal(err)
	}
	reports, err := fleet.New(fleet.Deps{Store: st, Moves: st, Now: func() time.Time { return reportsNow },
		Directory: func(context.Context) (*devices.Directory, error) { return view.Load(), nil }}, reallocation.DefaultThresholds())
	if err != nil {
		b.Fatal(err)
	}
	auth := fakeAuth{
		"admin":  {UserID: "admin", Role: access.Admin},
		"doc1":   {UserID: "doc1", Role: access.Doctor, Teams: []string{"t0001"}},
		"fleet1": {UserID: "fleet1", Role: access.FleetManager, Sites: []string{"s0001"}},
	}
	a, err := New(Options{Gatherer: prometheus.NewRegistry(), Registry: st, Devices: view, Fleet: reports, Alerts: st,
		Auth: auth, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	// Each answer once, checked, before anything is timed; its hash tells whether two versions
	// of the code answer the same.
	for _, rq := range reportRequests {
		w := callAs(a, rq.token, rq.path)
		if w.Code != 200 {
			b.Fatalf("GET %s = %d %s", rq.path, w.Code, w.Body)
		}
		b.Logf("GET %s: %d bytes, sha256 %x", rq.path, w.Body.Len(), sha256.Sum256(w.Body.Bytes()))
	}
	if os.Getenv("BENCH_REPORTS_EXPLAIN") != "" {
		explainLists(b, dsn)
	}
	profiles := os.Getenv("BENCH_REPORTS_PROFILE")
	dialect := "sqlite"
	if strings.HasPrefix(dsn, "postgres") {
		dialect = "postgres"
	}
	times := make([][]float64, len(reportRequests))
	cpus := make([][]float64, len(reportRequests))
	for range b.N {
		for i, rq := range reportRequests {
			var f *os.File
			if profiles != "" {
				if f, err = os.Create(filepath.Join(profiles, dialect+"-"+rq.name+".pprof")); err != nil {
					b.Fatal(err)
				}
				if err := pprof.StartCPUProfile(f); err != nil {
					b.Fatal(err)
				}
			}
			for k := range runs {
				if rq.cold {
					s := fx.site
					s.Address = fmt.Sprintf("%d %s road", k, rq.name)
					if err := st.UpdateSite(audit.WithActor(ctx, "bench:seed"), s); err != nil {
						b.Fatal(err)
					}
					if err := devices.Refresh(ctx, view, st); err != nil {
						b.Fatal(err)
					}
				}
				c0, t0 := cpuTime(), time.Now()
				w := callAs(a, rq.token, rq.path)
				times[i] = append(times[i], float64(time.Since(t0).Microseconds())/1000)
				cpus[i] = append(cpus[i], float64((cpuTime()-c0).Microseconds())/1000)
				if w.Code != 200 {
					b.Fatalf("GET %s = %d %s", rq.path, w.Code, w.Body)
				}
			}
			if f != nil {
				pprof.StopCPUProfile()
				f.Close()
			}
		}
	}
	var table strings.Builder
	fmt.Fprintf(&table, "%-26s %9s %9s %9s %9s  (%d runs; cpu: this process's)\n", "request (ms)", "median", "min", "max", "cpu", len(times[0]))
	for i, rq := range reportRequests {
		ts, cs := times[i], cpus[i]
		slices.Sort(ts)
		slices.Sort(cs)
		med := ts[len(ts)/2]
		b.ReportMetric(med, rq.name+"_ms")
		fmt.Fprintf(&table, "%-26s %9.1f %9.1f %9.1f %9.1f\n", rq.name, med, ts[0], ts[len(ts)-1], cs[len(cs)/2])
	}
	b.Log("\n" + table.String())
	// What the reports keep for the next one, which serve drops after fleet.CacheIdle unused.
	heap := func() uint64 {
		var m runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	reports.ForgetIdle(0)
	after := heap()
	b.Logf("the reports' caches: %.1f MB of heap (%.1f MB before ForgetIdle, %.1f after)",
		float64(before-min(after, before))/1e6, float64(before)/1e6, float64(after)/1e6)
}

// explainQueries are the statements of the lists and the burden as the store sends them (with
// the fixture's values), whose plans BENCH_REPORTS_EXPLAIN=1 logs.
var explainQueries = []string{
	`SELECT id FROM alerts ORDER BY id DESC LIMIT 100`,
	`SELECT id FROM alerts WHERE state = 'open' ORDER BY id DESC LIMIT 100`,
	`SELECT id FROM alerts WHERE ((category = 'clinical' AND team IN ('t0001'))) ORDER BY id DESC LIMIT 100`,
	`SELECT id FROM alerts WHERE ((category = 'clinical' AND team IN ('t0001'))) AND state = 'open' ORDER BY id DESC LIMIT 100`,
	`SELECT id FROM alerts WHERE ((category = 'fault' AND site IN ('s0001'))) ORDER BY id DESC LIMIT 100`,
	`SELECT id FROM alerts WHERE rule = 'device_fault' ORDER BY id DESC LIMIT 100`,
	`SELECT id FROM alerts WHERE severity >= 4 ORDER BY id DESC LIMIT 1000`,
	`SELECT id FROM alerts WHERE last_seen_ms >= 1748736000000 AND last_seen_ms < 1748822400000 ORDER BY id DESC LIMIT 100`,
	`SELECT id FROM alerts WHERE id < 100000 ORDER BY id DESC LIMIT 100`,
	`SELECT category, CASE WHEN category = 'clinical' THEN team ELSE site END, rule, COUNT(*), COUNT(DISTINCT subject),
		SUM(late), SUM(CASE WHEN silenced <> '' THEN 1 ELSE 0 END), SUM(CASE WHEN doubt <> '' THEN 1 ELSE 0 END)
		FROM alerts WHERE created_ms >= 1766361600000 AND created_ms < 1768780800000
		GROUP BY category, CASE WHEN category = 'clinical' THEN team ELSE site END, rule`,
	`SELECT b_category, b_owner, b_rule, COUNT(*), COUNT(DISTINCT subject), SUM(late), SUM(CASE WHEN silenced <> '' THEN 1 ELSE 0 END),
		SUM(CASE WHEN doubt <> '' THEN 1 ELSE 0 END) FROM burden_groups CROSS JOIN alerts INDEXED BY alerts_burden_group
		WHERE created_ms >= 1766361600000 AND created_ms < 1768780800000 AND category = b_category
		AND CASE WHEN category = 'clinical' THEN team ELSE site END = b_owner AND rule = b_rule GROUP BY b_category, b_owner, b_rule`,
	`SELECT id FROM devices WHERE status = 'maintenance' ORDER BY id LIMIT 1000`,
	`SELECT id FROM devices WHERE kind = 'scale' AND id > 'd050000' ORDER BY id LIMIT 1000`,
	`SELECT month, site_id, uses FROM usage_months WHERE month >= '2025-10' AND month <= '2025-12' ORDER BY month, site_id`,
}

// explainLists logs the plan of each of explainQueries: EXPLAIN QUERY PLAN in SQLite,
// EXPLAIN (ANALYZE, BUFFERS) in PostgreSQL.
func explainLists(b *testing.B, dsn string) {
	raw, dialect := openRaw(b, dsn)
	defer raw.Close()
	for _, q := range explainQueries {
		ex := "EXPLAIN QUERY PLAN "
		if dialect == "postgres" {
			ex = "EXPLAIN (ANALYZE, BUFFERS) "
		}
		rows, err := raw.Query(ex + q)
		if err != nil {
			b.Logf("%s: %v", q, err) // a table that the schema has not (yet)
			continue
		}
		cols, _ := rows.Columns()
		var lines []string
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				b.Fatal(err)
			}
			lines = append(lines, fmt.Sprint(vals[len(vals)-1]))
		}
		rows.Close()
		b.Logf("%s\n    %s", strings.Join(strings.Fields(q), " "), strings.Join(lines, "\n    "))
	}
}

// cpuTime is the CPU time this process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchEnvInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q is not a positive number", name, v)
	}
	return n
}

// reportsFixture says what was built.
type reportsFixture struct {
	centres, devices, counts, alerts int
	site                             devices.Site // one of the centres
}

// benchKinds are the device kinds of each centre: 30 station devices and 70 home devices in 100.
var benchKinds = []struct {
	kind  devices.Kind
	mode  devices.Mode
	rated int
}{
	{devices.Station, devices.StationMode, 40},
	{devices.BPCuff, devices.StationMode, 20},
	{devices.Scale, devices.StationMode, 20},
	{devices.BPCuff, devices.Home, 0},
	{devices.GlucoseMeter, devices.Home, 0},
	{devices.Oximeter, devices.Home, 0},
	{devices.Thermometer, devices.Home, 0},
	{devices.CGM, devices.Home, 0},
	{devices.GlucoseMeter, devices.Home, 0},
	{devices.BPCuff, devices.Home, 0},
}

// buildReportsFixture fills st: centres × 100 devices, a year of their use, alertsN alerts.
//
//   - Centres s0000..: 20 districts, in Shanghai's, Berlin's or no time zone, around a city; a
//     team each (t0000..), and a patient (p000000..) for each home device.
//   - Devices d000000..: in service since June 2024. One in ten has a 5-day repair in 2025,
//     one in fifty moved to the next centre (2 days in transit), one in a hundred has been under
//     repair since 20 December. Home devices are lent to their patient until the summer, then
//     again from a few weeks later.
//   - Each centre and kind has a load (15%-110% of capacity) that sets how much its devices are
//     used on each day of 2025, so that some centres are spare and some short; a device is also
//     used on some days it is not in service.
//   - Alerts over 2025 and the first half of January 2026: 85% clinical (a team's patients), 15%
//     faults (a site's devices); those older than a week are resolved, most after an
//     acknowledgement; each with a few readings of evidence.
func buildReportsFixture(b *testing.B, st *store.Store, dsn string, centres, alertsN int) reportsFixture {
	ctx := context.Background()
	seed := audit.WithActor(ctx, "bench:seed")
	rng := rand.New(rand.NewPCG(7, 11))
	zones := []string{"Asia/Shanghai", "Europe/Berlin", ""}
	var sites []devices.Site
	var teams []devices.Team
	for c := range centres {
		sites = append(sites, devices.Site{ID: fmt.Sprintf("s%04d", c), Name: fmt.Sprintf("Centre %d", c),
			District: fmt.Sprintf("district-%02d", c%20), Lat: 31 + rng.Float64()*0.8, Lon: 121 + rng.Float64()*0.8,
			TimeZone: zones[c%len(zones)]})
		teams = append(teams, devices.Team{ID: fmt.Sprintf("t%04d", c), SiteID: sites[c].ID, Name: fmt.Sprintf("Team %d", c)})
	}
	must := func(err error) {
		b.Helper()
		if err != nil {
			b.Fatal(err)
		}
	}
	must(st.CreateSites(seed, sites))
	must(st.CreateTeams(seed, teams))
	hash := devices.HashSecret("bench secret")
	inService := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	n := centres * 100
	devs := make([]devices.Device, n)
	var patients []devices.Patient
	for i := range devs {
		k := benchKinds[i%len(benchKinds)]
		devs[i] = devices.Device{ID: fmt.Sprintf("d%06d", i), Kind: k.kind, Mode: k.mode, RatedUsesPerDay: k.rated,
			SiteID: sites[i/100].ID, Status: devices.Active, SecretHash: hash, InService: inService}
		if k.mode == devices.Home {
			patients = append(patients, devices.Patient{ID: fmt.Sprintf("p%06d", i), TeamID: teams[i/100].ID})
		}
	}
	must(st.CreatePatients(seed, patients))
	for i := 0; i < n; i += 10_000 {
		must(st.CreateDevices(seed, devs[i:min(i+10_000, n)]))
	}

	raw, dialect := openRaw(b, dsn)
	defer raw.Close()

	// Where each device was, and in what status: its periods, written over the open one that
	// CreateDevices began.
	type stay struct {
		site   int
		status devices.Status
		from   time.Time
		until  time.Time // zero: still
	}
	stays := make([][]stay, n)
	var periodRows, loanRows [][]any
	now := reportsNow
	for i := range devs {
		site := i / 100
		day := func(d int) time.Time {
			return reportsYear.AddDate(0, 0, d).Add(time.Duration(rng.IntN(20)) * time.Hour)
		}
		switch {
		case i%100 == 7: // under repair since 20 December
			r := time.Date(2025, 12, 20, 9, 0, 0, 0, time.UTC)
			stays[i] = []stay{{site, devices.Active, inService, r}, {site, devices.Maintenance, r, time.Time{}}}
		case i%50 == 0: // moved to the next centre
			m := day(30 + rng.IntN(300))
			next := (site + 1) % centres
			stays[i] = []stay{{site, devices.Active, inService, m}, {site, devices.InTransit, m, m.Add(48 * time.Hour)},
				{next, devices.Active, m.Add(48 * time.Hour), time.Time{}}}
		case i%10 == 1: // five days of repair
			r := day(rng.IntN(355))
			stays[i] = []stay{{site, devices.Active, inService, r}, {site, devices.Maintenance, r, r.Add(5 * 24 * time.Hour)},
				{site, devices.Active, r.Add(5 * 24 * time.Hour), time.Time{}}}
		default:
			stays[i] = []stay{{site, devices.Active, inService, time.Time{}}}
		}
		for _, s := range stays[i] {
			var until any
			if !s.until.IsZero() {
				until = s.until.UnixMilli()
			}
			periodRows = append(periodRows, []any{devs[i].ID, sites[s.site].ID, string(s.status), s.from.UnixMilli(), until})
		}
		last := stays[i][len(stays[i])-1]
		devs[i].SiteID, devs[i].Status = sites[last.site].ID, last.status
		if devs[i].Mode == devices.Home {
			back := day(150 + rng.IntN(60))
			again := back.AddDate(0, 0, 3+rng.IntN(40))
			p := fmt.Sprintf("p%06d", i)
			loanRows = append(loanRows, []any{devs[i].ID, p, inService.UnixMilli(), back.UnixMilli()})
			if again.Before(now) {
				loanRows = append(loanRows, []any{devs[i].ID, p, again.UnixMilli(), nil})
			}
		}
	}
	tx, err := raw.BeginTx(ctx, nil)
	must(err)
	for _, q := range []string{`DELETE FROM device_periods`, `UPDATE registry_version SET version = version + 1`} {
		_, err = tx.ExecContext(ctx, q)
		must(err)
	}
	for i := range devs {
		if devs[i].SiteID != sites[i/100].ID || devs[i].Status != devices.Active {
			_, err = tx.ExecContext(ctx, `UPDATE devices SET site_id = $1, status = $2 WHERE id = $3`, devs[i].SiteID, string(devs[i].Status), devs[i].ID)
			must(err)
		}
	}
	must(tx.Commit())
	bulkInsert(b, raw, dialect, "device_periods", []string{"device_id", "site_id", "status", "from_ms", "until_ms"}, periodRows)
	bulkInsert(b, raw, dialect, "assignments", []string{"device_id", "patient_id", "from_ms", "until_ms"}, loanRows)

	// A year of day counts, a month at a time, through the store.
	load := make([]float64, centres*len(benchKinds))
	for i := range load {
		load[i] = 0.15 + rng.Float64()*0.95
	}
	loc := make([]*time.Location, len(zones))
	for i, z := range zones {
		loc[i], _ = time.LoadLocation(z)
	}
	countsN := 0
	for m := range 12 {
		first := reportsYear.AddDate(0, m, 0)
		days := first.AddDate(0, 1, -1).Day()
		var counts []usage.DayCount
		for i := range devs {
			k := benchKinds[i%len(benchKinds)]
			for d := range days {
				date := first.AddDate(0, 0, d)
				s := stays[i][0]
				for _, st := range stays[i] {
					if !st.from.After(date) {
						s = st
					}
				}
				l := load[(i/100)*len(benchKinds)+i%len(benchKinds)]
				if s.status != devices.Active {
					l *= 0.1 // a device being tested or carried now and then
				}
				uses := 0
				if k.mode == devices.StationMode {
					uses = int(float64(k.rated) * l * (0.7 + 0.6*rng.Float64()))
				} else if rng.Float64() < l {
					uses = 1 + rng.IntN(4)
				}
				if uses > 0 {
					counts = append(counts, usage.DayCount{Device: devs[i].ID, Site: sites[s.site].ID,
						Day: usage.Day(date.Format(usage.DayLayout)), Uses: uses})
				}
			}
		}
		must(st.ReplaceUsage(ctx, usage.Day(first.Format(usage.DayLayout)), usage.Day(first.AddDate(0, 0, days-1).Format(usage.DayLayout)), counts, nil))
		countsN += len(counts)
	}

	// Alerts, oldest first.
	clinical := []string{"glucose_low", "glucose_high", "bp_high", "spo2_low", "fever", "cgm_low_episode", "weight_gain"}
	faults := []string{"device_offline", "battery_low", "device_fault"}
	span := now.Sub(reportsYear)
	recent := now.Add(-7 * 24 * time.Hour)
	var alertRows [][]any
	openN := 0
	cols := []string{"rule", "rule_version", "category", "severity", "notified_severity", "subject", "patient", "device", "team", "site",
		"state", "first_seen_ms", "last_seen_ms", "count", "last_value", "thresholds", "evidence", "late", "doubt", "created_ms",
		"updated_ms", "acknowledged_by", "acknowledged_ms", "acknowledge_note", "resolved_by", "resolved_ms", "resolution_note",
		"escalation_level", "silenced"}
	flush := func() {
		bulkInsert(b, raw, dialect, "alerts", cols, alertRows)
		alertRows = alertRows[:0]
	}
	for a := range alertsN {
		created := reportsYear.Add(time.Duration(float64(span) * float64(a) / float64(alertsN)))
		state := "resolved"
		if created.After(recent) {
			state = []string{"open", "acknowledged", "resolved"}[rng.IntN(3)]
		}
		var dev, patient, team, site, rule, category, subject string
		pick := rng.IntN(n)
		isClinical := rng.IntN(100) < 85
		if state != "resolved" {
			// Distinct subjects for the alerts not resolved: one open alert per rule and subject.
			pick = openN * 7919 % n
			openN++
			isClinical = devs[pick].Mode == devices.Home
		} else if isClinical && devs[pick].Mode != devices.Home {
			pick += 3 - pick%10 // a home device: benchKinds[3]
		}
		if isClinical {
			category = "clinical"
			dev, patient, team = devs[pick].ID, fmt.Sprintf("p%06d", pick), teams[pick/100].ID
			rule, subject = clinical[rng.IntN(len(clinical))], "patient/"+patient
		} else {
			category = "fault"
			dev, site = devs[pick].ID, devs[pick].SiteID
			rule, subject = faults[rng.IntN(len(faults))], "device/"+dev
			if rule == "device_fault" && rng.IntN(4) > 0 {
				rule = "battery_low"
			}
		}
		sev := 1 + rng.IntN(4)
		seen := created.Add(-time.Duration(rng.IntN(600)) * time.Second)
		var ackBy, resBy string
		var ackAt, resAt any
		if state != "open" && rng.IntN(10) < 7 {
			ackBy, ackAt = "doc1", created.Add(time.Duration(1+rng.IntN(3600))*time.Second).UnixMilli()
		}
		if state == "resolved" {
			resBy = alerts.SystemActor
			if rng.IntN(2) == 0 {
				resBy = "doc1"
			}
			resAt = created.Add(time.Duration(1+rng.IntN(48)) * time.Hour).UnixMilli()
		}
		evidence := fmt.Sprintf(`[{"at":"%s","device":"%s","type":"glucose","value":%.1f},{"at":"%s","device":"%s","type":"glucose","value":%.1f},{"at":"%s","device":"%s","type":"glucose","value":%.1f}]`,
			seen.Format(time.RFC3339Nano), dev, 3+rng.Float64()*10, seen.Add(5*time.Minute).Format(time.RFC3339Nano), dev, 3+rng.Float64()*10,
			seen.Add(10*time.Minute).Format(time.RFC3339Nano), dev, 3+rng.Float64()*10)
		late, silenced, doubt := 0, "", ""
		switch rng.IntN(50) {
		case 0:
			late = 1
		case 1:
			silenced = "maintenance window"
		case 2:
			doubt = "clock_skew"
		}
		alertRows = append(alertRows, []any{rule, 1, category, sev, sev, subject, patient, dev, team, site, state,
			seen.UnixMilli(), seen.Add(10 * time.Minute).UnixMilli(), 1 + rng.IntN(5), "12.5", `{"below":3.9}`, evidence, late, doubt,
			created.UnixMilli(), created.UnixMilli(), ackBy, ackAt, "", resBy, resAt, "", 0, silenced})
		if len(alertRows) == 20_000 {
			flush()
		}
	}
	flush()
	if dialect == "postgres" {
		// What autovacuum would have done by the time a city has this much (since PostgreSQL
		// 13 it vacuums a table that is only inserted into, too).
		if _, err := raw.ExecContext(ctx, `VACUUM ANALYZE`); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
	return reportsFixture{centres: centres, devices: n, counts: countsN, alerts: alertsN, site: sites[0]}
}

// openRaw opens a second handle on the store's database, for bulk writes.
func openRaw(b *testing.B, dsn string) (*sql.DB, string) {
	if strings.HasPrefix(dsn, "postgres") {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			b.Fatal(err)
		}
		db.SetMaxOpenConns(1)
		return db, "postgres"
	}
	db, err := sql.Open("sqlite", "file:"+dsn+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	if err != nil {
		b.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	return db, "sqlite"
}

// bulkInsert inserts rows into table: COPY in PostgreSQL, multi-row INSERTs in one transaction
// in SQLite.
func bulkInsert(b *testing.B, db *sql.DB, dialect, table string, cols []string, rows [][]any) {
	b.Helper()
	ctx := context.Background()
	if len(rows) == 0 {
		return
	}
	if dialect == "postgres" {
		conn, err := db.Conn(ctx)
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		err = conn.Raw(func(dc any) error {
			_, err := dc.(*stdlib.Conn).Conn().CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(rows))
			return err
		})
		if err != nil {
			b.Fatalf("copy into %s: %v", table, err)
		}
		return
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	per := max(1, 30_000/len(cols)/100*100)
	per = min(per, 500)
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	head := `INSERT INTO ` + table + ` (` + strings.Join(cols, ", ") + `) VALUES `
	args := make([]any, 0, per*len(cols))
	for from := 0; from < len(rows); from += per {
		part := rows[from:min(from+per, len(rows))]
		args = args[:0]
		for _, r := range part {
			args = append(args, r...)
		}
		if _, err := tx.ExecContext(ctx, head+strings.TrimSuffix(strings.Repeat(row+", ", len(part)), ", "), args...); err != nil {
			b.Fatalf("insert into %s: %v", table, err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}
