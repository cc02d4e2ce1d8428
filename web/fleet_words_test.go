package web

import (
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/vitalwatch/vitalwatch/devices"
	devstatus "github.com/vitalwatch/vitalwatch/devices/status"
	"github.com/vitalwatch/vitalwatch/ingest/deadletter"
	"github.com/vitalwatch/vitalwatch/reading"
	"github.com/vitalwatch/vitalwatch/reallocation"
)

// The fleet pages have words for everything of the server's they show by its code: device
// kinds, modes, statuses, live states, connection events, move states, verdicts and the reasons
// of dead letters; and fleet.js lists the same kinds, states, statuses and move states as the
// server, in the server's order.
func TestFleetVocabularyHasWords(t *testing.T) {
	cat, err := loadCatalogues(files)
	if err != nil {
		t.Fatal(err)
	}
	var kinds, statuses, states, events, moves, reasons []string
	for _, k := range devices.Kinds {
		kinds = append(kinds, string(k))
	}
	for _, s := range devices.Statuses {
		statuses = append(statuses, string(s))
	}
	for _, s := range devstatus.States {
		states = append(states, string(s))
	}
	for _, e := range devstatus.Events {
		events = append(events, string(e))
	}
	for _, m := range devices.MoveStates {
		moves = append(moves, string(m))
	}
	for _, r := range reading.Reasons {
		reasons = append(reasons, string(r))
	}
	reasons = append(reasons, deadletter.ReasonWriteRejected)
	verdicts := []string{reallocation.Spare.String(), reallocation.Short.String(), reallocation.Balanced.String()}
	want := map[string][]string{
		"fleet.kind.": kinds, "fleet.status.": statuses, "fleet.state.": states, "fleet.event.": events,
		"fleet.move_state.": moves, "fleet.reason.": reasons, "fleet.verdict.": verdicts,
		"fleet.mode.": {string(devices.Home), string(devices.StationMode)},
	}
	for lang, msgs := range cat {
		for p, ids := range want {
			for _, id := range ids {
				if strings.TrimSpace(msgs[p+id]) == "" {
					t.Errorf("%s lacks %s%s", lang, p, id)
				}
			}
		}
	}
	src, err := fs.ReadFile(files, "static/app/fleet.js")
	if err != nil {
		t.Fatal(err)
	}
	for name, ids := range map[string][]string{"KINDS": kinds, "STATES": states, "STATUSES": statuses, "MOVE_STATES": moves, "VERDICTS": verdicts} {
		m := regexp.MustCompile(`export const ` + name + ` = \[([^\]]*)\]`).FindSubmatch(src)
		if m == nil {
			t.Errorf("fleet.js has no %s", name)
			continue
		}
		var got []string
		for _, q := range regexp.MustCompile(`'([a-z_]+)'`).FindAllSubmatch(m[1], -1) {
			got = append(got, string(q[1]))
		}
		if !slices.Equal(got, ids) {
			t.Errorf("fleet.js %s = %v; the server's are %v", name, got, ids)
		}
	}
}
