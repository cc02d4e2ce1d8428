package fleet

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/reallocation"
)

// versionedPatients is a registry's patient records with its version, counting the reads.
type versionedPatients struct {
	version int64
	records []devices.PatientRecord
	reads   int
}

func (p *versionedPatients) RegistryVersion(context.Context) (int64, error) { return p.version, nil }

func (p *versionedPatients) EachPatientRecord(_ context.Context, each func(devices.PatientRecord) error) error {
	p.reads++
	return eachOf(p.records, each)
}

// TestGrowthCached checks that the growth counts kept per registry version are those counted
// anew, as the clock moves (past records of either count, in any order) and as the records
// change with the version, and that the records are read once per version.
func TestGrowthCached(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	plans := []string{"hypertension", "diabetes and copd", "weight weekly", "none"}
	src := &versionedPatients{version: 1}
	record := func() devices.PatientRecord {
		return devices.PatientRecord{Patient: fmt.Sprint("p", rng.IntN(40)), At: t0.Add(time.Duration(rng.IntN(800*24)) * time.Hour),
			Site: fmt.Sprint("s", rng.IntN(4)), Plans: []string{plans[rng.IntN(len(plans))]}, PlansSet: rng.IntN(3) > 0}
	}
	for range 200 {
		src.records = append(src.records, record()) // times in no order, as instances' clocks differ
	}
	now := t0.AddDate(1, 6, 0)
	r, err := New(Deps{Store: nil, Patients: src, Now: func() time.Time { return now }}, reallocation.DefaultThresholds())
	if err != nil {
		t.Fatal(err)
	}
	changes := 0
	var last map[siteCondition]int
	for step := range 60 {
		if step%20 == 19 {
			src.version++
			src.records = append(src.records, record(), record())
		}
		now = now.Add(time.Duration(rng.IntN(72)-24) * time.Hour)
		gotBefore, gotNow, err := r.growthCached(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		wantBefore, wantNow, _ := r.growth(context.Background())
		if !reflect.DeepEqual(gotBefore, wantBefore) || !reflect.DeepEqual(gotNow, wantNow) {
			t.Fatalf("step %d at %v: kept counts %v, %v; counted anew %v, %v", step, now, gotBefore, gotNow, wantBefore, wantNow)
		}
		if last != nil && !reflect.DeepEqual(last, wantNow) {
			changes++
		}
		last = wantNow
	}
	if changes == 0 {
		t.Errorf("the counts never changed: the test tests nothing")
	}
	// One read per version by growthCached, and one per call by growth.
	if want := 4 + 60; src.reads != want {
		t.Errorf("%d reads of the records; want %d", src.reads, want)
	}
}
