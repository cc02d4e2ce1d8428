package usage_test

import (
	"context"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/usage"
)

// points is a PointSource over points held in memory: ReadingPoints passes those in [start, stop).
type points []usage.TaggedPoint

func (ps points) ReadingPoints(_ context.Context, start, stop time.Time, each func(usage.TaggedPoint)) error {
	for _, p := range ps {
		if !p.At.Before(start) && p.At.Before(stop) {
			each(p)
		}
	}
	return nil
}

// An untagged point is counted once, by the rebuild whose days hold its UTC day: not again by
// the next week's rebuild, whose margin reads it too, nor by a rebuild whose margin alone reads it.
func TestRebuildCountsAnUntaggedPointOnce(t *testing.T) {
	at := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	src := points{
		{Device: "d1", At: at("2026-11-07T20:00:00Z")},              // no site, late on the 7th (UTC)
		{Site: "utc", At: at("2026-11-08T03:00:00Z")},               // no device, early on the 8th
		{Device: "d1", Site: "utc", At: at("2026-11-08T04:00:00Z")}, // a use
	}
	zone := func(string) *time.Location { return time.UTC }
	for _, tt := range []struct {
		from, to     usage.Day
		wantUntagged int
	}{
		{"2026-11-01", "2026-11-07", 1}, // holds the 7th; its margin reaches into the 8th
		{"2026-11-08", "2026-11-14", 1}, // holds the 8th; its margin reaches back into the 7th
		{"2026-11-09", "2026-11-15", 0}, // its margin alone reaches the 8th
	} {
		got, err := usage.Rebuild(context.Background(), src, tt.from, tt.to, zone)
		if err != nil {
			t.Fatal(err)
		}
		if got.Untagged != tt.wantUntagged {
			t.Errorf("Rebuild(%s..%s).Untagged = %d; want %d", tt.from, tt.to, got.Untagged, tt.wantUntagged)
		}
	}
}
