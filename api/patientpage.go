package api

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts/rules"
	"github.com/vitalwatch/vitalwatch/devices"
)

// What a patient's page needs besides the readings and the summary: the thresholds in force for
// the patient beside the guideline defaults and the team's and their own overrides (for the
// override form and the charts' bands), and the devices lent to the patient now. Both have the
// access of GET /patients/{id}.

// clinicalSettings lists the clinical thresholds of the rules in force: *rules.Rules, which the
// API has as Options.OverrideRules when alerts are on.
type clinicalSettings interface {
	ClinicalSettings() []rules.Setting
}

// patientThresholdsJSON is the clinical thresholds in force for a patient.
type patientThresholdsJSON struct {
	Patient string `json:"patient"`
	Team    string `json:"team"`
	// RulesVersion is the version of the rules file in force.
	RulesVersion int `json:"rules_version"`
	// Overrides say whose threshold overrides there are: "team", "patient".
	Overrides  []string               `json:"overrides"`
	Thresholds []patientThresholdJSON `json:"thresholds"`
}

// patientThresholdJSON is one threshold of a clinical rule: what it takes, the guideline default
// (docs/domain.md), the rules file's value, the team's and the patient's overrides when they
// have one, and the value in force. Durations are in seconds (an override gives them as a Go
// duration such as "20m").
type patientThresholdJSON struct {
	Rule      string   `json:"rule"`
	Key       string   `json:"key"`
	Kind      string   `json:"kind"` // number, duration, count or hour
	Unit      string   `json:"unit,omitempty"`
	Min       float64  `json:"min"`
	Max       float64  `json:"max"`
	Guideline float64  `json:"guideline"`
	Default   float64  `json:"default"` // the rules file's
	Team      *float64 `json:"team,omitempty"`
	Patient   *float64 `json:"patient,omitempty"`
	InForce   float64  `json:"in_force"`
}

// patientThresholdsRoute answers GET /patients/{id}/thresholds.
func (a *API) patientThresholdsRoute(c *call) error {
	p, err := a.patients().one(c)
	if err != nil {
		return err
	}
	th, overridden, err := a.patientThresholds(c.Context(), p)
	if err != nil {
		return err
	}
	var team, own rules.Overrides
	if a.opts.Overrides != nil {
		if team, err = a.opts.Overrides.Overrides(c.Context(), rules.TeamOverrides, p.TeamID); err != nil {
			return err
		}
		if own, err = a.opts.Overrides.Overrides(c.Context(), rules.PatientOverrides, p.ID); err != nil {
			return err
		}
	}
	var src clinicalSettings = rules.DefaultRules()
	if r, ok := a.opts.OverrideRules.(clinicalSettings); ok {
		src = r
	}
	of := func(o rules.Overrides, s rules.Setting) *float64 {
		if v, ok := o[s.Rule][s.Key]; ok {
			return &v
		}
		return nil
	}
	out := patientThresholdsJSON{Patient: p.ID, Team: p.TeamID, RulesVersion: th.Version(), Overrides: overridden, Thresholds: []patientThresholdJSON{}}
	for _, s := range src.ClinicalSettings() {
		v, _ := th.Value(s.Rule, s.Key)
		out.Thresholds = append(out.Thresholds, patientThresholdJSON{Rule: s.Rule, Key: s.Key, Kind: s.Kind, Unit: s.Unit, Min: s.Min, Max: s.Max,
			Guideline: s.Guideline, Default: s.Value, Team: of(team, s), Patient: of(own, s), InForce: v})
	}
	return c.reply(out)
}

// patientDeviceJSON is a device lent to a patient: the registry's facts, when the loan began
// and, when the server tracks them, its live states and when it was last heard from.
type patientDeviceJSON struct {
	ID              string    `json:"id"`
	Kind            string    `json:"kind"`
	Model           string    `json:"model"`
	Serial          string    `json:"serial"`
	Site            string    `json:"site"`
	Status          string    `json:"status"`
	NextCalibration time.Time `json:"next_calibration,omitzero"`
	LentFrom        time.Time `json:"lent_from"`
	// States are the live states (see GET /devices/{id}/status); absent when the server does
	// not track them.
	States        []string  `json:"states,omitempty"`
	LastMessageAt time.Time `json:"last_message_at,omitzero"`
	// Battery is the battery level last reported, in %; absent when none was.
	Battery *float64 `json:"battery,omitempty"`
}

// patientDevices answers GET /patients/{id}/devices: the devices lent to the patient now, by id.
func (a *API) patientDevices(c *call) error {
	p, err := a.patients().one(c)
	if err != nil {
		return err
	}
	now := time.Now()
	lent, err := a.lentTo(c.Context(), p.ID, now)
	if err != nil {
		return err
	}
	items := make([]patientDeviceJSON, 0, len(lent))
	var faults faultIndex
	if a.opts.DeviceStatus != nil && len(lent) > 0 {
		if faults, err = a.openFaults(c.Context(), ""); err != nil {
			return err
		}
	}
	for _, l := range lent {
		d := l.device
		j := patientDeviceJSON{ID: d.ID, Kind: string(d.Kind), Model: d.Model, Serial: d.Serial, Site: d.SiteID, Status: string(d.Status),
			NextCalibration: d.NextCalibration, LentFrom: l.from}
		if a.opts.DeviceStatus != nil {
			states, seen := a.judge(&d, faults, a.opts.DeviceStatus.Now().UTC())
			j.States, j.LastMessageAt = codes(states), seen.LastMessage
			if !seen.BatteryAt.IsZero() {
				b := seen.Battery
				j.Battery = &b
			}
		}
		items = append(items, j)
	}
	return c.reply(page[patientDeviceJSON]{Items: items})
}

// loan is a device lent to a patient since from.
type loan struct {
	device devices.Device
	from   time.Time
}

// lentTo lists the devices lent to patient at now, by id: from the registry view when the API
// has one, else from the registry.
func (a *API) lentTo(ctx context.Context, patient string, now time.Time) ([]loan, error) {
	current := func(as []devices.Assignment) (time.Time, bool) {
		for _, x := range slices.Backward(as) {
			if x.PatientID == patient && !x.From.After(now) && (x.Until.IsZero() || x.Until.After(now)) {
				return x.From, true
			}
		}
		return time.Time{}, false
	}
	var out []loan
	if a.opts.Devices != nil {
		if dir := a.opts.Devices.Load(); dir != nil {
			dir.Devices(func(d *devices.Device, as []devices.Assignment) bool {
				if from, ok := current(as); ok {
					out = append(out, loan{*d, from})
				}
				return true
			})
			slices.SortFunc(out, func(x, y loan) int { return cmp.Compare(x.device.ID, y.device.ID) })
			return out, nil
		}
	}
	var errs []error
	err := a.eachDevice(ctx, devices.ListOptions{Mode: string(devices.Home)}, func(d *devices.Device) {
		as, err := a.opts.Registry.Assignments(ctx, d.ID)
		if err != nil {
			errs = append(errs, err)
			return
		}
		if from, ok := current(as); ok {
			out = append(out, loan{*d, from})
		}
	})
	if err != nil {
		return nil, err
	}
	return out, errors.Join(errs...)
}
