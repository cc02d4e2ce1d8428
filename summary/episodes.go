package summary

import "time"

// EpisodeRule defines a CGM level-2 hypoglycaemia episode: the parameters of the alert rule
// cgm_low_episode (docs/alerts.md).
type EpisodeRule struct {
	// Below is the level-2 threshold, mmol/L.
	Below float64
	// Duration is how long a run of lows must last to be an episode.
	Duration time.Duration
	// Recovery is how long readings at or above Below must span to end it.
	Recovery time.Duration
	// MaxGap is the longest interval between readings of one run; longer is lost signal.
	MaxGap time.Duration
}

// DefaultEpisodeRule returns the consensus definition (Battelino 2019): below 3.0 mmol/L for at
// least 15 minutes, ended by 15 minutes at or above it; runs broken by gaps over 10 minutes.
func DefaultEpisodeRule() EpisodeRule {
	return EpisodeRule{Below: 3.0, Duration: 15 * time.Minute, Recovery: 15 * time.Minute, MaxGap: 10 * time.Minute}
}

// Episode is one level-2 hypoglycaemia episode.
type Episode struct {
	// Start is the first low reading; Qualified the one that completed Duration; LastLow the
	// last low reading before the episode ended.
	Start, Qualified, LastLow time.Time
	// Lowest is the lowest reading from Start to LastLow.
	Lowest Glucose
}

// episodes finds the level-2 episodes over points in time order, with times in loc. It mirrors the alert rule
// cgm_low_episode (alerts/rules cgm_rules.go, which keeps its finder unexported), run over the
// whole period at once:
//
//   - A run is consecutive readings below Below, no two of them more than MaxGap apart. A run
//     whose last reading is at least Duration after its first starts an episode.
//   - The episode lasts until readings at or above Below span Recovery (no two more than
//     MaxGap apart), or until there is no reading for longer than Recovery. Lows between are
//     the same episode. After it ends, a new run must again last Duration.
func episodes(pts []cgmPoint, loc *time.Location, r EpisodeRule) []Episode {
	dur, rec, gap := r.Duration.Milliseconds(), r.Recovery.Milliseconds(), r.MaxGap.Milliseconds()
	var out []Episode
	in := false
	var start, qualified, lastLow int
	end := func() {
		lowest := pts[start].v
		for _, p := range pts[start : lastLow+1] {
			lowest = min(lowest, p.v)
		}
		out = append(out, Episode{Start: time.UnixMilli(pts[start].t).In(loc), Qualified: time.UnixMilli(pts[qualified].t).In(loc),
			LastLow: time.UnixMilli(pts[lastLow].t).In(loc), Lowest: Glucose(lowest)})
		in = false
	}
	run, recStart := -1, -1
	for i, p := range pts {
		if i > 0 {
			d := p.t - pts[i-1].t
			if d > gap {
				run, recStart = -1, -1
			}
			if in && d > rec {
				end()
			}
		}
		low := p.v < r.Below
		if in {
			if low {
				lastLow, recStart = i, -1
				continue
			}
			if recStart < 0 {
				recStart = i
			}
			if p.t-pts[recStart].t >= rec {
				end()
				recStart = -1
			}
			continue
		}
		if !low {
			run = -1
			continue
		}
		if run < 0 {
			run = i
		}
		if p.t-pts[run].t >= dur {
			in = true
			start, qualified, lastLow = run, i, i
			run = -1
		}
	}
	if in {
		end()
	}
	return out
}
