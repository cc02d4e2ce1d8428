package devices

import (
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vitalwatch/vitalwatch/errcode"
	"github.com/vitalwatch/vitalwatch/reading"
)

// A Move sends devices of one kind from one site (the donor) to another, with a chain of
// custody: it is proposed (by a fleet manager, usually on the reallocation planner's advice),
// approved or rejected by the donor's fleet manager, dispatched, which puts its devices in
// transit, and received by the receiving site, which places them there. Until it is received or
// comes to an end, it holds its devices: none of them can be in another move.

// MoveState is where a move stands.
type MoveState string

// Move states.
const (
	MoveProposed  MoveState = "proposed"
	MoveApproved  MoveState = "approved"
	MoveRejected  MoveState = "rejected"
	MoveInTransit MoveState = "in_transit" // dispatched: its devices are in transit
	MoveReceived  MoveState = "received"   // its devices are active at the receiving site
	MoveCancelled MoveState = "cancelled"
)

// MoveStates lists every move state, in the order a move goes through them.
var MoveStates = []MoveState{MoveProposed, MoveApproved, MoveRejected, MoveInTransit, MoveReceived, MoveCancelled}

// Valid reports whether s is a known move state.
func (s MoveState) Valid() bool { return slices.Contains(MoveStates, s) }

// Open reports whether a move in state s still holds its devices: proposed, approved or in
// transit.
func (s MoveState) Open() bool {
	return s == MoveProposed || s == MoveApproved || s == MoveInTransit
}

// MoveAction is a step that takes a move from one state to another.
type MoveAction string

// Move actions.
const (
	ApproveMove  MoveAction = "approve"
	RejectMove   MoveAction = "reject"
	DispatchMove MoveAction = "dispatch"
	ReceiveMove  MoveAction = "receive"
	CancelMove   MoveAction = "cancel"
)

// MoveActions lists every move action.
var MoveActions = []MoveAction{ApproveMove, RejectMove, DispatchMove, ReceiveMove, CancelMove}

// moveSteps is the state machine: from each state, the states each action leads to. A state
// that is not a key, and an action that is not listed under a state, allows nothing.
var moveSteps = map[MoveState]map[MoveAction]MoveState{
	MoveProposed:  {ApproveMove: MoveApproved, RejectMove: MoveRejected, CancelMove: MoveCancelled},
	MoveApproved:  {DispatchMove: MoveInTransit, CancelMove: MoveCancelled},
	MoveInTransit: {ReceiveMove: MoveReceived},
}

// Next returns the state that action a takes a move in state s to, and false when a is not
// allowed in s.
func (s MoveState) Next(a MoveAction) (MoveState, bool) {
	next, ok := moveSteps[s][a]
	return next, ok
}

// From lists the states in which a is allowed, in the order of MoveStates.
func (a MoveAction) From() []MoveState {
	var out []MoveState
	for _, s := range MoveStates {
		if _, ok := s.Next(a); ok {
			out = append(out, s)
		}
	}
	return out
}

// pastTense is how a message says that a move has had the action.
var pastTense = map[MoveAction]string{
	ApproveMove: "approved", RejectMove: "rejected", DispatchMove: "dispatched", ReceiveMove: "received", CancelMove: "cancelled",
}

// Arrival is what the open moves to a site are bringing it: Devices devices of Kind. A short
// centre that has them on their way is missing that many fewer.
type Arrival struct {
	Site    string
	Kind    Kind
	Devices int
}

// Limits of a move.
const (
	MaxMoveDevices = 100  // devices in one move
	MaxMoveText    = 1000 // characters of a reason or a note
)

// Move is one move of devices between sites and its chain of custody: who did each step, and
// when. Ids of people are the audit log's actors (e.g. "user:usr_123").
type Move struct {
	ID      int64
	Kind    Kind
	From    string // the donor site
	To      string // the receiving site
	Devices []string
	State   MoveState
	// Reason says why, in free text: for example the reallocation planner's explanation.
	Reason string

	ProposedBy string
	ProposedAt time.Time
	// DecidedBy approved or rejected the move, with DecisionNote.
	DecidedBy    string
	DecidedAt    time.Time
	DecisionNote string
	DispatchedBy string
	DispatchedAt time.Time
	ReceivedBy   string
	ReceivedAt   time.Time
	CancelledBy  string
	CancelledAt  time.Time
	CancelNote   string
}

// Validate checks a proposed move's fields: a kind, two different sites, 1 to MaxMoveDevices
// distinct devices, and a reason of at most MaxMoveText characters. Whether the sites and
// devices exist and may move is for the registry to say.
func (m *Move) Validate() error {
	switch {
	case !m.Kind.Valid():
		return errcode.Errorf(errcode.Invalid, "move kind %q is not one of %v", m.Kind, Kinds)
	case !reading.ValidID(m.From):
		return invalidID("from", "move's donor site", m.From)
	case !reading.ValidID(m.To):
		return invalidID("to", "move's receiving site", m.To)
	case m.From == m.To:
		return errcode.Errorf(errcode.Invalid, "a move goes from one site to another; both are %s", m.From)
	case len(m.Devices) == 0 || len(m.Devices) > MaxMoveDevices:
		return errcode.Errorf(errcode.Invalid, "a move takes 1-%d devices, not %d", MaxMoveDevices, len(m.Devices))
	}
	for i, id := range m.Devices {
		if !reading.ValidID(id) {
			return invalidID("devices", "device id", id)
		}
		if slices.Contains(m.Devices[:i], id) {
			return errcode.Errorf(errcode.Invalid, "device %s is in the move twice", id)
		}
	}
	return CheckMoveText("reason", m.Reason)
}

// CheckMoveText refuses a reason or note of more than MaxMoveText characters.
func CheckMoveText(what, s string) error {
	if n := utf8.RuneCountInString(s); n > MaxMoveText {
		return errcode.Errorf(errcode.Invalid, "a move's %s is at most %d characters, not %d", what, MaxMoveText, n)
	}
	return nil
}

// Step returns the state action a takes the move to: Conflict, naming the move's state and the
// states a needs, when a is not allowed now.
func (m *Move) Step(a MoveAction) (MoveState, error) {
	next, ok := m.State.Next(a)
	if ok {
		return next, nil
	}
	from := a.From()
	if len(from) == 0 {
		return "", errcode.Errorf(errcode.Invalid, "%q is not a move action; the actions are %v", a, MoveActions)
	}
	names := make([]string, len(from))
	for i, s := range from {
		names[i] = string(s)
	}
	return "", errcode.Errorf(errcode.Conflict, "move %d is %s; it can be %s only when %s", m.ID, m.State, pastTense[a], strings.Join(names, " or "))
}
