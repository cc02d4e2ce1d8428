package csvimport

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestDevicesReportsBadRowsByLine(t *testing.T) {
	in := `id,kind,site,mode,rated_uses_per_day,secret
cuff-1,bp_cuff,centre-a,home,,
st-1,station,centre-a,station,40,0123456789abcdefXYZ
bad id,bp_cuff,centre-a,home,,
g-1,toaster,centre-a,home,,
st-2,station,centre-a,station,,
c-2,bp_cuff,centre-a,home,many,
c-3,bp_cuff,centre-a,home
c-4,bp_cuff,centre-a,home,,short
`
	rows, bad, err := Devices(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Value.ID != "cuff-1" || rows[0].Line != 2 || rows[1].Value.Secret != "0123456789abcdefXYZ" || rows[0].Value.Status != "active" {
		t.Errorf("good rows = %+v; want cuff-1 (line 2, active) and st-1 with its secret", rows)
	}
	want := []struct {
		line int
		has  string
	}{{4, "device id"}, {5, "kind"}, {6, "rated uses"}, {7, "rated_uses_per_day"}, {8, "fields"}, {9, "secret"}}
	if len(bad) != len(want) {
		t.Fatalf("bad rows = %v; want %d", bad, len(want))
	}
	for i, w := range want {
		if bad[i].Line != w.line || !strings.Contains(bad[i].Reason, w.has) {
			t.Errorf("bad[%d] = %v; want line %d mentioning %q", i, bad[i], w.line, w.has)
		}
	}
}

func TestHeaderErrors(t *testing.T) {
	for _, in := range []string{"", "id,name,colour\n", "id\n"} {
		_, _, err := Sites(strings.NewReader(in))
		if err == nil {
			t.Errorf("Sites(%q) accepted a bad header", in)
		}
	}
}

func TestSitesPatientsAssignments(t *testing.T) {
	sites, bad, err := Sites(strings.NewReader("id,name,lat,lon,time_zone\nc1,Centre One,31.2,121.5,Asia/Shanghai\nc2,Two,95,0,\nc3,Three,1,2,Mars/Base\n"))
	if err != nil || len(sites) != 1 || len(bad) != 2 || sites[0].Value.Lat != 31.2 {
		t.Errorf("Sites = %+v, %v, %v", sites, bad, err)
	}
	pats, bad, err := Patients(strings.NewReader("id,team,plans\nP-1,t1,hypertension: BP daily; diabetes: glucose 4 a day\n"))
	if err != nil || len(bad) != 0 || fmt.Sprint(pats[0].Value.Plans) != "[hypertension: BP daily diabetes: glucose 4 a day]" {
		t.Errorf("Patients = %+v, %v, %v", pats, bad, err)
	}
	as, bad, err := Assignments(strings.NewReader("device,patient,from\ncuff-1,P-1,2026-10-01T00:00:00+08:00\ncuff-2,P-2,2026-10-02\ncuff-3,P-3,yesterday\n"))
	if err != nil || len(as) != 2 || len(bad) != 1 || bad[0].Line != 4 {
		t.Errorf("Assignments = %+v, %v, %v", as, bad, err)
	}
}

func TestPatientsBirthYear(t *testing.T) {
	in := `id,team,plans,birth_year
P-1,t1,hypertension: BP daily,1948
P-2,t1,,
P-3,t1,,0
P-4,t1,,1948-05-01
P-5,t1,,1899
P-6,t1,,9999
P-7,t1,,1948.0
`
	rows, bad, err := Patients(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows {
		got = append(got, fmt.Sprintf("%s %d (line %d)", r.Value.ID, r.Value.BirthYear, r.Line))
	}
	if want := "[P-1 1948 (line 2) P-2 0 (line 3) P-3 0 (line 4)]"; fmt.Sprint(got) != want {
		t.Errorf("good rows = %v; want %s", got, want)
	}
	want := []struct {
		line int
		has  string
	}{{5, `birth_year: "1948-05-01" is not a whole number`}, {6, "birth_year 1899 is not a year from 1900"}, {7, "birth_year 9999"}, {8, "birth_year"}}
	if len(bad) != len(want) {
		t.Fatalf("bad rows = %v; want %d", bad, len(want))
	}
	for i, w := range want {
		if bad[i].Line != w.line || !strings.Contains(bad[i].Reason, w.has) {
			t.Errorf("bad[%d] = %v; want line %d mentioning %q", i, bad[i], w.line, w.has)
		}
	}
	// The column is optional.
	if rows, bad, err := Patients(strings.NewReader("id,team\nP-1,t1\n")); err != nil || len(bad) != 0 || len(rows) != 1 || rows[0].Value.BirthYear != 0 {
		t.Errorf("Patients(without birth_year) = %+v, %v, %v; want P-1, birth year unknown", rows, bad, err)
	}
}

// A devices file creates devices: a row whose id no broker can take as a username, or that is
// reserved for the platform's own MQTT users, is reported with its line like any bad row.
func TestDevicesRefusesIDsNoBrokerCanTake(t *testing.T) {
	in := "id,kind,site,mode\ncuff-1,bp_cuff,c1,home\nc1:cuff-2,bp_cuff,c1,home\nvitalwatch-ingest,bp_cuff,c1,home\n"
	rows, bad, err := Devices(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Value.ID != "cuff-1" {
		t.Errorf("good rows = %+v; want cuff-1 only", rows)
	}
	if len(bad) != 2 || bad[0].Line != 3 || !strings.Contains(bad[0].Reason, "':'") || bad[1].Line != 4 || !strings.Contains(bad[1].Reason, "reserved") {
		t.Errorf("bad rows = %+v; want line 3 (':') and line 4 (reserved)", bad)
	}
}

func TestRepairs(t *testing.T) {
	rs, bad, err := Repairs(strings.NewReader("device,from,until\n" +
		"stn-1,2026-08-03T11:20:00+08:00,2026-08-07T09:00:00+08:00\n" +
		"stn-2,2026-08-03,2026-08-04\n" +
		"stn-3,2026-08-05T10:00:00+08:00,\n" +
		"stn-4,2026-08-05,2026-08-01\n" +
		"stn 5,2026-08-05,2026-08-06\n"))
	if err != nil || len(rs) != 2 || rs[0].Line != 2 || rs[0].Value.DeviceID != "stn-1" ||
		rs[0].Value.Until.Sub(rs[0].Value.From) != 3*24*time.Hour+21*time.Hour+40*time.Minute {
		t.Errorf("Repairs = %+v, %v; want stn-1 and stn-2", rs, err)
	}
	var got []string
	for _, b := range bad {
		got = append(got, fmt.Sprintf("%d %s", b.Line, b.Column))
	}
	if fmt.Sprint(got) != "[4 until 5 until 6 device]" {
		t.Errorf("bad rows %+v; want lines 4 and 5 on until (missing, before from), 6 on device", bad)
	}
	if _, _, err := Repairs(strings.NewReader("device,from\nstn-1,2026-08-03\n")); err == nil {
		t.Errorf("Repairs without until in the header: no error")
	}
}
