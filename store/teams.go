package store

import (
	"context"
	"database/sql"

	"github.com/vitalwatch/vitalwatch/devices"
)

const teamColumns = `id, site_id, name`

func scanTeam(sc scanner) (devices.Team, error) {
	var t devices.Team
	err := sc.Scan(&t.ID, &t.SiteID, &t.Name)
	return t, err
}

// teamDetail is a team as the audit log records it.
func teamDetail(t devices.Team) any {
	return struct {
		Site string `json:"site"`
		Name string `json:"name"`
	}{t.SiteID, t.Name}
}

// CreateTeam adds a team at an existing site; Conflict if its id is taken.
func (s *Store) CreateTeam(ctx context.Context, team devices.Team) error {
	if err := team.Validate(); err != nil {
		return err
	}
	return s.change(ctx, "team.create", "team/"+team.ID, func(tx *sql.Tx) (any, error) {
		return insertTeam(ctx, tx, team)
	})
}

// insertTeam adds a valid team in tx and returns its audit detail; Conflict if its id is taken,
// Invalid if its site does not exist.
func insertTeam(ctx context.Context, tx *sql.Tx, team devices.Team) (any, error) {
	if err := mustBeNew(ctx, tx, "team", team.ID, `SELECT 1 FROM teams WHERE id = $1`); err != nil {
		return nil, err
	}
	if err := mustExist(ctx, tx, "site", team.SiteID, `SELECT 1 FROM sites WHERE id = $1`); err != nil {
		return nil, err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO teams (`+teamColumns+`) VALUES ($1, $2, $3)`,
		team.ID, team.SiteID, team.Name)
	return teamDetail(team), err
}

// UpdateTeam replaces the team's name and site; NotFound if there is no such team.
func (s *Store) UpdateTeam(ctx context.Context, team devices.Team) error {
	if err := team.Validate(); err != nil {
		return err
	}
	return s.change(ctx, "team.update", "team/"+team.ID, func(tx *sql.Tx) (any, error) {
		if err := mustFind(ctx, tx, "team", team.ID, `SELECT 1 FROM teams WHERE id = $1`); err != nil {
			return nil, err
		}
		if err := mustExist(ctx, tx, "site", team.SiteID, `SELECT 1 FROM sites WHERE id = $1`); err != nil {
			return nil, err
		}
		_, err := tx.ExecContext(ctx, `UPDATE teams SET site_id = $2, name = $3 WHERE id = $1`,
			team.ID, team.SiteID, team.Name)
		return teamDetail(team), err
	})
}

// GetTeam returns the team with the id; NotFound if there is none.
func (s *Store) GetTeam(ctx context.Context, id string) (devices.Team, error) {
	return getOne(ctx, s.db, "team", id, `SELECT `+teamColumns+` FROM teams WHERE id = $1`, scanTeam)
}

// ListTeams returns a page of teams by id, optionally of one site.
func (s *Store) ListTeams(ctx context.Context, o ListOptions) ([]devices.Team, error) {
	if err := o.only("teams", "site"); err != nil {
		return nil, err
	}
	w := &where{}
	if o.Site != "" {
		w.add("site_id = ?", o.Site)
	}
	return list(ctx, s, "teams", teamColumns, "teams", "id", w, o, scanTeam)
}
