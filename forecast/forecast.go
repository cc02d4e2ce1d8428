// Package forecast forecasts a daily demand series (a centre's uses a day of a device type, or
// its home devices in use a day) some months ahead, with prediction intervals.
//
// It fits exponential smoothing models in their additive-error state space form (ETS; Hyndman,
// Koehler, Ord & Snyder, "Forecasting with Exponential Smoothing", 2008): the level alone,
// with an additive or damped trend, and with a weekly seasonal cycle when the series holds three
// weeks or more. A series of two years or more may also carry a yearly cycle, modelled as a few
// Fourier pairs fitted by least squares (as TBATS and dynamic harmonic regression model long
// seasonal periods), which the ETS model then forecasts the rest of. The smoothing parameters
// are estimated by least squares (the maximum-likelihood estimate of an additive-error model)
// with Nelder-Mead, and the model is chosen by AICc. A series of fewer than MinETS days falls
// back to its mean.
//
// Intervals are those of the linear state space model with normal errors: the h-step variance
// is sigma² (1 + c₁² + ... + c_{h-1}²), and the mean over a range of horizons sums the errors
// with their covariances. Demand cannot be negative, so the bounds are cut at 0.
//
// A demand driven by the patients on a plan may instead be forecast as the demand per patient
// (by the same models) times the patients projected by their drift (PatientModel,
// FitWithPatients), when that fits the history better.
//
// It is pure: no store, no clock; it computes.
package forecast

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"
)

// Week is the period of the weekly cycle, in days.
const Week = 7

// Lengths of history that decide which models are tried.
const (
	// MinETS is the fewest days for exponential smoothing; fewer fall back to the mean.
	MinETS = 4
	// MinTrend is the fewest days for a model with a trend.
	MinTrend = 10
	// MinWeekly is the fewest days for the weekly cycle: three weeks.
	MinWeekly = 3 * Week
	// MinYearly is the fewest days for the yearly cycle: two years.
	MinYearly = 730
)

// YearlyHarmonics is how many Fourier pairs model the yearly cycle.
const YearlyHarmonics = 3

// Point is a forecast value with its 80% and 95% prediction intervals.
type Point struct {
	Mean       float64
	Lo80, Hi80 float64
	Lo95, Hi95 float64
}

// Model is a fitted forecasting model of one series. Create it with Fit.
type Model struct {
	spec   spec
	n      int       // days of history
	ets    etsFit    // the smoothing model's parameters and final state
	yearly []float64 // Fourier coefficients of the yearly cycle (sin, cos per harmonic); nil without
	mean   float64   // the mean model's mean
	sigma2 float64   // variance of the one-step errors
	aicc   float64
}

// ErrEmpty is Fit's error for a series without a day.
var ErrEmpty = errors.New("forecast: the series has no day")

// Fit chooses and fits a model for the daily series y, oldest day first. Values must be finite.
func Fit(y []float64) (*Model, error) {
	if len(y) == 0 {
		return nil, ErrEmpty
	}
	for i, v := range y {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("forecast: day %d of the series is %v", i, v)
		}
	}
	if len(y) < MinETS {
		return fitMean(y), nil
	}
	var best *Model
	for _, s := range candidates(len(y)) {
		m := fitSpec(y, s)
		if m != nil && (best == nil || m.aicc < best.aicc-1e-9) {
			best = m
		}
	}
	if best == nil {
		return fitMean(y), nil
	}
	return best, nil
}

// FitSpec fits the model named name (as Name returns it, e.g. "ETS(A,Ad,A7)" or
// "ETS(A,N,N)+yearly") to y, without choosing; for tests and comparisons.
func FitSpec(y []float64, name string) (*Model, error) {
	for _, s := range allSpecs() {
		if s.String() == name {
			if len(y) < s.minDays() {
				return nil, fmt.Errorf("forecast: %s needs %d days; the series has %d", name, s.minDays(), len(y))
			}
			if m := fitSpec(y, s); m != nil {
				return m, nil
			}
			return nil, fmt.Errorf("forecast: %s could not be fitted", name)
		}
	}
	if name == "mean" && len(y) > 0 {
		return fitMean(y), nil
	}
	return nil, fmt.Errorf("forecast: no model %q", name)
}

// Name says which model was chosen: "mean", or "ETS(A,T,S)" with the trend T (N none, A
// additive, Ad damped) and the seasonal S (N none, A7 weekly), and "+yearly" with the yearly
// cycle.
func (m *Model) Name() string {
	if m.spec.mean {
		return "mean"
	}
	return m.spec.String()
}

// Days is the length of the history the model was fitted to.
func (m *Model) Days() int { return m.n }

// Sigma is the standard deviation of the model's one-step errors.
func (m *Model) Sigma() float64 { return math.Sqrt(m.sigma2) }

// AICc is the model's corrected Akaike information criterion, by which it was chosen.
func (m *Model) AICc() float64 { return m.aicc }

// Forecast returns the forecasts of the h days after the history, each with its intervals.
func (m *Model) Forecast(h int) []Point {
	out := make([]Point, max(h, 0))
	c := m.coefficients(h)
	var sum float64 // Σ c_j² for j < the horizon
	for i := range out {
		mean := m.pointMean(i + 1)
		out[i] = point(mean, m.sigma2*(1+sum))
		sum += c[i+1] * c[i+1]
	}
	return out
}

// Mean returns the forecast of the mean daily value over the horizons from..to (days after the
// history, 1 the first), with its intervals. The interval counts that the errors of days close
// together are correlated: a model that forgets slowly is wrong on many days alike.
func (m *Model) Mean(from, to int) Point {
	if from < 1 || to < from {
		return Point{}
	}
	mean, v := m.meanVariance(from, to)
	return point(mean, v)
}

// meanVariance is the forecast mean daily value over the horizons from..to (1 <= from <= to)
// and the variance of its error, not cut at 0.
func (m *Model) meanVariance(from, to int) (float64, float64) {
	c := m.coefficients(to)
	// The error of day h is ε_h + Σ_{j=1}^{h-1} c_j ε_{h-j}: the sum over the days from..to
	// weighs each future error ε_i by w_i = [from <= i] + Σ_{h=max(from,i+1)}^{to} c_{h-i}.
	var mean, v float64
	for h := from; h <= to; h++ {
		mean += m.pointMean(h)
	}
	for i := 1; i <= to; i++ {
		var w float64
		if i >= from {
			w = 1
		}
		for h := max(from, i+1); h <= to; h++ {
			w += c[h-i]
		}
		v += w * w
	}
	k := float64(to - from + 1)
	return mean / k, m.sigma2 * v / (k * k)
}

// point is a forecast mean with its intervals for the variance v, cut at 0 below.
func point(mean, v float64) Point {
	sd := math.Sqrt(max(v, 0))
	z80, z95 := distuv.UnitNormal.Quantile(0.90), distuv.UnitNormal.Quantile(0.975)
	return Point{
		Mean: max(mean, 0),
		Lo80: max(mean-z80*sd, 0), Hi80: max(mean+z80*sd, 0),
		Lo95: max(mean-z95*sd, 0), Hi95: max(mean+z95*sd, 0),
	}
}

// pointMean is the forecast of day h after the history (h >= 1).
func (m *Model) pointMean(h int) float64 {
	if m.spec.mean {
		return m.mean
	}
	return m.ets.forecast(m.spec, h) + yearlyAt(m.yearly, m.n+h-1)
}

// coefficients returns c_0..c_h of the model's error weights: the h-step error is
// ε_h + Σ_{j=1}^{h-1} c_j ε_{h-j}. c_0 is unused (0).
func (m *Model) coefficients(h int) []float64 {
	c := make([]float64, h+1)
	if m.spec.mean {
		return c // the mean model's errors are independent (its estimation error aside)
	}
	p := m.ets.params
	var phiSum, phiPow float64 = 0, 1
	for j := 1; j <= h; j++ {
		c[j] = p.alpha
		if m.spec.trend != trendNone {
			phiPow *= p.phi
			phiSum += phiPow
			c[j] += p.beta * phiSum
		}
		if m.spec.weekly && j%Week == 0 {
			c[j] += p.gamma
		}
	}
	return c
}

// fitMean is the model of a series too short for smoothing: its mean, with the variance of its
// values (and that of the mean's estimate).
func fitMean(y []float64) *Model {
	n := float64(len(y))
	var mean float64
	for _, v := range y {
		mean += v
	}
	mean /= n
	var ss float64
	for _, v := range y {
		ss += (v - mean) * (v - mean)
	}
	v := 0.0
	if len(y) > 1 {
		v = ss / (n - 1) * (1 + 1/n)
	}
	return &Model{spec: spec{mean: true}, n: len(y), mean: mean, sigma2: v, aicc: math.Inf(1)}
}

// fitSpec fits the specification s to y and scores it; nil when it cannot be fitted.
func fitSpec(y []float64, s spec) *Model {
	n := len(y)
	rest := y
	var yearly []float64
	if s.yearly {
		yearly = fitYearly(y)
		if yearly == nil {
			return nil
		}
		rest = make([]float64, n)
		for t, v := range y {
			rest[t] = v - yearlyAt(yearly, t)
		}
	}
	f, sse := fitETS(rest, s)
	k := s.parameters() + 1 // and sigma
	if n-k-1 <= 0 {
		return nil
	}
	// A perfect fit has no error: a floor keeps the criterion finite, so that among perfect
	// fits the one with the fewest parameters wins.
	sse = max(sse, 1e-12*float64(n)*(1+meanSquare(y)))
	aic := float64(n)*math.Log(sse/float64(n)) + 2*float64(k)
	aicc := aic + 2*float64(k*(k+1))/float64(n-k-1)
	return &Model{spec: s, n: n, ets: f, yearly: yearly, sigma2: sse / float64(max(n-k, 1)), aicc: aicc}
}

func meanSquare(y []float64) float64 {
	var s float64
	for _, v := range y {
		s += v * v
	}
	return s / float64(len(y))
}

// candidates are the specifications tried for a series of n days, simplest first.
func candidates(n int) []spec {
	return slices.DeleteFunc(allSpecs(), func(s spec) bool { return n < s.minDays() })
}
