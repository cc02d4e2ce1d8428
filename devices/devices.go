// Package devices is the registry's vocabulary: community health centres (sites), family-doctor
// teams, residents (patients, by pseudonymous id only), devices and the time-bounded assignment
// of home devices to patients. Storage and transport are adapters elsewhere; this package holds
// the types, their rules, and the in-memory Directory that ingest consults per message.
package devices

import (
	"slices"
	"strings"
	"time"

	"github.com/vitalwatch/vitalwatch/errcode"
	"github.com/vitalwatch/vitalwatch/reading"
)

// Kind is a device type.
type Kind string

// Device kinds.
const (
	GlucoseMeter Kind = "glucose_meter"
	CGM          Kind = "cgm"
	BPCuff       Kind = "bp_cuff"
	Oximeter     Kind = "oximeter"
	Wearable     Kind = "wearable"
	Thermometer  Kind = "thermometer"
	Scale        Kind = "scale"
	Station      Kind = "station" // a shared multi-parameter station at a centre
)

// Kinds lists every device kind.
var Kinds = []Kind{GlucoseMeter, CGM, BPCuff, Oximeter, Wearable, Thermometer, Scale, Station}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return slices.Contains(Kinds, k) }

// Mode says who a device serves.
type Mode string

// Device modes.
const (
	Home        Mode = "home"    // lent to one patient at a time (see Assignment)
	StationMode Mode = "station" // shared at a site; each reading names its patient
)

// Status is a device's place in its life.
type Status string

// Device statuses.
const (
	Active      Status = "active"
	Maintenance Status = "maintenance" // under repair: its days do not count as days in service
	InTransit   Status = "in_transit"  // on its way between sites in an approved move: not in service, never offline
	Retired     Status = "retired"     // may no longer connect
)

// Statuses lists every status.
var Statuses = []Status{Active, Maintenance, InTransit, Retired}

// Valid reports whether s is a known status.
func (s Status) Valid() bool { return slices.Contains(Statuses, s) }

// InService reports whether a device with this status can be used: only an active one.
func (s Status) InService() bool { return s == Active }

// Site is a community health centre.
type Site struct {
	ID       string
	Name     string
	District string
	Address  string
	Lat, Lon float64
	// TimeZone is an IANA zone name; days of use are counted in it.
	TimeZone     string
	OpeningHours string // e.g. "Mon-Fri 08:00-17:30"
}

// Team is a family-doctor team at a site. Its members are the doctors whose user record names
// the team; Lead and OnCall are user ids among them.
type Team struct {
	ID     string
	SiteID string
	Name   string
	// Lead is who an unacknowledged urgent alert escalates to first; empty until set.
	Lead string
	// OnCall is the on-call roster in rota order: who is paged after the lead, and out of
	// the centre's opening hours.
	OnCall []string
	// AckWithin is how long an urgent or critical alert may stay unacknowledged before it
	// escalates; 0 means the configured default (alerts.escalate_after).
	AckWithin time.Duration
}

// Bounds of a team's AckWithin when set.
const (
	MinAckWithin = time.Minute
	MaxAckWithin = 24 * time.Hour
)

// Patient is a resident known by a pseudonymous id. No name or other identity is kept here.
type Patient struct {
	ID     string
	TeamID string
	// Plans are care plans such as "hypertension: BP daily".
	Plans []string
	// BirthYear is the year the patient was born; 0 when unknown. The registry keeps the year,
	// never the date: the year is enough for the rules that depend on age (a fever rise for
	// patients over 75), while a full date of birth next to a team of a few hundred residents
	// would come close to naming the person. With a year only, an age is known to within one
	// year: in year y the patient is y-BirthYear-1 before their birthday and y-BirthYear after.
	BirthYear int
}

// MinBirthYear is the earliest birth year the registry accepts.
const MinBirthYear = 1900

// Device is one physical device.
type Device struct {
	ID       string
	Kind     Kind
	Model    string
	Serial   string
	Firmware string
	SiteID   string
	Mode     Mode
	Status   Status
	// RatedUsesPerDay is a station device's capacity; 0 for home devices.
	RatedUsesPerDay int
	// NextCalibration is when calibration is due; zero when not tracked.
	NextCalibration time.Time
	// InService is when the device entered service, which may be before it was registered;
	// zero means when it was registered. Its first Period starts then.
	InService time.Time
	// SecretHash is the MQTT secret's hash (see HashSecret); the secret itself is never kept.
	SecretHash string
}

// Assignment lends a home device to a patient from From until Until (zero: still lent).
// A reading is credited to the patient the device was assigned to at its measurement time.
type Assignment struct {
	DeviceID  string
	PatientID string
	From      time.Time
	Until     time.Time
}

// Period is a stretch of a device's life at one site with one status, from From until Until
// (zero: still so). A device's periods follow each other without gaps from when it entered
// service; utilisation counts the days of its Active periods at each site.
type Period struct {
	DeviceID string
	SiteID   string
	Status   Status
	From     time.Time
	Until    time.Time
}

// Overlaps reports whether the period shares any instant with [from, to).
func (p Period) Overlaps(from, to time.Time) bool {
	return p.From.Before(to) && (p.Until.IsZero() || p.Until.After(from))
}

// Covers reports whether t falls within the assignment.
func (a Assignment) Covers(t time.Time) bool {
	return !t.Before(a.From) && (a.Until.IsZero() || t.Before(a.Until))
}

// Validate checks a site's fields.
func (s *Site) Validate() error {
	switch {
	case !reading.ValidID(s.ID):
		return invalidID("id", "site id", s.ID)
	case s.Name == "":
		return errcode.FieldErrorf(errcode.Invalid, "name", "site name is required")
	case s.Lat < -90 || s.Lat > 90:
		return errcode.FieldErrorf(errcode.Invalid, "lat", "site coordinates %v,%v are not a latitude and longitude", s.Lat, s.Lon)
	case s.Lon < -180 || s.Lon > 180:
		return errcode.FieldErrorf(errcode.Invalid, "lon", "site coordinates %v,%v are not a latitude and longitude", s.Lat, s.Lon)
	}
	if s.TimeZone != "" {
		if _, err := time.LoadLocation(s.TimeZone); err != nil {
			return errcode.FieldErrorf(errcode.Invalid, "time_zone", "site time zone %q is not an IANA zone name", s.TimeZone)
		}
	}
	return nil
}

// Validate checks a team's fields.
func (t *Team) Validate() error {
	switch {
	case !reading.ValidID(t.ID):
		return invalidID("id", "team id", t.ID)
	case !reading.ValidID(t.SiteID):
		return invalidID("site", "team site", t.SiteID)
	case t.Name == "":
		return errcode.FieldErrorf(errcode.Invalid, "name", "team name is required")
	case t.Lead != "" && !reading.ValidID(t.Lead):
		return invalidID("lead", "team lead", t.Lead)
	case t.AckWithin != 0 && (t.AckWithin < MinAckWithin || t.AckWithin > MaxAckWithin || t.AckWithin%time.Second != 0):
		return errcode.FieldErrorf(errcode.Invalid, "ack_within", "ack_within %v is not 0 (the default) or whole seconds from %v to %v", t.AckWithin, MinAckWithin, MaxAckWithin)
	}
	for i, u := range t.OnCall {
		if !reading.ValidID(u) {
			return invalidID("on_call", "on-call user", u)
		}
		if slices.Contains(t.OnCall[:i], u) {
			return errcode.FieldErrorf(errcode.Invalid, "on_call", "user %s is on the on-call roster twice", u)
		}
	}
	return nil
}

// Validate checks a patient's fields, the birth year against the current year (ValidateAt
// time.Now()).
func (p *Patient) Validate() error { return p.ValidateAt(time.Now()) }

// ValidateAt checks a patient's fields as of now: the id and team, the care plans, and the
// birth year, which is 0 (unknown) or a year from MinBirthYear to the current year. The
// current year is the newest that has begun anywhere (now in UTC+14), so that a birth on New
// Year's Day in the zone furthest ahead is not refused.
func (p *Patient) ValidateAt(now time.Time) error {
	switch {
	case !reading.ValidID(p.ID):
		return invalidID("id", "patient id", p.ID)
	case !reading.ValidID(p.TeamID):
		return invalidID("team", "patient team", p.TeamID)
	}
	if last := now.UTC().Add(14 * time.Hour).Year(); p.BirthYear != 0 && (p.BirthYear < MinBirthYear || p.BirthYear > last) {
		return errcode.FieldErrorf(errcode.Invalid, "birth_year", "birth_year %d is not a year from %d to %d (or 0: unknown)", p.BirthYear, MinBirthYear, last)
	}
	for _, plan := range p.Plans {
		if plan == "" || len(plan) > 200 {
			return errcode.FieldErrorf(errcode.Invalid, "plans", "a care plan must be 1-200 characters")
		}
	}
	return nil
}

// Validate checks a device's fields.
func (d *Device) Validate() error {
	switch {
	case !reading.ValidID(d.ID):
		return invalidID("id", "device id", d.ID)
	case !d.Kind.Valid():
		return errcode.FieldErrorf(errcode.Invalid, "kind", "device kind %q is not one of %v", d.Kind, Kinds)
	case !reading.ValidID(d.SiteID):
		return invalidID("site", "device site", d.SiteID)
	case d.Mode != Home && d.Mode != StationMode:
		return errcode.FieldErrorf(errcode.Invalid, "mode", "device mode %q is not home or station", d.Mode)
	case !d.Status.Valid():
		return errcode.FieldErrorf(errcode.Invalid, "status", "device status %q is not one of %v", d.Status, Statuses)
	case d.RatedUsesPerDay < 0 || d.RatedUsesPerDay > 10000:
		return errcode.FieldErrorf(errcode.Invalid, "rated_uses_per_day", "rated uses per day %d is not 0-10000", d.RatedUsesPerDay)
	case d.Mode == StationMode && d.RatedUsesPerDay == 0:
		return errcode.FieldErrorf(errcode.Invalid, "rated_uses_per_day", "a station device needs its rated uses per day")
	}
	return nil
}

// ReservedIDPrefix starts the names of the platform's own MQTT users and client ids, such as the
// ingest client's (vitalwatch-ingest, or vitalwatch-ingest-a and -b for several instances). No
// device may be given a name that starts with it: a device is its own MQTT username and client
// id, so a device named like the ingest client would lock one of the two out of the broker.
const ReservedIDPrefix = "vitalwatch-"

// BrokerIDProblem says why id cannot be a device's MQTT username, client id and topic level on
// every broker the platform supports, or returns "" when it can. It allows what reading.ValidID
// allows except ':', which separates the username from the hash in Mosquitto's password file.
// The rest of reading.ValidID's rule is what the brokers need too: no '/', '+', '#' (a topic
// level, and the substitution of %u in Mosquitto's ACL patterns), no whitespace or control
// characters (one line, one field of the password and ACL files), nothing that needs escaping.
func BrokerIDProblem(id string) string {
	switch {
	case strings.Contains(id, ":") && reading.ValidID(id):
		return "':' cannot be in a device id: the id is the device's MQTT username, and Mosquitto's password file separates username and hash with ':'"
	case !reading.ValidID(id):
		return "a device id is 1-64 characters of A-Z a-z 0-9 . _ -: it is the device's MQTT username, client id and topic level"
	}
	return ""
}

// ReservedID reports whether id is kept for the platform's own MQTT users (ReservedIDPrefix).
// Letter case is ignored: Mosquitto compares usernames exactly, but a name that differs only in
// case misleads whoever reads the password file and the logs, and some authentication backends
// compare usernames without regard to case.
func ReservedID(id string) bool {
	return len(id) >= len(ReservedIDPrefix) && strings.EqualFold(id[:len(ReservedIDPrefix)], ReservedIDPrefix)
}

// CheckNewDeviceID returns an Invalid *errcode.Error when id cannot be given to a new device:
// when no broker could take it (BrokerIDProblem) or it is reserved (ReservedID). Only creation
// checks this; a device registered before these rules keeps its id, which reading.ValidID still
// accepts, so that it can be found, retired or given a new secret.
func CheckNewDeviceID(id string) error {
	if why := BrokerIDProblem(id); why != "" {
		return errcode.FieldErrorf(errcode.Invalid, "id", "device id %q: %s", id, why)
	}
	if ReservedID(id) {
		return errcode.FieldErrorf(errcode.Invalid, "id", "device id %q is reserved: names starting with %s are the platform's own MQTT users (the ingest client), and a device is its own MQTT username and client id",
			id, ReservedIDPrefix)
	}
	return nil
}

// invalidID is the error of a field that is not an id: what it is, in words, and the value.
func invalidID(field, what, id string) error {
	return errcode.FieldErrorf(errcode.Invalid, field, "%s %q is not 1-64 characters of A-Z a-z 0-9 . _ : -", what, id)
}
