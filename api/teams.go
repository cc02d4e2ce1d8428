package api

import (
	"time"

	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/devices/csvimport"
	"github.com/vitalwatch/vitalwatch/errcode"
)

// Teams (family-doctor teams at a site): everyone reads them; only an admin creates and changes
// them.

// teamJSON is a team as the API shows it, and the body that creates one.
type teamJSON struct {
	ID   string `json:"id"`
	Site string `json:"site"`
	Name string `json:"name"`
	// Lead and OnCall are user ids of doctors of the team: who urgent alerts escalate to.
	Lead   string   `json:"lead"`
	OnCall []string `json:"on_call"`
	// AckWithin is how long an urgent alert may wait for acknowledgement before it escalates,
	// a duration such as "10m"; "" is the server's default (alerts.escalate_after).
	AckWithin string `json:"ack_within"`
}

func teamOut(t devices.Team) teamJSON {
	j := teamJSON{ID: t.ID, Site: t.SiteID, Name: t.Name, Lead: t.Lead, OnCall: append([]string{}, t.OnCall...)}
	if t.AckWithin != 0 {
		j.AckWithin = t.AckWithin.String()
	}
	return j
}

func (j teamJSON) team() (devices.Team, error) {
	t := devices.Team{ID: j.ID, SiteID: j.Site, Name: j.Name, Lead: j.Lead, OnCall: j.OnCall}
	if j.AckWithin != "" {
		d, err := time.ParseDuration(j.AckWithin)
		if err != nil {
			return t, errcode.Errorf(errcode.Invalid, "ack_within: %q is not a duration such as 15m", j.AckWithin)
		}
		t.AckWithin = d
	}
	return t, nil
}

// teams serves the teams' routes.
func (a *API) teams() resource[devices.Team, teamJSON] {
	return resource[devices.Team, teamJSON]{reg: a.opts.Registry,
		get: Registry.GetTeam, list: Registry.ListTeams, create: Registry.CreateTeam, createAll: Registry.CreateTeams,
		update: Registry.UpdateTeam, parse: csvimport.Teams,
		id: func(t devices.Team) string { return t.ID }, out: teamOut, in: teamJSON.team}
}
