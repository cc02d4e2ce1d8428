package rules

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/summary"
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
// The episodes are found afresh, by summary.EpisodeRule.Find (the one definition, which the
// patient's CGM report uses too), over the patient's recent readings (kept in time order, so
// readings may arrive in any order), and matched to those already raised by overlap: an episode
// is raised once however its readings arrive, and after a restart Warm marks the episode in
// progress as raised.

// cgmRaised is an episode already raised, by its span of lows.
type cgmRaised struct{ startT, lastLowT int64 }

type cgmState struct {
	pts    []summary.CGMPoint
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
	ep := summary.EpisodeRule{Below: th.p(ruleCGMLowEpisode, cgmBelow), Duration: th.d(ruleCGMLowEpisode, cgmDuration),
		Recovery: th.d(ruleCGMLowEpisode, cgmRecovery), MaxGap: th.d(ruleCGMLowEpisode, cgmMaxGap)}
	rec := ep.Recovery.Milliseconds()
	keep := ep.Duration.Milliseconds() + rec + 2*ep.MaxGap.Milliseconds()

	s := c.p.cgmState()
	t := c.r.Time.UnixMilli()
	if n := len(s.pts); n > 0 && s.pts[n-1].T-t > keep {
		return // too old to change what the kept readings say
	}
	i, found := slices.BinarySearchFunc(s.pts, t, func(p summary.CGMPoint, t int64) int { return cmp.Compare(p.T, t) })
	if found {
		return // a redelivery
	}
	s.pts = slices.Insert(s.pts, i, summary.CGMPoint{T: t, V: c.r.Value})
	newest := s.pts[len(s.pts)-1].T
	drop := 0
	for drop < len(s.pts) && newest-s.pts[drop].T > keep {
		drop++
	}
	drop = max(drop, len(s.pts)-maxCGMPoints)
	if drop > 0 {
		s.pts = slices.Delete(s.pts, 0, drop)
	}
	s.raised = slices.DeleteFunc(s.raised, func(r cgmRaised) bool { return newest-r.lastLowT > keep+rec })

	ep.Find(s.pts, func(span summary.EpisodeSpan) {
		startT, lastLowT := s.pts[span.Start].T, s.pts[span.LastLow].T
		for k := range s.raised {
			r := &s.raised[k]
			if startT <= r.lastLowT && r.startT <= lastLowT {
				r.startT, r.lastLowT = min(r.startT, startT), max(r.lastLowT, lastLowT)
				return
			}
		}
		if len(s.raised) >= maxCGMRaised {
			s.raised = s.raised[1:]
		}
		s.raised = append(s.raised, cgmRaised{startT, lastLowT})
		b.emit(c.cgmFinding(b.now, s, span, ep.Below))
	})
}

func (c *readingCtx) cgmFinding(now time.Time, s *cgmState, ep summary.EpisodeSpan, below float64) alerts.Finding {
	lowest := s.pts[ep.Start].V
	end := min(ep.Qualified, ep.Start+maxCGMEvidence-1)
	ev := make([]alerts.Evidence, 0, end-ep.Start+1)
	for _, p := range s.pts[ep.Start : end+1] {
		lowest = min(lowest, p.V)
		ev = append(ev, alerts.Evidence{Device: c.d.id, Measurement: "glucose", Time: time.UnixMilli(p.T).UTC(), Value: p.V})
	}
	at := time.UnixMilli(s.pts[ep.Qualified].T).UTC()
	f := c.finding(ruleCGMLowEpisode, level0,
		fmt.Sprintf("below %s mmol/L for %s (lowest %s mmol/L)", num(below), at.Sub(time.UnixMilli(s.pts[ep.Start].T)), num(lowest)), ev...)
	f.At = at
	f.Late = at.Before(now.Add(-c.th.lateAfter))
	return f
}
