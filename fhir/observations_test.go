package fhir

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vitalwatch/vitalwatch/api"
	"github.com/vitalwatch/vitalwatch/reading"
	"github.com/vitalwatch/vitalwatch/summary"
)

// codingsOf lists a concept's codings as system|code.
func codingsOf(cc CodeableConcept) []string {
	var out []string
	for _, c := range cc.Coding {
		out = append(out, c.System+"|"+c.Code)
	}
	return out
}

// hasCategory reports whether o is in the observation category code.
func hasCategory(o Observation, code string) bool {
	return slices.ContainsFunc(o.Category, func(cc CodeableConcept) bool {
		return slices.Contains(codingsOf(cc), systemCategory+"|"+code)
	})
}

// TestObservationsOfReadings: each kind of reading is an Observation with its LOINC and IEEE
// 11073 codes, its UCUM unit, the vital-signs category and profile, its device and patient and
// its flags in words; the same on every read, by search and by id; events are none.
func TestObservationsOfReadings(t *testing.T) {
	f := newFixture(t)
	pages := f.all("doca", "/Observation?patient=pA1&date=ge2026-11-19T00:00:00Z")
	obs := resources[Observation](f, pages...)
	byCode := map[string]Observation{}
	for _, o := range obs {
		byCode[o.Code.Coding[0].Code+"@"+o.EffectiveDateTime] = o
		if o.Subject == nil || o.Subject.Reference != "Patient/pA1" || o.Status != "final" || o.Device == nil {
			t.Errorf("%s: subject %v, status %s, device %v", o.ID, o.Subject, o.Status, o.Device)
		}
	}
	type want struct {
		key      string
		id       string
		codings  []string
		value    float64
		unit     string
		category string
		profile  string
		device   string
		notes    string
	}
	loincSys, mdcSys := systemLOINC+"|", systemMDC+"|"
	for _, w := range []want{
		{"85354-9@2026-11-20T07:00:00Z", "bp-20261120T070000Z-cuffA", []string{loincSys + "85354-9", mdcSys + "150020"}, 0, "", "vital-signs",
			"http://hl7.org/fhir/StructureDefinition/bp", "Device/cuffA", "Position: sitting"},
		{"85354-9@2026-11-19T07:00:00Z", "bp-20261119T070000Z-cuffA", []string{loincSys + "85354-9", mdcSys + "150020"}, 0, "", "vital-signs",
			"http://hl7.org/fhir/StructureDefinition/bp", "Device/cuffA",
			"Measurement in doubt: the device flagged it (cuff_loose); VitalWatch leaves it out of clinical alerts and summaries|Device flags: irregular_pulse"},
		{"15074-8@2026-11-20T01:00:00Z", "glucose-20261120T010000Z-stA", []string{loincSys + "15074-8", mdcSys + "160184"}, 6.4, "mmol/L", "laboratory",
			profileVitals, "Device/stA", "Glucose context: fasting|Glucose source: fingerstick"},
		{"2708-6@2026-11-20T01:05:00Z", "spo2-20261120T010500Z-stA", []string{loincSys + "2708-6", loincSys + "59408-5", mdcSys + "150456"}, 95, "%", "vital-signs",
			"http://hl7.org/fhir/StructureDefinition/oxygensat", "Device/stA", ""},
		{"8310-5@2026-11-20T01:06:00Z", "temp-20261120T010600Z-stA", []string{loincSys + "8310-5", mdcSys + "150364"}, 36.8, "Cel", "vital-signs",
			"http://hl7.org/fhir/StructureDefinition/bodytemp", "Device/stA", ""},
		{"29463-7@2026-11-20T01:07:00Z", "weight-20261120T010700Z-stA", []string{loincSys + "29463-7", mdcSys + "188736"}, 72.5, "kg", "vital-signs",
			"http://hl7.org/fhir/StructureDefinition/bodyweight", "Device/stA", ""},
		{"8867-4@2026-11-20T01:08:00Z", "hr-20261120T010800Z-wearA", []string{loincSys + "8867-4", mdcSys + "149546"}, 70, "/min", "vital-signs",
			"http://hl7.org/fhir/StructureDefinition/heartrate", "Device/wearA", ""},
		{"41950-7@2026-11-20T02:00:00Z", "steps-20261120T020000Z-wearA", []string{loincSys + "41950-7"}, 4200, "/d", "activity", "", "Device/wearA", ""},
		{"99504-3@2026-11-19T15:55:00Z", "glucose-20261119T155500Z-cgmA", []string{loincSys + "99504-3", mdcSys + "160212"},
			round(cgmValue(14*288-1)*18.016, 1), "mg/dL", "vital-signs", profileCGMBase + "cgm-sensor-reading-mass-per-volume", "Device/cgmA", ""},
	} {
		o, ok := byCode[w.key]
		if !ok {
			t.Errorf("no observation %s among %d", w.key, len(obs))
			continue
		}
		var notes []string
		for _, n := range o.Note {
			notes = append(notes, n.Text)
		}
		got := fmt.Sprint(o.ID, codingsOf(o.Code), o.Device.Reference, strings.Join(notes, "|"))
		if exp := fmt.Sprint(w.id, w.codings, w.device, w.notes); got != exp {
			t.Errorf("%s = %s; want %s", w.key, got, exp)
		}
		if !hasCategory(o, w.category) || w.profile != "" && (o.Meta == nil || !slices.Contains(o.Meta.Profile, w.profile)) {
			t.Errorf("%s: category %v, meta %v; want %s, %s", w.key, o.Category, o.Meta, w.category, w.profile)
		}
		if w.unit != "" && (o.ValueQuantity == nil || o.ValueQuantity.Value != w.value || o.ValueQuantity.Code != w.unit || o.ValueQuantity.System != systemUCUM) {
			t.Errorf("%s: value %+v; want %v %s (UCUM)", w.key, o.ValueQuantity, w.value, w.unit)
		}
		if len(o.Identifier) != 1 || o.Identifier[0].System != systemReading {
			t.Errorf("%s: identifier %+v", w.key, o.Identifier)
		}
		// Fetched again by id, it is the same resource.
		var again Observation
		f.get("doca", "/Observation/"+o.ID, &again)
		a, _ := json.Marshal(again)
		b, _ := json.Marshal(o)
		if string(a) != string(b) {
			t.Errorf("GET Observation/%s = %s; the search gave %s", o.ID, a, b)
		}
	}
	bp := byCode["85354-9@2026-11-20T07:00:00Z"]
	var comps []string
	for _, c := range bp.Component {
		comps = append(comps, fmt.Sprint(codingsOf(c.Code), c.ValueQuantity.Value, c.ValueQuantity.Code))
	}
	if exp := fmt.Sprint([]string{
		fmt.Sprint([]string{loincSys + "8480-6", mdcSys + "150021"}, 142, "mm[Hg]"),
		fmt.Sprint([]string{loincSys + "8462-4", mdcSys + "150022"}, 91, "mm[Hg]"),
		fmt.Sprint([]string{loincSys + "8867-4", mdcSys + "149546"}, 74, "/min")}); fmt.Sprint(comps) != exp || bp.ValueQuantity != nil {
		t.Errorf("BP components %v, value %v; want %s and no value", comps, bp.ValueQuantity, exp)
	}
	// Since 19 November 00:00 UTC: the 192 CGM readings before 16:00 (where they end), the two
	// BP readings, 7 from the station and the wearable; no fall event.
	if len(obs) != 192+2+7 {
		t.Errorf("%d observations since 19 November; want 201", len(obs))
	}
	for _, o := range obs {
		if strings.Contains(strings.ToLower(o.Code.Text), "fall") {
			t.Errorf("an event is an observation: %+v", o)
		}
	}
}

// TestObservationSearch: pages newest first that together hold every reading once, also where a
// page ends between two readings of one millisecond; code and date narrow the search; bad
// parameters are 400s naming them.
func TestObservationSearch(t *testing.T) {
	f := newFixture(t)
	q := "/Observation?patient=Patient/pA1&date=ge2026-11-20&date=lt2026-11-21"
	var whole bundle
	f.get("doca", q+"&_count=500", &whole)
	all := resources[Observation](f, whole)
	var ids []string
	for _, o := range all {
		ids = append(ids, o.ID)
	}
	wantIDs := []string{"bp-20261120T070000Z-cuffA", "steps-20261120T020000Z-wearA", "spo2-20261120T010800Z-stA", "hr-20261120T010800Z-wearA",
		"weight-20261120T010700Z-stA", "temp-20261120T010600Z-stA", "spo2-20261120T010500Z-stA", "glucose-20261120T010000Z-stA"}
	if fmt.Sprint(ids) != fmt.Sprint(wantIDs) || whole.next() != "" || whole.Type != "searchset" {
		t.Errorf("20 November = %v (next %q); want %v", ids, whole.next(), wantIDs)
	}
	for _, count := range []int{1, 2, 3} {
		pages := f.all("doca", fmt.Sprintf("%s&_count=%d", q, count))
		var got []string
		for _, o := range resources[Observation](f, pages...) {
			got = append(got, o.ID)
		}
		if fmt.Sprint(got) != fmt.Sprint(wantIDs) || len(pages) != (len(wantIDs)+count-1)/count && len(pages) != (len(wantIDs)+count-1)/count+1 {
			t.Errorf("_count=%d: %d pages %v; want %v", count, len(pages), got, wantIDs)
		}
		for _, p := range pages {
			if len(p.Entry) > count {
				t.Errorf("_count=%d: a page of %d", count, len(p.Entry))
			}
		}
	}
	// All of the CGM's 4033 readings, in pages of 500.
	pages := f.all("doca", "/Observation?patient=pA1&code=http://loinc.org|99504-3&_count=500")
	cgm := resources[Observation](f, pages...)
	seen := map[string]bool{}
	for i, o := range cgm {
		if seen[o.ID] || i > 0 && o.EffectiveDateTime > cgm[i-1].EffectiveDateTime {
			t.Fatalf("CGM reading %d %s repeated or out of order", i, o.ID)
		}
		seen[o.ID] = true
	}
	if len(cgm) != 14*288+1 || len(pages) != 9 {
		t.Errorf("%d CGM readings in %d pages; want %d in 9", len(cgm), len(pages), 14*288+1)
	}

	for _, c := range []struct {
		query string
		want  []string
	}{
		{"code=85354-9", []string{"bp-20261120T070000Z-cuffA", "bp-20261119T070000Z-cuffA"}},
		{"code=urn:iso:std:iso:11073:10101|150456", []string{"spo2-20261120T010800Z-stA", "spo2-20261120T010500Z-stA"}},
		{"code=http://loinc.org|15074-8,http://loinc.org|8867-4", []string{"hr-20261120T010800Z-wearA", "glucose-20261120T010000Z-stA"}},
		{"code=http://loinc.org|2708-6&date=gt2026-11-20T01:05:00Z", []string{"spo2-20261120T010800Z-stA"}},
		{"code=2708-6&date=le2026-11-20T01:05:00Z", []string{"spo2-20261120T010500Z-stA"}},
		{"code=2708-6&date=2026-11-20T01:05", []string{"spo2-20261120T010500Z-stA"}},
		{"code=2708-6&date=2026-11-20T09:05:00%2B08:00", []string{"spo2-20261120T010500Z-stA"}},
		{"code=2708-6&date=2026-11-20T01:08:00.000Z", []string{"spo2-20261120T010800Z-stA"}},
		{"code=2708-6&date=2025", nil},
	} {
		var b bundle
		f.get("doca", "/Observation?patient=pA1&"+c.query, &b)
		var got []string
		for _, o := range resources[Observation](f, b) {
			got = append(got, o.ID)
		}
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s = %v; want %v", c.query, got, c.want)
		}
	}

	for _, c := range []struct{ query, param, issue string }{
		{"patient=pA1&code=1234-5", "code", "invalid"},
		{"patient=pA1&code=http://snomed.info/sct|85354-9", "code", "invalid"},
		{"patient=pA1&code=85354-9,cgm-summary", "code", "invalid"},
		{"patient=pA1&date=yesterday", "date", "invalid"},
		{"patient=pA1&date=ne2026-11-20", "date", "invalid"},
		{"patient=pA1&_count=0", "_count", "invalid"},
		{"patient=pA1&_count=501", "_count", "invalid"},
		{"patient=pA1&_page=xyz!", "_page", "invalid"},
		{"patient=pA1&subject=pA1", "subject", "not-supported"},
		{"patient=pA1&patient=pA2", "patient", "invalid"},
		{"code=85354-9", "patient", "invalid"},
		{"patient=pA1&code=cgm-summary&date=ge2026-11-01", "date", "invalid"},
	} {
		f.outcome("doca", "/Observation?"+c.query, 400, c.issue, c.param)
	}
	f.outcome("doca", "/Observation?patient=nobody", 404, "not-found", "")
	f.outcome("doca", "/Observation/bp-20261120T070001Z-cuffA", 404, "not-found", "")
	f.outcome("doca", "/Observation/nonsense", 404, "not-found", "")
}

// TestCGMSummary: the CGM summary is the HL7 CGM IG's set of Observations, with the figures of
// package summary over the same readings (the 14 local days before today, the reading in doubt
// left out), and each part reads back by its id.
func TestCGMSummary(t *testing.T) {
	f := newFixture(t)
	var b bundle
	f.get("doca", "/Observation?patient=pA1&code="+url.QueryEscape(systemCGMTemp+"|cgm-summary,http://loinc.org|97507-8,105273-7,106793-3,97506-0,104638-2,104636-6,104637-4"), &b)
	obs := resources[Observation](f, b)
	if b.Total == nil || *b.Total != 8 || len(obs) != 8 {
		t.Fatalf("CGM summary: %d observations, total %v; want 8", len(obs), b.Total)
	}

	// What package summary makes of the same readings.
	loc, _ := time.LoadLocation("Asia/Shanghai")
	var rs []reading.Reading
	for k := range 14 * 288 {
		rs = append(rs, reading.Reading{Type: reading.Glucose, Source: "cgm", Time: cgmStart.Add(time.Duration(k) * 5 * time.Minute), Value: cgmValue(k)})
	}
	ref := summary.Compute(summary.Input{AsOf: now, Loc: loc, Readings: rs, Plans: []string{"insulin-treated diabetes, older adult: CGM"}}).CGM
	if ref.Readings != 4032 || math.Abs(ref.Bands[2].Percent-72.9167) > 0.001 {
		t.Fatalf("reference report: %d readings, in range %v", ref.Readings, ref.Bands[2].Percent)
	}

	byCode := map[string]Observation{}
	for _, o := range obs {
		byCode[o.Code.Coding[0].Code] = o
		if o.EffectivePeriod == nil || o.EffectivePeriod.Start != "2026-11-06" || o.EffectivePeriod.End != "2026-11-19" ||
			o.Subject.Reference != "Patient/pA1" || o.Meta == nil || !strings.HasPrefix(o.Meta.Profile[0], profileCGMBase) {
			t.Errorf("%s: period %+v, subject %v, meta %v", o.ID, o.EffectivePeriod, o.Subject, o.Meta)
		}
	}
	value := func(code string) Quantity {
		o := byCode[code]
		if o.ValueQuantity == nil {
			t.Errorf("%s has no value", code)
			return Quantity{}
		}
		return *o.ValueQuantity
	}
	for _, c := range []struct {
		code string
		want Quantity
	}{
		{"97507-8", *unitMgdLCGM.quantity(round(ref.Mean.MgdL(), 1))},
		{"105273-7", *unitMmolCGM.quantity(round(float64(ref.Mean), 2))},
		{"97506-0", *unitPercent.quantity(round(ref.GMI, 2))},
		{"104638-2", *unitPercent.quantity(round(ref.CV, 2))},
		{"104636-6", *unitDays.quantity(14)},
		{"104637-4", *unitPercent.quantity(100)},
	} {
		if got := value(c.code); got != c.want {
			t.Errorf("%s = %+v; want %+v", c.code, got, c.want)
		}
	}
	var tir []string
	for _, comp := range byCode["106793-3"].Component {
		tir = append(tir, fmt.Sprintf("%s=%v%s", comp.Code.Coding[0].Code, comp.ValueQuantity.Value, comp.ValueQuantity.Code))
	}
	if exp := "[104642-4=2.08% 104641-6=4.17% 97510-2=72.92% 104640-8=18.06% 104639-0=2.78%]"; fmt.Sprint(tir) != exp {
		t.Errorf("times in ranges %v; want %s", tir, exp)
	}
	sum := byCode["cgm-summary"]
	if len(sum.HasMember) != 7 {
		t.Errorf("summary members %v; want 7", sum.HasMember)
	}
	var notes []string
	for _, n := range sum.Note {
		notes = append(notes, n.Text)
	}
	if !strings.Contains(strings.Join(notes, "|"), "1 CGM readings in doubt left out (sensor_malfunction 1)") ||
		!strings.Contains(strings.Join(notes, "|"), "targets older_high_risk") {
		t.Errorf("summary notes %q; want the reading in doubt and the older/high-risk targets", notes)
	}
	for _, m := range sum.HasMember {
		var o Observation
		f.get("doca", "/"+m.Reference, &o)
		if o.ID != strings.TrimPrefix(m.Reference, "Observation/") {
			t.Errorf("GET %s = %s", m.Reference, o.ID)
		}
	}
	// The API's summary of the same patient, as of the same time, says the same.
	a, err := api.New(api.Options{Auth: api.NewUserAuth(f.st, slog.New(slog.DiscardHandler)), Registry: f.st, Devices: f.view,
		Series: f.reader, Gatherer: prometheus.NewRegistry(), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/api/v1/patients/pA1/summary?to="+now.Format(time.RFC3339), nil)
	req.Header.Set("Authorization", "Bearer "+f.tokens["doca"])
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, req)
	var apiSum struct {
		CGM struct {
			Readings     int     `json:"readings"`
			SensorActive float64 `json:"sensor_active_percent"`
			Mean         float64 `json:"mean"`
			CV           float64 `json:"cv_percent"`
			GMI          float64 `json:"gmi_percent"`
			Bands        []struct {
				Percent float64 `json:"percent"`
			} `json:"bands"`
			Excluded struct {
				Readings int `json:"readings"`
			} `json:"excluded"`
		} `json:"cgm"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &apiSum); err != nil || rec.Code != 200 {
		t.Fatalf("the API's summary: %d %s", rec.Code, rec.Body)
	}
	ac := apiSum.CGM
	near := func(a, b, tol float64) bool { return math.Abs(a-b) <= tol }
	if !near(value("105273-7").Value, ac.Mean, 0.005) || !near(value("97506-0").Value, ac.GMI, 0.005) || !near(value("104638-2").Value, ac.CV, 0.005) ||
		!near(value("104637-4").Value, ac.SensorActive, 0.005) || ac.Readings != 4032 || ac.Excluded.Readings != 1 || len(ac.Bands) != 5 {
		t.Errorf("the API's CGM summary %+v differs from FHIR's", ac)
	}
	for i, comp := range byCode["106793-3"].Component {
		if !near(comp.ValueQuantity.Value, ac.Bands[i].Percent, 0.005) {
			t.Errorf("band %d: FHIR %v, API %v", i, comp.ValueQuantity.Value, ac.Bands[i].Percent)
		}
	}

	var again Observation
	f.get("doca", "/Observation/"+sum.ID, &again)
	if len(again.HasMember) != 7 {
		t.Errorf("GET %s: %+v", sum.ID, again)
	}
	// A period that has not ended is none; a patient without CGM data has no summary.
	f.outcome("doca", "/Observation/"+strings.Replace(sum.ID, "20261119", "20261120", 1), 404, "not-found", "")
	var none bundle
	f.get("doca", "/Observation?patient=pA2&code=cgm-summary", &none)
	if len(none.Entry) != 0 || none.Total == nil || *none.Total != 0 {
		t.Errorf("pA2's CGM summary: %d entries", len(none.Entry))
	}
}
