package reading

import "fmt"

// maxFlags is the most status flags one message may carry. The Bluetooth health profiles define
// fewer than 32 altogether; the bound keeps deduplication cheap and the stored field small.
const maxFlags = 32

// maxFlagLen is the longest status flag.
const maxFlagLen = 40

// QualityFlag reports whether the device status flag f (normalised: lower case) makes the readings
// of its message unreliable, so that they are stored with the flag but not used for clinical alerts.
//
// The set follows the status fields of the Bluetooth health profiles (docs/domain.md "Device status
// flags"): measurement faults (cuff, movement, position, strip, sample, sensor, signal, perfusion,
// device temperature, interrupted read, device fault), and time faults, since a reading at an
// unknown time cannot be placed in a clinical series.
//
// Flags that describe the patient or the device rather than the measurement are not quality flags,
// because suppressing them would hide exactly the readings that need attention:
// irregular_pulse and pulse_out_of_range (possible arrhythmia, tachy- or bradycardia),
// result_below_range and result_above_range (a meter's LO/HI: the true value is even more extreme),
// battery_low and calibration_recommended (device upkeep; the reading is still valid).
func QualityFlag(f string) bool {
	switch f {
	case
		// Blood pressure measurement status.
		"body_movement", "cuff_loose", "cuff_too_loose", "improper_position", "improper_measurement_position",
		// Glucose sensor status.
		"sensor_malfunction", "sample_too_small", "sample_size_insufficient", "strip_error",
		"strip_insertion_error", "wrong_strip_type", "strip_type_incorrect",
		"temperature_too_high", "temperature_too_low", "read_interrupted",
		"device_fault", "general_device_fault", "time_fault",
		// CGM status.
		"session_stopped", "wrong_sensor_type", "calibration_required", "time_sync_required",
		// Pulse oximeter status.
		"equipment_malfunction", "inadequate_signal", "poor_signal", "erratic_signal",
		"low_perfusion", "sensor_displaced", "sensor_disconnected", "sensor_not_on_user",
		"questionable_measurement":
		return true
	}
	return false
}

// normaliseFlags lower-cases the flags in place, checks each is 1-40 of [a-z0-9_], and removes
// duplicates keeping the first. It returns nil for no flags, and a detail when a flag is invalid.
func normaliseFlags(flags []string) ([]string, string) {
	if len(flags) > maxFlags {
		return nil, fmt.Sprintf("%d flags; at most %d are accepted", len(flags), maxFlags)
	}
	out := flags[:0]
next:
	for _, f := range flags {
		f = lowerASCII(f)
		if !validFlag(f) {
			return nil, fmt.Sprintf("flag %q is not 1-%d characters of a-z, 0-9 and _", shorten(f), maxFlagLen)
		}
		for _, seen := range out {
			if seen == f {
				continue next
			}
		}
		out = append(out, f)
	}
	if len(out) == 0 {
		return nil, ""
	}
	return out, ""
}

func validFlag(f string) bool {
	if len(f) == 0 || len(f) > maxFlagLen {
		return false
	}
	for i := 0; i < len(f); i++ {
		c := f[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// lowerASCII lower-cases the ASCII letters of s, allocating only when there is one to change.
// Unlike strings.ToLower it leaves other letters alone, so that, say, the Kelvin sign does not
// become a valid "k".
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
