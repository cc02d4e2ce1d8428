package main

import (
	"net/http"
	"testing"

	"github.com/vitalwatch/vitalwatch/internal/testsrv"
)

// TestReadyzChecksEveryDependency: readiness names each thing ingest needs, the spool included,
// so that an operator sees which one is missing.
func TestReadyzChecksEveryDependency(t *testing.T) {
	ix := testsrv.StartInflux(t, testsrv.InfluxOptions{})
	srv := startServe(t, []string{"VITALWATCH_DATA_DIR=" + t.TempDir(), "VITALWATCH_INFLUX_URL=" + ix.URL, "VITALWATCH_INFLUX_BUCKET=" + ix.Bucket})
	var ready struct {
		Status string `json:"status"`
		Checks []struct {
			Name string `json:"name"`
			OK   bool   `json:"ok"`
		} `json:"checks"`
	}
	getJSON(t, "http://"+srv.HTTP+"/readyz", "", http.StatusOK, &ready)
	got := map[string]bool{}
	for _, c := range ready.Checks {
		got[c.Name] = c.OK
	}
	for _, name := range []string{"store", "broker", "influx", "spool"} {
		if ok, present := got[name]; !present || !ok {
			t.Errorf("/readyz checks = %+v; want %s present and ok", ready.Checks, name)
		}
	}
}
