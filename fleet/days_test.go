package fleet

import (
	"context"
	"testing"

	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/usage"
)

// The days of a month: each device at each centre, each local day with its uses and whether it
// was in service; no day after now is in service, and a scope keeps its centres and kind.
func TestDays(t *testing.T) {
	r, _ := newFixture(t)
	ctx := context.Background()
	oct := usage.Month{Year: 2026, Month: 10}
	got, err := r.Days(ctx, oct, Scope{Sites: []string{"idle", "busy"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 || got[0].Site != "busy" || got[1].Device != "st-idle-0" {
		t.Fatalf("Days(October, idle and busy) = %d rows from %s/%s; want busy's station, then idle's 4", len(got), got[0].Site, got[0].Device)
	}
	for _, x := range got {
		if len(x.Days) != 31 || x.Kind != devices.Station || x.Rated != 10 {
			t.Errorf("%s: %d days, kind %s, rated %d; want 31, station, 10", x.Device, len(x.Days), x.Kind, x.Rated)
		}
		for i, d := range x.Days {
			if d.Day != usage.Day("2026-10-"+two(i+1)) || d.Uses != perDay[x.Site] || !d.InService || d.Lent {
				t.Errorf("%s day %d = %+v; want 2026-10-%s with %d uses, in service", x.Device, i+1, d, two(i+1), perDay[x.Site])
				break
			}
		}
	}
	// "Now" is 15 November, 08:00 in Shanghai: the 15th is in service, the 16th on are not.
	nov, err := r.Days(ctx, usage.Month{Year: 2026, Month: 11}, Scope{Sites: []string{"far"}, Kind: devices.Station})
	if err != nil {
		t.Fatal(err)
	}
	if len(nov) != 1 || len(nov[0].Days) != 30 {
		t.Fatalf("Days(November, far) = %+v; want one station with 30 days", nov)
	}
	for i, d := range nov[0].Days {
		if d.InService != (i < 15) || d.Uses != 0 {
			t.Errorf("far's station on 2026-11-%s = %+v; want in service %v, no uses", two(i+1), d, i < 15)
		}
	}
	none, err := r.Days(ctx, oct, Scope{Kind: devices.BPCuff})
	if err != nil || len(none) != 0 {
		t.Errorf("Days(October, BP cuffs) = %v, %v; want none", none, err)
	}
}

func two(n int) string { return string(rune('0'+n/10)) + string(rune('0'+n%10)) }
