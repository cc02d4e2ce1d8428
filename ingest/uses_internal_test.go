package ingest

import (
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/reading"
	"github.com/vitalwatch/vitalwatch/usage"
)

// The worker's day cache gives usage.DayOf's answer for every time and zone, across midnights
// and daylight-saving changes, and before 1970.
func TestDayCacheIsDayOf(t *testing.T) {
	var zones []*time.Location
	for _, name := range []string{"UTC", "Asia/Shanghai", "America/New_York", "Australia/Lord_Howe", "Pacific/Kiritimati", "Pacific/Pago_Pago", "America/Havana"} {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		zones = append(zones, loc)
	}
	var c dayCache
	for _, start := range []time.Time{
		time.Date(2026, 3, 7, 0, 0, 0, 0, time.UTC),   // US daylight saving starts on the 8th
		time.Date(2026, 10, 3, 0, 0, 0, 0, time.UTC),  // Lord Howe's half-hour change on the 4th
		time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), // plain days
		time.Date(1969, 12, 30, 0, 0, 0, 0, time.UTC), // before the epoch
	} {
		for _, loc := range zones {
			// Every 7 minutes 13 seconds for 3 days, and the millisecond each side of each step.
			for at := start; at.Before(start.Add(72 * time.Hour)); at = at.Add(7*time.Minute + 13*time.Second) {
				for _, t1 := range []time.Time{at.Add(-time.Millisecond), at, at.Add(time.Millisecond)} {
					if got, want := c.of(t1, loc), usage.DayOf(t1, loc); got != want {
						t.Fatalf("dayCache.of(%v, %v) = %s; want %s", t1, loc, got, want)
					}
				}
			}
			// Exactly at each local midnight.
			for d := range 3 {
				mid := usage.DayOf(start, loc).Start(loc).AddDate(0, 0, d)
				for _, t1 := range []time.Time{mid.Add(-time.Millisecond), mid} {
					if got, want := c.of(t1, loc), usage.DayOf(t1, loc); got != want {
						t.Fatalf("dayCache.of(%v, %v) = %s; want %s", t1, loc, got, want)
					}
				}
			}
		}
	}
}

func TestLineMillis(t *testing.T) {
	tests := []struct {
		line string
		want int64
		ok   bool
	}{
		{"spo2,device=a value=97 1763798400000\n", 1763798400000, true},
		{"spo2,device=a,site=x\\ y value=97,flags=\"a b\" 42", 42, true},
		{"spo2 value=97", 0, false},
		{"nospace", 0, false},
	}
	for _, tt := range tests {
		got, ok := lineMillis([]byte(tt.line))
		if got != tt.want || ok != tt.ok {
			t.Errorf("lineMillis(%q) = %d, %v; want %d, %v", tt.line, got, ok, tt.want, tt.ok)
		}
	}
}

// A message's readings taken at one time are one use; the worker keeps nothing else from them.
func TestAddUses(t *testing.T) {
	w := &worker{}
	at := time.Date(2026, 11, 21, 15, 59, 59, 999_000_000, time.UTC)
	sh, _ := time.LoadLocation("Asia/Shanghai")
	w.addUses("st-1", "sh", sh, []reading.Reading{{Type: reading.BP, Time: at}, {Type: reading.Weight, Time: at},
		{Type: reading.BP, Time: at.Add(time.Millisecond)}, {Type: reading.Weight, Time: at.Add(time.Millisecond)}})
	want := []usage.Use{
		{Device: "st-1", Site: "sh", At: at, Day: "2026-11-21"},
		{Device: "st-1", Site: "sh", At: at.Add(time.Millisecond), Day: "2026-11-22"},
	}
	if len(w.uses) != len(want) || w.uses[0] != want[0] || w.uses[1] != want[1] {
		t.Errorf("addUses = %+v; want %+v", w.uses, want)
	}
	rs := []reading.Reading{{Type: reading.BP, Time: at.Add(time.Hour)}, {Type: reading.Weight, Time: at.Add(2 * time.Hour)}}
	if allocs := testing.AllocsPerRun(100, func() {
		w.uses = w.uses[:0]
		w.addUses("st-1", "sh", sh, rs)
	}); allocs != 0 {
		t.Errorf("addUses allocates %v times per message; want none", allocs)
	}
}
