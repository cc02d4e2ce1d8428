package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/vitalwatch/vitalwatch/devices"
)

const siteColumns = `id, name, district, address, lat, lon, time_zone, opening_hours`

func scanSite(sc scanner) (devices.Site, error) {
	var s devices.Site
	err := sc.Scan(&s.ID, &s.Name, &s.District, &s.Address, &s.Lat, &s.Lon, &s.TimeZone, &s.OpeningHours)
	return s, err
}

// siteDetail is a site as the audit log records it.
func siteDetail(s devices.Site) any {
	return struct {
		Name         string  `json:"name"`
		District     string  `json:"district"`
		Address      string  `json:"address"`
		Lat          float64 `json:"lat"`
		Lon          float64 `json:"lon"`
		TimeZone     string  `json:"time_zone"`
		OpeningHours string  `json:"opening_hours"`
	}{s.Name, s.District, s.Address, s.Lat, s.Lon, s.TimeZone, s.OpeningHours}
}

// CreateSite adds a site; Conflict if its id is taken.
func (s *Registry) CreateSite(ctx context.Context, site devices.Site) error {
	if err := site.Validate(); err != nil {
		return err
	}
	return s.change(ctx, "site.create", "site/"+site.ID, func(tx *sql.Tx) (any, error) {
		return insertSite(ctx, tx, site)
	})
}

// insertSite adds a valid site in tx and returns its audit detail; Conflict if its id is taken.
func insertSite(ctx context.Context, tx *sql.Tx, site devices.Site) (any, error) {
	if err := mustBeNew(ctx, tx, "site", site.ID, `SELECT 1 FROM sites WHERE id = $1`); err != nil {
		return nil, onField("id", err)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO sites (`+siteColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		site.ID, site.Name, site.District, site.Address, site.Lat, site.Lon, site.TimeZone, site.OpeningHours)
	return siteDetail(site), err
}

// UpdateSite replaces every field of the site with site.ID; NotFound if there is none.
func (s *Registry) UpdateSite(ctx context.Context, site devices.Site) error {
	if err := site.Validate(); err != nil {
		return err
	}
	return s.change(ctx, "site.update", "site/"+site.ID, func(tx *sql.Tx) (any, error) {
		res, err := tx.ExecContext(ctx, `UPDATE sites SET name = $2, district = $3, address = $4, lat = $5,
			lon = $6, time_zone = $7, opening_hours = $8 WHERE id = $1`,
			site.ID, site.Name, site.District, site.Address, site.Lat, site.Lon, site.TimeZone, site.OpeningHours)
		if err != nil {
			return nil, err
		}
		return siteDetail(site), updated(res, "site", site.ID)
	})
}

// GetSite returns the site with the id; NotFound if there is none.
func (s *Registry) GetSite(ctx context.Context, id string) (devices.Site, error) {
	return getOne(ctx, s.readers, "site", id, `SELECT `+siteColumns+` FROM sites WHERE id = $1`, scanSite)
}

// ListSites returns a page of sites by id. It takes no filter.
func (s *Registry) ListSites(ctx context.Context, o devices.ListOptions) ([]devices.Site, error) {
	if err := only(o, "sites"); err != nil {
		return nil, err
	}
	return list(ctx, s.DB, "sites", siteColumns, "sites", "id", &where{}, o, scanSite)
}

// AllSites returns every site, by id: there are few enough to hold at once.
func (s *Registry) AllSites(ctx context.Context) ([]devices.Site, error) {
	out, err := queryAll(ctx, s.readers, `SELECT `+siteColumns+` FROM sites ORDER BY id`, nil, scanSite)
	if err != nil {
		return nil, fmt.Errorf("all sites: %w", err)
	}
	return out, nil
}
