package api

import (
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/devices/csvimport"
)

// Sites (community health centres): everyone reads them; only an admin creates and changes them.

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

// sites serves the sites' routes.
func (a *API) sites() resource[devices.Site, siteJSON] {
	return resource[devices.Site, siteJSON]{reg: a.opts.Registry,
		get: Registry.GetSite, list: Registry.ListSites, create: Registry.CreateSite, createAll: Registry.CreateSites,
		update: Registry.UpdateSite, parse: csvimport.Sites,
		id: func(s devices.Site) string { return s.ID }, out: siteOut,
		in: func(j siteJSON) (devices.Site, error) { return j.site(), nil }}
}
