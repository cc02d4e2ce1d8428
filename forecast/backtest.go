package forecast

import "math"

// SeasonalNaive is the baseline forecast of day h after the series y: the same weekday of the
// last week, y[n-7+((h-1) mod 7)] (the last value when y is shorter than a week).
func SeasonalNaive(y []float64, h int) float64 {
	n := len(y)
	if n == 0 {
		return 0
	}
	if n < Week {
		return y[n-1]
	}
	return y[n-Week+(h-1)%Week]
}

// BacktestOptions shape a rolling-origin backtest.
type BacktestOptions struct {
	// MinTrain is the fewest days of history of a forecast (28: four weeks).
	MinTrain int
	// Step is the days between forecast origins (7).
	Step int
	// Month is the length of a horizon month in days (30): horizon k is the mean of days
	// (k-1)*Month+1 .. k*Month after the origin.
	Month int
	// Horizons is how many months ahead (3).
	Horizons int
}

func (o BacktestOptions) withDefaults() BacktestOptions {
	if o.MinTrain <= 0 {
		o.MinTrain = 4 * Week
	}
	if o.Step <= 0 {
		o.Step = Week
	}
	if o.Month <= 0 {
		o.Month = 30
	}
	if o.Horizons <= 0 {
		o.Horizons = 3
	}
	return o
}

// Score is how well the forecast and the seasonal-naive baseline did at one horizon, over every
// series and origin where the whole horizon month lies in the history.
type Score struct {
	Horizon  int // months ahead, 1 the first
	Forecast int // forecasts scored (series x origins)
	// MAE is the mean absolute error of the month's mean daily demand.
	MAE, BaselineMAE float64
	// MASE scales each error by the series' in-sample one-step MAE of the seasonal-naive
	// forecast before the origin (Hyndman & Koehler 2006): below 1 beats that one-step error.
	MASE, BaselineMASE float64
	// MAPE is the mean absolute percentage error, over the forecasts whose actual mean is not 0
	// (MAPEOf of them).
	MAPE, BaselineMAPE float64
	MAPEOf             int
	// Covered80 and Covered95 are the shares of actual means inside the forecast's intervals.
	Covered80, Covered95 float64
	// Models counts the models chosen, by name.
	Models map[string]int
	// Why counts, of the forecasts from the usage-only model, why not from the patients
	// (FitWithPatients' Choice.Why).
	Why map[string]int
}

// Beats reports whether the forecast's MASE is below the baseline's.
func (s Score) Beats() bool { return s.Forecast > 0 && s.MASE < s.BaselineMASE }

// Series is a demand series to backtest, with the patients on a plan that asks for it on
// each of its days (nil: none known).
type Series struct {
	Demand, Patients []float64
}

// Backtest forecasts each series from origins every o.Step days, from o.MinTrain days on, and
// scores the forecast (Fit) and the seasonal-naive baseline at each horizon month that the
// series holds in full after the origin.
func Backtest(series [][]float64, o BacktestOptions) []Score {
	ss := make([]Series, len(series))
	for i, y := range series {
		ss[i] = Series{Demand: y}
	}
	return BacktestSeries(ss, false, o)
}

// BacktestSeries is Backtest of series with their patients: with patients true, each forecast
// is FitWithPatients' choice on the history before the origin (the patients' too), otherwise
// the usage-only Fit.
func BacktestSeries(series []Series, patients bool, o BacktestOptions) []Score {
	o = o.withDefaults()
	scores := make([]Score, o.Horizons)
	var apeOf = make([]int, o.Horizons)
	for k := range scores {
		scores[k] = Score{Horizon: k + 1, Models: map[string]int{}, Why: map[string]int{}}
	}
	for _, sr := range series {
		y := sr.Demand
		for origin := o.MinTrain; origin+o.Month <= len(y); origin += o.Step {
			train := y[:origin]
			scale := naiveScale(train)
			if scale == 0 {
				continue // a constant history: any error is infinitely scaled
			}
			var m Forecaster
			var why string
			if patients {
				var p []float64
				if sr.Patients != nil {
					p = sr.Patients[:origin]
				}
				c, err := FitWithPatients(train, p)
				if err != nil {
					continue
				}
				m, why = c, c.Why
			} else {
				f, err := Fit(train)
				if err != nil {
					continue
				}
				m = f
			}
			for k := range o.Horizons {
				from, to := k*o.Month+1, (k+1)*o.Month
				if origin+to > len(y) {
					break
				}
				p := m.Mean(from, to)
				var actual, base float64
				for h := from; h <= to; h++ {
					actual += y[origin+h-1]
					base += SeasonalNaive(train, h)
				}
				actual /= float64(o.Month)
				base /= float64(o.Month)
				s := &scores[k]
				s.Forecast++
				s.Models[m.Name()]++
				if why != "" {
					s.Why[why]++
				}
				ef, eb := math.Abs(p.Mean-actual), math.Abs(base-actual)
				s.MAE += ef
				s.BaselineMAE += eb
				s.MASE += ef / scale
				s.BaselineMASE += eb / scale
				if actual != 0 {
					s.MAPE += ef / math.Abs(actual)
					s.BaselineMAPE += eb / math.Abs(actual)
					apeOf[k]++
				}
				if actual >= p.Lo80 && actual <= p.Hi80 {
					s.Covered80++
				}
				if actual >= p.Lo95 && actual <= p.Hi95 {
					s.Covered95++
				}
			}
		}
	}
	for k := range scores {
		s := &scores[k]
		if n := float64(s.Forecast); n > 0 {
			s.MAE /= n
			s.BaselineMAE /= n
			s.MASE /= n
			s.BaselineMASE /= n
			s.Covered80 /= n
			s.Covered95 /= n
		}
		if apeOf[k] > 0 {
			s.MAPE *= 100 / float64(apeOf[k])
			s.BaselineMAPE *= 100 / float64(apeOf[k])
		}
		s.MAPEOf = apeOf[k]
	}
	return scores
}

// naiveScale is the in-sample mean absolute one-step error of the seasonal-naive forecast
// (lag 7; lag 1 for a history shorter than two weeks).
func naiveScale(y []float64) float64 {
	lag := Week
	if len(y) < 2*Week {
		lag = 1
	}
	var sum float64
	n := 0
	for t := lag; t < len(y); t++ {
		sum += math.Abs(y[t] - y[t-lag])
		n++
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}
