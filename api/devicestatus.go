package api

import (
	"context"
	"slices"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/devices"
	devstatus "github.com/vitalwatch/vitalwatch/devices/status"
	"github.com/vitalwatch/vitalwatch/errcode"
)

// The devices' live status (package devices/status), for the web app: one device's
// (GET /devices/{id}/status), the state filter and states of the device list (devices.go), and
// a site's fleet counted by kind and state (GET /sites/{id}/fleet). Everything in them is a code
// or a number, never a sentence, so that any language can show it. Access is the device
// routes': fleet managers for their own sites, admins for all, doctors none.

// DeviceStatus is the devices' live state that the routes read (status.Tracker).
type DeviceStatus interface {
	Seen(device string) (devstatus.Seen, bool)
	Limits() devstatus.Limits
	Now() time.Time
}

// deviceStatusJSON is a device's live status.
type deviceStatusJSON struct {
	Device string `json:"device"`
	Kind   string `json:"kind"`
	Site   string `json:"site"`
	Mode   string `json:"mode"`
	// Status is the registry's: active, maintenance, in_transit or retired.
	Status string `json:"status"`
	// States are the device's states, in the order online, offline, battery_low,
	// calibration_due, faulty.
	States []string  `json:"states"`
	AsOf   time.Time `json:"as_of"`
	// Connection is the latest connection event known; absent when none is.
	Connection      *connectionJSON `json:"connection,omitempty"`
	LastMessageAt   time.Time       `json:"last_message_at,omitzero"`
	LastTelemetryAt time.Time       `json:"last_telemetry_at,omitzero"`
	// OfflineAfterSeconds is how long the device may go unheard before it is offline: the
	// device_offline rule's multiplier times its kind's interval.
	OfflineAfterSeconds int64            `json:"offline_after_seconds"`
	Battery             *batteryJSON     `json:"battery,omitempty"`
	Signal              *signalJSON      `json:"signal,omitempty"`
	Firmware            firmwareJSON     `json:"firmware"`
	ClockOffset         *clockOffsetJSON `json:"clock_offset,omitempty"`
	NextCalibration     time.Time        `json:"next_calibration,omitzero"`
	// Faults are its open or acknowledged fault alerts; absent when the server keeps no alerts.
	Faults  *faultsJSON `json:"faults,omitempty"`
	Last24h countsJSON  `json:"last_24h"`
	// Move is the move a device in transit is on.
	Move *moveRefJSON `json:"move,omitempty"`
}

type connectionJSON struct {
	Connected bool      `json:"connected"`
	Event     string    `json:"event"`
	At        time.Time `json:"at"`
}

type batteryJSON struct {
	Percent      float64   `json:"percent"`
	At           time.Time `json:"at"`
	LowAtOrBelow float64   `json:"low_at_or_below"`
}

type signalJSON struct {
	DBm float64   `json:"dbm"`
	At  time.Time `json:"at"`
}

type firmwareJSON struct {
	// Reported is what the device last said on its status topic, and when.
	Reported   string    `json:"reported,omitempty"`
	ReportedAt time.Time `json:"reported_at,omitzero"`
	// Registry is what the registry says.
	Registry string `json:"registry"`
	// Differs is true when the device reported a version other than the registry's.
	Differs bool `json:"differs"`
}

type clockOffsetJSON struct {
	// Ms is the device's clock minus the receive time, on its last live message.
	Ms int64     `json:"ms"`
	At time.Time `json:"at"`
}

type faultsJSON struct {
	Open  int      `json:"open"`
	Rules []string `json:"rules"`
}

type countsJSON struct {
	Readings    int `json:"readings"`
	DeadLetters int `json:"dead_letters"`
}

type moveRefJSON struct {
	ID           int64     `json:"id"`
	From         string    `json:"from"`
	To           string    `json:"to"`
	DispatchedAt time.Time `json:"dispatched_at,omitzero"`
}

// statusEventNames lists the connection events.
func statusEventNames() []string {
	out := make([]string, len(devstatus.Events))
	for i, e := range devstatus.Events {
		out[i] = string(e)
	}
	return out
}

// stateNames lists the states.
func stateNames() []string {
	out := make([]string, len(devstatus.States))
	for i, s := range devstatus.States {
		out[i] = string(s)
	}
	return out
}

// errNoDeviceStatus is the 503 of a request that needs the devices' live status (the state
// filter of the device list) when the server does not track it.
var errNoDeviceStatus = apiError(errcode.Unavailable, "device status is not configured")

// faultIndex holds the rules of the open or acknowledged fault alerts by device; nil when the
// server keeps no alerts.
type faultIndex map[string][]string

// openFaults reads the open and acknowledged fault alerts, of one device or of all.
func (a *API) openFaults(ctx context.Context, device string) (faultIndex, error) {
	if a.opts.Alerts == nil {
		return nil, nil
	}
	out := faultIndex{}
	for _, st := range []alerts.State{alerts.Open, alerts.Acknowledged} {
		for before := int64(0); ; {
			page, err := a.opts.Alerts.ListAlerts(ctx, alerts.Filter{Scope: alerts.Scope{All: true}, State: st,
				Category: alerts.Fault, Device: device, Before: before, Limit: 1000})
			if err != nil {
				return nil, err
			}
			for _, al := range page {
				if al.Device != "" && !slices.Contains(out[al.Device], al.Rule) {
					out[al.Device] = append(out[al.Device], al.Rule)
				}
			}
			if len(page) < 1000 {
				break
			}
			before = page[len(page)-1].ID
		}
	}
	for _, rules := range out {
		slices.Sort(rules)
	}
	return out, nil
}

// judge returns d's live status as the routes show it, at now.
func (a *API) judge(d *devices.Device, faults faultIndex, now time.Time) ([]devstatus.State, devstatus.Seen) {
	seen, _ := a.opts.DeviceStatus.Seen(d.ID)
	return devstatus.Judge(d, &seen, len(faults[d.ID]), a.opts.DeviceStatus.Limits(), now), seen
}

// codes are states as strings, [] for none.
func codes(states []devstatus.State) []string {
	out := make([]string, len(states))
	for i, s := range states {
		out[i] = string(s)
	}
	return out
}

// deviceStatus answers GET /devices/{id}/status.
func (a *API) deviceStatus(c *call) error {
	d, err := a.devices().one(c)
	if err != nil {
		return err
	}
	faults, err := a.openFaults(c.Context(), d.ID)
	if err != nil {
		return err
	}
	now := a.opts.DeviceStatus.Now().UTC()
	states, seen := a.judge(&d, faults, now)
	lim := a.opts.DeviceStatus.Limits()
	j := deviceStatusJSON{Device: d.ID, Kind: string(d.Kind), Site: d.SiteID, Mode: string(d.Mode), Status: string(d.Status),
		States: codes(states), AsOf: now, LastMessageAt: seen.LastMessage, LastTelemetryAt: seen.LastTelemetry,
		OfflineAfterSeconds: int64(lim.OfflineAfter(d.Kind) / time.Second), NextCalibration: d.NextCalibration,
		Firmware: firmwareJSON{Reported: seen.Firmware, ReportedAt: seen.FirmwareAt, Registry: d.Firmware,
			Differs: seen.Firmware != "" && seen.Firmware != d.Firmware},
		Last24h: countsJSON{Readings: seen.Readings, DeadLetters: seen.DeadLetters}}
	if seen.Event != "" {
		j.Connection = &connectionJSON{Connected: seen.Event.Connected(), Event: string(seen.Event), At: seen.EventAt}
	}
	if !seen.BatteryAt.IsZero() {
		j.Battery = &batteryJSON{Percent: seen.Battery, At: seen.BatteryAt, LowAtOrBelow: lim.BatteryLowAt}
	}
	if !seen.SignalAt.IsZero() {
		j.Signal = &signalJSON{DBm: seen.Signal, At: seen.SignalAt}
	}
	if !seen.ClockOffsetAt.IsZero() {
		j.ClockOffset = &clockOffsetJSON{Ms: seen.ClockOffset.Milliseconds(), At: seen.ClockOffsetAt}
	}
	if faults != nil {
		rules := faults[d.ID]
		if rules == nil {
			rules = []string{}
		}
		j.Faults = &faultsJSON{Open: len(rules), Rules: rules}
	}
	if d.Status == devices.InTransit {
		moves, err := a.opts.Registry.ListMoves(c.Context(), devices.MoveFilter{Device: d.ID, State: string(devices.MoveInTransit), Limit: 1})
		if err != nil {
			return err
		}
		if len(moves) > 0 {
			m := moves[0]
			j.Move = &moveRefJSON{ID: m.ID, From: m.From, To: m.To, DispatchedAt: m.DispatchedAt}
		}
	}
	return c.reply(j)
}

// fleetJSON counts a site's devices by kind, state and registry status.
type fleetJSON struct {
	Site     string           `json:"site"`
	AsOf     time.Time        `json:"as_of"`
	Devices  int              `json:"devices"`
	States   stateCountsJSON  `json:"states"`
	Statuses statusCountsJSON `json:"statuses"`
	// Kinds are the kinds the site has, in the registry's order of kinds.
	Kinds []kindCountsJSON `json:"kinds"`
}

type kindCountsJSON struct {
	Kind     string           `json:"kind"`
	Devices  int              `json:"devices"`
	States   stateCountsJSON  `json:"states"`
	Statuses statusCountsJSON `json:"statuses"`
}

// stateCountsJSON counts devices in each state; a device may be in several.
type stateCountsJSON struct {
	Online         int `json:"online"`
	Offline        int `json:"offline"`
	BatteryLow     int `json:"battery_low"`
	CalibrationDue int `json:"calibration_due"`
	Faulty         int `json:"faulty"`
}

// statusCountsJSON counts devices by registry status.
type statusCountsJSON struct {
	Active      int `json:"active"`
	Maintenance int `json:"maintenance"`
	InTransit   int `json:"in_transit"`
	Retired     int `json:"retired"`
}

func (c *stateCountsJSON) add(states []devstatus.State) {
	for _, s := range states {
		switch s {
		case devstatus.Online:
			c.Online++
		case devstatus.Offline:
			c.Offline++
		case devstatus.BatteryLow:
			c.BatteryLow++
		case devstatus.CalibrationDue:
			c.CalibrationDue++
		case devstatus.Faulty:
			c.Faulty++
		}
	}
}

func (c *statusCountsJSON) add(s devices.Status) {
	switch s {
	case devices.Active:
		c.Active++
	case devices.Maintenance:
		c.Maintenance++
	case devices.InTransit:
		c.InTransit++
	case devices.Retired:
		c.Retired++
	}
}

// siteFleet answers GET /sites/{id}/fleet: the site's devices (those the registry has there
// now; a device in transit stays at its donor site until received) counted by kind, state and
// status.
func (a *API) siteFleet(c *call) error {
	site, err := a.sites().one(c)
	if err != nil {
		return err
	}
	if !c.p.CanSite(site.ID) {
		return forbidden("site %s is not one of yours", site.ID)
	}
	faults, err := a.openFaults(c.Context(), "")
	if err != nil {
		return err
	}
	now := a.opts.DeviceStatus.Now().UTC()
	out := fleetJSON{Site: site.ID, AsOf: now, Kinds: []kindCountsJSON{}}
	byKind := map[devices.Kind]*kindCountsJSON{}
	err = a.eachDevice(c.Context(), devices.ListOptions{Site: site.ID}, func(d *devices.Device) {
		states, _ := a.judge(d, faults, now)
		k, ok := byKind[d.Kind]
		if !ok {
			k = &kindCountsJSON{Kind: string(d.Kind)}
			byKind[d.Kind] = k
		}
		k.Devices++
		k.States.add(states)
		k.Statuses.add(d.Status)
		out.Devices++
		out.States.add(states)
		out.Statuses.add(d.Status)
	})
	if err != nil {
		return err
	}
	for _, kind := range devices.Kinds {
		if k, ok := byKind[kind]; ok {
			out.Kinds = append(out.Kinds, *k)
		}
	}
	return c.reply(out)
}

// eachDevice calls fn for every device o selects (its After and Limit aside), in id order, a
// page of 1000 at a time.
func (a *API) eachDevice(ctx context.Context, o devices.ListOptions, fn func(*devices.Device)) error {
	o.Limit, o.After = 1000, ""
	for {
		page, err := a.opts.Registry.ListDevices(ctx, o)
		if err != nil {
			return err
		}
		for i := range page {
			fn(&page[i])
		}
		if len(page) < o.Limit {
			return nil
		}
		o.After = page[len(page)-1].ID
	}
}
