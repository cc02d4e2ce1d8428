package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/fleet"
	"github.com/vitalwatch/vitalwatch/forecast"
	"github.com/vitalwatch/vitalwatch/store"
)

// runForecast runs `vitalwatch forecast [--backtest] [--site S] [--type K]`: the forecast
// demand of each centre and device type for the months after the current one, or, with
// --backtest, how well the forecast would have done on the store's history against the
// seasonal-naive baseline (last week repeated).
func runForecast(ctx context.Context, cfg *Config, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("forecast", flag.ContinueOnError)
	fs.SetOutput(stderr)
	backtest := fs.Bool("backtest", false, "score the forecast on the history against last week repeated, per horizon month")
	site := fs.String("site", "", "only this centre")
	kind := fs.String("type", "", "only this device type")
	minTrain := fs.Int("min-train", 28, "backtest: the fewest days of history of a forecast")
	step := fs.Int("step", 7, "backtest: days between forecast origins")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("forecast: unexpected argument %q", fs.Arg(0))
	}
	scope := fleet.Scope{Kind: devices.Kind(*kind)}
	if *kind != "" && !scope.Kind.Valid() {
		return fmt.Errorf("forecast: --type %q is not one of %v", *kind, devices.Kinds)
	}
	if *site != "" {
		scope.Sites = []string{*site}
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("data_dir: %w", err)
	}
	st, err := store.Open(ctx, cfg.StoreDSN())
	if err != nil {
		return err
	}
	defer st.Close()
	reports, err := fleet.New(fleet.Deps{Store: st, Moves: st, Patients: st, Directory: st.LoadDirectory}, cfg.Thresholds())
	if err != nil {
		return err
	}
	if *backtest {
		hist, err := reports.DemandHistory(ctx, scope)
		if err != nil {
			return err
		}
		return writeBacktest(stdout, hist, forecast.BacktestOptions{MinTrain: *minTrain, Step: *step})
	}
	fcs, err := reports.Forecast(ctx, scope)
	if err != nil {
		return err
	}
	if len(fcs) == 0 {
		return errors.New("forecast: no use recorded to forecast from")
	}
	w := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "site\ttype\tmodel\tfrom\tdays\tmonth\tpatients\tmean a day\t80%\t95%\t")
	for _, f := range fcs {
		for _, m := range f.Months {
			patients := "-"
			if f.Driver == fleet.DriverPatients {
				patients = fmt.Sprintf("%.0f->%.1f", f.Patients, m.Patients)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%.1f\t%.1f-%.1f\t%.1f-%.1f\t\n", f.Site, f.Kind, f.Model, driver(f), f.Days, m.Month,
				patients, m.Mean, m.Lo80, m.Hi80, m.Lo95, m.Hi95)
		}
	}
	return w.Flush()
}

// driver says what a forecast was made from: "patients (hypertension)", or "usage" and, for a
// kind a plan asks for, why not its patients.
func driver(f fleet.DemandForecast) string {
	switch {
	case f.Driver == fleet.DriverPatients:
		return "patients (" + f.Condition + ")"
	case f.Condition == "":
		return "usage"
	default:
		return "usage (" + f.Condition + ": " + f.Why + ")"
	}
}

// writeBacktest scores the forecast of every series, from its patients where they drive it
// better (forecast.FitWithPatients), and writes the table per horizon month, and a line saying
// plainly whether it beat the baseline; then, when some forecasts were patient-driven, the same
// for the usage-only model, to compare.
func writeBacktest(out io.Writer, hist []fleet.Demand, o forecast.BacktestOptions) error {
	series := make([]forecast.Series, len(hist))
	days, withPatients := 0, 0
	for i, h := range hist {
		series[i] = forecast.Series{Demand: h.Daily, Patients: h.Patients}
		days = max(days, len(h.Daily))
		if h.Patients != nil {
			withPatients++
		}
	}
	scores := forecast.BacktestSeries(series, true, o)
	fmt.Fprintf(out, "backtest of %d series (centre and device type; %d of a type a plan asks for), up to %d days each; rolling origins every %d days from day %d;\n",
		len(series), withPatients, days, max(o.Step, 1), o.MinTrain)
	fmt.Fprintln(out, "horizon month k is the mean demand a day over days 30(k-1)+1..30k after the origin; baseline: last week repeated")
	fmt.Fprintln(out, "forecast: from the patients on a plan where they drive the demand better, otherwise from the use alone")
	if err := writeScores(out, scores); err != nil {
		return err
	}
	driven, total := 0, 0
	for _, s := range scores {
		total += s.Forecast
		for m, n := range s.Models {
			if strings.HasSuffix(m, "×patients") {
				driven += n
			}
		}
	}
	fmt.Fprintf(out, "patient-driven: %d of %d forecasts\n", driven, total)
	if driven == 0 {
		fmt.Fprintln(out, "every forecast was usage-only: the table above is the usage-only model's")
		return nil
	}
	fmt.Fprintln(out, "\nusage-only forecast, to compare:")
	return writeScores(out, forecast.BacktestSeries(series, false, o))
}

// writeScores writes the scores per horizon, the models chosen, why not from the patients,
// and the verdict.
func writeScores(out io.Writer, scores []forecast.Score) error {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "horizon\tforecasts\tMASE\tbaseline MASE\tMAE\tbaseline MAE\tMAPE %\tbaseline MAPE %\t80% covered\t95% covered\t")
	for _, s := range scores {
		if s.Forecast == 0 {
			fmt.Fprintf(w, "%d\t0\t-\t-\t-\t-\t-\t-\t-\t-\t\n", s.Horizon)
			continue
		}
		fmt.Fprintf(w, "%d\t%d\t%.3f\t%.3f\t%.2f\t%.2f\t%.1f\t%.1f\t%.0f%%\t%.0f%%\t\n", s.Horizon, s.Forecast, s.MASE, s.BaselineMASE,
			s.MAE, s.BaselineMAE, s.MAPE, s.BaselineMAPE, 100*s.Covered80, 100*s.Covered95)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	models, why := map[string]int{}, map[string]int{}
	for _, s := range scores {
		for m, n := range s.Models {
			models[m] += n
		}
		for m, n := range s.Why {
			why[m] += n
		}
	}
	fmt.Fprintf(out, "models chosen: %s\n", counts(models))
	if len(why) > 0 {
		fmt.Fprintf(out, "usage-only because: %s\n", counts(why))
	}
	var beat, lost []string
	for _, s := range scores {
		if s.Forecast == 0 {
			continue
		}
		if s.Beats() {
			beat = append(beat, fmt.Sprint(s.Horizon))
		} else {
			lost = append(lost, fmt.Sprint(s.Horizon))
		}
	}
	switch {
	case len(beat) == 0 && len(lost) == 0:
		fmt.Fprintln(out, "verdict: the history is too short to score any horizon")
	case len(lost) == 0:
		fmt.Fprintf(out, "verdict: the forecast beats the baseline (lower MASE) at every horizon scored (%s)\n", strings.Join(beat, ", "))
	default:
		fmt.Fprintf(out, "verdict: the forecast does NOT beat the baseline at horizon %s (MASE not lower)\n", strings.Join(lost, ", "))
	}
	return nil
}

// counts writes n of each name, by name.
func counts(by map[string]int) string {
	names := make([]string, 0, len(by))
	for m := range by {
		names = append(names, m)
	}
	slices.Sort(names)
	parts := make([]string, len(names))
	for i, m := range names {
		parts[i] = fmt.Sprintf("%s %d", m, by[m])
	}
	return strings.Join(parts, ", ")
}
