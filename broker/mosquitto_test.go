package broker

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/internal/testsrv"
)

func TestWriteMosquittoFiles(t *testing.T) {
	f := newFleet()
	dir := t.TempDir()
	ph := HashPrincipal(ingest)
	ph2 := HashPrincipal(sharedIngest)
	if left, err := WriteMosquittoFiles(dir, f.devs, "devices", []PrincipalHash{ph, ph2}); err != nil || len(left) != 0 {
		t.Fatal(left, err)
	}
	passwd, acl := readFile(t, dir, "passwd"), readFile(t, dir, "acl")
	wantPasswd := "A:" + f.devs[0].SecretHash + "\nB:" + f.devs[1].SecretHash + "\n" + ingest.Username + ":" + ph.PasswordHash + "\n" +
		sharedIngest.Username + ":" + ph2.PasswordHash + "\n"
	if passwd != wantPasswd {
		t.Errorf("passwd = %q; want %q (no retired R)", passwd, wantPasswd)
	}
	wantACL := `# Written by vitalwatch; changes are overwritten.
pattern write devices/%u/#
pattern read devices/%u/commands

user vitalwatch-ingest
topic read devices/+/telemetry
topic read devices/+/status
topic read $share/+/devices/+/telemetry
topic read vitalwatch/ingest/+/probe
topic write vitalwatch/ingest/+/probe
topic write devices/+/commands

user ingest-2
topic read $share/+/devices/+/telemetry
topic read devices/+/telemetry
`
	if acl != wantACL {
		t.Errorf("acl = %q; want %q", acl, wantACL)
	}
	for _, name := range []string{"passwd", "acl"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v; want 0600", name, err, fi.Mode().Perm())
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("dir holds %d entries; want passwd and acl only (no temporary files)", len(entries))
	}

}

// TestWriteMosquittoFilesLeavesOutWhatTheyCannotHold: a device already in the registry whose id
// Mosquitto's files cannot hold, or that is named like a principal, is left out and reported;
// everything else is still written, so that one bad device never stops a revocation.
func TestWriteMosquittoFilesLeavesOutWhatTheyCannotHold(t *testing.T) {
	f := newFleet()
	dir := t.TempDir()
	hash := f.devs[0].SecretHash
	bad := []devices.Device{
		{ID: "site:1", Status: devices.Active, SecretHash: hash},
		{ID: "vitalwatch-ingest", Status: devices.Active, SecretHash: hash},
		{ID: "a b", Status: devices.Active, SecretHash: hash},
		{ID: "a/b", Status: devices.Active, SecretHash: hash},
		{ID: "c+", Status: devices.Active, SecretHash: hash},
		{ID: "C", Status: devices.Active, SecretHash: "x:y"},
	}
	ph := HashPrincipal(ingest)
	left, err := WriteMosquittoFiles(dir, append(slices.Clone(f.devs), bad...), "devices", []PrincipalHash{ph})
	if err != nil {
		t.Fatalf("WriteMosquittoFiles with devices it cannot hold: %v; want them left out", err)
	}
	got := map[string]string{}
	for _, e := range left {
		got[e.ID] = e.Reason
	}
	for id, why := range map[string]string{"site:1": "':'", "vitalwatch-ingest": "principal", "a b": "A-Z", "a/b": "A-Z", "c+": "A-Z", "C": "hash"} {
		if !strings.Contains(got[id], why) {
			t.Errorf("left out %q for %q; want a reason saying %q (all: %v)", id, got[id], why, left)
		}
	}
	if len(left) != len(bad) {
		t.Errorf("left out %v; want exactly the %d bad devices", left, len(bad))
	}
	want := "A:" + hash + "\nB:" + f.devs[1].SecretHash + "\n" + ingest.Username + ":" + ph.PasswordHash + "\n"
	if passwd := readFile(t, dir, "passwd"); passwd != want {
		t.Errorf("passwd = %q; want %q: the good devices and the principal, nothing else", passwd, want)
	}

	// A principal's own problems are the operator's configuration: an error, nothing written.
	for _, p := range []PrincipalHash{{Username: "in:gest", PasswordHash: ph.PasswordHash}, {Username: "in gest", PasswordHash: ph.PasswordHash},
		{Username: "ingest", PasswordHash: ""}, ph} {
		dir := t.TempDir()
		if _, err := WriteMosquittoFiles(dir, f.devs, "devices", []PrincipalHash{ph, p}); err == nil {
			t.Errorf("WriteMosquittoFiles with principal %q: nil error; want one", p.Username)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("principal %q refused, yet %d files were written", p.Username, len(entries))
		}
	}
}

func readFile(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestMosquittoPasswdHashVerifies: a hash made by mosquitto_passwd verifies with devices.VerifySecret.
func TestMosquittoPasswdHashVerifies(t *testing.T) {
	bin, err := exec.LookPath("mosquitto_passwd")
	if err != nil {
		t.Skip("mosquitto_passwd not installed (Debian package mosquitto)")
	}
	file := filepath.Join(t.TempDir(), "passwd")
	if out, err := exec.Command(bin, "-b", "-c", file, "dev-1", "s3cret").CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_passwd: %v: %s", err, out)
	}
	_, hash, _ := strings.Cut(strings.TrimSpace(readFile(t, filepath.Dir(file), "passwd")), ":")
	if !strings.HasPrefix(hash, "$7$101$") || !devices.VerifySecret(hash, "s3cret") || devices.VerifySecret(hash, "s3cres") {
		t.Fatalf("VerifySecret does not agree with mosquitto_passwd's hash %q", hash)
	}
}

// TestMosquittoEnforcesTheFiles: a real Mosquitto configured with the files written here lets a
// device in with its secret hashed by devices.HashSecret, and keeps it to its own topics.
func TestMosquittoEnforcesTheFiles(t *testing.T) {
	f := newFleet()
	dir := t.TempDir()
	if _, err := WriteMosquittoFiles(dir, f.devs, "devices", []PrincipalHash{HashPrincipal(ingest), HashPrincipal(sharedIngest)}); err != nil {
		t.Fatal(err)
	}
	m := testsrv.StartMosquitto(t, testsrv.MosquittoOptions{ExtraConfig: strings.Join([]string{
		"allow_anonymous false", // overrides the default of testsrv, which comes earlier
		"password_file " + filepath.Join(dir, "passwd"),
		"acl_file " + filepath.Join(dir, "acl"),
	}, "\n")})

	for _, tt := range []struct {
		name                 string
		clientID, user, pass string
	}{
		{"anonymous", "anon", "", ""},
		{"wrong secret", "A", "A", f.secrets["B"]},
		{"retired device", "R", "R", f.secrets["R"]},
		{"unknown device", "X", "X", f.secrets["A"]},
	} {
		if c, err := dial(m.URL, tt.clientID, tt.user, tt.pass); !errors.Is(err, packets.ErrorRefusedNotAuthorised) {
			if err == nil {
				c.Disconnect(0)
			}
			t.Errorf("%s: connect: %v; want %v", tt.name, err, packets.ErrorRefusedNotAuthorised)
		}
	}

	sub := mustDial(t, m.URL, "ingest", ingest.Username, ingest.Password)
	got := make(chan string, 10)
	subscribe(t, sub, "devices/+/telemetry", got)
	// A principal allowed only $share/+/devices/+/telemetry receives through a shared
	// subscription: Mosquitto checks its read access with the message's plain topic.
	sharedSub := mustDial(t, m.URL, "ingest-2", sharedIngest.Username, sharedIngest.Password)
	sharedGot := make(chan string, 10)
	subscribe(t, sharedSub, "$share/g/devices/+/telemetry", sharedGot)

	// Mosquitto drops a refused publish and, for a v3.1.1 client, closes the connection (2.0.11
	// does so at QoS 0 too; at QoS 1 it sends the PUBACK first). A message the same device sends
	// after that is the first the subscriber sees, since Mosquitto handles them in order.
	forger := mustDial(t, m.URL, "A", "A", f.secrets["A"])
	publish(t, forger, "devices/B/telemetry", 0, "forged")
	forger.Disconnect(100)
	a := mustDial(t, m.URL, "A", "A", f.secrets["A"])
	publish(t, a, "devices/A/telemetry", 1, "own")
	if m := next(t, got); m != "devices/A/telemetry own" {
		t.Fatalf("subscriber received %q; want A's own message only", m)
	}
	if m := next(t, sharedGot); m != "devices/A/telemetry own" {
		t.Fatalf("shared subscriber received %q; want A's own message only", m)
	}

	// Mosquitto grants every subscription (its acl_file has no subscribe check) and checks
	// read access on each delivery instead: A is never sent B's commands.
	cmds := make(chan string, 10)
	subscribe(t, a, "devices/B/commands", cmds)
	subscribe(t, a, "devices/A/commands", cmds)
	publish(t, sub, "devices/B/commands", 1, "for B")
	publish(t, sub, "devices/A/commands", 1, "for A")
	if m := next(t, cmds); m != "devices/A/commands for A" {
		t.Fatalf("A received %q; want its own command only", m)
	}

	// Mosquitto accepts any will but checks it against the ACL when it sends it. B's will on
	// A's topic is dropped; A's own will, sent after it, is the first the subscriber sees.
	status := make(chan string, 10)
	subscribe(t, sub, "devices/+/status", status)
	_, bConn := dialWithWill(t, m.URL, "B", f.secrets["B"], "devices/A/status", "forged")
	_, aConn := dialWithWill(t, m.URL, "A", f.secrets["A"], "devices/A/status", "offline")
	bConn.Close()
	time.Sleep(50 * time.Millisecond)
	aConn.Close()
	if m := next(t, status); m != "devices/A/status offline" {
		t.Fatalf("subscriber received %q; want A's own will only", m)
	}
	select {
	case m := <-status:
		t.Fatalf("subscriber also received %q", m)
	case <-time.After(200 * time.Millisecond):
	}
}
