package rules

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
)

// cgm_low_episode (international CGM consensus, Battelino 2019): a level-2 hypoglycaemia
// episode is CGM glucose below 3.0 mmol/L for at least 15 minutes, and it ends when glucose stays
// at or above 3.0 for 15 minutes. On measurement time:
//
//   - A run is consecutive CGM readings below `below`, no two of them more than max_gap apart
//     (a CGM reads every 1-5 minutes; a longer gap is lost signal, not evidence of a low). A run
//     whose last reading is at least `duration` after its first starts an episode, raised once,
//     at the reading that completes the duration.
//   - The episode lasts until readings at or above `below` span `recovery` (no two more than
//     max_gap apart), or until there is no reading for longer than `recovery`. Lows between are
//     the same episode. After it ends, a new run must again last `duration` to raise.
//
// The episodes are found afresh over the patient's recent readings (kept in time order, so
// readings may arrive in any order) and matched to those already raised by overlap: an episode
// is raised once however its readings arrive, and after a restart Warm marks the episode in
// progress as raised.

// cgmPoint is one CGM glucose reading.
type cgmPoint struct {
	t int64 // Unix ms
	v float64
}

// cgmEpisode is an episode found over the points: indexes of its first low, of the reading that
// completed the duration, and its last low time.
type cgmEpisode struct {
	start, qualified int
	startT, lastLowT int64
}

// cgmRaised is an episode already raised, by its span of lows.
type cgmRaised struct{ startT, lastLowT int64 }

type cgmState struct {
	pts    []cgmPoint
	raised []cgmRaised
}

// Bounds of the CGM state: 1-minute CGMs over the kept span, and a few episodes.
const (
	maxCGMPoints = 256
	maxCGMRaised = 8
	// maxCGMEvidence bounds the readings a finding carries: the start of the run.
	maxCGMEvidence = 16
)

func cgmLowEpisode(b *batch, c *readingCtx) {
	th := c.th
	if !th.on(ruleCGMLowEpisode) || c.doubt != "" {
		return // a doubtful reading neither starts nor ends an episode
	}
	below := th.p(ruleCGMLowEpisode, cgmBelow)
	dur := th.d(ruleCGMLowEpisode, cgmDuration).Milliseconds()
	rec := th.d(ruleCGMLowEpisode, cgmRecovery).Milliseconds()
	gap := th.d(ruleCGMLowEpisode, cgmMaxGap).Milliseconds()
	keep := dur + rec + 2*gap

	s := c.p.cgmState()
	t := c.r.Time.UnixMilli()
	if n := len(s.pts); n > 0 && s.pts[n-1].t-t > keep {
		return // too old to change what the kept readings say
	}
	i, found := slices.BinarySearchFunc(s.pts, t, func(p cgmPoint, t int64) int { return cmp.Compare(p.t, t) })
	if found {
		return // a redelivery
	}
	s.pts = slices.Insert(s.pts, i, cgmPoint{t, c.r.Value})
	newest := s.pts[len(s.pts)-1].t
	drop := 0
	for drop < len(s.pts) && newest-s.pts[drop].t > keep {
		drop++
	}
	drop = max(drop, len(s.pts)-maxCGMPoints)
	if drop > 0 {
		s.pts = slices.Delete(s.pts, 0, drop)
	}
	s.raised = slices.DeleteFunc(s.raised, func(r cgmRaised) bool { return newest-r.lastLowT > keep+rec })

	s.episodes(below, dur, rec, gap, func(ep cgmEpisode) {
		for k := range s.raised {
			r := &s.raised[k]
			if ep.startT <= r.lastLowT && r.startT <= ep.lastLowT {
				r.startT, r.lastLowT = min(r.startT, ep.startT), max(r.lastLowT, ep.lastLowT)
				return
			}
		}
		if len(s.raised) >= maxCGMRaised {
			s.raised = s.raised[1:]
		}
		s.raised = append(s.raised, cgmRaised{ep.startT, ep.lastLowT})
		b.emit(c.cgmFinding(b.now, s, ep, below))
	})
}

// episodes calls fn for each episode over the points, in time order.
func (s *cgmState) episodes(below float64, dur, rec, gap int64, fn func(cgmEpisode)) {
	pts := s.pts
	in := false
	var ep cgmEpisode
	run, recStart := -1, -1
	for i, p := range pts {
		if i > 0 {
			d := p.t - pts[i-1].t
			if d > gap {
				run, recStart = -1, -1
			}
			if in && d > rec {
				fn(ep)
				in = false
			}
		}
		low := p.v < below
		if in {
			if low {
				ep.lastLowT, recStart = p.t, -1
				continue
			}
			if recStart < 0 {
				recStart = i
			}
			if p.t-pts[recStart].t >= rec {
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
		if p.t-pts[run].t >= dur {
			in = true
			ep = cgmEpisode{start: run, qualified: i, startT: pts[run].t, lastLowT: p.t}
			run = -1
		}
	}
	if in {
		fn(ep)
	}
}

func (c *readingCtx) cgmFinding(now time.Time, s *cgmState, ep cgmEpisode, below float64) alerts.Finding {
	lowest := s.pts[ep.start].v
	end := min(ep.qualified, ep.start+maxCGMEvidence-1)
	ev := make([]alerts.Evidence, 0, end-ep.start+1)
	for _, p := range s.pts[ep.start : end+1] {
		lowest = min(lowest, p.v)
		ev = append(ev, alerts.Evidence{Device: c.d.id, Measurement: "glucose", Time: time.UnixMilli(p.t).UTC(), Value: p.v})
	}
	at := time.UnixMilli(s.pts[ep.qualified].t).UTC()
	f := c.finding(ruleCGMLowEpisode, level0,
		fmt.Sprintf("below %s mmol/L for %s (lowest %s mmol/L)", num(below), at.Sub(time.UnixMilli(ep.startT)), num(lowest)), ev...)
	f.At = at
	f.Late = at.Before(now.Add(-c.th.lateAfter))
	return f
}
