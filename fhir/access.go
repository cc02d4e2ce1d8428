package fhir

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/vitalwatch/vitalwatch/access"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/errcode"
)

// Access, as the API checks it (docs/api.md "Who may do what"), read from the registry on every
// request: first the role (403 whatever the id), then the id (404), then the scope (403):
//   - patients, their readings, summaries and clinical alerts: a doctor of the patient's team
//     now, or an admin;
//   - devices: a fleet manager of the device's site, an admin, or a doctor for a device lent
//     now to a patient of their teams (as GET /api/v1/patients/{id}/devices shows it);
//   - teams and sites (Organization): every role.

// forbidden is a 403.
func forbidden(format string, args ...any) error {
	return errcode.Errorf(errcode.Forbidden, format, args...)
}

// mayPatients refuses a role that has no business with patients.
func mayPatients(p *access.Principal, what string) error {
	if p.IsAdmin() || p.Role == access.Doctor {
		return nil
	}
	return forbidden("a %s may not see %s: patients' data is for the doctors of their team", p.Role, what)
}

// patientFor returns the patient a FHIR id names when p may see them: 404 when there is none,
// 403 when they are of a team that is not p's.
func (s *Server) patientFor(ctx context.Context, p *access.Principal, id, what string) (devices.Patient, error) {
	if err := mayPatients(p, what); err != nil {
		return devices.Patient{}, err
	}
	part, ok := parseRegistryID("", id)
	if !ok {
		return devices.Patient{}, errcode.Errorf(errcode.NotFound, "no patient %s", id)
	}
	return s.patientByPart(ctx, p, part, id)
}

// patientByPart returns the patient part names (shown as id) when p may see them.
func (s *Server) patientByPart(ctx context.Context, p *access.Principal, part parsedPart, id string) (devices.Patient, error) {
	pid := part.Raw
	if part.Hash != "" {
		if pid = s.patientByHash(part); pid == "" {
			return devices.Patient{}, errcode.Errorf(errcode.NotFound, "no patient %s", id)
		}
	}
	pt, err := s.opts.Registry.GetPatient(ctx, pid)
	if errcode.Of(err) == errcode.NotFound {
		return pt, errcode.Errorf(errcode.NotFound, "no patient %s", id)
	}
	if err != nil {
		return pt, err
	}
	if !p.CanTeam(pt.TeamID) {
		return pt, forbidden("patient %s is of another team than yours", id)
	}
	return pt, nil
}

// patientParam reads a search's patient parameter: an id, "Patient/id" or the patient's URL.
func patientParam(v string) string {
	if i := strings.LastIndex(v, "Patient/"); i >= 0 {
		return v[i+len("Patient/"):]
	}
	return v
}

// patientByHash finds the registry id of a hashed patient id in the registry view.
func (s *Server) patientByHash(part parsedPart) string {
	var found string
	s.opts.Devices.Load().Patients(func(p *devices.Patient) bool {
		if part.Matches(p.ID) {
			found = p.ID
			return false
		}
		return true
	})
	return found
}

// deviceByID resolves a device's FHIR id to its registry id: "" when there is no such device.
func (s *Server) deviceByID(part parsedPart) string {
	if part.Hash == "" {
		return part.Raw
	}
	var found string
	s.opts.Devices.Load().Devices(func(d *devices.Device, _ []devices.Assignment) bool {
		if part.Matches(d.ID) {
			found = d.ID
			return false
		}
		return true
	})
	return found
}

// lentTo returns the patient device is lent to at t ("" for none), from the registry view.
func (s *Server) lentTo(device string, t time.Time) string {
	return s.opts.Devices.Load().PatientAt(device, t)
}

// deviceFor returns the device a FHIR id names when p may see it.
func (s *Server) deviceFor(ctx context.Context, p *access.Principal, id string) (devices.Device, error) {
	if !p.IsAdmin() && p.Role != access.FleetManager && p.Role != access.Doctor {
		return devices.Device{}, forbidden("a %s may not see devices", p.Role)
	}
	part, ok := parseRegistryID("", id)
	did := ""
	if ok {
		did = s.deviceByID(part)
	}
	if did == "" {
		return devices.Device{}, errcode.Errorf(errcode.NotFound, "no device %s", id)
	}
	d, err := s.opts.Registry.GetDevice(ctx, did)
	if err != nil {
		return d, err
	}
	return d, s.mayDevice(ctx, p, d)
}

// mayDevice refuses p a device outside its scope.
func (s *Server) mayDevice(ctx context.Context, p *access.Principal, d devices.Device) error {
	switch {
	case p.IsAdmin(), p.CanSite(d.SiteID):
		return nil
	case p.Role == access.Doctor:
		if pid := s.lentTo(d.ID, s.opts.Now()); pid != "" {
			pt, err := s.opts.Registry.GetPatient(ctx, pid)
			if err != nil && errcode.Of(err) != errcode.NotFound {
				return err
			}
			if err == nil && p.CanTeam(pt.TeamID) {
				return nil
			}
		}
		return forbidden("device %s is not lent to a patient of your teams", registryID("", d.ID))
	}
	return forbidden("device %s is at a site that is not yours", registryID("", d.ID))
}

// rowByID resolves the FHIR id of a team or site (without its prefix) to its registry id,
// paging through list for a hashed one; "" when there is none.
func rowByID[T any](ctx context.Context, part parsedPart, list func(context.Context, devices.ListOptions) ([]T, error), id func(T) string) (string, error) {
	if part.Hash == "" {
		return part.Raw, nil
	}
	after := ""
	for {
		page, err := list(ctx, devices.ListOptions{After: after, Limit: 1000})
		if err != nil {
			return "", err
		}
		if i := slices.IndexFunc(page, func(t T) bool { return part.Matches(id(t)) }); i >= 0 {
			return id(page[i]), nil
		}
		if len(page) < 1000 {
			return "", nil
		}
		after = id(page[len(page)-1])
	}
}
