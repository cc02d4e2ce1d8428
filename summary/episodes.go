package summary

import "time"

// EpisodeRule defines a CGM level-2 hypoglycaemia episode: the parameters of the alert rule
// cgm_low_episode (docs/alerts.md), which finds its episodes with the same Find.
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

// DefaultEpisodeRule returns the consensus definition (Battelino 2019; docs/domain.md "CGM
// level-2 episode"): below 3.0 mmol/L for at least 15 minutes, ended by 15 minutes at or above
// it; runs broken by gaps over 10 minutes.
func DefaultEpisodeRule() EpisodeRule {
	return EpisodeRule{Below: 3.0, Duration: 15 * time.Minute, Recovery: 15 * time.Minute, MaxGap: 10 * time.Minute}
}

// CGMPoint is one CGM glucose reading: its measurement time in Unix milliseconds and its value
// in mmol/L.
type CGMPoint struct {
	T int64
	V float64
}

// EpisodeSpan is an episode that Find found, by indexes into its points: the first low
// reading, the reading that completed Duration, and the last low reading before it ended.
type EpisodeSpan struct {
	Start, Qualified, LastLow int
}

// Episode is one level-2 hypoglycaemia episode.
type Episode struct {
	// Start is the first low reading; Qualified the one that completed Duration; LastLow the
	// last low reading before the episode ended.
	Start, Qualified, LastLow time.Time
	// Lowest is the lowest reading from Start to LastLow.
	Lowest Glucose
}

// Find calls fn with each level-2 episode over pts, which are in time order with no two at
// the same time, in time order. It is the one definition of an episode: the CGM report runs it
// over a whole period, the alert rule cgm_low_episode over the readings it keeps, again on each
// new reading. It allocates nothing.
//
//   - A run is consecutive readings below Below, no two of them more than MaxGap apart. A run
//     whose last reading is at least Duration after its first starts an episode.
//   - The episode lasts until readings at or above Below span Recovery (no two more than
//     MaxGap apart), or until there is no reading for longer than Recovery. Lows between are
//     the same episode. After it ends, a new run must again last Duration.
//
// An episode still going at the last point is passed too: it has not ended yet.
func (r EpisodeRule) Find(pts []CGMPoint, fn func(EpisodeSpan)) {
	dur, rec, gap := r.Duration.Milliseconds(), r.Recovery.Milliseconds(), r.MaxGap.Milliseconds()
	in := false
	var ep EpisodeSpan
	run, recStart := -1, -1
	for i, p := range pts {
		if i > 0 {
			d := p.T - pts[i-1].T
			if d > gap {
				run, recStart = -1, -1
			}
			if in && d > rec {
				fn(ep)
				in = false
			}
		}
		low := p.V < r.Below
		if in {
			if low {
				ep.LastLow, recStart = i, -1
				continue
			}
			if recStart < 0 {
				recStart = i
			}
			if p.T-pts[recStart].T >= rec {
				fn(ep)
				in, recStart = false, -1
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
		if p.T-pts[run].T >= dur {
			in = true
			ep = EpisodeSpan{Start: run, Qualified: i, LastLow: i}
			run = -1
		}
	}
	if in {
		fn(ep)
	}
}

// episodes returns the level-2 episodes over pts (time order), with times in loc.
func episodes(pts []CGMPoint, loc *time.Location, r EpisodeRule) []Episode {
	var out []Episode
	r.Find(pts, func(ep EpisodeSpan) {
		lowest := pts[ep.Start].V
		for _, p := range pts[ep.Start : ep.LastLow+1] {
			lowest = min(lowest, p.V)
		}
		out = append(out, Episode{Start: time.UnixMilli(pts[ep.Start].T).In(loc), Qualified: time.UnixMilli(pts[ep.Qualified].T).In(loc),
			LastLow: time.UnixMilli(pts[ep.LastLow].T).In(loc), Lowest: Glucose(lowest)})
	})
	return out
}
