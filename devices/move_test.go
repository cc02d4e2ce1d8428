package devices

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/vitalwatch/vitalwatch/errcode"
)

// Every (state, action) pair: the legal ones and where they lead; every other pair is refused.
func TestMoveTransitions(t *testing.T) {
	legal := map[MoveState]map[MoveAction]MoveState{
		MoveProposed:  {ApproveMove: MoveApproved, RejectMove: MoveRejected, CancelMove: MoveCancelled},
		MoveApproved:  {DispatchMove: MoveInTransit, CancelMove: MoveCancelled},
		MoveInTransit: {ReceiveMove: MoveReceived},
		MoveRejected:  {},
		MoveReceived:  {},
		MoveCancelled: {},
	}
	if len(legal) != len(MoveStates) {
		t.Fatalf("the table has %d states; MoveStates has %d", len(legal), len(MoveStates))
	}
	for _, s := range MoveStates {
		for _, a := range MoveActions {
			want, wantOK := legal[s][a]
			got, ok := s.Next(a)
			if got != want || ok != wantOK {
				t.Errorf("%s.Next(%s) = %q, %v; want %q, %v", s, a, got, ok, want, wantOK)
			}
		}
	}
	if got, ok := MoveState("lost").Next(ReceiveMove); ok || got != "" {
		t.Errorf(`MoveState("lost").Next(receive) = %q, %v; want nothing`, got, ok)
	}
}

func TestMoveStateOpen(t *testing.T) {
	for _, tt := range []struct {
		state MoveState
		want  bool
	}{
		{MoveProposed, true}, {MoveApproved, true}, {MoveInTransit, true},
		{MoveRejected, false}, {MoveReceived, false}, {MoveCancelled, false}, {"lost", false},
	} {
		if got := tt.state.Open(); got != tt.want {
			t.Errorf("%s.Open() = %v; want %v", tt.state, got, tt.want)
		}
	}
}

func TestMoveActionFrom(t *testing.T) {
	for _, tt := range []struct {
		action MoveAction
		want   []MoveState
	}{
		{ApproveMove, []MoveState{MoveProposed}},
		{RejectMove, []MoveState{MoveProposed}},
		{DispatchMove, []MoveState{MoveApproved}},
		{ReceiveMove, []MoveState{MoveInTransit}},
		{CancelMove, []MoveState{MoveProposed, MoveApproved}},
		{"steal", nil},
	} {
		if got := tt.action.From(); !slices.Equal(got, tt.want) {
			t.Errorf("%s.From() = %v; want %v", tt.action, got, tt.want)
		}
	}
}

func TestMoveStep(t *testing.T) {
	tests := []struct {
		state    MoveState
		action   MoveAction
		want     MoveState
		wantCode string
		wantMsg  string
	}{
		{MoveProposed, ApproveMove, MoveApproved, "", ""},
		{MoveApproved, CancelMove, MoveCancelled, "", ""},
		{MoveInTransit, ReceiveMove, MoveReceived, "", ""},
		{MoveProposed, DispatchMove, "", errcode.Conflict, "move 7 is proposed; it can be dispatched only when approved"},
		{MoveInTransit, CancelMove, "", errcode.Conflict, "move 7 is in_transit; it can be cancelled only when proposed or approved"},
		{MoveReceived, ApproveMove, "", errcode.Conflict, "move 7 is received; it can be approved only when proposed"},
		{MoveRejected, ReceiveMove, "", errcode.Conflict, "move 7 is rejected; it can be received only when in_transit"},
		{MoveProposed, "steal", "", errcode.Invalid, `"steal" is not a move action`},
	}
	for _, tt := range tests {
		m := Move{ID: 7, State: tt.state}
		got, err := m.Step(tt.action)
		var de *errcode.Error
		switch {
		case tt.wantCode == "" && (err != nil || got != tt.want):
			t.Errorf("Move{%s}.Step(%s) = %q, %v; want %q", tt.state, tt.action, got, err, tt.want)
		case tt.wantCode != "" && (!errors.As(err, &de) || de.Code != tt.wantCode || !strings.Contains(de.Message, tt.wantMsg)):
			t.Errorf("Move{%s}.Step(%s) = %q, %v; want a %s error saying %q", tt.state, tt.action, got, err, tt.wantCode, tt.wantMsg)
		}
	}
}

func TestMoveValidate(t *testing.T) {
	ok := Move{Kind: BPCuff, From: "s1", To: "s2", Devices: []string{"cuff-1", "cuff-2"}, Reason: "s2 is short"}
	many := make([]string, MaxMoveDevices+1)
	for i := range many {
		many[i] = fmt.Sprintf("d-%d", i)
	}
	tests := []struct {
		name    string
		change  func(m *Move)
		wantMsg string // "" when valid
	}{
		{"valid", func(m *Move) {}, ""},
		{"100 devices", func(m *Move) { m.Devices = many[:MaxMoveDevices] }, ""},
		{"a reason of 1000 characters", func(m *Move) { m.Reason = strings.Repeat("é", MaxMoveText) }, ""},
		{"unknown kind", func(m *Move) { m.Kind = "toaster" }, `move kind "toaster"`},
		{"bad donor", func(m *Move) { m.From = "" }, "move's donor site"},
		{"bad receiver", func(m *Move) { m.To = "s 2" }, "move's receiving site"},
		{"same site", func(m *Move) { m.To = "s1" }, "both are s1"},
		{"no devices", func(m *Move) { m.Devices = nil }, "1-100 devices, not 0"},
		{"101 devices", func(m *Move) { m.Devices = many }, "1-100 devices, not 101"},
		{"bad device id", func(m *Move) { m.Devices = []string{"cuff 1"} }, `device id "cuff 1"`},
		{"device twice", func(m *Move) { m.Devices = []string{"cuff-1", "cuff-2", "cuff-1"} }, "device cuff-1 is in the move twice"},
		{"reason too long", func(m *Move) { m.Reason = strings.Repeat("x", MaxMoveText+1) }, "at most 1000 characters, not 1001"},
	}
	for _, tt := range tests {
		m := ok
		m.Devices = slices.Clone(ok.Devices)
		tt.change(&m)
		err := m.Validate()
		var de *errcode.Error
		switch {
		case tt.wantMsg == "" && err != nil:
			t.Errorf("%s: Validate() = %v; want nil", tt.name, err)
		case tt.wantMsg != "" && (!errors.As(err, &de) || de.Code != errcode.Invalid || !strings.Contains(de.Message, tt.wantMsg)):
			t.Errorf("%s: Validate() = %v; want an invalid error saying %q", tt.name, err, tt.wantMsg)
		}
	}
}
