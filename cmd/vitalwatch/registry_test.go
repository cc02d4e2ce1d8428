package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/audit"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/store"
)

func TestRegistryCLI(t *testing.T) {
	dataDir, in := t.TempDir(), t.TempDir()
	env := []string{"VITALWATCH_DATA_DIR=" + dataDir}
	files := map[string]string{
		"sites.csv":    "id,name,lat,lon,time_zone\nc1,Centre One,30.6,104.1,Asia/Shanghai\n",
		"teams.csv":    "id,site,name\nt1,c1,Team one\nt2,c9,Nowhere team\n",
		"patients.csv": "id,team,plans\nP-1,t1,hypertension: BP daily\nP-2,t1,\n",
		"devices.csv": "id,kind,site,mode,rated_uses_per_day,secret\n" +
			"cuff-1,bp_cuff,c1,home,,\n" +
			"st-1,station,c1,station,40,provisioned-secret-0001\n" +
			"cuff-1,bp_cuff,c1,home,,\n" + // duplicate
			"x y,bp_cuff,c1,home,,\n", // bad id
		"assignments.csv": "device,patient,from\ncuff-1,P-1,2026-10-01T00:00:00Z\n",
	}
	for name, body := range files {
		os.WriteFile(filepath.Join(in, name), []byte(body), 0o600)
	}
	var out, errOut strings.Builder
	err := run(context.Background(), []string{"registry", "import", in}, env, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "3 bad rows") {
		t.Fatalf("registry import error = %v; want 3 bad rows reported\n%s", err, errOut.String())
	}
	for _, want := range []string{"teams.csv:3: site c9 does not exist", "devices.csv:4:", "already exists", "devices.csv:5:", "devices.csv: 2 rows imported"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("import report lacks %q:\n%s", want, errOut.String())
		}
	}
	// cuff-1 had no secret in the file: one is made and printed once; st-1's provisioned one is kept.
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || lines[0] != "device,secret" || !strings.HasPrefix(lines[1], "cuff-1,") {
		t.Fatalf("printed secrets = %q; want a header and cuff-1's", out.String())
	}
	cuffSecret := strings.TrimPrefix(lines[1], "cuff-1,")

	open := func() *store.Store {
		st, err := store.Open(context.Background(), filepath.Join(dataDir, dbFile))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	st := open()
	ctx := context.Background()
	cuff, _ := st.GetDevice(ctx, "cuff-1")
	station, _ := st.GetDevice(ctx, "st-1")
	if !devices.VerifySecret(cuff.SecretHash, cuffSecret) || !devices.VerifySecret(station.SecretHash, "provisioned-secret-0001") {
		t.Error("stored hashes do not verify the printed and the provisioned secrets")
	}
	dir, _ := st.LoadDirectory(ctx)
	if dir.PatientAt("cuff-1", time.Date(2026, 10, 5, 0, 0, 0, 0, time.UTC)) != "P-1" {
		t.Error("the assignment from assignments.csv is not in the registry")
	}

	out.Reset()
	if err := run(ctx, []string{"devices", "rotate-secret", "cuff-1"}, env, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	newSecret := strings.TrimSpace(strings.Split(out.String(), "\n")[1])
	cuff, _ = st.GetDevice(ctx, "cuff-1")
	if devices.VerifySecret(cuff.SecretHash, cuffSecret) || !devices.VerifySecret(cuff.SecretHash, newSecret) {
		t.Error("after rotate-secret the old secret still works or the new one does not")
	}
	if err := run(ctx, []string{"devices", "retire", "st-1"}, env, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if d, _ := st.GetDevice(ctx, "st-1"); d.Status != devices.Retired {
		t.Errorf("st-1 status = %s; want retired", d.Status)
	}
	if err := run(ctx, []string{"devices", "add", "--id", "ox-1", "--kind", "oximeter", "--site", "nowhere"}, env, &out, &errOut); err == nil ||
		!strings.Contains(err.Error(), "nowhere") {
		t.Errorf("devices add at an unknown site: %v; want an error naming it", err)
	}
	log, _ := st.AuditLog(ctx, audit.Filter{Subject: "device/cuff-1"})
	if len(log) < 3 || !strings.HasPrefix(log[0].Actor, "cli") {
		t.Errorf("audit of cuff-1 = %+v; want create, assign and secret rotation by the CLI user", log)
	}
}
