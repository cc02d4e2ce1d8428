package api

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/vitalwatch/vitalwatch/access"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/errcode"
)

// Teams (family-doctor teams at a site): everyone reads them; only an admin creates and changes
// them.
func (a *API) teamRoutes() chi.Router {
	r := chi.NewRouter()
	r.Get("/", a.registry(a.listTeams))
	r.Post("/", a.registry(a.createTeam))
	r.Post("/import", a.registry(a.importTeams))
	r.Get("/{id}", a.registry(a.getTeam))
	r.Patch("/{id}", a.registry(a.updateTeam))
	return r
}

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

func (a *API) listTeams(w http.ResponseWriter, r *http.Request, p *access.Principal) error {
	if err := roleIn(p, "read teams", everyone...); err != nil {
		return err
	}
	o, err := listParams(r, "site")
	if err != nil {
		return err
	}
	teams, err := a.opts.Registry.ListTeams(r.Context(), o)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pageOf(teams, o.Limit, func(t devices.Team) string { return t.ID }, teamOut))
	return nil
}

func (a *API) getTeam(w http.ResponseWriter, r *http.Request, p *access.Principal) error {
	if err := roleIn(p, "read teams", everyone...); err != nil {
		return err
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if _, err := queryParams(r); err != nil {
		return err
	}
	t, err := a.opts.Registry.GetTeam(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, teamOut(t))
	return nil
}

func (a *API) createTeam(w http.ResponseWriter, r *http.Request, p *access.Principal) error {
	if err := adminOnly(p, "create teams"); err != nil {
		return err
	}
	if _, err := queryParams(r); err != nil {
		return err
	}
	var j teamJSON
	has, err := decodeBody(r, &j, nil)
	if err != nil {
		return err
	}
	if err := required(has, "id", "site", "name"); err != nil {
		return err
	}
	team, err := j.team()
	if err != nil {
		return err
	}
	if err := a.opts.Registry.CreateTeam(r.Context(), team); err != nil {
		return err
	}
	writeCreated(w, r, j.ID, teamOut(team))
	return nil
}

func (a *API) updateTeam(w http.ResponseWriter, r *http.Request, p *access.Principal) error {
	if err := adminOnly(p, "change teams"); err != nil {
		return err
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	if _, err := queryParams(r); err != nil {
		return err
	}
	cur, err := a.opts.Registry.GetTeam(r.Context(), id)
	if err != nil {
		return err
	}
	j := teamOut(cur)
	if _, err := decodeBody(r, &j, map[string]string{"id": "an id cannot change"}); err != nil {
		return err
	}
	team, err := j.team()
	if err != nil {
		return err
	}
	if err := a.opts.Registry.UpdateTeam(r.Context(), team); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, teamOut(team))
	return nil
}
