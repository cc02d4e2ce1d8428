package store

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vitalwatch/vitalwatch/alerts"
	"github.com/vitalwatch/vitalwatch/internal/testsrv"
)

func TestDeviceFaultsSQLite(t *testing.T) {
	testDeviceFaults(t, func(t *testing.T) string { return filepath.Join(t.TempDir(), "vw.db") })
}

func TestDeviceFaultsPostgres(t *testing.T) {
	pg := testsrv.StartPostgres(t)
	testDeviceFaults(t, func(t *testing.T) string { return pg.NewDatabase(t) })
}

// DeviceFaults gives the fault alerts of the rules and devices asked for, open or resolved, by
// device and first seen; not those of other rules or devices, nor clinical alerts. In SQLite the
// query reads the index on device.
func testDeviceFaults(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	stuck, _, _ := mustApply(t, s, faultFinding(alerts.RuleStuckSensor, "cgm-1", "s1", alerts.Warning, 30))
	errs, _, _ := mustApply(t, s, faultFinding(alerts.RuleRepeatedErrors, "cgm-1", "s1", alerts.Warning, 10))
	resolve := faultFinding(alerts.RuleRepeatedErrors, "cgm-1", "s1", alerts.Info, 90)
	resolve.Resolve = true
	mustApply(t, s, resolve)
	mustApply(t, s, faultFinding(alerts.RuleBatteryLow, "cgm-1", "s1", alerts.Warning, 5))
	other, _, _ := mustApply(t, s, faultFinding(alerts.RuleImplausibleValues, "st-2", "s2", alerts.Warning, 0))
	mustApply(t, s, faultFinding(alerts.RuleImplausibleValues, "st-3", "s2", alerts.Warning, 0))
	mustApply(t, s, clinicalFinding("glucose_low", "p1", "t1", alerts.Warning, 0, "3.1"))

	rules := []string{alerts.RuleRepeatedErrors, alerts.RuleStuckSensor, alerts.RuleImplausibleValues}
	got, err := s.DeviceFaults(ctx, rules, []string{"cgm-1", "st-2", "nobody"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].ID != errs.ID || got[1].ID != stuck.ID || got[2].ID != other.ID {
		t.Fatalf("DeviceFaults = %+v; want cgm-1's repeated errors and stuck sensor, then st-2's implausible values", got)
	}
	if e := got[0]; e.Rule != alerts.RuleRepeatedErrors || e.Device != "cgm-1" || e.Site != "s1" || e.State != alerts.Resolved ||
		!e.FirstSeen.Equal(alertBase.Add(10*60e9)) || !e.ResolvedAt.After(e.FirstSeen.Add(-1)) || e.Subject.String() != "device/cgm-1" {
		t.Errorf("the repeated errors = %+v; want resolved, first seen 10 minutes after the base", e)
	}
	if !got[1].ResolvedAt.IsZero() || got[1].State != alerts.Open {
		t.Errorf("the stuck sensor = %+v; want open, not resolved", got[1])
	}
	if got, err := s.DeviceFaults(ctx, rules, nil); err != nil || len(got) != 0 {
		t.Errorf("DeviceFaults of no device = %v, %v; want none", got, err)
	}
	if s.dialect == sqlite {
		p := queryPlan(t, s.db, `SELECT id FROM alerts INDEXED BY alerts_device WHERE device IN ($1, $2) AND rule IN ($3) AND category = 'fault'`,
			"cgm-1", "st-2", alerts.RuleStuckSensor)
		if !strings.Contains(p, "alerts_device") {
			t.Errorf("query plan %q; want it to read alerts_device", p)
		}
	}
}
