package devices

import (
	"context"
	"strconv"
	"testing"
	"time"
)

func TestPatientAtFollowsAssignments(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	d := NewDirectory(1, []Device{{ID: "cuff-1", Kind: BPCuff, Mode: Home}}, []Assignment{
		{DeviceID: "cuff-1", PatientID: "P-2", From: t0.Add(10 * day)},                        // current
		{DeviceID: "cuff-1", PatientID: "P-1", From: t0, Until: t0.Add(5 * day)},              // earlier
		{DeviceID: "other", PatientID: "P-9", From: t0},                                       // unknown device: ignored
		{DeviceID: "cuff-1", PatientID: "P-3", From: t0.Add(6 * day), Until: t0.Add(8 * day)}, // between
	}, []string{"P-1", "P-2", "P-3"})
	tests := []struct {
		at   time.Time
		want string
	}{
		{t0.Add(-time.Second), ""},
		{t0, "P-1"},
		{t0.Add(5*day - time.Millisecond), "P-1"},
		{t0.Add(5 * day), ""}, // returned, not yet lent again
		{t0.Add(7 * day), "P-3"},
		{t0.Add(8 * day), ""},
		{t0.Add(10 * day), "P-2"},
		{t0.Add(400 * day), "P-2"},
	}
	for _, tt := range tests {
		if got := d.PatientAt("cuff-1", tt.at); got != tt.want {
			t.Errorf("PatientAt(cuff-1, %v) = %q; want %q", tt.at, got, tt.want)
		}
	}
	if got := d.PatientAt("nope", t0); got != "" {
		t.Errorf("PatientAt(unknown device) = %q; want empty", got)
	}
	if !d.HasPatient("P-3") || d.HasPatient("P-9") {
		t.Error("HasPatient wrong")
	}
}

func TestSecretHashVerifies(t *testing.T) {
	s := NewSecret()
	h := HashSecret(s)
	if !VerifySecret(h, s) {
		t.Fatalf("VerifySecret(HashSecret(s), s) = false")
	}
	if VerifySecret(h, s+"x") || VerifySecret(h, "") || VerifySecret("plain", s) {
		t.Fatal("VerifySecret accepted a wrong secret or a malformed hash")
	}
	if HashSecret(s) == h {
		t.Fatal("two hashes of one secret are equal: the salt is not random")
	}
}

func BenchmarkDirectoryLookup(b *testing.B) {
	var devs []Device
	var as []Assignment
	t0 := time.Now().Add(-365 * 24 * time.Hour)
	for i := range 100000 {
		id := "dev-" + strconv.Itoa(i)
		devs = append(devs, Device{ID: id, Kind: BPCuff, SiteID: "s1", Mode: Home, Status: Active})
		for j := range 3 {
			as = append(as, Assignment{DeviceID: id, PatientID: "P-" + strconv.Itoa(i*3+j), From: t0.Add(time.Duration(j) * 100 * 24 * time.Hour),
				Until: t0.Add(time.Duration(j+1) * 100 * 24 * time.Hour)})
		}
	}
	d := NewDirectory(1, devs, as, nil)
	at := t0.Add(150 * 24 * time.Hour)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		id := devs[i%len(devs)].ID
		if dev, ok := d.Device(id); !ok || dev.Status != Active || d.PatientAt(id, at) == "" {
			b.Fatal("lookup failed")
		}
		i++
	}
}

type fakeSource struct {
	version int64
	loads   int
}

func (f *fakeSource) RegistryVersion(context.Context) (int64, error) { return f.version, nil }
func (f *fakeSource) LoadDirectory(context.Context) (*Directory, error) {
	f.loads++
	return NewDirectory(f.version, nil, nil, nil), nil
}

func TestRefreshLoadsOnlyOnChange(t *testing.T) {
	src := &fakeSource{version: 3}
	v := NewView(NewDirectory(0, nil, nil, nil))
	for range 3 {
		if err := Refresh(context.Background(), v, src); err != nil {
			t.Fatal(err)
		}
	}
	if src.loads != 1 || v.Load().Version() != 3 {
		t.Fatalf("after 3 refreshes at one version: %d loads, version %d; want 1 load, version 3", src.loads, v.Load().Version())
	}
	src.version = 4
	Refresh(context.Background(), v, src)
	if src.loads != 2 || v.Load().Version() != 4 {
		t.Fatalf("after a version change: %d loads, version %d; want 2, 4", src.loads, v.Load().Version())
	}
}

func TestDirectoryLocation(t *testing.T) {
	d := NewDirectory(1, nil, nil, nil).WithSites([]Site{
		{ID: "sh", TimeZone: "Asia/Shanghai"}, {ID: "none"}, {ID: "bad", TimeZone: "Mars/Olympus"},
	})
	if got := d.Location("sh").String(); got != "Asia/Shanghai" {
		t.Errorf("Location(sh) = %s; want Asia/Shanghai", got)
	}
	for _, id := range []string{"none", "bad", "unknown"} {
		if got := d.Location(id); got != time.UTC {
			t.Errorf("Location(%s) = %s; want UTC", id, got)
		}
	}
}
