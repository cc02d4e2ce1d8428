package rules

import (
	"cmp"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/reading"
)

// Input is one accepted telemetry message, after it is durable, with the registry's facts that
// the rules need.
type Input struct {
	// Message is the decoded message: its accepted readings, flags and battery. The engine keeps
	// no reference to it.
	Message reading.Message
	// Device is the registry's device that sent it, and Site the device's site now.
	Device devices.Device
	Site   devices.Site
	// Patient is who the readings are credited to, with the team, care plans and birth year; its
	// zero value (an unassigned home device) raises no clinical finding.
	Patient devices.Patient
	// Thresholds are the thresholds in force for the patient (Rules.Effective of the team's and
	// the patient's overrides); nil means the rules file's.
	Thresholds *Thresholds
	// Received is when the message arrived; zero means the engine's clock.
	Received time.Time
}

// Engine evaluates the rules of the catalogue on readings, device status, rejected readings and
// the passing of time. It is pure and deterministic: it does no I/O, reads the time only from
// its arguments and the injected clock, and returns findings for the lifecycle to record. Its
// state (windows, episodes, timers) is in memory, bounded, and rebuilt after a restart by Warm.
// An Engine is safe for concurrent use.
//
// Rules run on measurement time: the windows (CGM episode, BP retest, weight, home average,
// fever baseline, fall confirmation) look at when readings were measured, whatever the order
// they arrive in.
//
// Readings from which findings are held back or demoted:
//   - A clinical reading whose message carries a quality flag (reading.QualityFlag), or that
//     comes from a device with a fault that makes it doubtful (calibration overdue at the
//     reading's time, a stuck sensor, a malfunction flag in its latest status), raises its
//     findings at severity info with Doubt saying why, and does not enter any window. Fall and
//     SOS events are never demoted for data quality: they are a person's act, not a measurement.
//   - A reading measured more than late_after before it was received raises its findings with
//     Late set, at severity info; it still enters the windows.
type Engine struct {
	rules *Rules
	clock func() time.Time

	mu       sync.Mutex
	patients map[string]*patientState
	devices  map[string]*deviceState
	temps    map[string]*tempState // fever baselines, by patient id; see tempState
	falls    []*pendingFall
	cancels  []recentCancel
	zones    map[string]*time.Location
	forgotAt time.Time // when forget last ran
	// patientsAt is when Tick last ran the patients' rules (patientTick).
	patientsAt time.Time
}

// State bounds: beyond them the least recently active state is forgotten.
const (
	maxPatients = 1 << 20
	maxDevices  = 1 << 20
	// idleForget is how long a patient without a care plan, or a device without an open
	// fault, is remembered without a message.
	idleForget = 30 * 24 * time.Hour
)

// NewEngine returns an engine for rules with the clock it reads when a call gives no time.
func NewEngine(rules *Rules, clock func() time.Time) *Engine {
	if rules == nil {
		rules = DefaultRules()
	}
	if clock == nil {
		clock = time.Now
	}
	return &Engine{
		rules:    rules,
		clock:    clock,
		patients: make(map[string]*patientState),
		devices:  make(map[string]*deviceState),
		temps:    make(map[string]*tempState),
		zones:    make(map[string]*time.Location),
	}
}

// Rules returns the rules the engine runs.
func (e *Engine) Rules() *Rules {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.rules
}

// SetRules replaces the rules file, keeping the state. Fault rules and patients on the file's
// thresholds use the new file at once; a patient with overrides keeps the thresholds of their
// last Input or SetPatient until the next, which should carry Effective of the new rules.
func (e *Engine) SetRules(r *Rules) {
	e.mu.Lock()
	defer e.mu.Unlock()
	old := &e.rules.base
	e.rules = r
	for _, p := range e.patients {
		if p.th == old {
			p.th = &r.base
		}
	}
}

// batch collects the findings of one call; in warm mode it only updates state.
type batch struct {
	warm bool
	now  time.Time
	out  []alerts.Finding
	// The local day of now in dayLoc, for localDay: a tick asks it of every patient, and most
	// patients share a time zone.
	dayLoc *time.Location
	day    int64
}

// localDay is localDay(b.now, loc), computed again only when loc is not the last one asked.
func (b *batch) localDay(loc *time.Location) int64 {
	if loc != b.dayLoc || loc == nil {
		b.dayLoc, b.day = loc, localDay(b.now, loc)
	}
	return b.day
}

func (b *batch) emit(f alerts.Finding) {
	if b.warm {
		return
	}
	if f.Late || f.Doubt != "" {
		f.Severity = alerts.Info
	}
	b.out = append(b.out, f)
}

// Reading evaluates one accepted telemetry message and returns its findings: clinical ones
// (when the readings are credited to a patient) and device faults.
func (e *Engine) Reading(in Input) []alerts.Finding {
	e.mu.Lock()
	defer e.mu.Unlock()
	b := batch{now: e.now(in.Received)}
	e.reading(&b, &in)
	return b.out
}

// Warm feeds a past message to build the windows, episodes and device state without raising
// anything, so that the service can replay recent readings from InfluxDB at start. Replay them
// in measurement order, with Received set to when they arrived (their measurement time will
// do). How far back each reading type must be replayed is Rules.History.
func (e *Engine) Warm(in Input) {
	e.mu.Lock()
	defer e.mu.Unlock()
	b := batch{warm: true, now: e.now(in.Received)}
	e.reading(&b, &in)
}

// Status evaluates a device status message: battery, flags, clock, and the last will
// (online false), which puts the device offline at once.
func (e *Engine) Status(d devices.Device, site devices.Site, st reading.Status, received time.Time) []alerts.Finding {
	e.mu.Lock()
	defer e.mu.Unlock()
	b := batch{now: e.now(received)}
	e.status(&b, &d, &site, &st)
	return b.out
}

// WarmStatus feeds a past status message without raising anything (see Warm).
func (e *Engine) WarmStatus(d devices.Device, site devices.Site, st reading.Status, received time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	b := batch{warm: true, now: e.now(received)}
	e.status(&b, &d, &site, &st)
}

// Rejected evaluates one dead-lettered message or reading of a registered device, with its
// reason (a reading.Reason): implausible values count towards implausible_values, a future timestamp
// means the device's clock is ahead (clock_drift). Any rejection shows the device is alive.
func (e *Engine) Rejected(d devices.Device, site devices.Site, reason string, at time.Time) []alerts.Finding {
	e.mu.Lock()
	defer e.mu.Unlock()
	b := batch{now: e.now(at)}
	e.rejected(&b, &d, &site, reason)
	return b.out
}

// WarmRejected feeds a past rejection without raising anything (see Warm).
func (e *Engine) WarmRejected(d devices.Device, site devices.Site, reason string, at time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	b := batch{warm: true, now: e.now(at)}
	e.rejected(&b, &d, &site, reason)
}

// Track tells the engine the registry's current facts of a device (status, site, calibration
// date) and, when known, when it was last heard from. Call it at start for every device and
// when the registry changes one: a device that is in transit or under maintenance never goes
// offline, and one that never speaks again still does. It returns the findings the change
// causes (an offline fault resolved because the device left service; calibration done).
func (e *Engine) Track(d devices.Device, site devices.Site, lastSeen time.Time) []alerts.Finding {
	e.mu.Lock()
	defer e.mu.Unlock()
	b := batch{now: e.now(time.Time{})}
	ds := e.device(&b, &d, &site)
	if ds.lastSeen.Before(lastSeen) {
		ds.lastSeen = instantOf(lastSeen)
	}
	e.calibration(&b, ds, b.now)
	return b.out
}

// SetPatient tells the engine of a patient, their team, care plans and thresholds, and the site
// whose time zone their days are counted in. Call it at start for every patient with a care
// plan, and when a patient is transferred or their overrides change; readings update the same
// facts. A patient the engine has not heard of before starts their missed-measurement clock now.
func (e *Engine) SetPatient(p devices.Patient, site devices.Site, th *Thresholds) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now(time.Time{})
	ps := e.patient(&p, th, now)
	ps.loc = e.zone(site.TimeZone)
}

// Tick evaluates the time-driven rules at now (zero: the engine's clock): fall confirmation,
// device_offline, calibration_overdue, the end of repeated_errors and implausible_values,
// missed_measurement and bp_home_average. Call it every few seconds: a fall is raised at the
// first tick after its confirm window.
func (e *Engine) Tick(now time.Time) []alerts.Finding {
	e.mu.Lock()
	defer e.mu.Unlock()
	b := batch{now: e.now(now)}
	e.tickFalls(&b)
	// Devices and patients are independent: visit them in map order and sort what they
	// raise, so that the findings come in a deterministic order.
	from := len(b.out)
	for _, d := range e.devices {
		e.tickDevice(&b, d)
	}
	if d := b.now.Sub(e.patientsAt); d >= patientTick || d < 0 {
		for _, p := range e.patients {
			e.tickPatient(&b, p)
		}
		e.patientsAt = b.now
	}
	slices.SortStableFunc(b.out[from:], func(x, y alerts.Finding) int {
		return cmp.Or(cmp.Compare(x.Subject.Kind, y.Subject.Kind), cmp.Compare(x.Subject.ID, y.Subject.ID), cmp.Compare(x.Rule, y.Rule))
	})
	if b.now.Sub(e.forgotAt) >= time.Hour {
		e.forget(b.now)
		e.forgotAt = b.now
	}
	return b.out
}

// patientTick is how often Tick runs the patients' rules: missed measurements, judged in days,
// and the home blood-pressure average, once a local day. At a city's 100,000 patients the
// walk over them is most of a tick, which the devices' rules (offline, in minutes) need every
// few seconds.
const patientTick = time.Minute

func (e *Engine) now(t time.Time) time.Time {
	if t.IsZero() {
		return e.clock()
	}
	return t
}

// zone returns the location of an IANA zone name, UTC for "" or an unknown name.
func (e *Engine) zone(name string) *time.Location {
	if name == "" {
		return time.UTC
	}
	if loc, ok := e.zones[name]; ok {
		return loc
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		loc = time.UTC
	}
	if len(e.zones) < 1024 { // there are about 600 zone names
		e.zones[name] = loc
	}
	return loc
}

// readingCtx is what the rules of one reading need.
type readingCtx struct {
	flags []string // the message's
	th    *Thresholds
	p     *patientState
	d     *deviceState
	r     *reading.Reading
	late  bool
	doubt string
	// birthYear is the patient's (devices.Patient), 0 when unknown: the fever rise depends on
	// age.
	birthYear int
}

func (e *Engine) reading(b *batch, in *Input) {
	if in.Device.ID == "" {
		in.Device.ID = in.Message.Device
	}
	th := in.Thresholds
	if th == nil {
		th = &e.rules.base
	}
	d := e.device(b, &in.Device, &in.Site)
	e.deviceMessage(b, d, in)
	var p *patientState
	if in.Patient.ID != "" {
		p = e.patient(&in.Patient, th, b.now)
		p.loc = e.zone(in.Site.TimeZone)
	}
	msgDoubt := flagDoubt(in.Message.Flags)
	lateBefore := b.now.Add(-th.lateAfter)
	var newest time.Time
	for i := range in.Message.Readings {
		r := &in.Message.Readings[i]
		if r.Time.After(newest) {
			newest = r.Time
		}
		e.stuckSensor(b, d, in, r)
		if p == nil {
			if r.Type.IsEvent() {
				e.unassignedEvent(b, d, in, r, r.Time.Before(lateBefore))
			}
			continue
		}
		c := readingCtx{flags: in.Message.Flags, th: th, p: p, d: d, r: r, late: r.Time.Before(lateBefore), doubt: msgDoubt,
			birthYear: in.Patient.BirthYear}
		if c.doubt == "" {
			c.doubt = d.doubt(r.Time, &e.rules.base)
		}
		e.clinical(b, &c)
	}
	if len(e.falls) > 0 {
		e.fallsSeenPast(b, d.id, newest)
	}
}

// clinical runs the clinical rules of one reading.
func (e *Engine) clinical(b *batch, c *readingCtx) {
	c.p.activity(c.r.Type, c.r.Time)
	e.missedResolved(b, c)
	switch c.r.Type {
	case reading.Glucose:
		glucoseBands(b, c)
		if c.r.Source == "cgm" || (c.r.Source == "" && c.d.kind == devices.CGM) {
			cgmLowEpisode(b, c)
		}
	case reading.BP:
		bpCrisis(b, c)
		bpLow(b, c)
		bpHomeSeries(c)
	case reading.SpO2:
		spo2(b, c)
	case reading.HeartRate:
		heartRate(b, c)
	case reading.Temperature:
		e.fever(b, c)
	case reading.Weight:
		weightGain(b, c)
	case reading.Fall:
		e.fall(b, c)
	case reading.Cancel:
		e.cancel(b, c)
	case reading.SOS:
		sos(b, c)
	}
}

// finding starts a clinical finding of rule i at level lvl about the reading of c.
func (c *readingCtx) finding(i ruleIndex, lvl int, value string, ev ...alerts.Evidence) alerts.Finding {
	f := clinicalFinding(c.th, c.p, i, lvl, c.r.Time)
	f.Device = c.d.id
	f.Value = value
	f.Evidence = ev
	f.Late = c.late
	f.Doubt = c.doubt
	return f
}

// evidence returns the reading of c as evidence.
func (c *readingCtx) evidence() alerts.Evidence {
	return evidenceOf(c.d.id, c.r, c.flags)
}

func clinicalFinding(th *Thresholds, p *patientState, i ruleIndex, lvl int, at time.Time) alerts.Finding {
	return alerts.Finding{
		Rule:        catalogue[i].id,
		RuleVersion: th.version,
		Category:    alerts.Clinical,
		Severity:    th.sev(i, lvl),
		Subject:     alerts.Subject{Kind: "patient", ID: p.id},
		Patient:     p.id,
		Team:        p.team,
		At:          at,
		Thresholds:  th.used(i),
	}
}

func evidenceOf(device string, r *reading.Reading, flags []string) alerts.Evidence {
	ev := alerts.Evidence{Device: device, Measurement: measurementOf(r.Type), Time: r.Time}
	switch {
	case r.Type == reading.BP:
		ev.Systolic, ev.Diastolic = r.Systolic, r.Diastolic
	case !r.Type.IsEvent():
		ev.Value = r.Value
	}
	if len(flags) > 0 {
		ev.Flags = slices.Clone(flags)
	}
	return ev
}

// measurementOf is the InfluxDB measurement of a reading type (docs/design.md "InfluxDB schema").
func measurementOf(t reading.Type) string {
	if t.IsEvent() {
		return "event"
	}
	return string(t)
}

// flagDoubt returns the doubt of a message's quality flags, or "".
func flagDoubt(flags []string) string {
	for _, f := range flags {
		if reading.QualityFlag(f) {
			return "quality flag " + f
		}
	}
	return ""
}

// num formats a value without float noise.
func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// forget drops the state of patients without a care plan and of devices without an open
// fault that have been idle for longer than idleForget. Patients with a plan stay for
// missed_measurement; the registry bounds their number. A fever baseline goes with its
// patient, or when its newest reading is older than the longest baseline_window allows.
func (e *Engine) forget(now time.Time) {
	cutoff := now.Add(-idleForget)
	for id, p := range e.patients {
		if p.lastActivity.Before(cutoff) && p.planMask == 0 {
			delete(e.patients, id)
		}
	}
	oldest := now.Add(-seconds(catalogue[ruleFever].params[feverWindow].max))
	for id, s := range e.temps {
		if _, ok := e.patients[id]; !ok || len(s.recent) == 0 || s.recent[len(s.recent)-1].t.Before(oldest) {
			delete(e.temps, id)
		}
	}
	for id, d := range e.devices {
		if d.lastActivity.Before(cutoff) && !d.anyOpen() {
			delete(e.devices, id)
		}
	}
}

// evictPatients forgets the least recently active eighth of the patients.
func (e *Engine) evictPatients() {
	times := make([]instant, 0, len(e.patients))
	for _, p := range e.patients {
		times = append(times, p.lastActivity)
	}
	slices.Sort(times)
	cutoff := times[len(times)/8]
	for id, p := range e.patients {
		if p.lastActivity <= cutoff {
			delete(e.patients, id)
			delete(e.temps, id)
		}
	}
}

// evictDevices forgets the least recently active eighth of the devices.
func (e *Engine) evictDevices() {
	times := make([]instant, 0, len(e.devices))
	for _, d := range e.devices {
		times = append(times, d.lastActivity)
	}
	slices.Sort(times)
	cutoff := times[len(times)/8]
	for id, d := range e.devices {
		if d.lastActivity <= cutoff {
			delete(e.devices, id)
		}
	}
}
