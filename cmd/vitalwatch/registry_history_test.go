package main

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/internal/testsrv"
	"github.com/vitalwatch/vitalwatch/store"
)

// `registry import` of a maintenance.csv records each device's past repairs as its periods, on
// SQLite and on PostgreSQL, and reports a repair the device's history cannot hold with its line.
func TestRegistryImportMaintenance(t *testing.T) {
	t.Run("SQLite", func(t *testing.T) {
		dataDir := t.TempDir()
		testRegistryImportMaintenance(t, []string{"VITALWATCH_DATA_DIR=" + dataDir}, filepath.Join(dataDir, dbFile))
	})
	t.Run("Postgres", func(t *testing.T) {
		if testing.Short() {
			t.Skip("starts PostgreSQL")
		}
		dsn := testsrv.StartPostgres(t).NewDatabase(t)
		testRegistryImportMaintenance(t, []string{"VITALWATCH_STORE_DSN=" + dsn, "VITALWATCH_DATA_DIR=" + t.TempDir()}, dsn)
	})
}

func testRegistryImportMaintenance(t *testing.T, env []string, dsn string) {
	in := t.TempDir()
	files := map[string]string{
		"sites.csv": "id,name,lat,lon,time_zone\nc1,Centre One,30.6,104.1,Asia/Shanghai\n",
		"devices.csv": "id,kind,site,mode,rated_uses_per_day,secret,in_service\n" +
			"st-1,station,c1,station,40,provisioned-secret-0001,2026-07-01T00:00:00+08:00\n" +
			"st-2,station,c1,station,40,provisioned-secret-0002,2026-07-01T00:00:00+08:00\n",
		"maintenance.csv": "device,from,until\n" +
			"st-1,2026-08-03T11:20:00+08:00,2026-08-07T09:00:00+08:00\n" +
			"st-1,2026-09-10T15:00:00+08:00,2026-09-11T08:30:00+08:00\n" +
			"st-1,2026-08-06T10:00:00+08:00,2026-08-09T10:00:00+08:00\n" + // overlaps line 2
			"st-2,2026-06-20T10:00:00+08:00,2026-07-02T10:00:00+08:00\n" + // before it entered service
			"st-9,2026-08-01T10:00:00+08:00,2026-08-02T10:00:00+08:00\n" + // no such device
			"st-2,2026-10-01T10:00:00+08:00,2026-09-30T10:00:00+08:00\n", // ends before it starts
	}
	for name, body := range files {
		os.WriteFile(filepath.Join(in, name), []byte(body), 0o600)
	}
	ctx := context.Background()
	var out, errOut strings.Builder
	err := run(ctx, []string{"registry", "import", in}, env, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "4 bad rows") {
		t.Fatalf("registry import error = %v; want 4 bad rows reported\n%s", err, errOut.String())
	}
	for _, want := range []string{
		"maintenance.csv:4: device st-1 was maintenance at c1 from 2026-08-03T03:20:00Z until 2026-08-07T01:00:00Z",
		"maintenance.csv:5: device st-2 entered service at 2026-06-30T16:00:00Z, after the repair starts",
		"maintenance.csv:6: device st-9 not found",
		"maintenance.csv:7: until: the repair ends before it starts",
		"maintenance.csv: 2 rows imported",
	} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("import report lacks %q:\n%s", want, errOut.String())
		}
	}

	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cst := time.FixedZone("CST", 8*3600)
	at := func(mo time.Month, d, h, m int) time.Time { return time.Date(2026, mo, d, h, m, 0, 0, cst).UTC() }
	want := []devices.Period{
		{DeviceID: "st-1", SiteID: "c1", Status: devices.Active, From: at(7, 1, 0, 0), Until: at(8, 3, 11, 20)},
		{DeviceID: "st-1", SiteID: "c1", Status: devices.Maintenance, From: at(8, 3, 11, 20), Until: at(8, 7, 9, 0)},
		{DeviceID: "st-1", SiteID: "c1", Status: devices.Active, From: at(8, 7, 9, 0), Until: at(9, 10, 15, 0)},
		{DeviceID: "st-1", SiteID: "c1", Status: devices.Maintenance, From: at(9, 10, 15, 0), Until: at(9, 11, 8, 30)},
		{DeviceID: "st-1", SiteID: "c1", Status: devices.Active, From: at(9, 11, 8, 30)},
	}
	got, err := st.DevicePeriods(ctx, at(1, 1, 0, 0), time.Now().Add(time.Hour), "st-1")
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("st-1's periods = %+v, %v\nwant %+v", got, err, want)
	}
	if d, _ := st.GetDevice(ctx, "st-1"); d.Status != devices.Active {
		t.Errorf("st-1 is %s after its past repairs; want active", d.Status)
	}
	log, _ := st.AuditLog(ctx, audit.Filter{Subject: "device/st-1", Action: "device.history_import"})
	if len(log) != 2 || !strings.HasPrefix(log[0].Actor, "cli") || !strings.Contains(log[0].Detail, `"imported":"history"`) {
		t.Errorf("audit of st-1's imported repairs = %+v; want 2 entries by the CLI user, an import of history", log)
	}
}
