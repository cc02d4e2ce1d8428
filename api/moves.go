package api

import (
	"context"
	"strconv"
	"time"

	"github.com/vitalwatch/vitalwatch/access"
	"github.com/vitalwatch/vitalwatch/devices"
)

// Moves of devices between sites, with their chain of custody (devices.Move). Who may do what,
// after the role (a doctor gets 403 whatever the id) and the id (404):
//   - see a move: a fleet manager of its donor or its receiving site, or an admin;
//   - propose one: a fleet manager of either site, or an admin;
//   - approve, reject or dispatch it: a fleet manager of the donor site, where the devices are;
//   - confirm its receipt: a fleet manager of the receiving site;
//   - cancel it: whoever proposed it, or a fleet manager of the donor site;
//
// and an admin may do each. Anyone else gets 403, saying who may.

type moveRegistry interface {
	ProposeMove(ctx context.Context, m devices.Move) (devices.Move, error)
	GetMove(ctx context.Context, id int64) (devices.Move, error)
	ListMoves(ctx context.Context, f devices.MoveFilter) ([]devices.Move, error)
	ApproveMove(ctx context.Context, id int64, note string) (devices.Move, error)
	RejectMove(ctx context.Context, id int64, note string) (devices.Move, error)
	DispatchMove(ctx context.Context, id int64) (devices.Move, error)
	ReceiveMove(ctx context.Context, id int64) (devices.Move, error)
	CancelMove(ctx context.Context, id int64, note string) (devices.Move, error)
}

// moveJSON is a move as the API shows it: its devices, its state and who took each step, when.
// People are named as in the audit log (user:<user id>).
type moveJSON struct {
	ID           int64     `json:"id"`
	Kind         string    `json:"kind"`
	From         string    `json:"from"` // the donor site
	To           string    `json:"to"`   // the receiving site
	Devices      []string  `json:"devices"`
	State        string    `json:"state"`
	Reason       string    `json:"reason"`
	ProposedBy   string    `json:"proposed_by"`
	ProposedAt   time.Time `json:"proposed_at"`
	DecidedBy    string    `json:"decided_by,omitempty"` // who approved or rejected it
	DecidedAt    time.Time `json:"decided_at,omitzero"`
	DecisionNote string    `json:"decision_note,omitempty"`
	DispatchedBy string    `json:"dispatched_by,omitempty"`
	DispatchedAt time.Time `json:"dispatched_at,omitzero"`
	ReceivedBy   string    `json:"received_by,omitempty"`
	ReceivedAt   time.Time `json:"received_at,omitzero"`
	CancelledBy  string    `json:"cancelled_by,omitempty"`
	CancelledAt  time.Time `json:"cancelled_at,omitzero"`
	CancelNote   string    `json:"cancel_note,omitempty"`
}

func moveOut(m devices.Move) moveJSON {
	ds := m.Devices
	if ds == nil {
		ds = []string{}
	}
	return moveJSON{ID: m.ID, Kind: string(m.Kind), From: m.From, To: m.To, Devices: ds, State: string(m.State),
		Reason: m.Reason, ProposedBy: m.ProposedBy, ProposedAt: m.ProposedAt,
		DecidedBy: m.DecidedBy, DecidedAt: m.DecidedAt, DecisionNote: m.DecisionNote,
		DispatchedBy: m.DispatchedBy, DispatchedAt: m.DispatchedAt, ReceivedBy: m.ReceivedBy, ReceivedAt: m.ReceivedAt,
		CancelledBy: m.CancelledBy, CancelledAt: m.CancelledAt, CancelNote: m.CancelNote}
}

// moveRequest proposes a move.
type moveRequest struct {
	Kind    string   `json:"kind"`
	From    string   `json:"from"`
	To      string   `json:"to"`
	Devices []string `json:"devices"` // 1-100 distinct devices of the kind, at from
	Reason  string   `json:"reason"`  // up to 1000 characters, e.g. the reallocation plan's explanation
}

// moveNoteRequest approves, rejects or cancels a move, with a note of up to 1000 characters.
type moveNoteRequest struct {
	Note string `json:"note"`
}

// moveFor returns the move of the path's id when the caller may see it: NotFound if there is
// none, Forbidden if neither of its sites is the caller's.
func (a *API) moveFor(c *call) (devices.Move, error) {
	return byNumber(c, "a move", a.opts.Registry.GetMove, func(m devices.Move) error {
		if !c.p.CanSite(m.From) && !c.p.CanSite(m.To) {
			return forbidden("move %d is neither from nor to one of your sites", m.ID)
		}
		return nil
	})
}

// mayStep refuses p the action on m unless p is who the action needs (see the top of the file).
func mayStep(p *access.Principal, m devices.Move, action devices.MoveAction) error {
	switch {
	case p.IsAdmin():
		return nil
	case action == devices.ReceiveMove:
		if !p.CanSite(m.To) {
			return forbidden("only a fleet manager of %s, the receiving site, or an admin may confirm that move %d arrived", m.To, m.ID)
		}
	case action == devices.CancelMove:
		if !p.CanSite(m.From) && m.ProposedBy != auditActor(p) {
			return forbidden("only whoever proposed move %d, a fleet manager of %s, the donor site, or an admin may cancel it", m.ID, m.From)
		}
	default:
		if !p.CanSite(m.From) {
			return forbidden("only a fleet manager of %s, the donor site, or an admin may %s move %d", m.From, action, m.ID)
		}
	}
	return nil
}

// listMoves serves GET /api/v1/moves?state=&site=&device=&before=&limit=, newest first: all of
// them to an admin, those from or to their sites to a fleet manager. A page's next is the
// cursor for before=.
func (a *API) listMoves(c *call) error {
	p, q := c.p, c.q
	f := devices.MoveFilter{State: q.Get("state"), Device: q.Get("device")}
	if f.State != "" && !devices.MoveState(f.State).Valid() {
		return invalid("state: " + strconv.Quote(f.State) + " is not a move state")
	}
	if err := idParams(q, "device", "site"); err != nil {
		return err
	}
	switch site := q.Get("site"); {
	case site != "" && !p.CanSite(site):
		return forbidden("site %s is not one of yours", site)
	case site != "":
		f.Sites = []string{site}
	case !p.IsAdmin():
		if len(p.Sites) == 0 {
			return c.reply(page[moveJSON]{Items: []moveJSON{}})
		}
		f.Sites = p.Sites
	}
	var err error
	if f.Before, f.Limit, err = pageParams(q, "before"); err != nil {
		return err
	}
	ms, err := a.opts.Registry.ListMoves(c.Context(), f)
	if err != nil {
		return err
	}
	return c.reply(pageOf(ms, f.Limit, func(m devices.Move) string { return strconv.FormatInt(m.ID, 10) }, moveOut))
}

// proposeMove serves POST /api/v1/moves: a fleet manager proposes moves from or to their sites.
func (a *API) proposeMove(c *call) error {
	var req moveRequest
	if _, err := c.decode(&req); err != nil {
		return err
	}
	if !c.p.CanSite(req.From) && !c.p.CanSite(req.To) {
		return forbidden("neither %s nor %s is one of your sites", req.From, req.To)
	}
	m, err := a.opts.Registry.ProposeMove(c.Context(), devices.Move{Kind: devices.Kind(req.Kind), From: req.From, To: req.To,
		Devices: req.Devices, Reason: req.Reason})
	if err != nil {
		return err
	}
	return c.created(strconv.FormatInt(m.ID, 10), moveOut(m))
}

func (a *API) getMove(c *call) error {
	m, err := a.moveFor(c)
	if err != nil {
		return err
	}
	return c.reply(moveOut(m))
}

// stepMove serves POST /api/v1/moves/{id}/{action}. Approve, reject and cancel take an
// optional note; dispatch and receive take no body.
func (a *API) stepMove(action devices.MoveAction) handler {
	return func(c *call) error {
		m, err := a.moveFor(c)
		if err != nil {
			return err
		}
		if err := mayStep(c.p, m, action); err != nil {
			return err
		}
		reg, ctx := a.opts.Registry, c.Context()
		switch action {
		case devices.DispatchMove, devices.ReceiveMove:
			if _, err := c.decode(&struct{}{}); err != nil {
				return err
			}
			if action == devices.DispatchMove {
				m, err = reg.DispatchMove(ctx, m.ID)
			} else {
				m, err = reg.ReceiveMove(ctx, m.ID)
			}
		default:
			var req moveNoteRequest
			if _, err := c.decode(&req); err != nil {
				return err
			}
			switch action {
			case devices.ApproveMove:
				m, err = reg.ApproveMove(ctx, m.ID, req.Note)
			case devices.RejectMove:
				m, err = reg.RejectMove(ctx, m.ID, req.Note)
			default:
				m, err = reg.CancelMove(ctx, m.ID, req.Note)
			}
		}
		if err != nil {
			return err
		}
		return c.reply(moveOut(m))
	}
}

// moveStateNames lists the move states.
func moveStateNames() []string {
	out := make([]string, len(devices.MoveStates))
	for i, s := range devices.MoveStates {
		out[i] = string(s)
	}
	return out
}
