package api

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/vitalwatch/vitalwatch/access"
	"github.com/vitalwatch/vitalwatch/devices"
)

// Sites (community health centres): everyone reads them; only an admin creates and changes them.
func (a *API) siteRoutes() chi.Router {
	r := chi.NewRouter()
	r.Get("/", a.registry(a.listSites))
	r.Post("/", a.registry(a.createSite))
	r.Post("/import", a.registry(a.importSites))
	r.Get("/{id}", a.registry(a.getSite))
	r.Patch("/{id}", a.registry(a.updateSite))
	return r
}

// siteJSON is a site as the API shows it, and the body that creates one.
type siteJSON struct {
	ID           string  `json:"id"`
	Name         string  `json:"name"`
	District     string  `json:"district"`
	Address      string  `json:"address"`
	Lat          float64 `json:"lat"`
	Lon          float64 `json:"lon"`
	TimeZone     string  `json:"time_zone"` // IANA zone name
	OpeningHours string  `json:"opening_hours"`
}

func siteOut(s devices.Site) siteJSON {
	return siteJSON{ID: s.ID, Name: s.Name, District: s.District, Address: s.Address, Lat: s.Lat, Lon: s.Lon,
		TimeZone: s.TimeZone, OpeningHours: s.OpeningHours}
}

func (j siteJSON) site() devices.Site {
	return devices.Site{ID: j.ID, Name: j.Name, District: j.District, Address: j.Address, Lat: j.Lat, Lon: j.Lon,
		TimeZone: j.TimeZone, OpeningHours: j.OpeningHours}
}

// readers of sites and teams: every role; they hold nothing about people.
var everyone = []access.Role{access.Doctor, access.FleetManager}

func (a *API) listSites(w http.ResponseWriter, r *http.Request, p *access.Principal) error {
	if err := roleIn(p, "read sites", everyone...); err != nil {
		return err
	}
	o, err := listParams(r)
	if err != nil {
		return err
	}
	sites, err := a.opts.Registry.ListSites(r.Context(), o)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pageOf(sites, o.Limit, func(s devices.Site) string { return s.ID }, siteOut))
	return nil
}

func (a *API) getSite(w http.ResponseWriter, r *http.Request, p *access.Principal) error {
	if err := roleIn(p, "read sites", everyone...); err != nil {
		return err
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if _, err := queryParams(r); err != nil {
		return err
	}
	s, err := a.opts.Registry.GetSite(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, siteOut(s))
	return nil
}

func (a *API) createSite(w http.ResponseWriter, r *http.Request, p *access.Principal) error {
	if err := adminOnly(p, "create sites"); err != nil {
		return err
	}
	if _, err := queryParams(r); err != nil {
		return err
	}
	var j siteJSON
	has, err := decodeBody(r, &j, nil)
	if err != nil {
		return err
	}
	if err := required(has, "id", "name"); err != nil {
		return err
	}
	if err := a.opts.Registry.CreateSite(r.Context(), j.site()); err != nil {
		return err
	}
	writeCreated(w, r, j.ID, siteOut(j.site()))
	return nil
}

func (a *API) updateSite(w http.ResponseWriter, r *http.Request, p *access.Principal) error {
	if err := adminOnly(p, "change sites"); err != nil {
		return err
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if _, err := queryParams(r); err != nil {
		return err
	}
	cur, err := a.opts.Registry.GetSite(r.Context(), id)
	if err != nil {
		return err
	}
	j := siteOut(cur)
	if _, err := decodeBody(r, &j, map[string]string{"id": "an id cannot change"}); err != nil {
		return err
	}
	if err := a.opts.Registry.UpdateSite(r.Context(), j.site()); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, j)
	return nil
}
