package forecast

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"
)

// The drift of counts 30 days apart is their mean step a day; its variance grows with the
// steps ahead as σ² h (1 + h/T).
func TestDrift(t *testing.T) {
	// 91 days: counts on days 0, 30, 60, 90 are 100, 106, 114, 118 (steps 6, 8, 4).
	counts := make([]float64, 91)
	for i := range counts {
		counts[i] = 999 // days between are not read
	}
	counts[0], counts[30], counts[60], counts[90] = 100, 106, 114, 118
	d, ok := FitDrift(counts)
	if !ok || d.Steps != 3 || !near(d.PerDay, 6.0/30, 1e-12) || !near(d.StepV, 4, 1e-12) || d.Last != 118 {
		t.Fatalf("FitDrift = %+v, %v; want 3 steps, 0.2 a day, variance 4, from 118", d, ok)
	}
	// 60 days ahead: two steps, 118 + 12; variance 4 x 2 x (1 + 2/3).
	if m, v := d.At(60); !near(m, 130, 1e-12) || !near(v, 4*2*(1+2.0/3), 1e-12) {
		t.Errorf("At(60) = %v, %v; want 130, %v", m, v, 4*2*(1+2.0/3))
	}
	// Never below 0.
	if m, _ := (Drift{Last: 5, PerDay: -1, Steps: 2}).At(10); m != 0 {
		t.Errorf("a falling count projects to %v; want 0", m)
	}
	// Fewer than two steps: no drift.
	if _, ok := FitDrift(make([]float64, 60)); ok {
		t.Error("FitDrift of 60 days (one step) = ok; want not")
	}
	// At most twelve steps are read: a jump 13 steps back is not.
	long := make([]float64, 400)
	for i := range long {
		long[i] = 50
		if i < 400-1-12*30 {
			long[i] = 10
		}
	}
	if d, _ := FitDrift(long); d.Steps != 12 || d.PerDay != 0 || d.StepV != 0 {
		t.Errorf("FitDrift(400 days) = %+v; want 12 steps of nothing", d)
	}
}

// Constant use per patient, on a weekly cycle, and patients growing linearly (one more a day):
// the demand's weekly swing grows with the patients, which the usage-only models cannot
// follow exactly; the patient-driven model is chosen and forecasts exactly the weekly use per
// patient times the patients to come, with intervals of no width.
func TestPatientsGrowingLinearly(t *testing.T) {
	week := []float64{0.5, 0.6, 0.6, 0.55, 0.5, 0.3, 0.2}
	n := 200
	y, p := make([]float64, n), make([]float64, n)
	for i := range n {
		p[i] = 100 + float64(i)
		y[i] = week[i%Week] * p[i]
	}
	c, err := FitWithPatients(y, p)
	if err != nil {
		t.Fatal(err)
	}
	if c.Patients == nil || c.Name() != "ETS(A,N,A7)×patients" || c.Why != "" {
		t.Fatalf("chose %s (%q); want ETS(A,N,A7)×patients", c.Name(), c.Why)
	}
	for _, r := range [][2]int{{1, 30}, {31, 60}, {61, 90}, {17, 17}} {
		var want float64
		for h := r[0]; h <= r[1]; h++ {
			want += week[(n+h-1)%Week] * (100 + float64(n-1+h))
		}
		want /= float64(r[1] - r[0] + 1)
		// The intervals' width is that of the optimiser's floor on the error (some 1e-5 of
		// the mean).
		if got := c.Mean(r[0], r[1]); !near(got.Mean, want, 1e-6) || !near(got.Lo95, want, 1e-4*want) || !near(got.Hi95, want, 1e-4*want) {
			t.Errorf("Mean(%d, %d) = %+v; want exactly %v", r[0], r[1], got, want)
		}
	}
	// Three months ahead the demand is that of about 290 patients, not 200: the forecast
	// follows the patients' growth.
	if got, want := c.Patients.PatientsProjected(61, 90), 100+float64(n-1)+75.5; !near(got, want, 1e-9) {
		t.Errorf("patients projected over days 61-90 = %v; want %v", got, want)
	}
	// The usage-only model, on the same history, is further from it.
	u, _ := Fit(y)
	var want float64
	for h := 61; h <= 90; h++ {
		want += week[(n+h-1)%Week] * (100 + float64(n-1+h))
	}
	want /= 30
	if e := math.Abs(u.Mean(61, 90).Mean - want); e < 1e-3 {
		t.Errorf("usage-only misses days 61-90 by %v; want it to miss (the patient model's test would prove nothing)", e)
	}
}

// Patients that did not change over the history: the forecast is the usage-only one, exactly.
func TestPatientsFlatIsUsageOnly(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	n := 150
	y, p := make([]float64, n), make([]float64, n)
	for i := range n {
		p[i] = 80
		y[i] = 40 + 5*math.Sin(2*math.Pi*float64(i%Week)/Week) + r.NormFloat64()
	}
	c, err := FitWithPatients(y, p)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := Fit(y)
	if c.Patients != nil || c.Why != UsagePatientsSteady || c.Name() != u.Name() {
		t.Fatalf("chose %s (%q); want the usage-only %s, patients unchanged", c.Name(), c.Why, u.Name())
	}
	for _, rg := range [][2]int{{1, 30}, {31, 60}, {61, 90}} {
		if got, want := c.Mean(rg[0], rg[1]), u.Mean(rg[0], rg[1]); got != want {
			t.Errorf("Mean(%d, %d) = %+v; want the usage-only %+v", rg[0], rg[1], got, want)
		}
	}
	// And the patient-driven model itself, with patients flat, forecasts the same (to the
	// optimiser's tolerance): the per-patient series is the demand scaled.
	pm, err := FitPatients(y, p)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := pm.Mean(31, 60), u.Mean(31, 60); pm.PerPatient().Name() != u.Name() || !near(got.Mean, want.Mean, 1e-3*want.Mean) ||
		!near(got.Hi95-got.Lo95, want.Hi95-want.Lo95, 0.02*(want.Hi95-want.Lo95)) {
		t.Errorf("patient model with flat patients: %s %+v; want %s %+v", pm.PerPatient().Name(), got, u.Name(), want)
	}
}

// No patients known (a kind no plan asks for), too short a count, or a day without patients:
// the usage-only model, saying why.
func TestPatientsFallBack(t *testing.T) {
	n := 120
	y, p := make([]float64, n), make([]float64, n)
	for i := range n {
		y[i] = 10 + float64(i%Week)
		p[i] = 20 + float64(i/10)
	}
	u, _ := Fit(y)
	for _, c := range []struct {
		name     string
		y, p     []float64
		why      string
		usageLen int
	}{
		{"no plan", y, nil, UsageNoPatients, n},
		{"59 days", y[:59], p[:59], UsageShortPatients, 59},
		{"a day without patients", y, append([]float64{0}, p[1:]...), UsageShortPatients, n},
	} {
		got, err := FitWithPatients(c.y, c.p)
		if err != nil {
			t.Fatal(err)
		}
		if got.Patients != nil || got.Why != c.why || got.Days() != c.usageLen {
			t.Errorf("%s: chose %s (%q, %d days); want usage-only, %q", c.name, got.Name(), got.Why, got.Days(), c.why)
		}
	}
	if got, _ := FitWithPatients(y, nil); got.Mean(1, 30) != u.Mean(1, 30) {
		t.Errorf("no plan: %+v; want the usage-only %+v", got.Mean(1, 30), u.Mean(1, 30))
	}
}

// The interval combines the per-patient forecast's with the projection's: a use per patient
// known exactly leaves the projection's alone, ū² Var(P̄), the drift's variance halfway.
func TestPatientIntervalFromProjection(t *testing.T) {
	n := 121
	y, p := make([]float64, n), make([]float64, n)
	steps := []float64{4, 8, 6, 10} // day 0 to 120 by 30s: 100, 104, 112, 118, 128
	for i := range n {
		p[i] = 100
		for k := range steps {
			if i >= 30*(k+1) {
				p[i] += steps[k]
			}
		}
		y[i] = 2 * p[i]
	}
	pm, err := FitPatients(y, p)
	if err != nil {
		t.Fatal(err)
	}
	d := pm.Patients()
	if d.Steps != 4 || !near(d.PerDay, 7.0/30, 1e-12) || !near(d.StepV, 20.0/3, 1e-9) {
		t.Fatalf("drift = %+v; want 4 steps of 7, variance 20/3", d)
	}
	got := pm.Mean(31, 60)
	mid, v := d.At(45.5)
	wantMean := 2 * (128 + 7.0/30*45.5)
	z := distuv.UnitNormal.Quantile(0.975)
	if !near(got.Mean, wantMean, 1e-6) || !near(mid*2, wantMean, 1e-6) || !near(got.Hi95-got.Mean, z*2*math.Sqrt(v), 1e-4) {
		t.Errorf("Mean(31, 60) = %+v; want %v ± %v", got, wantMean, z*2*math.Sqrt(v))
	}
}
