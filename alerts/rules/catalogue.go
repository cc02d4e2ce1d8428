package rules

import (
	"fmt"
	"math"
	"strconv"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/devices"
)

// The catalogue (docs/design.md "Alerts"). Defaults are docs/domain.md's; those marked (engine) are
// this engine's choice where docs/domain.md is silent. Comparisons are exactly as the keys say:
// below is strict, at_or_below is not. A level is a band of one rule with its own severity.
//
//	id                   condition (per reading unless said)                    levels: severity              defaults                                   source
//	glucose_low          glucose < below, and not very low                      low: warning                  below 3.9 mmol/L                           ADA level 1 hypoglycaemia
//	glucose_very_low     glucose < below                                        very_low: urgent              below 3.0 mmol/L                           ADA level 2 hypoglycaemia
//	glucose_high         glucose > above, and not very high                     high: warning                 above 13.9 mmol/L                          ADA CGM level 2 above range
//	glucose_very_high    glucose > above (ketone check)                         very_high: urgent             above 16.7 mmol/L                          remote-monitoring practice
//	cgm_low_episode      CGM glucose < below for >= duration; one finding per   episode: urgent               below 3.0, duration 15m, recovery 15m,     Battelino 2019 CGM consensus
//	                     episode, which ends when >= below for recovery                                       max_gap 10m (engine)
//	bp_crisis            systolic >= s or diastolic >= d; a second crisis        crisis: urgent,               systolic_at_or_above 180,                  AHA/ACC hypertensive crisis
//	                     within retest_window: confirmed; a reading below the    confirmed: critical           diastolic_at_or_above 120,
//	                     crisis level within it resolves an unconfirmed crisis                                 retest_window 15m
//	bp_home_average      daily: mean of the home series in the last `days` days  above_target: warning         135/85 mm[Hg], days 7, min_days 3 (engine), ESH/ESC home BP; China 2024
//	                     (morning and evening; the series' day 1, the first                                   morning 4-12 h, evening 18-24 h,
//	                     day the patient measured, discarded) >= s/d                                          series_gap_days 3 (engine)
//	bp_low               systolic < s or diastolic < d                          low: warning                  systolic_below 90, diastolic_below 60      common definition
//	spo2_low             SpO2 <= low / <= very_low                              low: warning, very_low: urgent low_at_or_below 94, very_low_at_or_below 92 NHS oximetry @home
//	heart_rate           heart rate >= high or <= low; >= very_high or          moderate: warning,            high 111, very_high 131, low 50,           NEWS2 pulse bands
//	                     <= very_low                                            severe: urgent                very_low 40 (/min; at_or_above/below)
//	fever                temperature >= at_or_above / >= high_at_or_above;      fever: warning,               at_or_above 38.0, high_at_or_above         NEWS2; IDSA long-term-care
//	                     and for a patient surely older than rise_age_above,    high_fever: urgent;           39.1 Cel; rise_at_or_above 1.1 Cel,        fever definition (a rise
//	                     temperature >= own baseline + rise_at_or_above         a rise is fever unless the    rise_age_above 75; baseline_window 720h,   over own baseline)
//	                     (the baseline and the age: below)                      bands give more               baseline_skip 24h, baseline_min_readings 3
//	                                                                                                          (window, skip, minimum: engine)
//	weight_gain          weight - lowest weight of the previous window > above  gain: warning                 above 2 kg, window 72h                     ESC heart-failure self-care
//	fall                 fall event not cancelled within confirm_window          fall: critical                confirm_window 30s                         docs/domain.md
//	sos                  SOS event, at once                                     sos: critical                 -                                          docs/domain.md
//	missed_measurement   daily: no reading of a plan's type for after           missed: warning               after 72h                                  practice (care plans)
//	device_offline       no message for multiplier x the kind's interval, or    offline: warning              multiplier 3; wearable, cgm 5m; glucose    docs/domain.md; station 1h, oximeter,
//	                     the last will; never for devices not in service                                       meter, bp cuff 24h                          thermometer, scale 24h (engine)
//	battery_low          battery <= low / <= very_low (message or status)        low: warning, very_low: urgent low_at_or_below 20, very_low_at_or_below 5 docs/domain.md
//	repeated_errors      >= count messages with error flags within window        errors: warning               count 3, window 24h                        glucose meter manuals
//	calibration_overdue  the registry's next calibration date has passed        overdue: warning              -                                          docs/domain.md
//	clock_drift          two consecutive live messages' times differ from        drift: warning                max_drift 5m; agreement 1m, spacing >= 1m  Bluetooth time fault; HL7 PHD
//	                     receipt by > max_drift (by about the same), or a
//	                     time flag, or a timestamp rejected as in the future
//	stuck_sensor         >= count identical consecutive values (CGM glucose,     stuck: warning                count 12                                   docs/domain.md
//	                     wearable heart rate)
//	implausible_values   >= count readings rejected as implausible in window    implausible: warning          count 3, window 24h (engine)               docs/design.md
//	sos_unassigned       SOS event of a device with no patient at its time,     sos: critical                 -                                          docs/domain.md fall / SOS
//	                     at once
//	fall_unassigned      fall event of a device with no patient at its time,    fall: critical                fall's confirm_window in the file          docs/domain.md fall / SOS
//	                     not cancelled within fall's confirm_window
//	centre_growth        daily: a centre's patients on a care plan grew by more  growth: info                  reallocation.growth in the configuration   docs/utilisation.md Growth
//	                     than reallocation.growth over twelve months
//
// centre_growth is not judged by the engine from readings: package fleet checks it daily from
// the registry's patient history and raises it about the site (subject site/ID, category
// fault, routed to the site's fleet managers). The rules file may set its enabled and
// severity; its threshold is the configuration's reallocation.growth.
//
// sos_unassigned and fall_unassigned are a person's call for help from a device lent to nobody
// at the event's time (not assigned, or the event predates the loan): there is no patient and
// so no team, and the call goes where a device's alerts go, to the fleet managers of the
// device's site (category fault, subject the device), who know where the device is. The alert
// names the device, its site and, when the event carried one, where it happened. Like fall
// and SOS, it is never in doubt, and neither a silence of the device nor its maintenance holds
// it back.
//
// The fever baseline (IDSA: in long-term-care residents a rise of more than 2 degF, 1.1 Cel, over
// the baseline is a fever; docs/domain.md: elderly, a rise >= 1.1 above own baseline) is the median
// of the patient's own temperatures measured from baseline_window to baseline_skip before the
// reading, at most one an hour (the earliest measured in it), none in doubt; with fewer than
// baseline_min_readings of them there is no baseline and only the bands apply. The registry keeps a
// birth year, not a date, so an age is known to within a year: in year y a patient born in b is
// y-b-1 or y-b. The rise applies when even the lesser, y-b-1 (y the measurement's year in the
// site's zone), is above rise_age_above: the patient is surely over 75, and a team that wants
// everyone who may be over 75 sets rise_age_above to 74. The finding records the baseline and the
// count of readings it was taken from as the thresholds "baseline" (Cel) and "baseline_readings".
//
// Severities are docs/domain.md's where it gives one (glucose very high, BP crisis, SpO2, heart
// rate, fever, weight gain, fall, SOS, battery); the others (warning for glucose low and high, home
// average, low BP, missed measurements and the other faults; urgent for a CGM episode) are the
// engine's choice. The file also sets late_after (default 1h): a reading measured longer than that
// before it was received raises its findings as Late, at severity info. Fault rules judge a backlog
// the same way (fault_rules.go), repeated_errors by its own window: an episode whose latest error
// is more than window old when it arrives is raised late.

// ruleIndex numbers the rules of the catalogue; it indexes Thresholds.
type ruleIndex uint8

const (
	ruleGlucoseLow ruleIndex = iota
	ruleGlucoseVeryLow
	ruleGlucoseHigh
	ruleGlucoseVeryHigh
	ruleCGMLowEpisode
	ruleBPCrisis
	ruleBPHomeAverage
	ruleBPLow
	ruleSpO2Low
	ruleHeartRate
	ruleFever
	ruleWeightGain
	ruleFall
	ruleSOS
	ruleMissedMeasurement
	ruleDeviceOffline
	ruleBatteryLow
	ruleRepeatedErrors
	ruleCalibrationOverdue
	ruleClockDrift
	ruleStuckSensor
	ruleImplausibleValues
	ruleSOSUnassigned
	ruleFallUnassigned
	ruleCentreGrowth
	numRules
)

// Parameter positions, per rule, in the order of the rule's spec.
const (
	pBelow = 0 // glucose_low, glucose_very_low
	pAbove = 0 // glucose_high, glucose_very_high
)

const (
	cgmBelow = iota
	cgmDuration
	cgmRecovery
	cgmMaxGap
)

const (
	crisisSystolic = iota
	crisisDiastolic
	crisisRetest
)

const (
	homeSystolic = iota
	homeDiastolic
	homeDays
	homeMinDays
	homeMorningStart
	homeMorningEnd
	homeEveningStart
	homeEveningEnd
	homeSeriesGap
)

const (
	lowSystolic = iota
	lowDiastolic
)

const (
	spo2Low = iota
	spo2VeryLow
)

const (
	hrHigh = iota
	hrVeryHigh
	hrLow
	hrVeryLow
)

const (
	feverAt = iota
	feverHigh
	feverRise
	feverAgeAbove
	feverWindow
	feverSkip
	feverMinReadings
)

const (
	weightAbove = iota
	weightWindow
)

const fallConfirm = 0

const missedAfter = 0

const (
	offlineMultiplier = iota
	offlineWearable
	offlineCGM
	offlineGlucoseMeter
	offlineBPCuff
	offlineOximeter
	offlineThermometer
	offlineScale
	offlineStation
)

const (
	batteryLow = iota
	batteryVeryLow
)

const (
	windowCount = iota // repeated_errors, implausible_values
	windowSpan
)

const driftMax = 0

const stuckCount = 0

// Levels: the first level of a rule is its main band; the second, where there is one, the
// more severe band.
const (
	level0 = 0
	level1 = 1
)

// maxParams and maxLevels bound the parameters and levels of one rule.
const (
	maxParams = 9
	maxLevels = 2
)

// maxRing is the largest count of the windowed fault rules: their state is a ring of that size.
const maxRing = 16

type paramKind uint8

const (
	number   paramKind = iota // a value in the rule's unit
	duration                  // a Go duration ("15m") in files and overrides; seconds inside
	count                     // a whole number
	hour                      // an hour of the local day, 0-24
)

// param is one threshold or window of a rule.
type param struct {
	key      string
	kind     paramKind
	def      float64 // the default; durations in seconds
	min, max float64 // the accepted range, inclusive
	unit     string
}

// level is a band of a rule with its default severity.
type level struct {
	name string
	def  alerts.Severity
}

// ruleSpec describes one rule of the catalogue: what can be set and the defaults.
type ruleSpec struct {
	id       string
	category alerts.Category
	levels   []level
	params   []param
}

const (
	secs   = 1.0
	minute = 60 * secs
	hours  = 60 * minute
	days   = 24 * hours
)

func glucoseParam(key string, def float64) param {
	return param{key: key, kind: number, def: def, min: 0.6, max: 33.3, unit: "mmol/L"}
}

func windowParam(key string, def, min, max float64) param {
	return param{key: key, kind: duration, def: def, min: min, max: max}
}

// catalogue is the rule catalogue with the defaults of docs/domain.md (see the table above). It is
// read-only.
var catalogue = [numRules]ruleSpec{
	ruleGlucoseLow: {id: alerts.RuleGlucoseLow, category: alerts.Clinical, levels: []level{{"low", alerts.Warning}},
		params: []param{pBelow: glucoseParam("below", 3.9)}},
	ruleGlucoseVeryLow: {id: alerts.RuleGlucoseVeryLow, category: alerts.Clinical, levels: []level{{"very_low", alerts.Urgent}},
		params: []param{pBelow: glucoseParam("below", 3.0)}},
	ruleGlucoseHigh: {id: alerts.RuleGlucoseHigh, category: alerts.Clinical, levels: []level{{"high", alerts.Warning}},
		params: []param{pAbove: glucoseParam("above", 13.9)}},
	ruleGlucoseVeryHigh: {id: alerts.RuleGlucoseVeryHigh, category: alerts.Clinical, levels: []level{{"very_high", alerts.Urgent}},
		params: []param{pAbove: glucoseParam("above", 16.7)}},
	ruleCGMLowEpisode: {id: alerts.RuleCGMLowEpisode, category: alerts.Clinical, levels: []level{{"episode", alerts.Urgent}},
		params: []param{
			cgmBelow:    glucoseParam("below", 3.0),
			cgmDuration: windowParam("duration", 15*minute, minute, 4*hours),
			cgmRecovery: windowParam("recovery", 15*minute, minute, 4*hours),
			cgmMaxGap:   windowParam("max_gap", 10*minute, minute, hours),
		}},
	ruleBPCrisis: {id: alerts.RuleBPCrisis, category: alerts.Clinical, levels: []level{{"crisis", alerts.Urgent}, {"confirmed", alerts.Critical}},
		params: []param{
			crisisSystolic:  {key: "systolic_at_or_above", kind: number, def: 180, min: 50, max: 300, unit: "mm[Hg]"},
			crisisDiastolic: {key: "diastolic_at_or_above", kind: number, def: 120, min: 20, max: 200, unit: "mm[Hg]"},
			crisisRetest:    windowParam("retest_window", 15*minute, minute, 2*hours),
		}},
	ruleBPHomeAverage: {id: alerts.RuleBPHomeAverage, category: alerts.Clinical, levels: []level{{"above_target", alerts.Warning}},
		params: []param{
			homeSystolic:     {key: "systolic_at_or_above", kind: number, def: 135, min: 50, max: 300, unit: "mm[Hg]"},
			homeDiastolic:    {key: "diastolic_at_or_above", kind: number, def: 85, min: 20, max: 200, unit: "mm[Hg]"},
			homeDays:         {key: "days", kind: count, def: 7, min: 2, max: 28},
			homeMinDays:      {key: "min_days", kind: count, def: 3, min: 1, max: 27},
			homeMorningStart: {key: "morning_start", kind: hour, def: 4, min: 0, max: 24},
			homeMorningEnd:   {key: "morning_end", kind: hour, def: 12, min: 0, max: 24},
			homeEveningStart: {key: "evening_start", kind: hour, def: 18, min: 0, max: 24},
			homeEveningEnd:   {key: "evening_end", kind: hour, def: 24, min: 0, max: 24},
			// Whole local days without a home reading that end a series: the next day with one
			// is day 1 of a new series, and is discarded. 3 as missed_measurement's 72 h: a
			// patient who stopped for that long starts afresh; a day or two skipped does not.
			homeSeriesGap: {key: "series_gap_days", kind: count, def: 3, min: 1, max: 28},
		}},
	ruleBPLow: {id: alerts.RuleBPLow, category: alerts.Clinical, levels: []level{{"low", alerts.Warning}},
		params: []param{
			lowSystolic:  {key: "systolic_below", kind: number, def: 90, min: 50, max: 300, unit: "mm[Hg]"},
			lowDiastolic: {key: "diastolic_below", kind: number, def: 60, min: 20, max: 200, unit: "mm[Hg]"},
		}},
	ruleSpO2Low: {id: alerts.RuleSpO2Low, category: alerts.Clinical, levels: []level{{"low", alerts.Warning}, {"very_low", alerts.Urgent}},
		params: []param{
			spo2Low:     {key: "low_at_or_below", kind: number, def: 94, min: 50, max: 100, unit: "%"},
			spo2VeryLow: {key: "very_low_at_or_below", kind: number, def: 92, min: 50, max: 100, unit: "%"},
		}},
	ruleHeartRate: {id: alerts.RuleHeartRate, category: alerts.Clinical, levels: []level{{"moderate", alerts.Warning}, {"severe", alerts.Urgent}},
		params: []param{
			hrHigh:     {key: "high_at_or_above", kind: number, def: 111, min: 20, max: 300, unit: "/min"},
			hrVeryHigh: {key: "very_high_at_or_above", kind: number, def: 131, min: 20, max: 300, unit: "/min"},
			hrLow:      {key: "low_at_or_below", kind: number, def: 50, min: 20, max: 300, unit: "/min"},
			hrVeryLow:  {key: "very_low_at_or_below", kind: number, def: 40, min: 20, max: 300, unit: "/min"},
		}},
	ruleFever: {id: alerts.RuleFever, category: alerts.Clinical, levels: []level{{"fever", alerts.Warning}, {"high_fever", alerts.Urgent}},
		params: []param{
			feverAt:   {key: "at_or_above", kind: number, def: 38.0, min: 30, max: 45, unit: "Cel"},
			feverHigh: {key: "high_at_or_above", kind: number, def: 39.1, min: 30, max: 45, unit: "Cel"},
			feverRise: {key: "rise_at_or_above", kind: number, def: 1.1, min: 0.1, max: 5, unit: "Cel"},
			// An age in whole years: the rise applies when the patient is surely older.
			feverAgeAbove:    {key: "rise_age_above", kind: count, def: 75, min: 0, max: 120},
			feverWindow:      windowParam("baseline_window", 30*days, 2*days, 60*days),
			feverSkip:        windowParam("baseline_skip", 24*hours, hours, 7*days),
			feverMinReadings: {key: "baseline_min_readings", kind: count, def: 3, min: 1, max: maxTemps / 2},
		}},
	ruleWeightGain: {id: alerts.RuleWeightGain, category: alerts.Clinical, levels: []level{{"gain", alerts.Warning}},
		params: []param{
			weightAbove:  {key: "above", kind: number, def: 2, min: 0.1, max: 50, unit: "kg"},
			weightWindow: windowParam("window", 3*days, hours, 14*days),
		}},
	ruleFall: {id: alerts.RuleFall, category: alerts.Clinical, levels: []level{{"fall", alerts.Critical}},
		params: []param{fallConfirm: windowParam("confirm_window", 30*secs, 0, 10*minute)}},
	ruleSOS: {id: alerts.RuleSOS, category: alerts.Clinical, levels: []level{{"sos", alerts.Critical}}},
	ruleMissedMeasurement: {id: alerts.RuleMissedMeasurement, category: alerts.Clinical, levels: []level{{"missed", alerts.Warning}},
		params: []param{missedAfter: windowParam("after", 3*days, hours, 90*days)}},
	ruleDeviceOffline: {id: alerts.RuleDeviceOffline, category: alerts.Fault, levels: []level{{"offline", alerts.Warning}},
		params: []param{
			offlineMultiplier:   {key: "multiplier", kind: number, def: 3, min: 1, max: 100},
			offlineWearable:     windowParam("wearable_interval", 5*minute, 10*secs, 30*days),
			offlineCGM:          windowParam("cgm_interval", 5*minute, 10*secs, 30*days),
			offlineGlucoseMeter: windowParam("glucose_meter_interval", 24*hours, 10*secs, 30*days),
			offlineBPCuff:       windowParam("bp_cuff_interval", 24*hours, 10*secs, 30*days),
			offlineOximeter:     windowParam("oximeter_interval", 24*hours, 10*secs, 30*days),
			offlineThermometer:  windowParam("thermometer_interval", 24*hours, 10*secs, 30*days),
			offlineScale:        windowParam("scale_interval", 24*hours, 10*secs, 30*days),
			offlineStation:      windowParam("station_interval", hours, 10*secs, 30*days),
		}},
	ruleBatteryLow: {id: alerts.RuleBatteryLow, category: alerts.Fault, levels: []level{{"low", alerts.Warning}, {"very_low", alerts.Urgent}},
		params: []param{
			batteryLow:     {key: "low_at_or_below", kind: number, def: 20, min: 0, max: 100, unit: "%"},
			batteryVeryLow: {key: "very_low_at_or_below", kind: number, def: 5, min: 0, max: 100, unit: "%"},
		}},
	ruleRepeatedErrors: {id: alerts.RuleRepeatedErrors, category: alerts.Fault, levels: []level{{"errors", alerts.Warning}},
		params: []param{
			windowCount: {key: "count", kind: count, def: 3, min: 1, max: maxRing},
			windowSpan:  windowParam("window", 24*hours, minute, 30*days),
		}},
	ruleCalibrationOverdue: {id: alerts.RuleCalibrationOverdue, category: alerts.Fault, levels: []level{{"overdue", alerts.Warning}}},
	ruleClockDrift: {id: alerts.RuleClockDrift, category: alerts.Fault, levels: []level{{"drift", alerts.Warning}},
		params: []param{driftMax: windowParam("max_drift", 5*minute, 10*secs, 24*hours)}},
	ruleStuckSensor: {id: alerts.RuleStuckSensor, category: alerts.Fault, levels: []level{{"stuck", alerts.Warning}},
		params: []param{stuckCount: {key: "count", kind: count, def: 12, min: 2, max: 1000}}},
	ruleImplausibleValues: {id: alerts.RuleImplausibleValues, category: alerts.Fault, levels: []level{{"implausible", alerts.Warning}},
		params: []param{
			windowCount: {key: "count", kind: count, def: 3, min: 1, max: maxRing},
			windowSpan:  windowParam("window", 24*hours, minute, 30*days),
		}},
	ruleSOSUnassigned:  {id: alerts.RuleSOSUnassigned, category: alerts.Fault, levels: []level{{"sos", alerts.Critical}}},
	ruleFallUnassigned: {id: alerts.RuleFallUnassigned, category: alerts.Fault, levels: []level{{"fall", alerts.Critical}}},
	// Not the engine's: package fleet raises it from the registry's patients (see above).
	ruleCentreGrowth: {id: alerts.RuleCentreGrowth, category: alerts.Fault, levels: []level{{"growth", alerts.Info}}},
}

// offlineInterval returns the parameter of device_offline that holds the expected interval of
// a device kind.
func offlineInterval(k devices.Kind) int {
	switch k {
	case devices.Wearable:
		return offlineWearable
	case devices.CGM:
		return offlineCGM
	case devices.GlucoseMeter:
		return offlineGlucoseMeter
	case devices.BPCuff:
		return offlineBPCuff
	case devices.Oximeter:
		return offlineOximeter
	case devices.Thermometer:
		return offlineThermometer
	case devices.Scale:
		return offlineScale
	}
	return offlineStation
}

// ref names one parameter of one rule.
type ref struct {
	rule  ruleIndex
	param int
}

func (r ref) String() string {
	return catalogue[r.rule].id + "." + catalogue[r.rule].params[r.param].key
}

// ordering says that the value of lo must be below (or, orEqual, at most) the value of hi, so
// that bands do not cross: a low threshold may not be above a high one.
type ordering struct {
	lo, hi  ref
	orEqual bool
}

var orderings = []ordering{
	{ref{ruleGlucoseVeryLow, pBelow}, ref{ruleGlucoseLow, pBelow}, false},
	{ref{ruleGlucoseLow, pBelow}, ref{ruleGlucoseHigh, pAbove}, false},
	{ref{ruleGlucoseHigh, pAbove}, ref{ruleGlucoseVeryHigh, pAbove}, false},
	{ref{ruleBPLow, lowSystolic}, ref{ruleBPCrisis, crisisSystolic}, false},
	{ref{ruleBPLow, lowDiastolic}, ref{ruleBPCrisis, crisisDiastolic}, false},
	{ref{ruleSpO2Low, spo2VeryLow}, ref{ruleSpO2Low, spo2Low}, true},
	{ref{ruleHeartRate, hrVeryLow}, ref{ruleHeartRate, hrLow}, true},
	{ref{ruleHeartRate, hrLow}, ref{ruleHeartRate, hrHigh}, false},
	{ref{ruleHeartRate, hrHigh}, ref{ruleHeartRate, hrVeryHigh}, true},
	{ref{ruleFever, feverAt}, ref{ruleFever, feverHigh}, true},
	{ref{ruleFever, feverSkip}, ref{ruleFever, feverWindow}, false},
	{ref{ruleBatteryLow, batteryVeryLow}, ref{ruleBatteryLow, batteryLow}, true},
	{ref{ruleBPHomeAverage, homeMinDays}, ref{ruleBPHomeAverage, homeDays}, false},
	{ref{ruleBPHomeAverage, homeMorningStart}, ref{ruleBPHomeAverage, homeMorningEnd}, false},
	{ref{ruleBPHomeAverage, homeEveningStart}, ref{ruleBPHomeAverage, homeEveningEnd}, false},
}

func ruleByID(id string) (ruleIndex, bool) {
	for i := range catalogue {
		if catalogue[i].id == id {
			return ruleIndex(i), true
		}
	}
	return 0, false
}

func paramByKey(i ruleIndex, key string) int {
	for j, p := range catalogue[i].params {
		if p.key == key {
			return j
		}
	}
	return -1
}

// RuleIDs lists every rule id in catalogue order.
func RuleIDs() []string {
	ids := make([]string, numRules)
	for i := range catalogue {
		ids[i] = catalogue[i].id
	}
	return ids
}

// CategoryOf returns the category of a rule, and false for an unknown rule.
func CategoryOf(rule string) (alerts.Category, bool) {
	i, ok := ruleByID(rule)
	if !ok {
		return "", false
	}
	return catalogue[i].category, true
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// check returns what is wrong with v as a value of p, or "".
func (p param) check(v float64) string {
	if !finite(v) {
		return "must be a finite number"
	}
	if (p.kind == count) && v != math.Trunc(v) {
		return "must be a whole number"
	}
	if v < p.min || v > p.max {
		return fmt.Sprintf("%s is outside %s-%s", p.format(v), p.format(p.min), p.format(p.max))
	}
	return ""
}

// format writes a value of p as the rules file would.
func (p param) format(v float64) string {
	switch p.kind {
	case duration:
		return seconds(v).String()
	case count, hour:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if p.unit != "" {
		s += " " + p.unit
	}
	return s
}

// check returns an error when t breaks the ordering, naming both keys with prefix.
func (o ordering) check(t *Thresholds, prefix string) error {
	lo, hi := t.r[o.lo.rule].p[o.lo.param], t.r[o.hi.rule].p[o.hi.param]
	// Bands of a rule that is off do not meet.
	if !t.r[o.lo.rule].on || !t.r[o.hi.rule].on || lo < hi || (o.orEqual && lo == hi) {
		return nil
	}
	word := "below"
	if o.orEqual {
		word = "at most"
	}
	lp := catalogue[o.lo.rule].params[o.lo.param]
	return fmt.Errorf("%s%s: %s must be %s %s%s (%s)", prefix, o.lo, lp.format(lo), word, prefix, o.hi, lp.format(hi))
}
