package forecast

import (
	"math"

	"gonum.org/v1/gonum/mat"
)

// yearDays is the length of the yearly cycle in days.
const yearDays = 365.25

// fitYearly fits y_t = a + b t + Σ_k (p_k sin(2πkt/365.25) + q_k cos(2πkt/365.25)), k = 1..
// YearlyHarmonics, by least squares, and returns the Fourier coefficients p_1, q_1, p_2, ...
// (the line is left to the smoothing model); nil when the system cannot be solved.
func fitYearly(y []float64) []float64 {
	n := len(y)
	cols := 2 + 2*YearlyHarmonics
	x := mat.NewDense(n, cols, nil)
	for t := range n {
		x.Set(t, 0, 1)
		x.Set(t, 1, float64(t)/yearDays)
		for k := 1; k <= YearlyHarmonics; k++ {
			w := 2 * math.Pi * float64(k) * float64(t) / yearDays
			x.Set(t, 2*k, math.Sin(w))
			x.Set(t, 2*k+1, math.Cos(w))
		}
	}
	var qr mat.QR
	qr.Factorize(x)
	var beta mat.VecDense
	if err := qr.SolveVecTo(&beta, false, mat.NewVecDense(n, append([]float64(nil), y...))); err != nil {
		return nil
	}
	out := make([]float64, 2*YearlyHarmonics)
	for i := range out {
		out[i] = beta.AtVec(2 + i)
	}
	return out
}

// yearlyAt is the yearly cycle of coefficients c on day t (0 the first day of history).
func yearlyAt(c []float64, t int) float64 {
	var v float64
	for k := 1; k <= len(c)/2; k++ {
		w := 2 * math.Pi * float64(k) * float64(t) / yearDays
		v += c[2*k-2]*math.Sin(w) + c[2*k-1]*math.Cos(w)
	}
	return v
}
