// Package status follows each registered device's live state: whether the broker has it
// connected, when it was last heard from, the battery, signal, firmware and clock offset it
// reports, and how many readings and dead letters it sent in the last 24 hours. A Tracker keeps
// this in memory, fed by ingest a batch at a time and by the embedded broker's connections; a
// Sync writes what changed to the store every few seconds, in one transaction, and reads back
// what other instances wrote. Judge turns it, with the registry and the device's open fault
// alerts, into states: online, offline, battery_low, calibration_due, faulty.
//
// The limits it judges by are the alert rules': offline after the device_offline rule's
// multiplier times the kind's interval, battery low at the battery_low rule's low band
// (LimitsOf).
package status

import (
	"fmt"
	"slices"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/alerts/rules"
	"github.com/vitalwatch/vitalwatch/devices"
)

// State is one thing a device's live status says about it. A device may be in several.
type State string

// The states.
const (
	// Online: heard from (a message, or a new connection) within its kind's offline limit,
	// and its connection not dropped since.
	Online State = "online"
	// Offline: an active device not heard from within the limit, or whose connection dropped
	// (last will, connection lost, broker stopped) with nothing heard since. A device under
	// maintenance or in transit is never offline.
	Offline State = "offline"
	// BatteryLow: the last battery level it reported is at or below the battery_low rule's
	// low band.
	BatteryLow State = "battery_low"
	// CalibrationDue: the registry's next calibration date has passed.
	CalibrationDue State = "calibration_due"
	// Faulty: it has a device-fault alert that is open or acknowledged.
	Faulty State = "faulty"
)

// States lists every state.
var States = []State{Online, Offline, BatteryLow, CalibrationDue, Faulty}

// Valid reports whether s is a known state.
func (s State) Valid() bool { return slices.Contains(States, s) }

// Event is the latest thing known to have happened to a device's connection.
type Event string

// Connection events. The embedded broker reports the first four through its hooks; with an
// external broker only what the device says on its status topic is known.
const (
	// Connect: the embedded broker took the device's connection.
	Connect Event = "connect"
	// Disconnect: the device disconnected cleanly (MQTT DISCONNECT). A device that sleeps
	// between measurements does this; it is not offline until its limit passes.
	Disconnect Event = "disconnect"
	// ConnectionLost: the connection broke (network, keep-alive) and no last will was published.
	ConnectionLost Event = "connection_lost"
	// LastWill: the device's last will was published by the embedded broker, or its status
	// topic said {"online": false} (the contract's will, whichever broker published it).
	LastWill Event = "last_will"
	// BrokerStopped: the embedded broker of the instance the device was connected to stopped.
	BrokerStopped Event = "broker_stopped"
	// StatusOnline: the device said {"online": true} on its status topic.
	StatusOnline Event = "status_online"
)

// Events lists every connection event.
var Events = []Event{Connect, Disconnect, ConnectionLost, LastWill, BrokerStopped, StatusOnline}

// Connected reports whether the device is connected after e.
func (e Event) Connected() bool { return e == Connect || e == StatusOnline }

// Drops reports whether e makes a device offline until it is heard from again.
func (e Event) Drops() bool { return e == LastWill || e == ConnectionLost || e == BrokerStopped }

// Limits are what the states are judged by. Get them from the rules in force with LimitsOf.
type Limits struct {
	offline map[devices.Kind]time.Duration
	// BatteryLowAt is the battery level, in %, at or below which a device is battery_low.
	BatteryLowAt float64
}

// OfflineAfter is how long a device of kind k may go unheard before it is offline.
func (l Limits) OfflineAfter(k devices.Kind) time.Duration { return l.offline[k] }

// LimitsOf takes the limits from the thresholds in force (the rules file over the defaults):
// device_offline's multiplier times the {kind}_interval of each kind, and battery_low's
// low_at_or_below. The state and the alert then agree on when a device is offline or low.
func LimitsOf(th *rules.Thresholds) (Limits, error) {
	mult, ok := th.Value(alerts.RuleDeviceOffline, "multiplier")
	if !ok {
		return Limits{}, fmt.Errorf("status: the rules have no %s.multiplier", alerts.RuleDeviceOffline)
	}
	l := Limits{offline: make(map[devices.Kind]time.Duration, len(devices.Kinds))}
	for _, k := range devices.Kinds {
		key := string(k) + "_interval"
		secs, ok := th.Value(alerts.RuleDeviceOffline, key)
		if !ok {
			return Limits{}, fmt.Errorf("status: the rules have no %s.%s", alerts.RuleDeviceOffline, key)
		}
		l.offline[k] = time.Duration(mult * secs * float64(time.Second))
	}
	if l.BatteryLowAt, ok = th.Value(alerts.RuleBatteryLow, "low_at_or_below"); !ok {
		return Limits{}, fmt.Errorf("status: the rules have no %s.low_at_or_below", alerts.RuleBatteryLow)
	}
	return l, nil
}

// DefaultLimits are the limits of the built-in rules (rules.DefaultRules).
func DefaultLimits() Limits {
	l, err := LimitsOf(rules.DefaultRules().Defaults())
	if err != nil {
		panic(err) // the catalogue lacks a key this package relies on: a programming error
	}
	return l
}

// Seen is what is known of a device's live state. A zero time means never.
type Seen struct {
	// LastMessage is when ingest last received anything from the device (telemetry or
	// status, accepted or not); LastTelemetry when it last received telemetry with an
	// accepted reading.
	LastMessage, LastTelemetry time.Time
	// Event is the latest connection event and EventAt when it happened; "" when none is known.
	Event   Event
	EventAt time.Time
	// Battery (%) and Signal (dBm) as last reported, at the message's measurement time.
	Battery   float64
	BatteryAt time.Time
	Signal    float64
	SignalAt  time.Time
	// Firmware is the version the device last reported on its status topic.
	Firmware   string
	FirmwareAt time.Time
	// ClockOffset is the device's clock minus the receive time, on its last live message (one
	// measurement time, newer than any before, stamped by the device: see Message.OwnClock);
	// ClockOffsetAt is when that message was received. A small negative offset is the
	// message's travel.
	ClockOffset   time.Duration
	ClockOffsetAt time.Time
	// Readings and DeadLetters count the accepted readings and the dead letters received in
	// the current UTC hour and the 23 before it.
	Readings, DeadLetters int
}

// Connected reports whether the device is connected as far as is known, and whether
// anything is known.
func (s *Seen) Connected() (connected, known bool) { return s.Event.Connected(), s.Event != "" }

// Judge returns the states of device d, with what is seen of it and its count of open or
// acknowledged fault alerts, at now, in the order of States. A retired device has none but
// faulty.
func Judge(d *devices.Device, s *Seen, openFaults int, lim Limits, now time.Time) []State {
	var out []State
	if d.Status != devices.Retired {
		last := s.LastMessage
		if s.Event.Connected() && s.EventAt.After(last) {
			last = s.EventAt // a device that has just connected is heard from
		}
		heard := !last.IsZero() && now.Sub(last) <= lim.OfflineAfter(d.Kind)
		dropped := s.Event.Drops() && !s.EventAt.Before(s.LastMessage)
		switch {
		case heard && !dropped:
			out = append(out, Online)
		case d.Status == devices.Active:
			out = append(out, Offline)
		}
		if !s.BatteryAt.IsZero() && s.Battery <= lim.BatteryLowAt {
			out = append(out, BatteryLow)
		}
		if !d.NextCalibration.IsZero() && now.After(d.NextCalibration) {
			out = append(out, CalibrationDue)
		}
	}
	if openFaults > 0 {
		out = append(out, Faulty)
	}
	return out
}
