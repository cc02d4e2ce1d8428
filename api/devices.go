package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/vitalwatch/vitalwatch/access"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/errcode"
	"github.com/vitalwatch/vitalwatch/reading"
)

// Devices: a fleet manager sees, creates and changes the devices at their own sites, rotates
// their secrets and lends them to patients; an admin all of them; a doctor none.
func (a *API) deviceRoutes() chi.Router {
	r := chi.NewRouter()
	r.Get("/", a.registry(a.listDevices))
	r.Post("/", a.registry(a.createDevice))
	r.Post("/import", a.registry(a.importDevices))
	r.Get("/{id}", a.registry(a.getDevice))
	r.Patch("/{id}", a.registry(a.updateDevice))
	r.Post("/{id}/secret", a.registry(a.rotateSecret))
	r.Post("/{id}/assign", a.registry(a.assignDevice))
	r.Post("/{id}/return", a.registry(a.returnDevice))
	r.Get("/{id}/assignments", a.registry(a.listAssignments))
	r.Get("/{id}/alternatives", a.registry(a.alternatives)) // utilisation.go
	return r
}

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

// fleetManagers refuses a principal who may not work with devices at all.
func fleetManagers(p *access.Principal) error {
	return roleIn(p, "see or change devices", access.FleetManager)
}

// deviceFor returns the device of the path's id when p may see it: NotFound if there is none,
// Forbidden if it is at a site that is not p's.
func (a *API) deviceFor(r *http.Request, p *access.Principal) (devices.Device, error) {
	id, err := pathID(r)
	if err != nil {
		return devices.Device{}, err
	}
	d, err := a.opts.Registry.GetDevice(r.Context(), id)
	if err != nil {
		return d, err
	}
	if !p.CanSite(d.SiteID) {
		return d, forbidden("device %s is not at one of your sites", id)
	}
	return d, nil
}

func (a *API) listDevices(w http.ResponseWriter, r *http.Request, p *access.Principal) error {
	if err := fleetManagers(p); err != nil {
		return err
	}
	o, err := listParams(r, "site", "kind", "status", "mode")
	if err != nil {
		return err
	}
	var ds []devices.Device
	switch {
	case p.IsAdmin():
		ds, err = a.opts.Registry.ListDevices(r.Context(), o)
	case o.Site != "":
		if !p.CanSite(o.Site) {
			return forbidden("site %s is not one of yours", o.Site)
		}
		ds, err = a.opts.Registry.ListDevices(r.Context(), o)
	default:
		ds, err = listIn(r.Context(), o, p.Sites, func(o *devices.ListOptions, site string) { o.Site = site },
			a.opts.Registry.ListDevices, func(d devices.Device) string { return d.ID })
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pageOf(ds, o.Limit, func(d devices.Device) string { return d.ID }, deviceOut))
	return nil
}

func (a *API) getDevice(w http.ResponseWriter, r *http.Request, p *access.Principal) error {
	if err := fleetManagers(p); err != nil {
		return err
	}
	if _, err := queryParams(r); err != nil {
		return err
	}
	d, err := a.deviceFor(r, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, deviceOut(d))
	return nil
}

// createDevice creates a device with a new secret, which the answer shows once.
func (a *API) createDevice(w http.ResponseWriter, r *http.Request, p *access.Principal) error {
	if err := fleetManagers(p); err != nil {
		return err
	}
	if _, err := queryParams(r); err != nil {
		return err
	}
	j := deviceJSON{Status: string(devices.Active)}
	has, err := decodeBody(r, &j, nil)
	if err != nil {
		return err
	}
	if err := required(has, "id", "kind", "site", "mode"); err != nil {
		return err
	}
	// The id becomes the device's MQTT username and topic level: one no broker could take, or
	// that a platform MQTT user has, is the caller's mistake in the field id. The store refuses
	// it too; checking here names the field.
	var de *errcode.Error
	if err := devices.CheckNewDeviceID(j.ID); errors.As(err, &de) {
		return invalid("id: " + de.Message)
	}
	if !p.CanSite(j.Site) {
		return forbidden("site %s is not one of yours", j.Site)
	}
	secret := devices.NewSecret()
	d := j.device()
	d.SecretHash = devices.HashSecret(secret)
	if err := a.opts.Registry.CreateDevice(r.Context(), d); err != nil {
		return err
	}
	writeCreated(w, r, d.ID, newDeviceJSON{deviceJSON: deviceOut(d), Secret: secret})
	return nil
}

// updateDevice changes a device; a fleet manager may move it only between their own sites.
func (a *API) updateDevice(w http.ResponseWriter, r *http.Request, p *access.Principal) error {
	if err := fleetManagers(p); err != nil {
		return err
	}
	if _, err := queryParams(r); err != nil {
		return err
	}
	cur, err := a.deviceFor(r, p)
	if err != nil {
		return err
	}
	j := deviceOut(cur)
	if _, err := decodeBody(r, &j, map[string]string{
		"id":     "an id cannot change",
		"secret": "rotate it with POST /api/v1/devices/{id}/secret",
	}); err != nil {
		return err
	}
	if !p.CanSite(j.Site) {
		return forbidden("site %s is not one of yours", j.Site)
	}
	if err := a.opts.Registry.UpdateDevice(r.Context(), j.device()); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, j)
	return nil
}

// rotateSecret gives a device a new secret, shown once; the old one stops working.
func (a *API) rotateSecret(w http.ResponseWriter, r *http.Request, p *access.Principal) error {
	if err := fleetManagers(p); err != nil {
		return err
	}
	if _, err := queryParams(r); err != nil {
		return err
	}
	d, err := a.deviceFor(r, p)
	if err != nil {
		return err
	}
	if _, err := decodeBody(r, &struct{}{}, nil); err != nil {
		return err
	}
	secret := devices.NewSecret()
	if err := a.opts.Registry.SetDeviceSecret(r.Context(), d.ID, devices.HashSecret(secret)); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, deviceSecretJSON{Device: d.ID, Secret: secret})
	return nil
}

// assignDevice lends a device at p's sites to any patient: a fleet manager hands out devices
// without seeing the patients.
func (a *API) assignDevice(w http.ResponseWriter, r *http.Request, p *access.Principal) error {
	if err := fleetManagers(p); err != nil {
		return err
	}
	if _, err := queryParams(r); err != nil {
		return err
	}
	d, err := a.deviceFor(r, p)
	if err != nil {
		return err
	}
	var req assignRequest
	has, err := decodeBody(r, &req, nil)
	if err != nil {
		return err
	}
	if err := required(has, "patient"); err != nil {
		return err
	}
	if !reading.ValidID(req.Patient) {
		return invalid("patient: not an id (1-64 characters of A-Z a-z 0-9 . _ : -)")
	}
	if err := a.opts.Registry.AssignDevice(r.Context(), d.ID, req.Patient, timeOr(req.From)); err != nil {
		return err
	}
	return a.writeLastAssignment(w, r, d.ID)
}

// returnDevice ends the loan of a device at p's sites.
func (a *API) returnDevice(w http.ResponseWriter, r *http.Request, p *access.Principal) error {
	if err := fleetManagers(p); err != nil {
		return err
	}
	if _, err := queryParams(r); err != nil {
		return err
	}
	d, err := a.deviceFor(r, p)
	if err != nil {
		return err
	}
	var req returnRequest
	if _, err := decodeBody(r, &req, nil); err != nil {
		return err
	}
	if err := a.opts.Registry.ReturnDevice(r.Context(), d.ID, timeOr(req.At)); err != nil {
		return err
	}
	return a.writeLastAssignment(w, r, d.ID)
}

// writeLastAssignment answers with the device's latest loan, as just made or ended.
func (a *API) writeLastAssignment(w http.ResponseWriter, r *http.Request, deviceID string) error {
	as, err := a.opts.Registry.Assignments(r.Context(), deviceID)
	if err != nil {
		return err
	}
	if len(as) == 0 {
		return errors.New("the loan of " + deviceID + " is not recorded")
	}
	writeJSON(w, http.StatusOK, assignmentOut(as[len(as)-1]))
	return nil
}

func (a *API) listAssignments(w http.ResponseWriter, r *http.Request, p *access.Principal) error {
	if err := fleetManagers(p); err != nil {
		return err
	}
	if _, err := queryParams(r); err != nil {
		return err
	}
	d, err := a.deviceFor(r, p)
	if err != nil {
		return err
	}
	as, err := a.opts.Registry.Assignments(r.Context(), d.ID)
	if err != nil {
		return err
	}
	out := page[assignmentJSON]{Items: make([]assignmentJSON, 0, len(as))}
	for _, x := range as {
		out.Items = append(out.Items, assignmentOut(x))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
