package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/errcode"
)

// Moves keeps the moves of devices between sites and their steps, as registry changes.
type Moves struct{ *DB }

// NewMoves returns a Moves over db.
func NewMoves(db *DB) *Moves { return &Moves{db} }

// Moves of devices between sites (devices.Move). Each step is one registry change, audited as
// move.<action> on "move/<id>" (move.propose, move.approve, move.reject, move.dispatch,
// move.receive, move.cancel), with a device.update row on each device whose site or status it
// changes. The rules are checked inside the change's transaction, where the registry version's
// row lock keeps them true until it commits:
//   - at propose, and again at approve and dispatch, every device is at the donor site, of the
//     move's kind, active, not lent to a patient, and in no other open move;
//   - dispatch puts the devices in transit at the donor site, and receive makes them active at
//     the receiving site, each through placeDevice at the store's time, so that their periods
//     show the days in transit as out of service.

const moveColumns = `id, kind, from_site, to_site, state, reason, proposed_by, proposed_ms,
	decided_by, decided_ms, decision_note, dispatched_by, dispatched_ms, received_by, received_ms,
	cancelled_by, cancelled_ms, cancel_note`

// scanMove reads a move's row, without its devices.
func scanMove(sc scanner) (devices.Move, error) {
	var m devices.Move
	var proposed int64
	var decided, dispatched, received, cancelled sql.NullInt64
	err := sc.Scan(&m.ID, &m.Kind, &m.From, &m.To, &m.State, &m.Reason, &m.ProposedBy, &proposed,
		&m.DecidedBy, &decided, &m.DecisionNote, &m.DispatchedBy, &dispatched, &m.ReceivedBy, &received,
		&m.CancelledBy, &cancelled, &m.CancelNote)
	m.ProposedAt = time.UnixMilli(proposed).UTC()
	m.DecidedAt, m.DispatchedAt = fromMillis(decided), fromMillis(dispatched)
	m.ReceivedAt, m.CancelledAt = fromMillis(received), fromMillis(cancelled)
	return m, err
}

// ProposeMove records a proposed move of m.Devices, of kind m.Kind, from site m.From to site
// m.To, with m.Reason, proposed now by the context's actor; it returns the move as stored, with
// its ID and its devices sorted. Invalid for a move that fails Validate, a site or device that
// does not exist, a device that is not at m.From or not of m.Kind; Conflict for a device that
// is not active, is lent to a patient, or is in another open move.
func (s *Moves) ProposeMove(ctx context.Context, m devices.Move) (devices.Move, error) {
	m = devices.Move{Kind: m.Kind, From: m.From, To: m.To, Devices: slices.Clone(m.Devices), Reason: m.Reason}
	if err := m.Validate(); err != nil {
		return devices.Move{}, err
	}
	slices.Sort(m.Devices)
	err := s.mutate(ctx, "propose move", func(tx *sql.Tx, actor string) error {
		for _, site := range []string{m.From, m.To} {
			if err := mustExist(ctx, tx, "site", site, `SELECT 1 FROM sites WHERE id = $1`); err != nil {
				return err
			}
		}
		now := s.nowMillis()
		if err := checkMovable(ctx, tx, m, errcode.Invalid, now); err != nil {
			return err
		}
		m.State, m.ProposedBy, m.ProposedAt = devices.MoveProposed, actor, now
		err := tx.QueryRowContext(ctx, `INSERT INTO moves (kind, from_site, to_site, state, reason, proposed_by, proposed_ms)
			VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
			m.Kind, m.From, m.To, m.State, m.Reason, actor, now.UnixMilli()).Scan(&m.ID)
		if err != nil {
			return err
		}
		for _, d := range m.Devices {
			if _, err := tx.ExecContext(ctx, `INSERT INTO move_devices (move_id, device_id) VALUES ($1, $2)`, m.ID, d); err != nil {
				return err
			}
		}
		detail := struct {
			Kind    devices.Kind `json:"kind"`
			From    string       `json:"from"`
			To      string       `json:"to"`
			Devices []string     `json:"devices"`
			Reason  string       `json:"reason,omitempty"`
		}{m.Kind, m.From, m.To, m.Devices, m.Reason}
		return s.audit(ctx, tx, actor, "move.propose", moveSubject(m.ID), detail)
	})
	if err != nil {
		return devices.Move{}, err
	}
	return m, nil
}

// ApproveMove approves a proposed move, with an optional note, after checking its devices again
// as ProposeMove does (each refusal is then a Conflict); it returns the move as it now is.
// NotFound if there is no such move; Conflict if it is not proposed.
func (s *Moves) ApproveMove(ctx context.Context, id int64, note string) (devices.Move, error) {
	return s.stepMove(ctx, id, devices.ApproveMove, note)
}

// RejectMove rejects a proposed move, with an optional note, which frees its devices.
func (s *Moves) RejectMove(ctx context.Context, id int64, note string) (devices.Move, error) {
	return s.stepMove(ctx, id, devices.RejectMove, note)
}

// DispatchMove sends an approved move's devices on their way, after checking them again as
// ApproveMove does: each is now in transit, still at the donor site.
func (s *Moves) DispatchMove(ctx context.Context, id int64) (devices.Move, error) {
	return s.stepMove(ctx, id, devices.DispatchMove, "")
}

// ReceiveMove confirms that a dispatched move's devices arrived: each is now active at the
// receiving site.
func (s *Moves) ReceiveMove(ctx context.Context, id int64) (devices.Move, error) {
	return s.stepMove(ctx, id, devices.ReceiveMove, "")
}

// CancelMove calls off a proposed or approved move, with an optional note, which frees its
// devices. A move in transit cannot be cancelled: its devices are on the road.
func (s *Moves) CancelMove(ctx context.Context, id int64, note string) (devices.Move, error) {
	return s.stepMove(ctx, id, devices.CancelMove, note)
}

// stepMove takes move id through action, now, for the context's actor.
func (s *Moves) stepMove(ctx context.Context, id int64, action devices.MoveAction, note string) (devices.Move, error) {
	if err := devices.CheckMoveText("note", note); err != nil {
		return devices.Move{}, err
	}
	var out devices.Move
	err := s.mutate(ctx, string(action)+" "+moveSubject(id), func(tx *sql.Tx, actor string) error {
		m, err := getMove(ctx, tx, id)
		if err != nil {
			return err
		}
		was := m.State
		next, err := m.Step(action)
		if err != nil {
			return err
		}
		now := s.nowMillis()
		switch action {
		case devices.ApproveMove, devices.RejectMove:
			if action == devices.ApproveMove {
				if err := checkMovable(ctx, tx, m, errcode.Conflict, now); err != nil {
					return err
				}
			}
			m.DecidedBy, m.DecidedAt, m.DecisionNote = actor, now, note
		case devices.DispatchMove:
			if err := checkMovable(ctx, tx, m, errcode.Conflict, now); err != nil {
				return err
			}
			if err := s.placeMoved(ctx, tx, actor, m, m.From, devices.InTransit, now); err != nil {
				return err
			}
			m.DispatchedBy, m.DispatchedAt = actor, now
		case devices.ReceiveMove:
			if err := s.placeMoved(ctx, tx, actor, m, m.To, devices.Active, now); err != nil {
				return err
			}
			m.ReceivedBy, m.ReceivedAt = actor, now
		case devices.CancelMove:
			m.CancelledBy, m.CancelledAt, m.CancelNote = actor, now, note
		}
		m.State = next
		if _, err := tx.ExecContext(ctx, `UPDATE moves SET state = $2,
			decided_by = $3, decided_ms = $4, decision_note = $5, dispatched_by = $6, dispatched_ms = $7,
			received_by = $8, received_ms = $9, cancelled_by = $10, cancelled_ms = $11, cancel_note = $12
			WHERE id = $1`, m.ID, m.State,
			m.DecidedBy, millis(m.DecidedAt), m.DecisionNote, m.DispatchedBy, millis(m.DispatchedAt),
			m.ReceivedBy, millis(m.ReceivedAt), m.CancelledBy, millis(m.CancelledAt), m.CancelNote); err != nil {
			return err
		}
		if !next.Open() {
			if _, err := tx.ExecContext(ctx, `UPDATE move_devices SET holds = 0 WHERE move_id = $1`, m.ID); err != nil {
				return err
			}
		}
		detail := struct {
			Was   devices.MoveState `json:"was"`
			State devices.MoveState `json:"state"`
			Note  string            `json:"note,omitempty"`
		}{was, next, note}
		out = m
		return s.audit(ctx, tx, actor, "move."+string(action), moveSubject(m.ID), detail)
	})
	if err != nil {
		return devices.Move{}, err
	}
	return out, nil
}

// placeMoved sets every device of m to site and status at at, each with a device.update audit
// row. Every device must be as dispatch left it (in transit) or, for dispatch, as the checks
// just found it (active).
func (s *Moves) placeMoved(ctx context.Context, tx *sql.Tx, actor string, m devices.Move, site string, status devices.Status, at time.Time) error {
	want := devices.Active
	if status == devices.Active {
		want = devices.InTransit
	}
	for _, id := range m.Devices {
		d, err := getOne(ctx, tx, "device", id, `SELECT `+deviceColumns+` FROM devices WHERE id = $1`, scanDevice)
		if err != nil {
			return err
		}
		if d.Status != want || d.SiteID != m.From {
			return errcode.Errorf(errcode.Conflict, "device %s of move %d is %s at site %s; it should be %s at site %s",
				id, m.ID, d.Status, d.SiteID, want, m.From)
		}
		if err := placeDevice(ctx, tx, id, site, status, at); err != nil {
			return err
		}
		d.SiteID, d.Status = site, status
		if err := s.audit(ctx, tx, actor, "device.update", "device/"+id, deviceDetail(d)); err != nil {
			return err
		}
	}
	return nil
}

// checkMovable refuses a device of m that cannot move now: one that does not exist (Invalid);
// one that is not at m.From or not of m.Kind (mismatch: Invalid when proposing, Conflict when
// the device changed after the proposal); one that is not active, is lent to a patient at or
// after now, or is held by another open move (Conflict). The message names the device.
func checkMovable(ctx context.Context, tx *sql.Tx, m devices.Move, mismatch string, now time.Time) error {
	in := placeholders(1, len(m.Devices))
	ids := make([]any, len(m.Devices))
	for i, id := range m.Devices {
		ids[i] = id
	}
	found, err := queryAll(ctx, tx, `SELECT `+deviceColumns+` FROM devices WHERE id IN (`+in+`)`, ids, scanDevice)
	if err != nil {
		return err
	}
	byID := map[string]devices.Device{}
	for _, d := range found {
		byID[d.ID] = d
	}
	type loan struct {
		device, patient string
		until           sql.NullInt64
	}
	loans := map[string]loan{}
	lent, err := queryAll(ctx, tx, `SELECT device_id, patient_id, until_ms FROM assignments
		WHERE device_id IN (`+in+`) AND (until_ms IS NULL OR until_ms > $`+strconv.Itoa(len(ids)+1)+`)`,
		append(slices.Clone(ids), now.UnixMilli()), func(sc scanner) (loan, error) {
			var l loan
			return l, sc.Scan(&l.device, &l.patient, &l.until)
		})
	if err != nil {
		return err
	}
	for _, l := range lent {
		loans[l.device] = l
	}
	type hold struct {
		device string
		move   int64
		state  devices.MoveState
	}
	held := map[string]hold{}
	holds, err := queryAll(ctx, tx, `SELECT md.device_id, m.id, m.state FROM move_devices md JOIN moves m ON m.id = md.move_id
		WHERE md.holds = 1 AND md.move_id <> $`+strconv.Itoa(len(ids)+1)+` AND md.device_id IN (`+in+`)`,
		append(slices.Clone(ids), m.ID), func(sc scanner) (hold, error) {
			var h hold
			return h, sc.Scan(&h.device, &h.move, &h.state)
		})
	if err != nil {
		return err
	}
	for _, h := range holds {
		held[h.device] = h
	}
	for _, id := range m.Devices {
		d, ok := byID[id]
		switch {
		case !ok:
			return errcode.Errorf(errcode.Invalid, "device %s does not exist", id)
		case d.SiteID != m.From:
			return errcode.Errorf(mismatch, "device %s is at site %s, not at site %s where the move is from", id, d.SiteID, m.From)
		case d.Kind != m.Kind:
			return errcode.Errorf(mismatch, "device %s is a %s, not a %s as the move is", id, d.Kind, m.Kind)
		case d.Status != devices.Active:
			return errcode.Errorf(errcode.Conflict, "device %s is %s; only an active device can move", id, d.Status)
		}
		if l, ok := loans[id]; ok {
			if !l.until.Valid {
				return errcode.Errorf(errcode.Conflict, "device %s is lent to patient %s; return it before it moves", id, l.patient)
			}
			return errcode.Errorf(errcode.Conflict, "device %s is lent to patient %s until %s; it can move after that",
				id, l.patient, fromMillis(l.until).Format(time.RFC3339))
		}
		if h, ok := held[id]; ok {
			return errcode.Errorf(errcode.Conflict, "device %s is already in move %d, which is %s", id, h.move, h.state)
		}
	}
	return nil
}

// GetMove returns the move with the id and its devices; NotFound if there is none.
func (s *Moves) GetMove(ctx context.Context, id int64) (devices.Move, error) {
	m, err := getMove(ctx, s.db, id)
	var de *errcode.Error
	if err != nil && !errors.As(err, &de) {
		return m, fmt.Errorf("get %s: %w", moveSubject(id), err)
	}
	return m, err
}

// getMove reads a move and its devices.
func getMove(ctx context.Context, q querier, id int64) (devices.Move, error) {
	m, err := scanMove(q.QueryRowContext(ctx, `SELECT `+moveColumns+` FROM moves WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return m, errcode.Errorf(errcode.NotFound, "move %d not found", id)
	}
	if err != nil {
		return m, err
	}
	ds, err := moveDevices(ctx, q, []int64{id})
	m.Devices = ds[id]
	return m, err
}

// moveDevices returns the devices of each of the moves, sorted.
func moveDevices(ctx context.Context, q querier, ids []int64) (map[int64][]string, error) {
	out := map[int64][]string{}
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	type row struct {
		move   int64
		device string
	}
	rows, err := queryAll(ctx, q, `SELECT move_id, device_id FROM move_devices WHERE move_id IN (`+placeholders(1, len(ids))+`)
		ORDER BY move_id, device_id`, args, func(sc scanner) (row, error) {
		var r row
		return r, sc.Scan(&r.move, &r.device)
	})
	for _, r := range rows {
		out[r.move] = append(out[r.move], r.device)
	}
	return out, err
}

// ListMoves returns the moves that match f, newest first, with their devices.
func (s *Moves) ListMoves(ctx context.Context, f devices.MoveFilter) ([]devices.Move, error) {
	w := &where{}
	if f.State != "" {
		if !devices.MoveState(f.State).Valid() {
			return nil, errcode.Errorf(errcode.Invalid, "move state %q is not one of %v", f.State, devices.MoveStates)
		}
		w.add("state = ?", f.State)
	}
	if len(f.Sites) > 0 {
		var ps []string
		for _, site := range f.Sites {
			ps = append(ps, w.arg(site))
		}
		in := strings.Join(ps, ", ")
		w.conds = append(w.conds, "(from_site IN ("+in+") OR to_site IN ("+in+"))")
	}
	if f.Device != "" {
		w.add("id IN (SELECT move_id FROM move_devices WHERE device_id = ?)", f.Device)
	}
	if f.Before > 0 {
		w.add("id < ?", f.Before)
	}
	q := `SELECT ` + moveColumns + ` FROM moves` + w.sql() + ` ORDER BY id DESC LIMIT ` + w.arg(pageSize(f.Limit))
	ms, err := queryAll(ctx, s.readers, q, w.args, scanMove)
	if err != nil {
		return nil, fmt.Errorf("list moves: %w", err)
	}
	ids := make([]int64, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	ds, err := moveDevices(ctx, s.readers, ids)
	if err != nil {
		return nil, fmt.Errorf("list moves: %w", err)
	}
	for i := range ms {
		ms[i].Devices = ds[ms[i].ID]
	}
	return ms, nil
}

// moveSubject is a move's subject in the audit log.
func moveSubject(id int64) string { return "move/" + strconv.FormatInt(id, 10) }

// nowMillis is the store's time, to the millisecond, in UTC: as the move's times are kept.
func (s *DB) nowMillis() time.Time { return time.UnixMilli(s.now().UnixMilli()).UTC() }

// DevicesInOpenMoves returns the devices held by a proposed, approved or in-transit move.
func (s *Moves) DevicesInOpenMoves(ctx context.Context) (map[string]bool, error) {
	ids, err := queryAll(ctx, s.readers, `SELECT device_id FROM move_devices WHERE holds = 1`, nil, scanString)
	if err != nil {
		return nil, fmt.Errorf("devices in open moves: %w", err)
	}
	out := make(map[string]bool, len(ids))
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}

// OpenMoveArrivals returns, per receiving site and kind, how many devices the proposed,
// approved and in-transit moves to it hold, ordered by site and kind.
func (s *Moves) OpenMoveArrivals(ctx context.Context) ([]devices.Arrival, error) {
	out, err := queryAll(ctx, s.readers, `SELECT m.to_site, m.kind, COUNT(*) FROM moves m
		JOIN move_devices d ON d.move_id = m.id
		WHERE d.holds = 1 GROUP BY m.to_site, m.kind ORDER BY m.to_site, m.kind`, nil, func(sc scanner) (devices.Arrival, error) {
		var a devices.Arrival
		return a, sc.Scan(&a.Site, &a.Kind, &a.Devices)
	})
	if err != nil {
		return nil, fmt.Errorf("arrivals of open moves: %w", err)
	}
	return out, nil
}
