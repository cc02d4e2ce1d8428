package alerts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/reading"
)

// Rule ids: the stable names of the rules in the rules file, in overrides and in every alert.
//
// The catalogue (DESIGN.md "Alerts"). Defaults are DOMAIN.md's; those marked (engine) are this
// engine's choice where DOMAIN.md is silent. Comparisons are exactly as the keys say: below is
// strict, at_or_below is not. A level is a band of one rule with its own severity.
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
//	fall                 fall event not cancelled within confirm_window          fall: critical                confirm_window 30s                         DOMAIN.md
//	sos                  SOS event, at once                                     sos: critical                 -                                          DOMAIN.md
//	missed_measurement   daily: no reading of a plan's type for after           missed: warning               after 72h                                  practice (care plans)
//	device_offline       no message for multiplier x the kind's interval, or    offline: warning              multiplier 3; wearable, cgm 5m; glucose    DOMAIN.md; station 1h, oximeter,
//	                     the last will; never for devices not in service                                       meter, bp cuff 24h                          thermometer, scale 24h (engine)
//	battery_low          battery <= low / <= very_low (message or status)        low: warning, very_low: urgent low_at_or_below 20, very_low_at_or_below 5 DOMAIN.md
//	repeated_errors      >= count messages with error flags within window        errors: warning               count 3, window 24h                        glucose meter manuals
//	calibration_overdue  the registry's next calibration date has passed        overdue: warning              -                                          DOMAIN.md
//	clock_drift          two consecutive live messages' times differ from        drift: warning                max_drift 5m; agreement 1m, spacing >= 1m  Bluetooth time fault; HL7 PHD
//	                     receipt by > max_drift (by about the same), or a
//	                     time flag, or a timestamp rejected as in the future
//	stuck_sensor         >= count identical consecutive values (CGM glucose,     stuck: warning                count 12                                   DOMAIN.md
//	                     wearable heart rate)
//	implausible_values   >= count readings rejected as implausible in window    implausible: warning          count 3, window 24h (engine)               DESIGN.md
//	sos_unassigned       SOS event of a device with no patient at its time,     sos: critical                 -                                          DOMAIN.md fall / SOS
//	                     at once
//	fall_unassigned      fall event of a device with no patient at its time,    fall: critical                fall's confirm_window in the file          DOMAIN.md fall / SOS
//	                     not cancelled within fall's confirm_window
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
// the baseline is a fever; DOMAIN.md: elderly, a rise >= 1.1 above own baseline) is the median of
// the patient's own temperatures measured from baseline_window to baseline_skip before the
// reading, at most one an hour (the earliest measured in it), none in doubt; with fewer than
// baseline_min_readings of them there is no baseline and only the bands apply. The registry
// keeps a birth year, not a date, so an age is known to within a year: in year y a patient
// born in b is y-b-1 or y-b. The rise applies when even the lesser, y-b-1 (y the measurement's
// year in the site's zone), is above rise_age_above: the patient is surely over 75, and a
// team that wants everyone who may be over 75 sets rise_age_above to 74. The finding records
// the baseline and the count of readings it was taken from as the thresholds "baseline" (Cel)
// and "baseline_readings".
//
// Severities are DOMAIN.md's where it gives one (glucose very high, BP crisis, SpO2, heart rate,
// fever, weight gain, fall, SOS, battery); the others (warning for glucose low and high, home
// average, low BP, missed measurements and the other faults; urgent for a CGM episode) are the
// engine's choice. The file also sets late_after (default 1h): a reading measured longer than
// that before it was received raises its findings as Late, at severity info. Fault rules judge
// a backlog the same way (fault_rules.go), repeated_errors by its own window: an episode whose
// latest error is more than window old when it arrives is raised late.
const (
	RuleGlucoseLow         = "glucose_low"
	RuleGlucoseVeryLow     = "glucose_very_low"
	RuleGlucoseHigh        = "glucose_high"
	RuleGlucoseVeryHigh    = "glucose_very_high"
	RuleCGMLowEpisode      = "cgm_low_episode"
	RuleBPCrisis           = "bp_crisis"
	RuleBPHomeAverage      = "bp_home_average"
	RuleBPLow              = "bp_low"
	RuleSpO2Low            = "spo2_low"
	RuleHeartRate          = "heart_rate"
	RuleFever              = "fever"
	RuleWeightGain         = "weight_gain"
	RuleFall               = "fall"
	RuleSOS                = "sos"
	RuleMissedMeasurement  = "missed_measurement"
	RuleDeviceOffline      = "device_offline"
	RuleBatteryLow         = "battery_low"
	RuleRepeatedErrors     = "repeated_errors"
	RuleCalibrationOverdue = "calibration_overdue"
	RuleClockDrift         = "clock_drift"
	RuleStuckSensor        = "stuck_sensor"
	RuleImplausibleValues  = "implausible_values"
	RuleSOSUnassigned      = "sos_unassigned"
	RuleFallUnassigned     = "fall_unassigned"
)

// DefaultLateAfter is how old a reading may be when it arrives before its findings are late.
const DefaultLateAfter = time.Hour

// DefaultVersion is the version of DefaultRules.
const DefaultVersion = 1

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
	def  Severity
}

// ruleSpec describes one rule of the catalogue: what can be set and the defaults.
type ruleSpec struct {
	id       string
	category Category
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

// catalogue is the rule catalogue with the defaults of DOMAIN.md (see the table above). It is
// read-only.
var catalogue = [numRules]ruleSpec{
	ruleGlucoseLow: {id: RuleGlucoseLow, category: Clinical, levels: []level{{"low", Warning}},
		params: []param{pBelow: glucoseParam("below", 3.9)}},
	ruleGlucoseVeryLow: {id: RuleGlucoseVeryLow, category: Clinical, levels: []level{{"very_low", Urgent}},
		params: []param{pBelow: glucoseParam("below", 3.0)}},
	ruleGlucoseHigh: {id: RuleGlucoseHigh, category: Clinical, levels: []level{{"high", Warning}},
		params: []param{pAbove: glucoseParam("above", 13.9)}},
	ruleGlucoseVeryHigh: {id: RuleGlucoseVeryHigh, category: Clinical, levels: []level{{"very_high", Urgent}},
		params: []param{pAbove: glucoseParam("above", 16.7)}},
	ruleCGMLowEpisode: {id: RuleCGMLowEpisode, category: Clinical, levels: []level{{"episode", Urgent}},
		params: []param{
			cgmBelow:    glucoseParam("below", 3.0),
			cgmDuration: windowParam("duration", 15*minute, minute, 4*hours),
			cgmRecovery: windowParam("recovery", 15*minute, minute, 4*hours),
			cgmMaxGap:   windowParam("max_gap", 10*minute, minute, hours),
		}},
	ruleBPCrisis: {id: RuleBPCrisis, category: Clinical, levels: []level{{"crisis", Urgent}, {"confirmed", Critical}},
		params: []param{
			crisisSystolic:  {key: "systolic_at_or_above", kind: number, def: 180, min: 50, max: 300, unit: "mm[Hg]"},
			crisisDiastolic: {key: "diastolic_at_or_above", kind: number, def: 120, min: 20, max: 200, unit: "mm[Hg]"},
			crisisRetest:    windowParam("retest_window", 15*minute, minute, 2*hours),
		}},
	ruleBPHomeAverage: {id: RuleBPHomeAverage, category: Clinical, levels: []level{{"above_target", Warning}},
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
	ruleBPLow: {id: RuleBPLow, category: Clinical, levels: []level{{"low", Warning}},
		params: []param{
			lowSystolic:  {key: "systolic_below", kind: number, def: 90, min: 50, max: 300, unit: "mm[Hg]"},
			lowDiastolic: {key: "diastolic_below", kind: number, def: 60, min: 20, max: 200, unit: "mm[Hg]"},
		}},
	ruleSpO2Low: {id: RuleSpO2Low, category: Clinical, levels: []level{{"low", Warning}, {"very_low", Urgent}},
		params: []param{
			spo2Low:     {key: "low_at_or_below", kind: number, def: 94, min: 50, max: 100, unit: "%"},
			spo2VeryLow: {key: "very_low_at_or_below", kind: number, def: 92, min: 50, max: 100, unit: "%"},
		}},
	ruleHeartRate: {id: RuleHeartRate, category: Clinical, levels: []level{{"moderate", Warning}, {"severe", Urgent}},
		params: []param{
			hrHigh:     {key: "high_at_or_above", kind: number, def: 111, min: 20, max: 300, unit: "/min"},
			hrVeryHigh: {key: "very_high_at_or_above", kind: number, def: 131, min: 20, max: 300, unit: "/min"},
			hrLow:      {key: "low_at_or_below", kind: number, def: 50, min: 20, max: 300, unit: "/min"},
			hrVeryLow:  {key: "very_low_at_or_below", kind: number, def: 40, min: 20, max: 300, unit: "/min"},
		}},
	ruleFever: {id: RuleFever, category: Clinical, levels: []level{{"fever", Warning}, {"high_fever", Urgent}},
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
	ruleWeightGain: {id: RuleWeightGain, category: Clinical, levels: []level{{"gain", Warning}},
		params: []param{
			weightAbove:  {key: "above", kind: number, def: 2, min: 0.1, max: 50, unit: "kg"},
			weightWindow: windowParam("window", 3*days, hours, 14*days),
		}},
	ruleFall: {id: RuleFall, category: Clinical, levels: []level{{"fall", Critical}},
		params: []param{fallConfirm: windowParam("confirm_window", 30*secs, 0, 10*minute)}},
	ruleSOS: {id: RuleSOS, category: Clinical, levels: []level{{"sos", Critical}}},
	ruleMissedMeasurement: {id: RuleMissedMeasurement, category: Clinical, levels: []level{{"missed", Warning}},
		params: []param{missedAfter: windowParam("after", 3*days, hours, 90*days)}},
	ruleDeviceOffline: {id: RuleDeviceOffline, category: Fault, levels: []level{{"offline", Warning}},
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
	ruleBatteryLow: {id: RuleBatteryLow, category: Fault, levels: []level{{"low", Warning}, {"very_low", Urgent}},
		params: []param{
			batteryLow:     {key: "low_at_or_below", kind: number, def: 20, min: 0, max: 100, unit: "%"},
			batteryVeryLow: {key: "very_low_at_or_below", kind: number, def: 5, min: 0, max: 100, unit: "%"},
		}},
	ruleRepeatedErrors: {id: RuleRepeatedErrors, category: Fault, levels: []level{{"errors", Warning}},
		params: []param{
			windowCount: {key: "count", kind: count, def: 3, min: 1, max: maxRing},
			windowSpan:  windowParam("window", 24*hours, minute, 30*days),
		}},
	ruleCalibrationOverdue: {id: RuleCalibrationOverdue, category: Fault, levels: []level{{"overdue", Warning}}},
	ruleClockDrift: {id: RuleClockDrift, category: Fault, levels: []level{{"drift", Warning}},
		params: []param{driftMax: windowParam("max_drift", 5*minute, 10*secs, 24*hours)}},
	ruleStuckSensor: {id: RuleStuckSensor, category: Fault, levels: []level{{"stuck", Warning}},
		params: []param{stuckCount: {key: "count", kind: count, def: 12, min: 2, max: 1000}}},
	ruleImplausibleValues: {id: RuleImplausibleValues, category: Fault, levels: []level{{"implausible", Warning}},
		params: []param{
			windowCount: {key: "count", kind: count, def: 3, min: 1, max: maxRing},
			windowSpan:  windowParam("window", 24*hours, minute, 30*days),
		}},
	ruleSOSUnassigned:  {id: RuleSOSUnassigned, category: Fault, levels: []level{{"sos", Critical}}},
	ruleFallUnassigned: {id: RuleFallUnassigned, category: Fault, levels: []level{{"fall", Critical}}},
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

// ruleValues are one rule's settings in force.
type ruleValues struct {
	on  bool
	sev [maxLevels]Severity
	p   [maxParams]float64
}

// Thresholds are the settings in force for one patient (or, for fault rules, for every device):
// the rules file's, with a team's and a patient's overrides applied. A Thresholds is immutable
// and may be shared; get one from Rules.Defaults or Rules.Effective.
type Thresholds struct {
	version   int
	lateAfter time.Duration
	r         [numRules]ruleValues
}

// Version is the version of the rules file the thresholds come from.
func (t *Thresholds) Version() int { return t.version }

// LateAfter is how old a reading may be when it arrives before its findings are late.
func (t *Thresholds) LateAfter() time.Duration { return t.lateAfter }

// Enabled reports whether the rule is on.
func (t *Thresholds) Enabled(rule string) bool {
	i, ok := ruleByID(rule)
	return ok && t.r[i].on
}

// Value returns a threshold of a rule by key, durations in seconds.
func (t *Thresholds) Value(rule, key string) (float64, bool) {
	i, ok := ruleByID(rule)
	if !ok {
		return 0, false
	}
	j := paramByKey(i, key)
	if j < 0 {
		return 0, false
	}
	return t.r[i].p[j], true
}

// Severity returns the severity of a rule's level (e.g. spo2_low, "very_low").
func (t *Thresholds) Severity(rule, level string) (Severity, bool) {
	i, ok := ruleByID(rule)
	if !ok {
		return 0, false
	}
	for j, l := range catalogue[i].levels {
		if l.name == level {
			return t.r[i].sev[j], true
		}
	}
	return 0, false
}

func (t *Thresholds) on(i ruleIndex) bool                { return t.r[i].on }
func (t *Thresholds) p(i ruleIndex, j int) float64       { return t.r[i].p[j] }
func (t *Thresholds) d(i ruleIndex, j int) time.Duration { return seconds(t.r[i].p[j]) }
func (t *Thresholds) sev(i ruleIndex, lvl int) Severity  { return t.r[i].sev[lvl] }

// used returns the thresholds of rule i by key, durations in seconds, for a finding.
func (t *Thresholds) used(i ruleIndex) map[string]float64 {
	ps := catalogue[i].params
	if len(ps) == 0 {
		return nil
	}
	m := make(map[string]float64, len(ps))
	for j, p := range ps {
		m[p.key] = t.r[i].p[j]
	}
	return m
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

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
func CategoryOf(rule string) (Category, bool) {
	i, ok := ruleByID(rule)
	if !ok {
		return "", false
	}
	return catalogue[i].category, true
}

// Rules is a rules file: its version, late_after and every rule's settings. It is immutable.
type Rules struct {
	base Thresholds
}

// DefaultRules returns the catalogue with the defaults of DOMAIN.md, every rule on, version
// DefaultVersion.
func DefaultRules() *Rules {
	r := &Rules{base: Thresholds{version: DefaultVersion, lateAfter: DefaultLateAfter}}
	for i := range catalogue {
		v := &r.base.r[i]
		v.on = true
		for j, l := range catalogue[i].levels {
			v.sev[j] = l.def
		}
		for j, p := range catalogue[i].params {
			v.p[j] = p.def
		}
	}
	return r
}

// Version is the rules file's version; every finding records it.
func (r *Rules) Version() int { return r.base.version }

// LateAfter is the rules file's late_after.
func (r *Rules) LateAfter() time.Duration { return r.base.lateAfter }

// Defaults returns the file's thresholds, without overrides. Fault rules always use these.
func (r *Rules) Defaults() *Thresholds { return &r.base }

// LoadRules reads a rules file (YAML). See ParseRules.
func LoadRules(path string) (*Rules, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r, err := ParseRules(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// ParseRules reads a rules file (YAML): a version (a whole number >= 1, required), an optional
// late_after duration, and under rules, per rule id, only what differs from the defaults:
//
//	version: 3
//	late_after: 2h
//	rules:
//	  glucose_low:
//	    below: 4.0
//	  spo2_low:
//	    very_low_at_or_below: 88      # a practice with many COPD patients
//	    severity: {very_low: critical}
//	  heart_rate:
//	    enabled: false
//	  cgm_low_episode:
//	    duration: 20m
//	  battery_low:
//	    severity: info                # one level: a bare severity will do
//
// Numbers are plain YAML numbers, durations Go durations ("15m", "72h"), severities one of
// info, warning, urgent, critical. Every problem is reported, each naming its key and line, e.g.
// "rules.glucose_low.below: must be a number, not "low" (line 5)".
func ParseRules(data []byte) (*Rules, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("rules file is not YAML: %w", err)
	}
	r := DefaultRules()
	r.base.version = 0
	var p fileParser
	if len(doc.Content) == 0 {
		return nil, errors.New("version: required (the rules file is empty)")
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("rules file: must be a mapping of version, late_after and rules (line %d)", root.Line)
	}
	p.mapping("", root, func(key string, k, n *yaml.Node) {
		switch key {
		case "version":
			v, ok := p.whole(key, n)
			if ok && v < 1 {
				p.errorf(key, n, "must be a whole number >= 1")
			}
			r.base.version = int(v)
		case "late_after":
			if d, ok := p.duration(key, n); ok {
				if d < time.Minute || d > 7*24*time.Hour {
					p.errorf(key, n, "%v is outside 1m-168h", d)
				} else {
					r.base.lateAfter = d
				}
			}
		case "rules":
			if n.Tag == "!!null" {
				return // "rules:" with nothing under it: the defaults
			}
			if n.Kind != yaml.MappingNode {
				p.errorf(key, n, "must be a mapping of rule ids")
				return
			}
			p.mapping("rules.", n, func(id string, k, n *yaml.Node) {
				i, ok := ruleByID(id)
				if !ok {
					p.errorf("rules."+id, k, "unknown rule; rules are %s", strings.Join(RuleIDs(), ", "))
					return
				}
				p.rule("rules."+id, i, n, &r.base.r[i])
			})
		default:
			p.errorf(key, k, "unknown key; want version, late_after or rules")
		}
	})
	if r.base.version == 0 && !p.has("version") {
		p.errs = append(p.errs, errors.New("version: required"))
	}
	if len(p.errs) == 0 {
		for _, o := range orderings {
			if err := o.check(&r.base, "rules."); err != nil {
				p.errs = append(p.errs, err)
			}
		}
	}
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return r, nil
}

// fileParser collects the errors of a rules file, each naming its key.
type fileParser struct {
	errs []error
	seen []string
}

func (p *fileParser) errorf(key string, n *yaml.Node, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("%s: %s (line %d)", key, fmt.Sprintf(format, args...), n.Line))
}

func (p *fileParser) has(key string) bool { return slices.Contains(p.seen, key) }

// mapping calls fn for each key of the mapping n, reporting keys given twice.
func (p *fileParser) mapping(prefix string, n *yaml.Node, fn func(key string, k, v *yaml.Node)) {
	lines := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.errorf(strings.TrimSuffix(prefix, "."), k, "keys must be plain names")
			continue
		}
		if line, dup := lines[k.Value]; dup {
			p.errorf(prefix+k.Value, k, "given twice (also on line %d)", line)
			continue
		}
		lines[k.Value] = k.Line
		p.seen = append(p.seen, prefix+k.Value)
		fn(k.Value, k, v)
	}
}

func (p *fileParser) rule(path string, i ruleIndex, n *yaml.Node, v *ruleValues) {
	spec := &catalogue[i]
	if n.Kind != yaml.MappingNode {
		if n.Tag == "!!null" {
			return // "glucose_low:" with nothing under it: the defaults
		}
		p.errorf(path, n, "must be a mapping of settings")
		return
	}
	p.mapping(path+".", n, func(key string, k, n *yaml.Node) {
		at := path + "." + key
		switch key {
		case "enabled":
			var b bool
			if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&b) != nil {
				p.errorf(at, n, "must be true or false")
				return
			}
			v.on = b
			return
		case "severity":
			p.severity(at, spec, n, v)
			return
		}
		j := paramByKey(i, key)
		if j < 0 {
			p.errorf(at, k, "unknown setting; %s has %s", spec.id, strings.Join(settingKeys(spec), ", "))
			return
		}
		if f, ok := p.param(at, spec.params[j], n); ok {
			v.p[j] = f
		}
	})
}

// settingKeys lists what a rule's settings may name.
func settingKeys(spec *ruleSpec) []string {
	keys := []string{"enabled", "severity"}
	for _, p := range spec.params {
		keys = append(keys, p.key)
	}
	return keys
}

func (p *fileParser) severity(at string, spec *ruleSpec, n *yaml.Node, v *ruleValues) {
	if n.Kind == yaml.ScalarNode {
		if len(spec.levels) > 1 {
			p.errorf(at, n, "%s has levels %s: give a severity per level, e.g. {%s: %s}", spec.id, levelNames(spec), spec.levels[1].name, spec.levels[1].def)
			return
		}
		s, err := ParseSeverity(n.Value)
		if err != nil {
			p.errorf(at, n, "%v", err)
			return
		}
		v.sev[0] = s
		return
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(at, n, "must be a severity or a mapping of level to severity")
		return
	}
	p.mapping(at+".", n, func(name string, k, n *yaml.Node) {
		j := slices.IndexFunc(spec.levels, func(l level) bool { return l.name == name })
		if j < 0 {
			p.errorf(at+"."+name, k, "unknown level; %s has %s", spec.id, levelNames(spec))
			return
		}
		s, err := ParseSeverity(n.Value)
		if n.Kind != yaml.ScalarNode || err != nil {
			p.errorf(at+"."+name, n, "must be one of info, warning, urgent, critical")
			return
		}
		v.sev[j] = s
	})
}

func levelNames(spec *ruleSpec) string {
	names := make([]string, len(spec.levels))
	for i, l := range spec.levels {
		names[i] = l.name
	}
	return strings.Join(names, ", ")
}

// param reads one parameter's value and checks its range.
func (p *fileParser) param(at string, spec param, n *yaml.Node) (float64, bool) {
	var f float64
	switch spec.kind {
	case duration:
		d, ok := p.duration(at, n)
		if !ok {
			return 0, false
		}
		f = d.Seconds()
	case count:
		w, ok := p.whole(at, n)
		if !ok {
			return 0, false
		}
		f = float64(w)
	default:
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") || n.Decode(&f) != nil || !finite(f) {
			p.errorf(at, n, "must be a number, not %s", describeNode(n))
			return 0, false
		}
	}
	if err := spec.check(f); err != "" {
		p.errorf(at, n, "%s", err)
		return 0, false
	}
	return f, true
}

func (p *fileParser) whole(at string, n *yaml.Node) (int64, bool) {
	var v int64
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || n.Decode(&v) != nil {
		p.errorf(at, n, "must be a whole number, not %s", describeNode(n))
		return 0, false
	}
	return v, true
}

func (p *fileParser) duration(at string, n *yaml.Node) (time.Duration, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		p.errorf(at, n, "must be a duration such as 15m or 72h, not %s", describeNode(n))
		return 0, false
	}
	d, err := time.ParseDuration(n.Value)
	if err != nil {
		p.errorf(at, n, "must be a duration such as 15m or 72h, not %q", n.Value)
		return 0, false
	}
	return d, true
}

func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	if n.Tag == "!!null" {
		return "empty"
	}
	return strconv.Quote(n.Value)
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

// Format writes r as a complete rules file, every setting spelled out: the reference for what a
// file may set.
func (r *Rules) Format() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "version: %d\nlate_after: %s\nrules:\n", r.base.version, r.base.lateAfter)
	for i := range catalogue {
		spec, v := &catalogue[i], &r.base.r[i]
		fmt.Fprintf(&b, "  %s:\n    enabled: %t\n", spec.id, v.on)
		if len(spec.levels) == 1 {
			fmt.Fprintf(&b, "    severity: %s\n", v.sev[0])
		} else {
			parts := make([]string, len(spec.levels))
			for j, l := range spec.levels {
				parts[j] = l.name + ": " + v.sev[j].String()
			}
			fmt.Fprintf(&b, "    severity: {%s}\n", strings.Join(parts, ", "))
		}
		for j, p := range spec.params {
			s := strconv.FormatFloat(v.p[j], 'f', -1, 64)
			if p.kind == duration {
				s = seconds(v.p[j]).String()
			}
			fmt.Fprintf(&b, "    %s: %s\n", p.key, s)
		}
	}
	return b.Bytes()
}

// Overrides are a team's or a patient's thresholds that differ from the rules file: per rule
// id, per threshold key, the value in the rule's unit; durations in seconds. In JSON and YAML a
// duration is written as a Go duration ("20m"). Only clinical rules can be overridden.
type Overrides map[string]map[string]float64

// UnmarshalJSON reads overrides, with durations as Go duration strings.
func (o *Overrides) UnmarshalJSON(b []byte) error {
	var raw map[string]map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	out := make(Overrides, len(raw))
	for rule, keys := range raw {
		out[rule] = make(map[string]float64, len(keys))
		for key, v := range keys {
			var f float64
			if err := json.Unmarshal(v, &f); err == nil {
				out[rule][key] = f
				continue
			}
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return fmt.Errorf("%s.%s: must be a number, or a duration such as \"20m\"", rule, key)
			}
			d, err := time.ParseDuration(s)
			if err != nil {
				return fmt.Errorf("%s.%s: must be a number, or a duration such as \"20m\", not %q", rule, key, s)
			}
			out[rule][key] = d.Seconds()
		}
	}
	*o = out
	return nil
}

// MarshalJSON writes overrides, durations as Go duration strings.
func (o Overrides) MarshalJSON() ([]byte, error) {
	out := make(map[string]map[string]any, len(o))
	for rule, keys := range o {
		out[rule] = make(map[string]any, len(keys))
		for key, v := range keys {
			out[rule][key] = v
			if i, ok := ruleByID(rule); ok {
				if j := paramByKey(i, key); j >= 0 && catalogue[i].params[j].kind == duration {
					out[rule][key] = seconds(v).String()
				}
			}
		}
	}
	return json.Marshal(out)
}

// UnmarshalYAML reads overrides, with durations as Go duration strings.
func (o *Overrides) UnmarshalYAML(n *yaml.Node) error {
	var raw map[string]map[string]yaml.Node
	if err := n.Decode(&raw); err != nil {
		return err
	}
	out := make(Overrides, len(raw))
	for rule, keys := range raw {
		out[rule] = make(map[string]float64, len(keys))
		for key, v := range keys {
			var f float64
			switch {
			case v.Tag == "!!int" || v.Tag == "!!float":
				if err := v.Decode(&f); err != nil {
					return fmt.Errorf("%s.%s: must be a number (line %d)", rule, key, v.Line)
				}
			case v.Tag == "!!str":
				d, err := time.ParseDuration(v.Value)
				if err != nil {
					return fmt.Errorf("%s.%s: must be a number, or a duration such as 20m, not %q (line %d)", rule, key, v.Value, v.Line)
				}
				f = d.Seconds()
			default:
				return fmt.Errorf("%s.%s: must be a number, or a duration such as 20m (line %d)", rule, key, v.Line)
			}
			out[rule][key] = f
		}
	}
	*o = out
	return nil
}

// override is one checked override.
type override struct {
	at ref
	v  float64
}

// checkOverrides returns the valid overrides of o in a stable order, and an error per invalid
// one, each prefixed with who (e.g. "patient override ").
func checkOverrides(o Overrides, who string) ([]override, []error) {
	var ok []override
	var errs []error
	rules := make([]string, 0, len(o))
	for rule := range o {
		rules = append(rules, rule)
	}
	sort.Strings(rules)
	for _, rule := range rules {
		i, known := ruleByID(rule)
		switch {
		case !known:
			errs = append(errs, fmt.Errorf("%s%s: unknown rule", who, rule))
			continue
		case catalogue[i].category != Clinical:
			errs = append(errs, fmt.Errorf("%s%s: a fault rule is set in the rules file only, not per team or patient", who, rule))
			continue
		}
		keys := make([]string, 0, len(o[rule]))
		for key := range o[rule] {
			keys = append(keys, key)
		}
		sort.Strings(keys)
		for _, key := range keys {
			j := paramByKey(i, key)
			if j < 0 {
				var known []string
				for _, p := range catalogue[i].params {
					known = append(known, p.key)
				}
				if len(known) == 0 {
					errs = append(errs, fmt.Errorf("%s%s.%s: unknown threshold; %s has no thresholds", who, rule, key, rule))
				} else {
					errs = append(errs, fmt.Errorf("%s%s.%s: unknown threshold; %s has %s", who, rule, key, rule, strings.Join(known, ", ")))
				}
				continue
			}
			v := o[rule][key]
			if msg := catalogue[i].params[j].check(v); msg != "" {
				errs = append(errs, fmt.Errorf("%s%s.%s: %s", who, rule, key, msg))
				continue
			}
			ok = append(ok, override{ref{i, j}, v})
		}
	}
	return ok, errs
}

// ValidateOverrides checks overrides on their own against the rules file: unknown rules and
// keys, fault rules, values out of range, and a low threshold above a high one. Each error names
// the rule and key. To check a patient's overrides in the context of their team's, look at the
// error of Effective.
func (r *Rules) ValidateOverrides(o Overrides) error {
	_, err := r.Effective(nil, o)
	return err
}

// Effective returns the thresholds in force for a patient: the patient's overrides beat the
// team's, which beat the rules file. It always returns usable thresholds: an override that is
// invalid, or that would make bands cross (say, a patient's glucose_low.below under the team's
// glucose_very_low.below), is left out, and the error says which and why. With no overrides it
// returns Defaults, without allocating.
func (r *Rules) Effective(team, patient Overrides) (*Thresholds, error) {
	if len(team) == 0 && len(patient) == 0 {
		return &r.base, nil
	}
	t := r.base
	var errs []error
	for _, layer := range []struct {
		who string
		o   Overrides
	}{{"team override ", team}, {"patient override ", patient}} {
		ok, bad := checkOverrides(layer.o, layer.who)
		errs = append(errs, bad...)
		before := t
		for _, o := range ok {
			t.r[o.at.rule].p[o.at.param] = o.v
		}
		// Undo this layer's values that cross a band until none do. The thresholds before the
		// layer were consistent, so this ends.
		for changed := true; changed; {
			changed = false
			for _, ord := range orderings {
				err := ord.check(&t, "")
				if err == nil {
					continue
				}
				for _, at := range []ref{ord.lo, ord.hi} {
					if t.r[at.rule].p[at.param] != before.r[at.rule].p[at.param] {
						t.r[at.rule].p[at.param] = before.r[at.rule].p[at.param]
						changed = true
					}
				}
				errs = append(errs, fmt.Errorf("%s%w", layer.who, err))
			}
		}
	}
	return &t, errors.Join(errs...)
}

// History returns how far back readings of type t must be replayed through Engine.Warm after a
// restart for every window of the rules file to be whole: the repeated_errors window for any
// type (messages with error flags), and
//
//	glucose      missed_measurement's after; cgm_low_episode's duration + recovery + 2 max_gap
//	bp           after; bp_home_average's days + series_gap_days + 1 (whole local days: the window
//	             and the gap before it that shows whether its series began earlier); twice the
//	             retest window
//	weight       after; weight_gain's window
//	temperature  after; fever's baseline_window
//	spo2         after
//	heart_rate   1h: the last stuck_sensor count readings of a wearable
//	fall, cancel the 10 minutes in which a late cancel still resolves a raised fall
//
// Overrides that lengthen a window need correspondingly more. Status messages need only each
// device's latest (WarmStatus), rejections the implausible_values window (WarmRejected).
func (r *Rules) History(t reading.Type) time.Duration {
	th := &r.base
	h := th.d(ruleRepeatedErrors, windowSpan)
	after := th.d(ruleMissedMeasurement, missedAfter)
	switch t {
	case reading.Glucose:
		h = max(h, after, th.d(ruleCGMLowEpisode, cgmDuration)+th.d(ruleCGMLowEpisode, cgmRecovery)+2*th.d(ruleCGMLowEpisode, cgmMaxGap))
	case reading.BP:
		h = max(h, after, time.Duration(th.p(ruleBPHomeAverage, homeDays)+th.p(ruleBPHomeAverage, homeSeriesGap)+1)*24*time.Hour, 2*th.d(ruleBPCrisis, crisisRetest))
	case reading.Weight:
		h = max(h, after, th.d(ruleWeightGain, weightWindow))
	case reading.Temperature:
		h = max(h, after, th.d(ruleFever, feverWindow))
	case reading.SpO2:
		h = max(h, after)
	case reading.HeartRate:
		h = max(h, time.Hour)
	case reading.Fall, reading.Cancel:
		h = max(h, keepRaisedFall)
	}
	return h
}
