package testsrv

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// writeV2 posts line protocol to the 2.x write endpoint the way influxdb-client-go/v2 does and
// returns the status code and body.
func writeV2(t *testing.T, inf *Influx, authorization, lines string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, inf.URL+"/api/v2/write?bucket="+inf.Bucket+"&precision=ms", strings.NewReader(lines))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", authorization)
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST /api/v2/write: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestInfluxWriteV2AndQueryFlux(t *testing.T) {
	inf := StartInflux(t, InfluxOptions{})
	if inf.Bucket != "vitalwatch/autogen" {
		t.Fatalf("Bucket = %q; want %q", inf.Bucket, "vitalwatch/autogen")
	}

	// With auth-enabled = false, influxd 1.8 ignores the credentials; the client sends "Token "
	// followed by whatever the configuration holds.
	writes := []struct{ auth, line string }{
		{"Token ", `glucose,device=g1,patient=P-1 value=6.4 1763767800000`},
		{"Token user:pass", `glucose,device=g1,patient=P-1 value=7.1 1763767860000`},
		{"", `glucose,device=g2,patient=P-2 value=5.2 1763767800000`},
	}
	for _, w := range writes {
		if code, body := writeV2(t, inf, w.auth, w.line); code != http.StatusNoContent {
			t.Fatalf("write with Authorization %q: %d %s; want 204", w.auth, code, body)
		}
	}

	rows := inf.Query(t, `from(bucket: "vitalwatch/autogen")
  |> range(start: 0)
  |> filter(fn: (r) => r._measurement == "glucose" and r.device == "g1")
  |> sort(columns: ["_time"])`)
	if len(rows) != 2 {
		t.Fatalf("Query returned %d rows; want 2: %v", len(rows), rows)
	}
	want := []struct{ time, value string }{
		{"2025-11-21T23:30:00Z", "6.4"},
		{"2025-11-21T23:31:00Z", "7.1"},
	}
	for k, w := range want {
		r := rows[k]
		if r["_time"] != w.time || r["_value"] != w.value || r["_field"] != "value" || r["patient"] != "P-1" || r["result"] != "_result" {
			t.Errorf("row %d = %v; want _time %s, _value %s, _field value, patient P-1, result _result", k, r, w.time, w.value)
		}
	}

	if got := inf.Count(t, "glucose"); got != 3 {
		t.Errorf("Count(glucose) = %d; want 3", got)
	}
	if got := inf.Count(t, "none"); got != 0 {
		t.Errorf("Count(none) = %d; want 0", got)
	}

	// A point counts once whatever its fields; a point without some fields still counts; the same
	// series and time written twice is one point.
	bp := `bp,device=b1 systolic=142,diastolic=91,pulse=74 1763767800000
bp,device=b1 systolic=120,diastolic=80 1763767900000
bp,device=b2 pulse=60 1763767800000
bp,device=b1 systolic=142,diastolic=91,pulse=74 1763767800000`
	if code, body := writeV2(t, inf, "Token ", bp); code != http.StatusNoContent {
		t.Fatalf("write bp: %d %s", code, body)
	}
	if got := inf.Count(t, "bp"); got != 3 {
		t.Errorf("Count(bp) = %d; want 3", got)
	}

	// Names that Flux would otherwise interpolate or end early are quoted.
	if code, body := writeV2(t, inf, "Token ", `odd\ ${x}"m value=1 1763767800000`); code != http.StatusNoContent {
		t.Fatalf("write odd measurement: %d %s", code, body)
	}
	if got := inf.Count(t, `odd ${x}"m`); got != 1 {
		t.Errorf("Count(odd name) = %d; want 1", got)
	}
}

func TestInfluxOutageKeepsData(t *testing.T) {
	inf := StartInflux(t, InfluxOptions{Database: "outage"})
	if code, body := writeV2(t, inf, "Token ", `spo2,device=o1 value=95 1763767800000`); code != http.StatusNoContent {
		t.Fatalf("write: %d %s", code, body)
	}

	inf.Stop()
	inf.Stop() // idempotent
	if _, err := http.Get(inf.URL + "/ping"); err == nil {
		t.Fatalf("GET /ping succeeded while influxd is stopped")
	}

	inf.Start(t)
	if code, body := writeV2(t, inf, "Token ", `spo2,device=o1 value=94 1763767860000`); code != http.StatusNoContent {
		t.Fatalf("write after restart: %d %s", code, body)
	}
	if got := inf.Count(t, "spo2"); got != 2 {
		t.Errorf("Count(spo2) after an outage = %d; want 2", got)
	}
}

// TestInfluxStartsAgainWhenItsPortIsTaken holds the first port picked for influxd, as another
// test's server that bound it first would: influxd exits, and starts again on other ports.
func TestInfluxStartsAgainWhenItsPortIsTaken(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	go func() { // the holder is no HTTP server: it hangs up
		for {
			c, err := taken.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	busy := taken.Addr().(*net.TCPAddr).Port
	pick, picks := busyFirst(busy)
	inf := startInflux(t, findInfluxd(t), InfluxOptions{Database: "vitalwatch"}, pick)
	if inf.URL == "http://127.0.0.1:"+strconv.Itoa(busy) {
		t.Fatalf("influxd answers on %s, the port held by another", inf.URL)
	}
	if *picks < 4 {
		t.Errorf("%d ports picked; want two for the first start and two for the next", *picks)
	}
	if code, body := writeV2(t, inf, "Token x", "m v=1 1"); code != http.StatusNoContent {
		t.Errorf("write to the influxd started again = %d %s", code, body)
	}
}
