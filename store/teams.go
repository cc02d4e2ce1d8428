package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/errcode"
)

const teamColumns = `id, site_id, name, lead, on_call, ack_within_ms`

func scanTeam(sc scanner) (devices.Team, error) {
	var t devices.Team
	var onCall string
	var ackWithin int64
	if err := sc.Scan(&t.ID, &t.SiteID, &t.Name, &t.Lead, &onCall, &ackWithin); err != nil {
		return t, err
	}
	t.AckWithin = time.Duration(ackWithin) * time.Millisecond
	if err := json.Unmarshal([]byte(onCall), &t.OnCall); err != nil {
		return t, fmt.Errorf("team %s: on-call roster: %w", t.ID, err)
	}
	if len(t.OnCall) == 0 {
		t.OnCall = nil
	}
	return t, nil
}

// teamDetail is a team as the audit log records it.
func teamDetail(t devices.Team) any {
	return struct {
		Site      string   `json:"site"`
		Name      string   `json:"name"`
		Lead      string   `json:"lead,omitempty"`
		OnCall    []string `json:"on_call,omitempty"`
		AckWithin string   `json:"ack_within,omitempty"`
	}{t.SiteID, t.Name, t.Lead, t.OnCall, ackWithinText(t.AckWithin)}
}

// ackWithinText is a team's acknowledgement time for the audit log: empty for the default.
func ackWithinText(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

// onCallJSON is the stored form of a roster.
func onCallJSON(t devices.Team) string {
	b, _ := json.Marshal(append([]string{}, t.OnCall...))
	return string(b)
}

// checkRoster makes sure the team's lead and on-call users are enabled doctors of the team
// itself: a page must never go to someone outside it.
func checkRoster(ctx context.Context, tx *sql.Tx, t devices.Team) error {
	people := t.OnCall
	if t.Lead != "" {
		people = append([]string{t.Lead}, people...)
	}
	for _, u := range people {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM users u JOIN user_teams ut ON ut.user_id = u.id
			WHERE u.id = $1 AND ut.team_id = $2 AND u.role = 'doctor' AND u.disabled = 0`, u, t.ID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			field := "on_call"
			if u == t.Lead {
				field = "lead"
			}
			return errcode.FieldErrorf(errcode.Invalid, field, "user %s is not an enabled doctor of team %s, so cannot lead it or be on its roster", u, t.ID)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// CreateTeam adds a team at an existing site; Conflict if its id is taken.
func (s *Registry) CreateTeam(ctx context.Context, team devices.Team) error {
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
		return nil, onField("id", err)
	}
	if err := mustExist(ctx, tx, "site", team.SiteID, `SELECT 1 FROM sites WHERE id = $1`); err != nil {
		return nil, onField("site", err)
	}
	if err := checkRoster(ctx, tx, team); err != nil {
		return nil, err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO teams (`+teamColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`,
		team.ID, team.SiteID, team.Name, team.Lead, onCallJSON(team), team.AckWithin.Milliseconds())
	return teamDetail(team), err
}

// UpdateTeam replaces the team's name, site, lead, on-call roster and acknowledgement time; NotFound if there is no
// such team.
func (s *Registry) UpdateTeam(ctx context.Context, team devices.Team) error {
	if err := team.Validate(); err != nil {
		return err
	}
	return s.change(ctx, "team.update", "team/"+team.ID, func(tx *sql.Tx) (any, error) {
		if err := mustFind(ctx, tx, "team", team.ID, `SELECT 1 FROM teams WHERE id = $1`); err != nil {
			return nil, err
		}
		if err := mustExist(ctx, tx, "site", team.SiteID, `SELECT 1 FROM sites WHERE id = $1`); err != nil {
			return nil, onField("site", err)
		}
		if err := checkRoster(ctx, tx, team); err != nil {
			return nil, err
		}
		_, err := tx.ExecContext(ctx, `UPDATE teams SET site_id = $2, name = $3, lead = $4, on_call = $5, ack_within_ms = $6
			WHERE id = $1`, team.ID, team.SiteID, team.Name, team.Lead, onCallJSON(team), team.AckWithin.Milliseconds())
		return teamDetail(team), err
	})
}

// GetTeam returns the team with the id; NotFound if there is none.
func (s *Registry) GetTeam(ctx context.Context, id string) (devices.Team, error) {
	return getOne(ctx, s.readers, "team", id, `SELECT `+teamColumns+` FROM teams WHERE id = $1`, scanTeam)
}

// ListTeams returns a page of teams by id, optionally of one site.
func (s *Registry) ListTeams(ctx context.Context, o devices.ListOptions) ([]devices.Team, error) {
	if err := only(o, "teams", "site"); err != nil {
		return nil, err
	}
	w := &where{}
	if o.Site != "" {
		w.add("site_id = ?", o.Site)
	}
	return list(ctx, s.DB, "teams", teamColumns, "teams", "id", w, o, scanTeam)
}
