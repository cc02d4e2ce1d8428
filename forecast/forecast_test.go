package forecast

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// A pure weekly cycle, the same every week, is forecast exactly, months ahead, with a weekly
// model and intervals of no width.
func TestPureSeasonalIsExact(t *testing.T) {
	week := []float64{30, 42, 45, 44, 40, 20, 12}
	var y []float64
	for range 10 {
		y = append(y, week...)
	}
	m, err := Fit(y)
	if err != nil {
		t.Fatal(err)
	}
	if m.Name() != "ETS(A,N,A7)" {
		t.Errorf("model = %s; want ETS(A,N,A7), the simplest with the weekly cycle", m.Name())
	}
	for h, p := range m.Forecast(90) {
		want := week[(len(y)+h)%Week]
		if !near(p.Mean, want, 1e-6) || !near(p.Lo95, want, 1e-3) || !near(p.Hi95, want, 1e-3) {
			t.Fatalf("day %d: %+v; want exactly %v", h+1, p, want)
		}
	}
	// The mean over the next 28 days (four whole weeks) is the week's mean.
	if p := m.Mean(1, 28); !near(p.Mean, 233.0/7, 1e-6) {
		t.Errorf("Mean(1, 28) = %+v; want %v", p, 233.0/7)
	}
}

// A straight line is followed: an additive trend forecasts 2 more a day.
func TestTrendIsFollowed(t *testing.T) {
	var y []float64
	for i := range 60 {
		y = append(y, 10+2*float64(i))
	}
	m, err := Fit(y)
	if err != nil {
		t.Fatal(err)
	}
	if m.Name() != "ETS(A,A,N)" {
		t.Errorf("model = %s; want ETS(A,A,N)", m.Name())
	}
	for h, p := range m.Forecast(30) {
		if want := 10 + 2*float64(60+h); !near(p.Mean, want, 1e-6) {
			t.Fatalf("day %d: %v; want %v", h+1, p.Mean, want)
		}
	}
	// The mean of days 31..60 ahead: the line's value halfway, at day 45.5 after the history.
	if p := m.Mean(31, 60); !near(p.Mean, 10+2*(59+45.5), 1e-6) {
		t.Errorf("Mean(31, 60) = %v; want %v", p.Mean, 10+2*(59+45.5))
	}
}

// A trend with a weekly cycle and noise: the forecast follows both, within its intervals, and
// its 95% interval holds the truth.
func TestTrendAndWeekWithNoise(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	week := []float64{5, 8, 8, 7, 6, -14, -20}
	truth := func(t int) float64 { return 100 + 0.5*float64(t) + week[t%Week] }
	var y []float64
	for i := range 140 {
		y = append(y, truth(i)+r.NormFloat64()*2)
	}
	m, err := Fit(y)
	if err != nil {
		t.Fatal(err)
	}
	if m.Name() != "ETS(A,A,A7)" && m.Name() != "ETS(A,Ad,A7)" {
		t.Errorf("model = %s; want a trend with the weekly cycle", m.Name())
	}
	if s := m.Sigma(); s < 1.5 || s > 3 {
		t.Errorf("sigma = %.2f; want about 2, the noise", s)
	}
	for h, p := range m.Forecast(14) {
		if want := truth(140 + h); !near(p.Mean, want, 4) || want < p.Lo95 || want > p.Hi95 {
			t.Errorf("day %d: %+v; want about %.1f, inside the 95%% interval", h+1, p, want)
		}
	}
	// Wider further ahead.
	f := m.Forecast(60)
	if !(f[59].Hi95-f[59].Lo95 > f[0].Hi95-f[0].Lo95) {
		t.Errorf("interval on day 60 (%v) not wider than on day 1 (%v)", f[59].Hi95-f[59].Lo95, f[0].Hi95-f[0].Lo95)
	}
}

// The error weights c_j of the intervals are those of the model's state space form
// x_t = F x_{t-1} + g ε_t, y_t = w' x_{t-1} + ε_t: c_j = w' F^{j-1} g.
func TestCoefficientsMatchStateSpace(t *testing.T) {
	m := &Model{spec: spec{trend: trendDamped, weekly: true}, ets: etsFit{params: params{alpha: 0.3, beta: 0.05, gamma: 0.2, phi: 0.9}}}
	// State: level, slope, s_{t}, s_{t-1}, ..., s_{t-6}.
	dim := 2 + Week
	F := mat.NewDense(dim, dim, nil)
	F.Set(0, 0, 1)
	F.Set(0, 1, 0.9)
	F.Set(1, 1, 0.9)
	F.Set(2, dim-1, 1) // the new season is the one a week before
	for i := 3; i < dim; i++ {
		F.Set(i, i-1, 1)
	}
	w := mat.NewVecDense(dim, nil)
	w.SetVec(0, 1)
	w.SetVec(1, 0.9)
	w.SetVec(dim-1, 1)
	g := mat.NewVecDense(dim, nil)
	g.SetVec(0, 0.3)
	g.SetVec(1, 0.05)
	g.SetVec(2, 0.2)
	c := m.coefficients(30)
	v := mat.VecDenseCopyOf(g)
	for j := 1; j <= 30; j++ {
		if want := mat.Dot(w, v); !near(c[j], want, 1e-12) {
			t.Errorf("c_%d = %v; want %v", j, c[j], want)
		}
		v.MulVec(F, v)
	}
}

// The mean of several days has the variance of their sum: for simple smoothing with alpha,
// the sum over days 1..2 has errors ε1 + (ε2 + α ε1), variance σ²((1+α)² + 1).
func TestMeanInterval(t *testing.T) {
	m := &Model{spec: spec{}, ets: etsFit{params: params{alpha: 0.5}, level: 10}, sigma2: 4}
	p := m.Mean(1, 2)
	sd := math.Sqrt(4*(1.5*1.5+1)) / 2
	if !near(p.Mean, 10, 1e-12) || !near(p.Hi95-p.Mean, 1.959963984540054*sd, 1e-9) {
		t.Errorf("Mean(1, 2) = %+v; want 10 ± 1.96 x %.4f", p, sd)
	}
	if q := m.Mean(2, 2); !near(q.Hi95-q.Mean, 1.959963984540054*math.Sqrt(4*(1+0.25)), 1e-9) {
		t.Errorf("Mean(2, 2) = %+v; want the 2-step interval", q)
	}
}

func TestShortSeries(t *testing.T) {
	if _, err := Fit(nil); err != ErrEmpty {
		t.Errorf("Fit(nil) = %v; want ErrEmpty", err)
	}
	m, err := Fit([]float64{4, 6, 5})
	if err != nil || m.Name() != "mean" || m.Forecast(3)[2].Mean != 5 {
		t.Errorf("Fit(3 days) = %v, %v; want the mean model forecasting 5", m, err)
	}
	// Two weeks are too few for the weekly cycle and a trend is not asked for by a flat series.
	m, err = Fit([]float64{5, 6, 5, 6, 5, 6, 5, 6, 5, 6, 5, 6, 5, 6})
	if err != nil || m.Name() != "ETS(A,N,N)" {
		t.Errorf("Fit(14 days) = %v, %v; want ETS(A,N,N)", m.Name(), err)
	}
	if _, err := Fit([]float64{1, math.NaN()}); err == nil {
		t.Error("Fit with NaN = nil error")
	}
	if _, err := FitSpec(make([]float64, 20), "ETS(A,N,A7)"); err == nil {
		t.Error("FitSpec(20 days, weekly) = nil error; want too short")
	}
}

// A yearly cycle is found in two and a half years of daily data, and forecast a quarter ahead.
func TestYearlyCycle(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	truth := func(t int) float64 {
		return 40 + 10*math.Sin(2*math.Pi*float64(t)/yearDays) + []float64{2, 2, 2, 2, 2, -4, -6}[t%Week]
	}
	var y []float64
	for i := range 900 {
		y = append(y, truth(i)+r.NormFloat64())
	}
	m, err := Fit(y)
	if err != nil {
		t.Fatal(err)
	}
	if m.Name() != "ETS(A,N,A7)+yearly" {
		t.Errorf("model = %s; want ETS(A,N,A7)+yearly", m.Name())
	}
	var want float64
	for h := 61; h <= 90; h++ {
		want += truth(900+h-1) / 30
	}
	if p := m.Mean(61, 90); !near(p.Mean, want, 1) {
		t.Errorf("Mean(61, 90) = %+v; want about %.2f", p, want)
	}
}

// On a level series with noise and no weekly cycle, the forecast beats last week repeated.
func TestBacktestBeatsSeasonalNaiveOnNoise(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var series [][]float64
	for s := range 4 {
		var y []float64
		for range 130 {
			y = append(y, float64(20+10*s)+r.NormFloat64()*4)
		}
		series = append(series, y)
	}
	scores := Backtest(series, BacktestOptions{})
	if len(scores) != 3 || scores[0].Forecast == 0 {
		t.Fatalf("scores = %+v; want 3 horizons, with forecasts", scores)
	}
	for _, s := range scores {
		if s.Forecast > 0 && !s.Beats() {
			t.Errorf("horizon %d: MASE %.3f against the baseline's %.3f; want lower", s.Horizon, s.MASE, s.BaselineMASE)
		}
	}
	// 130 days from day 28 every 7: origins 28..100 for month 1 (11), 28..70 for month 2 (7),
	// 28..40 for month 3 (2), for each of 4 series.
	if got := [3]int{scores[0].Forecast, scores[1].Forecast, scores[2].Forecast}; got != [3]int{44, 28, 8} {
		t.Errorf("forecasts per horizon = %v; want [44 28 8]", got)
	}
}

func TestSeasonalNaive(t *testing.T) {
	y := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9}
	for h, want := range map[int]float64{1: 3, 7: 9, 8: 3} {
		if got := SeasonalNaive(y, h); got != want {
			t.Errorf("SeasonalNaive(h=%d) = %v; want %v", h, got, want)
		}
	}
}
