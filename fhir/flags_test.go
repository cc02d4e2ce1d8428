package fhir

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestFlagsOfClinicalAlerts: each clinical alert the caller may see is a Flag, active until
// resolved, with the rule in words, its priority, and a DetectedIssue whose evidence references
// the Observations of the readings that raised it, which resolve; a fault alert is none.
func TestFlagsOfClinicalAlerts(t *testing.T) {
	f := newFixture(t)
	low, crisis := strconv.FormatInt(f.alerts["low"], 10), strconv.FormatInt(f.alerts["crisis"], 10)
	var b bundle
	f.get("doca", "/Flag?patient=pA1", &b)
	flags := resources[Flag](f, b)
	var got []string
	for _, fl := range flags {
		got = append(got, fmt.Sprintf("%s %s %s %s", fl.ID, fl.Status, fl.Code.Coding[0].Code, fl.Subject.Reference))
	}
	if want := []string{crisis + " active bp_crisis Patient/pA1", low + " inactive glucose_very_low Patient/pA1"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Flag?patient=pA1 = %v; want %v", got, want)
	}
	byID := map[string]Flag{}
	for _, fl := range flags {
		byID[fl.ID] = fl
	}
	c, l := byID[crisis], byID[low]
	if c.Code.Text != "Blood-pressure crisis (systolic at or above 180 mm[Hg], diastolic at or above 120 mm[Hg], retest window 15m)" ||
		l.Code.Text != "Very low glucose (below 3 mmol/L)" {
		t.Errorf("rule words %q, %q", c.Code.Text, l.Code.Text)
	}
	if c.Period == nil || c.Period.Start != "2026-11-19T07:00:00Z" || c.Period.End != "" || l.Period.End == "" || l.Period.Start != "2026-11-05T16:05:00Z" {
		t.Errorf("periods %+v, %+v", c.Period, l.Period)
	}
	if len(c.Category) != 1 || c.Category[0].Coding[0].Code != "clinical" {
		t.Errorf("category %+v", c.Category)
	}
	ext := map[string]Extension{}
	for _, e := range c.Extension {
		ext[e.URL] = e
	}
	if d := ext[extFlagDetail]; d.ValueReference == nil || d.ValueReference.Reference != "DetectedIssue/"+crisis {
		t.Errorf("flag-detail %+v", d)
	}
	if p := ext[extFlagPrio]; p.ValueCodeableConcept == nil || p.ValueCodeableConcept.Coding[0].Code != "PH" {
		t.Errorf("flag-priority %+v", p)
	}

	for _, c := range []struct {
		query string
		want  []string
	}{
		{"status=active", []string{crisis}},
		{"status=inactive&patient=pA1", []string{low}},
		{"status=entered-in-error", nil},
		{"patient=pB1", nil}, // docA sees team B's alerts not
		{"", []string{crisis, low}},
	} {
		var b bundle
		f.get("doca", "/Flag?"+c.query, &b)
		var ids []string
		for _, fl := range resources[Flag](f, b) {
			ids = append(ids, fl.ID)
		}
		if fmt.Sprint(ids) != fmt.Sprint(c.want) {
			t.Errorf("Flag?%s = %v; want %v", c.query, ids, c.want)
		}
	}
	pages := f.all("admin", "/Flag?_count=1")
	if n := len(resources[Flag](f, pages...)); n != 3 || len(pages) != 3 {
		t.Errorf("admin's flags: %d in %d pages; want 3 in 3 (the fault is none)", n, len(pages))
	}
	f.outcome("doca", "/Flag?status=closed", 400, "invalid", "status")

	var di DetectedIssue
	f.get("doca", "/DetectedIssue/"+crisis, &di)
	if di.Severity != "high" || di.Patient.Reference != "Patient/pA1" || di.Code.Coding[0].Code != "bp_crisis" ||
		!strings.Contains(di.Detail, "last value 185/121 mm[Hg]") || !strings.Contains(di.Detail, "in doubt: cuff_loose") {
		t.Errorf("DetectedIssue %+v", di)
	}
	var refs []string
	for _, e := range di.Evidence {
		for _, d := range e.Detail {
			refs = append(refs, d.Reference)
		}
	}
	if want := []string{"Observation/bp-20261119T070000Z-cuffA"}; !slices.Equal(refs, want) {
		t.Errorf("evidence %v; want %v", refs, want)
	}
	var lowIssue DetectedIssue
	f.get("doca", "/DetectedIssue/"+low, &lowIssue)
	refs = append(refs, lowIssue.Evidence[0].Detail[0].Reference)
	for _, ref := range refs {
		var o Observation
		f.get("doca", "/"+ref, &o)
		if "Observation/"+o.ID != ref || o.Subject.Reference != "Patient/pA1" {
			t.Errorf("GET %s = %s of %v", ref, o.ID, o.Subject)
		}
	}
	var lo Observation
	f.get("doca", "/"+refs[1], &lo)
	if lo.ValueQuantity.Value != round(2.8*18.016, 1) {
		t.Errorf("the low's evidence: %+v; want 2.8 mmol/L in mg/dL", lo.ValueQuantity)
	}
}

// TestDevicesAndEverything: the devices lent to a patient, and a fleet manager's; a device's
// IEEE 11073 type, serial, model, firmware and status; Patient/$everything, page after page,
// holds the patient, team and site, devices, CGM summary, flags with their issues and every
// reading, each once.
func TestDevicesAndEverything(t *testing.T) {
	f := newFixture(t)
	var b bundle
	f.get("doca", "/Device?patient=pA1", &b)
	var got []string
	for _, d := range resources[Device](f, b) {
		got = append(got, d.ID+" "+d.Patient.Reference)
	}
	if want := []string{"cgmA Patient/pA1", "cuffA Patient/pA1", "wearA Patient/pA1"}; fmt.Sprint(got) != fmt.Sprint(want) || *b.Total != 3 {
		t.Errorf("Device?patient=pA1 = %v (total %v); want %v", got, *b.Total, want)
	}
	var cuff Device
	f.get("fleeta", "/Device/cuffA", &cuff)
	if cuff.Type.Coding[0].System != systemMDC || cuff.Type.Coding[0].Code != "528391" || cuff.SerialNumber != "SN-cuffA" ||
		cuff.ModelNumber != "M-cuffA" || cuff.Version[0].Value != "1.2.3" || cuff.Version[0].Type.Coding[0].Code != "531976" ||
		cuff.Status != "active" || cuff.Owner.Reference != "Organization/site-sA" || cuff.Specialization[0].SystemType.Coding[0].Code != "528391" {
		t.Errorf("Device/cuffA = %+v", cuff)
	}
	var spare Device
	f.get("fleeta", "/Device/cuffA2", &spare)
	if spare.Status != "inactive" || spare.StatusReason[0].Text != "maintenance" || spare.Patient != nil {
		t.Errorf("Device/cuffA2 = %+v", spare)
	}
	var st Device
	f.get("fleeta", "/Device/stA", &st)
	if st.Type.Text != "Multi-parameter station" || len(st.Type.Coding) != 0 || st.Specialization != nil {
		t.Errorf("Device/stA type %+v", st.Type)
	}
	pages := f.all("fleeta", "/Device?_count=2")
	got = nil
	for _, d := range resources[Device](f, pages...) {
		got = append(got, d.ID)
	}
	if want := []string{"cgmA", "cuffA", "cuffA2", "stA", "wearA"}; fmt.Sprint(got) != fmt.Sprint(want) || len(pages) != 3 {
		t.Errorf("fleet A's devices %v in %d pages; want %v in 3", got, len(pages), want)
	}

	// Since 19 November, 50 a page: the crisis (the low was last seen on 5 November), then
	// the readings; the first page has the rest too.
	pages = f.all("doca", "/Patient/pA1/$everything?start=2026-11-19&_count=50")
	count := map[string]int{}
	seen := map[string]bool{}
	for _, pg := range pages {
		for _, e := range pg.Entry {
			if seen[e.FullURL] {
				t.Errorf("$everything: %s twice", e.FullURL)
			}
			seen[e.FullURL] = true
			count[strings.Split(strings.TrimPrefix(e.FullURL, "http://vitalwatch.test"+Base+"/"), "/")[0]]++
		}
	}
	// 192 CGM readings, 2 BP, 7 others, and the 8 of the CGM summary.
	want := map[string]int{"Patient": 1, "Organization": 2, "Device": 3, "Observation": 192 + 2 + 7 + 8, "Flag": 1, "DetectedIssue": 1}
	if fmt.Sprint(count) != fmt.Sprint(want) || len(pages) != 5 {
		t.Errorf("$everything holds %v in %d pages; want %v in 5", count, len(pages), want)
	}
	for _, b := range pages[0].Entry[:3] {
		if !strings.Contains(b.FullURL, "/Patient/pA1") && !strings.Contains(b.FullURL, "/Organization/") {
			t.Errorf("$everything's first entries %s", b.FullURL)
		}
	}
	// A page of one: the flag fills the first, the readings follow on the next.
	var first, second bundle
	f.get("doca", "/Patient/pA1/$everything?start=2026-11-19&_count=1", &first)
	f.get("doca", first.next(), &second)
	if last := first.Entry[len(first.Entry)-1].FullURL; !strings.Contains(last, "/DetectedIssue/") || len(second.Entry) != 1 ||
		!strings.Contains(second.Entry[0].FullURL, "/Observation/bp-20261120T070000Z-cuffA") || second.next() == "" {
		t.Errorf("$everything by one: first page ends %s, second %+v", last, second.Entry)
	}
	var since bundle
	f.get("doca", "/Patient/pA1/$everything?start=2026-11-20&end=2026-11-20", &since)
	count = map[string]int{}
	for _, e := range since.Entry {
		count[strings.Split(strings.TrimPrefix(e.FullURL, "http://vitalwatch.test"+Base+"/"), "/")[0]]++
	}
	// 20 November: no alert seen then, 8 readings.
	if want := map[string]int{"Patient": 1, "Organization": 2, "Device": 3, "Observation": 8 + 8}; fmt.Sprint(count) != fmt.Sprint(want) || since.next() != "" {
		t.Errorf("$everything of 20 November holds %v; want %v", count, want)
	}
	f.outcome("doca", "/Patient/pA1/$everything?start=soon", 400, "invalid", "start")
}
