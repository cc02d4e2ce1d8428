package api

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vitalwatch/vitalwatch/devices"
	devstatus "github.com/vitalwatch/vitalwatch/devices/status"
	"github.com/vitalwatch/vitalwatch/errcode"
	"github.com/vitalwatch/vitalwatch/reading"
)

// Devices: a fleet manager sees, creates and changes the devices at their own sites, rotates
// their secrets and lends them to patients; an admin all of them; a doctor none.

// deviceJSON is a device as the API shows it (never its secret), and the body that creates one.
type deviceJSON struct {
	ID              string `json:"id"`
	Kind            string `json:"kind"`
	Site            string `json:"site"`
	Mode            string `json:"mode"`   // home or station
	Status          string `json:"status"` // active (the default), maintenance, in_transit (set by moves only) or retired
	Model           string `json:"model"`
	Serial          string `json:"serial"`
	Firmware        string `json:"firmware"`
	RatedUsesPerDay int    `json:"rated_uses_per_day"` // station devices
	// NextCalibration is when calibration is due; absent when not tracked.
	NextCalibration time.Time `json:"next_calibration,omitzero"`
	// InService is when the device entered service (utilisation counts its days from then);
	// absent: when it was registered.
	InService time.Time `json:"in_service,omitzero"`
}

func deviceOut(d devices.Device) deviceJSON {
	return deviceJSON{ID: d.ID, Kind: string(d.Kind), Site: d.SiteID, Mode: string(d.Mode), Status: string(d.Status),
		Model: d.Model, Serial: d.Serial, Firmware: d.Firmware, RatedUsesPerDay: d.RatedUsesPerDay,
		NextCalibration: d.NextCalibration, InService: d.InService}
}

// device is j as a registry device, without a secret.
func (j deviceJSON) device() devices.Device {
	return devices.Device{ID: j.ID, Kind: devices.Kind(j.Kind), SiteID: j.Site, Mode: devices.Mode(j.Mode),
		Status: devices.Status(j.Status), Model: j.Model, Serial: j.Serial, Firmware: j.Firmware,
		RatedUsesPerDay: j.RatedUsesPerDay, NextCalibration: j.NextCalibration, InService: j.InService}
}

// newDeviceJSON is a device just created, with the secret it signs in to MQTT with. The secret is
// shown this once; only its hash is kept.
type newDeviceJSON struct {
	deviceJSON
	Secret string `json:"secret"`
}

// deviceSecretJSON is a device's new MQTT secret, shown once.
type deviceSecretJSON struct {
	Device string `json:"device"`
	Secret string `json:"secret"`
}

// assignmentJSON is the loan of a home device to a patient.
type assignmentJSON struct {
	Device  string    `json:"device"`
	Patient string    `json:"patient"`
	From    time.Time `json:"from"`
	Until   time.Time `json:"until,omitzero"` // absent while lent
}

func assignmentOut(a devices.Assignment) assignmentJSON {
	return assignmentJSON{Device: a.DeviceID, Patient: a.PatientID, From: a.From, Until: a.Until}
}

// assignRequest lends a device to a patient.
type assignRequest struct {
	Patient string    `json:"patient"`
	From    time.Time `json:"from,omitzero"` // default now
}

// returnRequest ends a device's loan.
type returnRequest struct {
	At time.Time `json:"at,omitzero"` // default now
}

// deviceItemJSON is a device of the device list, with its live states when the server tracks
// them.
type deviceItemJSON struct {
	deviceJSON
	// States are the device's states, as GET /devices/{id}/status gives them; absent when the
	// server does not track the devices' live status.
	States *[]string `json:"states,omitempty"`
}

// listDevices serves the device list: a page by id, as the other registry lists are, each
// device with its states. With state=, only the devices in that state: the registry is read a
// page after another until the answer's page is full, so that next, passed as after=, goes on
// from the last device given.
func (a *API) listDevices(c *call) error {
	k := a.devices()
	o, err := listOptions(c.q)
	if err != nil {
		return err
	}
	want := devstatus.State(c.q.Get("state"))
	switch {
	case want != "" && !want.Valid():
		return invalid("state: " + strconv.Quote(string(want)) + " is not one of " + strings.Join(stateNames(), ", "))
	case want != "" && a.opts.DeviceStatus == nil:
		return errNoDeviceStatus
	case want == devstatus.Faulty && a.opts.Alerts == nil:
		return apiError(errcode.Unavailable, "state: faulty needs the alerts, which are not configured")
	case a.opts.DeviceStatus == nil:
		rows, err := k.listRows(c, o)
		if err != nil {
			return err
		}
		return c.reply(pageOf(rows, o.Limit, k.id, func(d devices.Device) deviceItemJSON { return deviceItemJSON{deviceJSON: deviceOut(d)} }))
	}
	faults, err := a.openFaults(c.Context(), "")
	if err != nil {
		return err
	}
	now := a.opts.DeviceStatus.Now()
	read := o
	if want != "" {
		read.Limit = 1000
	}
	items := []deviceItemJSON{}
	for {
		rows, err := k.listRows(c, read)
		if err != nil {
			return err
		}
		for i := range rows {
			states, _ := a.judge(&rows[i], faults, now)
			if want != "" && !slices.Contains(states, want) {
				continue
			}
			cs := codes(states)
			if items = append(items, deviceItemJSON{deviceJSON: deviceOut(rows[i]), States: &cs}); len(items) == o.Limit {
				break
			}
		}
		if len(items) == o.Limit || len(rows) < read.Limit {
			break
		}
		read.After = rows[len(rows)-1].ID
	}
	p := page[deviceItemJSON]{Items: items}
	if len(items) == o.Limit {
		p.Next = items[len(items)-1].ID
	}
	return c.reply(p)
}

// devices serves the devices' routes, each limited to the caller's sites. Devices are created
// and imported by their own handlers, which make their secrets.
func (a *API) devices() resource[devices.Device, deviceJSON] {
	return resource[devices.Device, deviceJSON]{reg: a.opts.Registry,
		get: Registry.GetDevice, list: Registry.ListDevices, update: Registry.UpdateDevice,
		id: func(d devices.Device) string { return d.ID }, out: deviceOut,
		in:      func(j deviceJSON) (devices.Device, error) { return j.device(), nil },
		scopeBy: "site", scopeOf: func(d devices.Device) string { return d.SiteID },
		outside: "device %s is not at one of your sites"}
}

// createDevice creates a device with a new secret, which the answer shows once.
func (a *API) createDevice(c *call) error {
	j := deviceJSON{Status: string(devices.Active)}
	if _, err := c.decode(&j); err != nil {
		return err
	}
	// The id becomes the device's MQTT username and topic level: one no broker could take, or
	// that a platform MQTT user has, is the caller's mistake in the field id. The store refuses
	// it too; checking here names the field.
	var de *errcode.Error
	if err := devices.CheckNewDeviceID(j.ID); errors.As(err, &de) {
		return invalidField("id", "id: "+de.Message)
	}
	d := j.device()
	if err := a.devices().mayHave(c.p, d); err != nil {
		return err
	}
	secret := devices.NewSecret()
	d.SecretHash = devices.HashSecret(secret)
	if err := a.opts.Registry.CreateDevice(c.Context(), d); err != nil {
		return err
	}
	return c.created(d.ID, newDeviceJSON{deviceJSON: deviceOut(d), Secret: secret})
}

// rotateSecret gives a device a new secret, shown once; the old one stops working.
func (a *API) rotateSecret(c *call) error {
	d, err := a.devices().one(c)
	if err != nil {
		return err
	}
	if _, err := c.decode(&struct{}{}); err != nil {
		return err
	}
	secret := devices.NewSecret()
	if err := a.opts.Registry.SetDeviceSecret(c.Context(), d.ID, devices.HashSecret(secret)); err != nil {
		return err
	}
	return c.reply(deviceSecretJSON{Device: d.ID, Secret: secret})
}

// assignDevice lends a device at the caller's sites to any patient: a fleet manager hands out
// devices without seeing the patients.
func (a *API) assignDevice(c *call) error {
	d, err := a.devices().one(c)
	if err != nil {
		return err
	}
	var req assignRequest
	if _, err := c.decode(&req); err != nil {
		return err
	}
	if !reading.ValidID(req.Patient) {
		return invalid("patient: not an id (1-64 characters of A-Z a-z 0-9 . _ : -)")
	}
	if err := a.opts.Registry.AssignDevice(c.Context(), d.ID, req.Patient, timeOr(req.From)); err != nil {
		return err
	}
	return a.replyLastAssignment(c, d.ID)
}

// returnDevice ends the loan of a device at the caller's sites.
func (a *API) returnDevice(c *call) error {
	d, err := a.devices().one(c)
	if err != nil {
		return err
	}
	var req returnRequest
	if _, err := c.decode(&req); err != nil {
		return err
	}
	if err := a.opts.Registry.ReturnDevice(c.Context(), d.ID, timeOr(req.At)); err != nil {
		return err
	}
	return a.replyLastAssignment(c, d.ID)
}

// replyLastAssignment answers with the device's latest loan, as just made or ended.
func (a *API) replyLastAssignment(c *call, deviceID string) error {
	as, err := a.opts.Registry.Assignments(c.Context(), deviceID)
	if err != nil {
		return err
	}
	if len(as) == 0 {
		return errors.New("the loan of " + deviceID + " is not recorded")
	}
	return c.reply(assignmentOut(as[len(as)-1]))
}

func (a *API) listAssignments(c *call) error {
	d, err := a.devices().one(c)
	if err != nil {
		return err
	}
	as, err := a.opts.Registry.Assignments(c.Context(), d.ID)
	if err != nil {
		return err
	}
	return c.reply(pageOf(as, 0, nil, assignmentOut))
}
