// Package summary computes a patient's clinical summaries the way the guidelines define them:
// the CGM report of the international consensus (time in ranges, GMI, variability, the
// ambulatory glucose profile, level-2 episodes), meter glucose, the ESH/ESC home blood-pressure
// average, adherence to the care plans and the other vital signs. It is pure: readings in
// canonical units and the patient's time zone in, plain structs with codes out, no sentences,
// so that any language can present them. The clinical thresholds are those of docs/domain.md.
package summary

// Flag is a code that qualifies a result: why it is missing or may not be read as the
// guideline's figure.
type Flag string

// The flags.
const (
	// FlagNoData: no reading of the kind in the period.
	FlagNoData Flag = "no_data"
	// FlagShortPeriod: the CGM period is shorter than the 14 days an AGP report needs.
	FlagShortPeriod Flag = "short_period"
	// FlagLowSensorActivity: the sensor was active for less than the 70% of the period an AGP
	// report needs.
	FlagLowSensorActivity Flag = "low_sensor_activity"
	// FlagTooFewDays: the home BP window has readings on fewer days than the protocol needs,
	// so its mean is not judged against the target.
	FlagTooFewDays Flag = "too_few_days"
)

// MgdLPerMmolL converts glucose: mg/dL = mmol/L x 18.016 (molar mass 180.16 g/mol), as
// docs/domain.md and the device decoder convert it.
const MgdLPerMmolL = 18.016

// Glucose is a glucose concentration in mmol/L, the canonical unit.
type Glucose float64

// MgdL returns g in mg/dL. Every glucose statistic here (means, SDs, percentiles) scales
// linearly, so converting the result equals computing in mg/dL.
func (g Glucose) MgdL() float64 { return float64(g) * MgdLPerMmolL }
