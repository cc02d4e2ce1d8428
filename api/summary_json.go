package api

import (
	"time"

	"github.com/vitalwatch/vitalwatch/reading"
	"github.com/vitalwatch/vitalwatch/summary"
)

// The answer of GET /patients/{id}/summary: the domain's summary (package summary) as JSON,
// separate from its structs so that either may change alone. Glucose is in mmol/L; with
// glucose_unit=mg/dL each glucose field has a _mgdl twin. Flags are codes.

// summaryJSON is a patient's clinical summary.
type summaryJSON struct {
	AsOf     time.Time `json:"as_of"`
	TimeZone string    `json:"time_zone"`
	// Overrides say whose threshold overrides the summary was judged by: "team", "patient".
	Overrides []string      `json:"overrides"`
	CGM       cgmJSON       `json:"cgm"`
	Meter     meterJSON     `json:"meter"`
	HomeBP    homeBPJSON    `json:"home_bp"`
	Adherence adherenceJSON `json:"adherence"`
	Vitals    vitalsJSON    `json:"vitals"`
}

// periodJSON is a run of whole local days, [from, to).
type periodJSON struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	Days int       `json:"days"`
}

// cgmJSON is the CGM report of the international consensus.
type cgmJSON struct {
	Period         periodJSON        `json:"period"`
	Readings       int               `json:"readings"`
	SensorActive   float64           `json:"sensor_active_percent"`
	CoveredMinutes float64           `json:"covered_minutes"`
	Mean           float64           `json:"mean"`
	MeanMgdL       *float64          `json:"mean_mgdl,omitempty"`
	SD             float64           `json:"sd"`
	SDMgdL         *float64          `json:"sd_mgdl,omitempty"`
	CV             float64           `json:"cv_percent"`
	GMI            float64           `json:"gmi_percent"`
	Bands          []bandTimeJSON    `json:"bands"`
	TargetSet      string            `json:"target_set"`
	Targets        []targetCheckJSON `json:"targets"`
	AGP            agpJSON           `json:"agp"`
	Episodes       []episodeJSON     `json:"episodes"`
	Excluded       excludedJSON      `json:"excluded"`
	Flags          []string          `json:"flags"`
}

// excludedJSON counts the readings left out as in doubt, and why (a quality flag, or
// calibration_overdue).
type excludedJSON struct {
	Readings int               `json:"readings"`
	ByReason []reasonCountJSON `json:"by_reason"`
}

// reasonCountJSON is how many readings were left out for one reason.
type reasonCountJSON struct {
	Reason   string `json:"reason"`
	Readings int    `json:"readings"`
}

// bandTimeJSON is the share of the CGM data's time in one glucose band.
type bandTimeJSON struct {
	Band          string  `json:"band"`
	Percent       float64 `json:"percent"`
	MinutesPerDay float64 `json:"minutes_per_day"`
}

// targetCheckJSON is a consensus target (metric op limit) and whether the value meets it.
type targetCheckJSON struct {
	Metric string  `json:"metric"`
	Op     string  `json:"op"`
	Limit  float64 `json:"limit"`
	Value  float64 `json:"value"`
	Met    bool    `json:"met"`
}

// agpJSON is the ambulatory glucose profile: percentiles per bin of the local day.
type agpJSON struct {
	Reportable bool         `json:"reportable"`
	Bins       []agpBinJSON `json:"bins"`
}

// agpBinJSON is one bin of the AGP, starting start_minute minutes after local midnight.
type agpBinJSON struct {
	StartMinute int       `json:"start_minute"`
	Readings    int       `json:"readings"`
	P5          float64   `json:"p5"`
	P25         float64   `json:"p25"`
	P50         float64   `json:"p50"`
	P75         float64   `json:"p75"`
	P95         float64   `json:"p95"`
	MgdL        []float64 `json:"percentiles_mgdl,omitempty"` // p5, p25, p50, p75, p95
}

// episodeJSON is a level-2 low episode.
type episodeJSON struct {
	Start      time.Time `json:"start"`
	Qualified  time.Time `json:"qualified"`
	LastLow    time.Time `json:"last_low"`
	Lowest     float64   `json:"lowest"`
	LowestMgdL *float64  `json:"lowest_mgdl,omitempty"`
}

// meterJSON is the meter (fingerstick) glucose report.
type meterJSON struct {
	Period           periodJSON         `json:"period"`
	Readings         int                `json:"readings"`
	DaysWithReadings int                `json:"days_with_readings"`
	PerDay           float64            `json:"per_day"`
	ByContext        []contextStatsJSON `json:"by_context"`
	Fasting          contextStatsJSON   `json:"fasting"`
	Bands            []bandCountJSON    `json:"bands"`
	Targets          meterTargetsJSON   `json:"targets"`
	InTarget         bandCountJSON      `json:"in_target"`
	VeryHigh         bandCountJSON      `json:"very_high"`
	Excluded         excludedJSON       `json:"excluded"`
	Flags            []string           `json:"flags"`
}

// meterTargetsJSON are the patient's glucose thresholds in mmol/L: the target range low to
// high (both included), and very high above very_high.
type meterTargetsJSON struct {
	Low          float64  `json:"low"`
	LowMgdL      *float64 `json:"low_mgdl,omitempty"`
	High         float64  `json:"high"`
	HighMgdL     *float64 `json:"high_mgdl,omitempty"`
	VeryHigh     float64  `json:"very_high"`
	VeryHighMgdL *float64 `json:"very_high_mgdl,omitempty"`
}

// contextStatsJSON is the meter readings of one context (fasting, before_meal, ...).
type contextStatsJSON struct {
	Context  string   `json:"context"`
	Readings int      `json:"readings"`
	Mean     float64  `json:"mean"`
	MeanMgdL *float64 `json:"mean_mgdl,omitempty"`
}

// bandCountJSON is how many meter readings fell in one band.
type bandCountJSON struct {
	Band     string  `json:"band"`
	Readings int     `json:"readings"`
	Percent  float64 `json:"percent"`
}

// homeBPJSON is the home blood-pressure average of the protocol's window.
type homeBPJSON struct {
	Period          periodJSON   `json:"period"`
	Day1            *time.Time   `json:"day1,omitempty"`
	Days            int          `json:"days"`
	Readings        int          `json:"readings"`
	Mean            bpMeanJSON   `json:"mean"`
	Morning         bpMeanJSON   `json:"morning"`
	Evening         bpMeanJSON   `json:"evening"`
	Enough          bool         `json:"enough"`
	AtOrAboveTarget bool         `json:"at_or_above_target"`
	Target          bpMeanJSON   `json:"target"`
	Used            []time.Time  `json:"used"` // the times of the readings averaged
	Excluded        excludedJSON `json:"excluded"`
	Flags           []string     `json:"flags"`
}

// bpMeanJSON is a mean blood pressure in mm[Hg] over readings readings.
type bpMeanJSON struct {
	Systolic  float64 `json:"systolic"`
	Diastolic float64 `json:"diastolic"`
	Readings  int     `json:"readings"`
}

// adherenceJSON is adherence to the care plans' reading types.
type adherenceJSON struct {
	Period       periodJSON          `json:"period"`
	Types        []typeAdherenceJSON `json:"types"`
	AllTypesDays int                 `json:"all_types_days"`
	Yardstick    int                 `json:"yardstick"`
}

// typeAdherenceJSON is the days with a reading of one type.
type typeAdherenceJSON struct {
	Type           string              `json:"type"`
	Days           int                 `json:"days"`
	MeetsYardstick bool                `json:"meets_yardstick"`
	Last           *summaryReadingJSON `json:"last,omitempty"`
}

// summaryReadingJSON is one reading in canonical units.
type summaryReadingJSON struct {
	Type      string    `json:"type"`
	Time      time.Time `json:"time"`
	Value     *float64  `json:"value,omitempty"`
	Systolic  *float64  `json:"systolic,omitempty"`
	Diastolic *float64  `json:"diastolic,omitempty"`
	Context   string    `json:"context,omitempty"`
}

// vitalsJSON is the other vital signs.
type vitalsJSON struct {
	Period      periodJSON          `json:"period"`
	SpO2        vitalStatsJSON      `json:"spo2"`
	HeartRate   vitalStatsJSON      `json:"heart_rate"`
	Temperature vitalStatsJSON      `json:"temperature"`
	Weight      *summaryReadingJSON `json:"weight,omitempty"`
	Over3Days   *weightChangeJSON   `json:"weight_change_3_days,omitempty"`
	Over30Days  *weightChangeJSON   `json:"weight_change_30_days,omitempty"`
}

// vitalStatsJSON is one vital sign over the period.
type vitalStatsJSON struct {
	Latest   *summaryReadingJSON `json:"latest,omitempty"`
	Readings int                 `json:"readings"`
	Min      float64             `json:"min"`
	Median   float64             `json:"median"`
	Max      float64             `json:"max"`
	Excluded excludedJSON        `json:"excluded"`
}

// weightChangeJSON is the change of weight in kg over days.
type weightChangeJSON struct {
	Days int                `json:"days"`
	From summaryReadingJSON `json:"from"`
	To   summaryReadingJSON `json:"to"`
	Kg   float64            `json:"kg"`
}

// summaryOut is s as JSON; home are the home readings HomeBP.Used indexes; mgdl adds the mg/dL
// fields.
func summaryOut(s summary.Summary, home []summary.BPReading, loc *time.Location, mgdl bool) summaryJSON {
	mg := func(g summary.Glucose) *float64 {
		if !mgdl {
			return nil
		}
		v := g.MgdL()
		return &v
	}
	flags := func(fs []summary.Flag) []string {
		out := []string{}
		for _, f := range fs {
			out = append(out, string(f))
		}
		return out
	}
	c := s.CGM
	cgm := cgmJSON{Period: periodOut(c.Period), Readings: c.Readings, SensorActive: c.SensorActive, CoveredMinutes: c.CoveredMinutes,
		Mean: float64(c.Mean), MeanMgdL: mg(c.Mean), SD: float64(c.SD), SDMgdL: mg(c.SD), CV: c.CV, GMI: c.GMI,
		Bands: []bandTimeJSON{}, TargetSet: string(c.TargetSet), Targets: []targetCheckJSON{},
		AGP: agpJSON{Reportable: c.AGP.Reportable, Bins: []agpBinJSON{}}, Episodes: []episodeJSON{}, Excluded: excludedOut(c.Excluded),
		Flags: flags(c.Flags)}
	for _, b := range c.Bands {
		cgm.Bands = append(cgm.Bands, bandTimeJSON{Band: string(b.Band), Percent: b.Percent, MinutesPerDay: b.MinutesPerDay})
	}
	for _, t := range c.Targets {
		cgm.Targets = append(cgm.Targets, targetCheckJSON{Metric: string(t.Metric), Op: string(t.Op), Limit: t.Limit, Value: t.Value, Met: t.Met})
	}
	for _, b := range c.AGP.Bins {
		j := agpBinJSON{StartMinute: int(b.Start / time.Minute), Readings: b.Readings, P5: float64(b.P5), P25: float64(b.P25),
			P50: float64(b.P50), P75: float64(b.P75), P95: float64(b.P95)}
		if mgdl {
			j.MgdL = []float64{b.P5.MgdL(), b.P25.MgdL(), b.P50.MgdL(), b.P75.MgdL(), b.P95.MgdL()}
		}
		cgm.AGP.Bins = append(cgm.AGP.Bins, j)
	}
	for _, e := range c.Episodes {
		cgm.Episodes = append(cgm.Episodes, episodeJSON{Start: e.Start, Qualified: e.Qualified, LastLow: e.LastLow,
			Lowest: float64(e.Lowest), LowestMgdL: mg(e.Lowest)})
	}
	ctxOut := func(x summary.ContextStats) contextStatsJSON {
		return contextStatsJSON{Context: x.Context, Readings: x.Readings, Mean: float64(x.Mean), MeanMgdL: mg(x.Mean)}
	}
	bandOut := func(b summary.BandCount) bandCountJSON {
		return bandCountJSON{Band: string(b.Band), Readings: b.Readings, Percent: b.Percent}
	}
	m := s.Meter
	mt := func(v float64) *float64 { return mg(summary.Glucose(v)) }
	meter := meterJSON{Period: periodOut(m.Period), Readings: m.Readings, DaysWithReadings: m.DaysWithReadings, PerDay: m.PerDay,
		ByContext: []contextStatsJSON{}, Fasting: ctxOut(m.Fasting), Bands: []bandCountJSON{},
		Targets: meterTargetsJSON{Low: m.Targets.Low, LowMgdL: mt(m.Targets.Low), High: m.Targets.High, HighMgdL: mt(m.Targets.High),
			VeryHigh: m.Targets.VeryHigh, VeryHighMgdL: mt(m.Targets.VeryHigh)},
		InTarget: bandOut(m.InTarget), VeryHigh: bandOut(m.VeryHigh), Excluded: excludedOut(m.Excluded), Flags: flags(m.Flags)}
	for _, x := range m.ByContext {
		meter.ByContext = append(meter.ByContext, ctxOut(x))
	}
	for _, b := range m.Bands {
		meter.Bands = append(meter.Bands, bandOut(b))
	}
	h := s.HomeBP
	bp := func(b summary.BPMean) bpMeanJSON {
		return bpMeanJSON{Systolic: b.Systolic, Diastolic: b.Diastolic, Readings: b.Readings}
	}
	homeBP := homeBPJSON{Period: periodOut(h.Period), Days: h.Days, Readings: h.Readings, Mean: bp(h.Mean), Morning: bp(h.Morning),
		Evening: bp(h.Evening), Enough: h.Enough, AtOrAboveTarget: h.AtOrAboveTarget, Target: bp(h.Target), Used: []time.Time{},
		Excluded: excludedOut(h.Excluded), Flags: flags(h.Flags)}
	if !h.Day1.IsZero() {
		d := h.Day1
		homeBP.Day1 = &d
	}
	for _, i := range h.Used {
		if i >= 0 && i < len(home) {
			homeBP.Used = append(homeBP.Used, home[i].Time)
		}
	}
	ad := adherenceJSON{Period: periodOut(s.Adherence.Period), Types: []typeAdherenceJSON{},
		AllTypesDays: s.Adherence.AllTypesDays, Yardstick: s.Adherence.Yardstick}
	for _, t := range s.Adherence.Types {
		ad.Types = append(ad.Types, typeAdherenceJSON{Type: string(t.Type), Days: t.Days, MeetsYardstick: t.MeetsYardstick,
			Last: summaryReadingOut(t.Last)})
	}
	v := s.Vitals
	vitalOut := func(x summary.VitalStats) vitalStatsJSON {
		return vitalStatsJSON{Latest: summaryReadingOut(x.Latest), Readings: x.Readings, Min: x.Min, Median: x.Median, Max: x.Max,
			Excluded: excludedOut(x.Excluded)}
	}
	changeOut := func(w *summary.WeightChange) *weightChangeJSON {
		if w == nil {
			return nil
		}
		return &weightChangeJSON{Days: w.Days, From: *summaryReadingOut(&w.From), To: *summaryReadingOut(&w.To), Kg: w.Kg}
	}
	vitals := vitalsJSON{Period: periodOut(v.Period), SpO2: vitalOut(v.SpO2), HeartRate: vitalOut(v.HeartRate),
		Temperature: vitalOut(v.Temperature), Weight: summaryReadingOut(v.Weight), Over3Days: changeOut(v.Over3Days),
		Over30Days: changeOut(v.Over30Days)}
	return summaryJSON{AsOf: s.AsOf, TimeZone: loc.String(), Overrides: []string{}, CGM: cgm, Meter: meter, HomeBP: homeBP, Adherence: ad, Vitals: vitals}
}

// excludedOut is e as JSON.
func excludedOut(e summary.Excluded) excludedJSON {
	out := excludedJSON{Readings: e.Readings, ByReason: []reasonCountJSON{}}
	for _, r := range e.ByReason {
		out.ByReason = append(out.ByReason, reasonCountJSON{Reason: r.Reason, Readings: r.Readings})
	}
	return out
}

func periodOut(p summary.Period) periodJSON { return periodJSON{From: p.From, To: p.To, Days: p.Days} }

// summaryReadingOut is r as JSON, nil for nil.
func summaryReadingOut(r *reading.Reading) *summaryReadingJSON {
	if r == nil {
		return nil
	}
	j := &summaryReadingJSON{Type: string(r.Type), Time: r.Time, Context: r.Context}
	if r.Type == reading.BP {
		sys, dia := r.Systolic, r.Diastolic
		j.Systolic, j.Diastolic = &sys, &dia
	} else {
		val := r.Value
		j.Value = &val
	}
	return j
}
