package simulators

import (
	"math"
	"math/rand/v2"
	"time"
)

// person is a simulated patient: the physiology that every device they use reads from. The
// cohort is that of a community chronic-disease programme: many with diabetes or hypertension.
type person struct {
	id           string
	diabetic     bool
	hypertensive bool
	lungDisease  bool    // SpO2 runs lower (COPD)
	fasting      float64 // mean fasting glucose, mmol/L
	mealRise     float64 // glucose rise after a meal, mmol/L
	sys, dia     float64 // resting blood pressure, mm[Hg], without the morning surge
	hr           float64 // resting heart rate, /min
	spo2         float64 // %
	temp         float64 // body temperature, Cel
	weight       float64 // kg
	home         [2]float64
	kinds        []Kind // kinds of home device the person has
	site         int    // index of the centre the person belongs to (Fleet.place)
	resident     bool   // uses a station
}

func newPerson(id string, r *rand.Rand) *person {
	p := &person{
		id:           id,
		diabetic:     r.Float64() < 0.6,
		hypertensive: r.Float64() < 0.6,
		lungDisease:  r.Float64() < 0.1,
		hr:           uniform(r, 60, 82),
		temp:         uniform(r, 36.2, 36.9),
		weight:       uniform(r, 48, 105),
		// Around Chengdu: a district spans a few kilometres.
		home: [2]float64{30.57 + uniform(r, -0.05, 0.05), 104.06 + uniform(r, -0.05, 0.05)},
	}
	if p.diabetic {
		p.fasting = uniform(r, 5.5, 8.5)
		p.mealRise = uniform(r, 2.5, 5.5)
	} else {
		p.fasting = uniform(r, 4.6, 5.6)
		p.mealRise = uniform(r, 1.0, 2.5)
	}
	if p.hypertensive {
		p.sys, p.dia = uniform(r, 132, 158), uniform(r, 82, 96)
	} else {
		p.sys, p.dia = uniform(r, 108, 128), uniform(r, 68, 80)
	}
	if p.lungDisease {
		p.spo2 = uniform(r, 91, 94)
	} else {
		p.spo2 = uniform(r, 96, 98.5)
	}
	return p
}

// hourOf is the local time of day of t in hours, 0 <= h < 24.
func hourOf(t time.Time, zone *time.Location) float64 {
	t = t.In(zone)
	return float64(t.Hour()) + float64(t.Minute())/60 + float64(t.Second())/3600
}

// glucoseContext is the context a patient gives a fingerstick reading at hour h: fasting on
// waking, after meals around breakfast, lunch and dinner, before meals just ahead of them,
// bedtime late in the evening.
func glucoseContext(h float64) string {
	switch {
	case h >= 5 && h < 9:
		return "fasting"
	case h >= 9 && h < 11:
		return "after_meal"
	case h >= 11 && h < 12:
		return "before_meal"
	case h >= 12 && h < 15:
		return "after_meal"
	case h >= 17.5 && h < 18.5:
		return "before_meal"
	case h >= 18.5 && h < 21:
		return "after_meal"
	case h >= 21:
		return "bedtime"
	}
	return "random"
}

// fingerstick is a meter reading in mmol/L for the context: the mean follows the patient's
// fasting level and meal rise, with measurement noise, rare hypoglycaemia (1%) and, for
// diabetics, hyperglycaemia (1.5%).
func (p *person) fingerstick(context string, r *rand.Rand) float64 {
	mean := p.fasting
	switch context {
	case "before_meal":
		mean += 0.4
	case "after_meal":
		mean += p.mealRise * uniform(r, 0.6, 1.3)
	case "bedtime":
		mean += p.mealRise * 0.35
	case "random":
		mean += 0.8
	}
	switch x := r.Float64(); {
	case x < 0.01:
		return uniform(r, 2.6, 3.8)
	case x < 0.025 && p.diabetic:
		return uniform(r, 14, 22)
	}
	return clamp(mean+r.NormFloat64()*(0.4+0.06*mean), 3.0, 25)
}

// meals are the local hours of breakfast, lunch and dinner.
var meals = [3]float64{7.5, 12.5, 18.5}

// interstitial is the CGM curve at local hour h, mmol/L: the fasting level, a dawn rise, and a
// rise after each meal that peaks about 50 minutes later and fades over two to three hours.
// mealShift moves the patient's meals (hours).
func (p *person) interstitial(h, mealShift float64) float64 {
	g := p.fasting*0.95 + 0.6*math.Exp(-sq((h-5.5)/1.5))
	const tau = 50.0 / 60 // hours to the peak
	for i, m := range meals {
		amp := p.mealRise * [3]float64{1.0, 0.8, 1.1}[i]
		for _, dt := range []float64{h - (m + mealShift), h + 24 - (m + mealShift)} {
			if dt > 0 {
				x := dt / tau
				g += amp * x * math.Exp(1-x)
			}
		}
	}
	return g
}

// bloodPressure is a home reading at local hour h: the morning surge (higher on waking, ESH
// home-BP guidance measures it on purpose), a lower night, noise, and rare crises for
// hypertensive patients.
func (p *person) bloodPressure(h float64, r *rand.Rand) (sys, dia float64) {
	sys, dia = p.sys, p.dia
	switch {
	case h >= 5 && h < 10:
		sys += uniform(r, 6, 16)
		dia += uniform(r, 3, 8)
	case h >= 18 && h < 23:
		sys += 2
	case h < 5:
		sys -= 8
		dia -= 5
	}
	if p.hypertensive && r.Float64() < 0.004 {
		return math.Round(uniform(r, 180, 205)), math.Round(uniform(r, 105, 125))
	}
	sys = clamp(sys+r.NormFloat64()*6, 75, 240)
	dia = clamp(dia+r.NormFloat64()*4, 42, 140)
	dia = min(dia, sys-15)
	return math.Round(sys), math.Round(dia)
}

// pulse is a resting pulse with noise, /min.
func (p *person) pulse(r *rand.Rand) float64 {
	return math.Round(clamp(p.hr+r.NormFloat64()*4, 38, 150))
}

// oxygen is an SpO2 reading with noise and a rare dip (1%), %.
func (p *person) oxygen(r *rand.Rand) float64 {
	v := p.spo2 + r.NormFloat64()*0.8
	if r.Float64() < 0.01 {
		v -= uniform(r, 4, 8)
	}
	return math.Round(clamp(v, 75, 100))
}

// bodyTemp is a temperature reading at local hour h, Cel: the circadian swing peaks in the late
// afternoon; a fever now and then (2%).
func (p *person) bodyTemp(h float64, r *rand.Rand) float64 {
	if r.Float64() < 0.02 {
		return uniform(r, 37.8, 39.6)
	}
	v := p.temp + 0.3*math.Cos(2*math.Pi*(h-17)/24) + r.NormFloat64()*0.15
	return clamp(v, 34.5, 41.5)
}

func uniform(r *rand.Rand, lo, hi float64) float64 { return lo + r.Float64()*(hi-lo) }

func clamp(v, lo, hi float64) float64 { return max(lo, min(hi, v)) }

func sq(x float64) float64 { return x * x }
