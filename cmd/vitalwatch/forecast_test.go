package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/fleet"
	"github.com/vitalwatch/vitalwatch/reallocation"
	"github.com/vitalwatch/vitalwatch/simulators"
	"github.com/vitalwatch/vitalwatch/store"
	deviceusage "github.com/vitalwatch/vitalwatch/usage"
)

// demoStore is a data directory holding the demo fleet (60 devices, seed 1, the reallocation
// scenario) and the uses of its 130 days of history up to now, as `make run` loads them: the
// registry through `vitalwatch registry import` of vitalsim's export (with the history's repairs
// in maintenance.csv), and each reading of the history counted as ingest would count it (the
// simulator's messages, straight into the store rather than through the broker and InfluxDB).
func demoStore(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	dataDir, reg := t.TempDir(), t.TempDir()
	f := simulators.NewScenarioFleet(60, 1, simulators.DefaultMix(), simulators.Reallocation())
	end := time.Now()
	start := simulators.HistoryStart(end, 130*24*time.Hour)
	if err := f.RegistryOfHistory(start, end).WriteCSV(reg); err != nil {
		t.Fatal(err)
	}
	env := []string{"VITALWATCH_DATA_DIR=" + dataDir}
	var out bytes.Buffer
	if err := run(ctx, []string{"registry", "import", reg}, env, &out, &out); err != nil {
		t.Fatalf("registry import: %v\n%s", err, out.String())
	}
	st, err := store.Open(ctx, filepath.Join(dataDir, dbFile))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	loc, _ := time.LoadLocation("Asia/Shanghai") // the demo centres' zone
	var uses []deviceusage.Use
	flush := func() {
		if _, err := st.RecordUses(ctx, uses); err != nil {
			t.Fatal(err)
		}
		uses = uses[:0]
	}
	for _, d := range f.Devices() {
		b := f.Backlog(d, start, end)
		for m, ok := b.Next(); ok; m, ok = b.Next() {
			at := m.Time.Truncate(time.Millisecond)
			uses = append(uses, deviceusage.Use{Device: d.ID, Site: f.Site(d), At: at, Day: deviceusage.DayOf(at, loc)})
		}
		if len(uses) > 20000 {
			flush()
		}
	}
	flush()
	return dataDir
}

// The forecast backtest on the demo history: every horizon month it can score, the forecast
// beats last week repeated, and the command says so.
func TestForecastBacktestDemoHistory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the demo's 130 days of history")
	}
	dataDir := demoStore(t)
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"forecast", "--backtest"}, []string{"VITALWATCH_DATA_DIR=" + dataDir}, &out, &errOut); err != nil {
		t.Fatalf("forecast --backtest: %v\n%s", err, errOut.String())
	}
	t.Logf("vitalwatch forecast --backtest on the demo history:\n%s", out.String())
	if !strings.Contains(out.String(), "verdict: the forecast beats the baseline (lower MASE) at every horizon scored (1, 2, 3)") {
		t.Errorf("backtest verdict; want the forecast to beat the baseline at horizons 1 to 3:\n%s", out.String())
	}
	// The demo's patients enter the registry's log when it is imported, today: over the
	// history no centre had a patient on a plan yet, and every forecast is usage-only.
	if s := out.String(); !strings.Contains(s, "patient-driven: 0 of ") || !strings.Contains(s, "usage-only because: no plan ") ||
		!strings.Contains(s, "patients too few or too recent") {
		t.Errorf("backtest: want no patient-driven forecast, the patients too recent:\n%s", s)
	}

	out.Reset()
	if err := run(context.Background(), []string{"forecast", "--type", "bp_cuff"}, []string{"VITALWATCH_DATA_DIR=" + dataDir}, &out, &errOut); err != nil {
		t.Fatalf("forecast: %v\n%s", err, errOut.String())
	}
	t.Logf("vitalwatch forecast --type bp_cuff:\n%s", out.String())
	if n, m := strings.Count(out.String(), "\n"), strings.Count(out.String(), "usage (hypertension: patients too few or too recent)"); n < 4 || m != n-1 {
		t.Errorf("forecast --type bp_cuff: %d of %d lines from the use alone, the patients too recent; want every one", m, n-1)
	}

	out.Reset()
	if err := run(context.Background(), []string{"forecast", "--type", "station"}, []string{"VITALWATCH_DATA_DIR=" + dataDir}, &out, &errOut); err != nil {
		t.Fatalf("forecast: %v\n%s", err, errOut.String())
	}
	t.Logf("vitalwatch forecast --type station:\n%s", out.String())
	if n := strings.Count(out.String(), "\n"); n != 1+6*3 {
		t.Errorf("forecast --type station has %d lines; want a header and 3 months of 6 centres", n)
	}

	// The plan on either basis: the demo's loads hold steady, so next month's forecast moves
	// what last month's use does.
	st, err := store.Open(context.Background(), filepath.Join(dataDir, dbFile))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	reports, err := fleet.New(fleet.Deps{Store: st, Moves: st, Directory: st.LoadDirectory}, reallocation.DefaultThresholds())
	if err != nil {
		t.Fatal(err)
	}
	moves := map[fleet.Basis]string{}
	for _, basis := range fleet.Bases {
		p, _, err := reports.PlanOn(context.Background(), "", basis)
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for _, m := range p.Moves {
			lines = append(lines, fmt.Sprintf("%d %s %s->%s", m.Count, m.Type, m.From, m.To))
			t.Logf("%s: %s", basis, m.Explain())
		}
		moves[basis] = strings.Join(lines, "; ")
		t.Logf("plan on %s: %d moved of %d short, %.1f device-km", basis, p.Moved, p.Shortage, p.DistanceKm)
	}
	if moves[fleet.BasisHistory] == "" || moves[fleet.BasisForecast] != moves[fleet.BasisHistory] {
		t.Errorf("moves on history: %s\non forecast: %s\nwant the same, and some", moves[fleet.BasisHistory], moves[fleet.BasisForecast])
	}
}

// Each forecast line says what it was made from, and why not the patients when a plan asks for
// the type.
func TestForecastDriver(t *testing.T) {
	for _, c := range []struct {
		f    fleet.DemandForecast
		want string
	}{
		{fleet.DemandForecast{Driver: fleet.DriverPatients, Condition: "hypertension"}, "patients (hypertension)"},
		{fleet.DemandForecast{Driver: fleet.DriverUsage, Why: "no plan"}, "usage"},
		{fleet.DemandForecast{Driver: fleet.DriverUsage, Condition: "diabetes", Why: "patients unchanged"}, "usage (diabetes: patients unchanged)"},
	} {
		if got := driver(c.f); got != c.want {
			t.Errorf("driver(%+v) = %q; want %q", c.f, got, c.want)
		}
	}
}
