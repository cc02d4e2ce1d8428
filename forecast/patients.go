package forecast

import (
	"errors"
	"math"
	"slices"

	"gonum.org/v1/gonum/stat"
)

// The patient counts a projection reads: the count on the last day of history and every
// PatientStep days before it, over PatientSteps steps at most (twelve 30-day months).
const (
	PatientStep  = 30
	PatientSteps = 12
	// MinPatientSteps is the fewest steps the drift and the spread of its steps are estimated
	// from: two, so three counts over 60 days.
	MinPatientSteps = 2
)

// Forecaster is a fitted model of a demand series: the usage-only Model, or the PatientModel.
type Forecaster interface {
	// Name says which model it is.
	Name() string
	// Days is the length of the history it was fitted to.
	Days() int
	// Mean is the forecast mean daily demand over the days from..to after the history (1 the
	// first), with its intervals.
	Mean(from, to int) Point
}

// Drift projects a count (the patients on a plan) by the drift method, a random walk with
// drift (Hyndman & Athanasopoulos, "Forecasting: Principles and Practice", §5.2): from the
// last count, it goes on by the mean step of the last counts PatientStep days apart. Its
// h-step variance is σ² h (1 + h/T), with h in steps, σ² the variance of the T steps about
// their mean, so that both the steps' spread and the drift's estimate count.
type Drift struct {
	Last   float64 // the count on the last day of history
	PerDay float64 // the drift: mean step / PatientStep
	StepV  float64 // σ², the variance of one step about the drift
	Steps  int     // T, the steps it was estimated from
}

// FitDrift estimates the drift of the daily counts (oldest day first) from the count on the
// last day and every PatientStep days before it, PatientSteps steps at most; false with fewer
// than MinPatientSteps steps.
func FitDrift(counts []float64) (Drift, bool) {
	n := len(counts)
	steps := min((n-1)/PatientStep, PatientSteps)
	if steps < MinPatientSteps {
		return Drift{}, false
	}
	diffs := make([]float64, steps)
	for k := range steps {
		t := n - 1 - k*PatientStep
		diffs[k] = counts[t] - counts[t-PatientStep]
	}
	mean, v := stat.MeanVariance(diffs, nil)
	return Drift{Last: counts[n-1], PerDay: mean / PatientStep, StepV: v, Steps: steps}, true
}

// At is the projected count h days after the last (at least 0) and the variance of its error.
func (d Drift) At(h float64) (float64, float64) {
	s := h / PatientStep
	return max(d.Last+d.PerDay*h, 0), d.StepV * s * (1 + s/float64(d.Steps))
}

// PatientModel forecasts a demand driven by the patients on a plan: the demand per patient,
// forecast by the usage models (Fit) on the daily series demand / patients, times the patients
// projected by their Drift.
//
// The forecast of day h is û_h P̂_h; a mean over days from..to is the mean of those. Its
// variance, taking the per-patient forecast's error and the projection's as independent and
// the projection's error as the same on every day of the range (its variance taken halfway),
// is that of a product of independent estimates (Goodman 1960):
//
//	P̄² Var(ū) + ū² Var(P̄) + Var(ū) Var(P̄)
//
// with ū the per-patient forecast's mean over the range and P̄ the projected patients'. The
// first term is the per-patient interval scaled by the projected patients; the others the
// projection's uncertainty.
type PatientModel struct {
	perPatient *Model
	patients   Drift
}

// Errors of FitPatients.
var (
	ErrPatientsLength = errors.New("forecast: the patient counts and the demand differ in length")
	ErrPatientsShort  = errors.New("forecast: the patient counts cover too few steps")
	ErrNoPatient      = errors.New("forecast: a day of the history had no patient on the plan")
)

// FitPatients fits the PatientModel of the demand y given the patients on the plan on each of
// its days (same length, each above 0), with at least MinPatientSteps steps of counts.
func FitPatients(y, patients []float64) (*PatientModel, error) {
	if len(y) != len(patients) {
		return nil, ErrPatientsLength
	}
	d, ok := FitDrift(patients)
	if !ok {
		return nil, ErrPatientsShort
	}
	u := make([]float64, len(y))
	for t, v := range y {
		if !(patients[t] > 0) || math.IsInf(patients[t], 0) {
			return nil, ErrNoPatient
		}
		u[t] = v / patients[t]
	}
	m, err := Fit(u)
	if err != nil {
		return nil, err
	}
	return &PatientModel{perPatient: m, patients: d}, nil
}

// Name is the per-patient model's name followed by "×patients".
func (m *PatientModel) Name() string { return m.perPatient.Name() + "×patients" }

// Days is the length of the history it was fitted to.
func (m *PatientModel) Days() int { return m.perPatient.Days() }

// PerPatient is the model of the demand per patient.
func (m *PatientModel) PerPatient() *Model { return m.perPatient }

// Patients is the projection of the patients.
func (m *PatientModel) Patients() Drift { return m.patients }

// Mean returns the forecast mean daily demand over the days from..to after the history, with
// its intervals (see PatientModel).
func (m *PatientModel) Mean(from, to int) Point {
	if from < 1 || to < from {
		return Point{}
	}
	var mean, pBar float64
	for h := from; h <= to; h++ {
		p, _ := m.patients.At(float64(h))
		mean += m.perPatient.pointMean(h) * p
		pBar += p
	}
	k := float64(to - from + 1)
	mean, pBar = mean/k, pBar/k
	uBar, vu := m.perPatient.meanVariance(from, to)
	_, vp := m.patients.At(float64(from+to) / 2)
	return point(mean, pBar*pBar*vu+uBar*uBar*vp+vu*vp)
}

// PatientsProjected is the mean projected patients over the days from..to after the history.
func (m *PatientModel) PatientsProjected(from, to int) float64 {
	var sum float64
	for h := from; h <= to; h++ {
		p, _ := m.patients.At(float64(h))
		sum += p
	}
	return sum / float64(max(to-from+1, 1))
}

// Why a demand is forecast from its use alone (Choice.Why).
const (
	// UsageNoPatients: no patient counts (no plan asks for the kind, or no registry history).
	UsageNoPatients = "no plan"
	// UsageShortPatients: the counts cover fewer than MinPatientSteps steps, or a day of the
	// history had no patient on the plan (before the registry's log began, say).
	UsageShortPatients = "patients too few or too recent"
	// UsagePatientsSteady: the patients did not change over the history, so the patient-driven
	// model would be the usage-only one.
	UsagePatientsSteady = "patients unchanged"
	// UsageFitsBetter: the usage-only model has the lower AICc.
	UsageFitsBetter = "usage fits better"
)

// Choice is the model FitWithPatients chose, and why.
type Choice struct {
	Forecaster
	// Patients is the PatientModel when it was chosen, nil otherwise.
	Patients *PatientModel
	// Why is, when the usage-only model was chosen, the reason (one of the Usage* constants).
	Why string
}

// FitWithPatients chooses and fits the model of the demand y whose days had patients[t]
// patients on a plan that asks for it (nil: none known). It fits the usage-only model (Fit)
// and, when the patients were above 0 on every day, over MinPatientSteps steps or more, and
// changed over the history, the PatientModel. It chooses the PatientModel when its AICc on the
// scale of the demand is lower: the per-patient model's AICc plus 2 Σ log P_t, the Jacobian of
// y = P u, which makes the two likelihoods of the same data comparable (as for a Box-Cox
// transform). The patient model is not charged the projection's parameters, which do not
// enter the fit of the history. Patients that never changed give the usage-only model: the
// per-patient series is then the demand scaled, and its forecast the same.
func FitWithPatients(y, patients []float64) (Choice, error) {
	usage, err := Fit(y)
	if err != nil {
		return Choice{}, err
	}
	if patients == nil {
		return Choice{Forecaster: usage, Why: UsageNoPatients}, nil
	}
	if len(patients) == len(y) && !slices.ContainsFunc(patients, func(p float64) bool { return p != patients[0] }) && patients[0] > 0 {
		return Choice{Forecaster: usage, Why: UsagePatientsSteady}, nil
	}
	pm, err := FitPatients(y, patients)
	if err != nil {
		return Choice{Forecaster: usage, Why: UsageShortPatients}, nil
	}
	var logs float64
	for _, p := range patients {
		logs += math.Log(p)
	}
	if pm.perPatient.aicc+2*logs >= usage.aicc {
		return Choice{Forecaster: usage, Why: UsageFitsBetter}, nil
	}
	return Choice{Forecaster: pm, Patients: pm}, nil
}
