package alerts

// Rule ids: the stable names of the rules in the rules file, in overrides and in every alert.
// The catalogue of package rules (alerts/rules/catalogue.go) says what each rule checks, its levels and its defaults.
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
	// RuleCentreGrowth is the info notice to a site's fleet managers that the centre's patients
	// on a care plan grew beyond reallocation.growth over twelve months (package fleet): its
	// subject is the site (kind "site"), not a patient or a device.
	RuleCentreGrowth = "centre_growth"
)
