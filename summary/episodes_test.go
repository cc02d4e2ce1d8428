package summary_test

import (
	"fmt"
	"testing"

	"github.com/vitalwatch/vitalwatch/summary"
)

// Find reports each episode by the indexes of its first low, the reading that completed 15
// minutes and its last low; the alert rule and the CGM report read the same spans.
func TestEpisodeRuleFind(t *testing.T) {
	const min = 60 * 1000
	pts := func(vals ...float64) []summary.CGMPoint { // every 5 minutes from 0
		var out []summary.CGMPoint
		for i, v := range vals {
			out = append(out, summary.CGMPoint{T: int64(i) * 5 * min, V: v})
		}
		return out
	}
	gap := func(p []summary.CGMPoint, from int, by int64) []summary.CGMPoint {
		for i := from; i < len(p); i++ {
			p[i].T += by * min
		}
		return p
	}
	for _, tt := range []struct {
		name string
		pts  []summary.CGMPoint
		want string
	}{
		{"10 minutes below is no episode", pts(5, 2.8, 2.8, 2.8, 5, 5, 5, 5), "[]"},
		{"15 minutes is: lows 1-4, qualified at 4", pts(5, 2.8, 2.8, 2.8, 2.8, 5, 5, 5, 5), "[{1 4 4}]"},
		{"3.0 is not below", pts(3, 3, 3, 3, 3, 3), "[]"},
		// Lows again 10 minutes after recovering began: the same episode, last low 7.
		{"a short recovery does not end it", pts(2.5, 2.5, 2.5, 2.5, 5, 5, 2.9, 2.9, 5, 5, 5, 5), "[{0 3 7}]"},
		// 15 minutes at or above 3.0 end it; the next run must last 15 minutes again.
		{"two episodes", pts(2.5, 2.5, 2.5, 2.5, 5, 5, 5, 5, 2.6, 2.6, 2.6, 2.6, 5), "[{0 3 3} {8 11 11}]"},
		// A gap over 10 minutes breaks a run: 2 lows, 15 minutes of silence, 3 lows.
		{"a gap breaks the run", gap(pts(2.5, 2.5, 2.5, 2.5, 2.5, 5), 2, 10), "[]"},
		{"an episode going at the end is passed", pts(5, 2.0, 2.0, 2.0, 2.0, 2.0), "[{1 4 5}]"},
	} {
		var got []summary.EpisodeSpan
		summary.DefaultEpisodeRule().Find(tt.pts, func(e summary.EpisodeSpan) { got = append(got, e) })
		if s := fmt.Sprint(got); s != tt.want && !(tt.want == "[]" && got == nil) {
			t.Errorf("%s: Find = %s; want %s", tt.name, s, tt.want)
		}
	}
}
