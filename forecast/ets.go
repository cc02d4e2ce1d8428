package forecast

import (
	"math"

	"gonum.org/v1/gonum/optimize"
)

// trend is the trend of an ETS model.
type trend int

const (
	trendNone   trend = iota // N
	trendAdd                 // A
	trendDamped              // Ad
)

// spec names a model: its trend, whether it has the weekly and the yearly cycles; or the mean.
type spec struct {
	trend  trend
	weekly bool
	yearly bool
	mean   bool
}

func (s spec) String() string {
	t := [...]string{"N", "A", "Ad"}[s.trend]
	seas := "N"
	if s.weekly {
		seas = "A7"
	}
	name := "ETS(A," + t + "," + seas + ")"
	if s.yearly {
		name += "+yearly"
	}
	return name
}

// allSpecs are the models Fit chooses from, simplest first.
func allSpecs() []spec {
	var out []spec
	for _, yearly := range []bool{false, true} {
		for _, weekly := range []bool{false, true} {
			for _, t := range []trend{trendNone, trendAdd, trendDamped} {
				out = append(out, spec{trend: t, weekly: weekly, yearly: yearly})
			}
		}
	}
	return out
}

// minDays is the shortest history the specification is fitted to.
func (s spec) minDays() int {
	n := MinETS
	if s.trend != trendNone {
		n = MinTrend
	}
	if s.weekly {
		n = max(n, MinWeekly)
	}
	if s.yearly {
		n = max(n, MinYearly)
	}
	return n
}

// parameters counts what is estimated: the smoothing parameters and the initial states (the
// weekly cycle's 7 less one, as it sums to 0), and the yearly cycle's coefficients.
func (s spec) parameters() int {
	k := 2 // alpha, level
	switch s.trend {
	case trendAdd:
		k += 2 // beta, slope
	case trendDamped:
		k += 3 // beta, phi, slope
	}
	if s.weekly {
		k += 1 + Week - 1 // gamma, the cycle
	}
	if s.yearly {
		k += 2 * YearlyHarmonics
	}
	return k
}

// params are the smoothing parameters: level alpha, trend beta, season gamma, damping phi.
type params struct{ alpha, beta, gamma, phi float64 }

// etsFit is a fitted ETS model: its parameters and its state after the last day of history.
type etsFit struct {
	params
	level, slope float64
	season       [Week]float64 // season[t%Week] is the seasonal state of day t
	n            int           // days of history
}

// forecast is the model's forecast of day h after the history (without the yearly cycle).
func (f *etsFit) forecast(s spec, h int) float64 {
	v := f.level
	switch s.trend {
	case trendAdd:
		v += float64(h) * f.slope
	case trendDamped:
		var phiSum, pow float64 = 0, 1
		for range h {
			pow *= f.phi
			phiSum += pow
		}
		v += phiSum * f.slope
	}
	if s.weekly {
		v += f.season[(f.n+h-1)%Week]
	}
	return v
}

// run runs the model's recursions (Hyndman et al. 2008, Table 2.1, additive errors) over y
// from the initial state in f, leaving the final state in f, and returns the sum of squared
// one-step errors:
//
//	ŷ_t = l + φb + s_{t-m}
//	e_t = y_t - ŷ_t
//	l   ← l + φb + αe
//	b   ← φb + βe
//	s_t = s_{t-m} + γe
//
// with φ = 1 for an undamped trend, and b = 0 and s = 0 for the parts the model does not have.
func (f *etsFit) run(y []float64, s spec) float64 {
	phi := 1.0
	if s.trend == trendDamped {
		phi = f.phi
	}
	// The state is kept in local variables (registers) through the loop, which runs for each
	// day at each step of the parameters' search.
	level, slope, season := f.level, f.slope, f.season
	alpha, beta, gamma := f.alpha, f.beta, f.gamma
	hasTrend, weekly := s.trend != trendNone, s.weekly
	var sse float64
	j := 0 // t % Week
	for _, v := range y {
		var b, seas float64
		if hasTrend {
			b = phi * slope
		}
		if weekly {
			seas = season[j]
		}
		e := v - (level + b + seas)
		sse += e * e
		level += b + alpha*e
		if hasTrend {
			slope = b + beta*e
		}
		if weekly {
			season[j] = seas + gamma*e
		}
		if j++; j == Week {
			j = 0
		}
	}
	f.level, f.slope, f.season = level, slope, season
	f.n = len(y)
	return sse
}

// fitETS estimates the smoothing parameters of specification s on y by least squares, from the
// initial states of initialStates, and returns the fitted model and its sum of squared errors.
func fitETS(y []float64, s spec) (etsFit, float64) {
	init := initialStates(y, s)
	// The parameters are searched unconstrained and mapped into the usual region (Hyndman et
	// al. 2008, §10.2): 0 < α < 1, 0 < β < α, 0 < γ < 1 - α, 0.8 <= φ <= 0.98.
	toParams := func(x []float64) params {
		p := params{alpha: 1e-4 + (1-2e-4)*logistic(x[0]), phi: 1}
		i := 1
		if s.trend != trendNone {
			p.beta = p.alpha * logistic(x[i])
			i++
		}
		if s.weekly {
			p.gamma = (1 - p.alpha) * logistic(x[i])
			i++
		}
		if s.trend == trendDamped {
			p.phi = 0.8 + 0.18*logistic(x[i])
		}
		return p
	}
	sse := func(x []float64) float64 {
		f := init
		f.params = toParams(x)
		v := f.run(y, s)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return math.MaxFloat64
		}
		return v
	}
	x0 := []float64{logit(0.3)}
	if s.trend != trendNone {
		x0 = append(x0, logit(0.1))
	}
	if s.weekly {
		x0 = append(x0, logit(0.1))
	}
	if s.trend == trendDamped {
		x0 = append(x0, logit((0.9-0.8)/0.18))
	}
	best := x0
	// The search stops when the best sum of squares has not fallen by 1e-5 of itself over 10
	// iterations (or after 400 evaluations a parameter). Gonum's default, 1e-10 absolute over
	// 100 iterations, took five times the evaluations for forecasts the same to a few 1e-4 of
	// MASE in a backtest of a synthetic city (see docs/benchmarks.md).
	res, err := optimize.Minimize(optimize.Problem{Func: sse}, x0, &optimize.Settings{
		FuncEvaluations: 400 * len(x0),
		Converger:       &optimize.FunctionConverge{Relative: 1e-5, Iterations: 10},
	}, &optimize.NelderMead{})
	if res != nil && (err == nil || res.F < sse(x0)) {
		best = res.X
	}
	f := init
	f.params = toParams(best)
	v := f.run(y, s)
	return f, v
}

func logistic(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

func logit(p float64) float64 { return math.Log(p / (1 - p)) }

// initialStates is the heuristic start of Hyndman et al. (2008, §2.6.1): the weekly cycle from
// the first weeks less their centred moving average, normalised to sum to 0; the level and
// slope from a straight line fitted to the first (deseasonalised) days.
func initialStates(y []float64, s spec) etsFit {
	var f etsFit
	z := y
	if s.weekly && len(y) >= 2*Week {
		k := min(len(y), 4*Week) // the first weeks
		var sums [Week]float64
		var counts [Week]int
		// A centred 7-day moving average (odd period: no 2x average needed).
		for t := Week / 2; t+Week/2 < k; t++ {
			var ma float64
			for j := t - Week/2; j <= t+Week/2; j++ {
				ma += y[j]
			}
			ma /= Week
			sums[t%Week] += y[t] - ma
			counts[t%Week]++
		}
		var total float64
		for i := range Week {
			if counts[i] > 0 {
				f.season[i] = sums[i] / float64(counts[i])
			}
			total += f.season[i]
		}
		for i := range Week {
			f.season[i] -= total / Week
		}
		z = make([]float64, len(y))
		for t, v := range y {
			z[t] = v - f.season[t%Week]
		}
	}
	k := min(len(z), max(MinTrend, 2*Week))
	if s.trend == trendNone {
		var sum float64
		for _, v := range z[:k] {
			sum += v
		}
		f.level = sum / float64(k)
		return f
	}
	// Least squares z_t = a + b t over t = 1..k: the state before day 1 is level a, slope b.
	var st, sz, stt, stz float64
	for i, v := range z[:k] {
		t := float64(i + 1)
		st += t
		sz += v
		stt += t * t
		stz += t * v
	}
	n := float64(k)
	f.slope = (n*stz - st*sz) / (n*stt - st*st)
	f.level = (sz - f.slope*st) / n
	return f
}
