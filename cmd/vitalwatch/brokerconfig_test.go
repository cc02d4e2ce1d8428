package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/vitalwatch/vitalwatch/broker"
	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/internal/testsrv"
)

// TestBrokerConfigRefusesDevicesNoBrokerCanTake: the CLI will not register a device whose id
// Mosquitto cannot hold or that is named like the ingest client; and a device already in the
// registry from before that rule is left out of broker-config's files and reported, while the
// rest is exported, so that a rotated secret still stops working on a real Mosquitto.
func TestBrokerConfigRefusesDevicesNoBrokerCanTake(t *testing.T) {
	dataDir, in, out := t.TempDir(), t.TempDir(), t.TempDir()
	env := []string{"VITALWATCH_DATA_DIR=" + dataDir, "VITALWATCH_BROKER_USERNAME=vitalwatch-ingest",
		"VITALWATCH_BROKER_PASSWORD=ingest-password-0001"}
	cli := func(args ...string) (string, string, error) {
		var stdout, stderr strings.Builder
		err := run(context.Background(), args, env, &stdout, &stderr)
		return stdout.String(), stderr.String(), err
	}
	writeFile(t, filepath.Join(in, "sites.csv"), "id,name\nc1,Centre One\n")
	writeFile(t, filepath.Join(in, "devices.csv"), "id,kind,site,mode,secret\n"+
		"ox-1,oximeter,c1,home,first-secret-of-ox-1\n"+
		"ox-2,oximeter,c1,home,first-secret-of-ox-2\n"+
		"c1:ox-3,oximeter,c1,home,first-secret-of-ox-3\n") // line 4: refused
	if _, stderr, err := cli("registry", "import", in); err == nil || !strings.Contains(stderr, "devices.csv:4:") || !strings.Contains(stderr, "':'") {
		t.Fatalf("registry import with c1:ox-3: %v\n%s\nwant line 4 refused for its ':'", err, stderr)
	}
	for id, why := range map[string]string{"vitalwatch-ingest": "reserved", "c1:ox-4": "':'"} {
		if _, _, err := cli("devices", "add", "--id", id, "--kind", "oximeter", "--site", "c1"); err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("devices add --id %s: %v; want an error saying %q", id, err, why)
		}
	}

	// Devices registered before the rule, straight into the database as an older version
	// would have: one with a ':' and one named like the ingest client.
	db, err := sql.Open("sqlite", filepath.Join(dataDir, dbFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"c1:legacy", "vitalwatch-ingest"} {
		if _, err := db.Exec(`INSERT INTO devices (id, kind, model, serial, firmware, site_id, mode, status, rated_uses_per_day, secret_hash)
			VALUES ($1, 'oximeter', '', '', '', 'c1', 'home', 'active', 0, $2)`, id, devices.HashSecret("secret-of-"+id)); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	stdout, stderr, err := cli("broker-config", out)
	if err != nil {
		t.Fatalf("broker-config with two devices it cannot export: %v; want them left out\n%s", err, stderr)
	}
	for _, want := range []string{`"c1:legacy"`, `"vitalwatch-ingest"`, "':'", "ingest"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("broker-config's report lacks %q:\n%s", want, stderr)
		}
	}
	if !strings.Contains(stdout, "2 devices left out") {
		t.Errorf("broker-config's summary does not count the 2 devices left out:\n%s", stdout)
	}

	mq := testsrv.StartMosquitto(t, testsrv.MosquittoOptions{ExtraConfig: mosquittoConfLines(t, stdout)})
	mustConnect := func(user, pass string) {
		t.Helper()
		c, err := dialMQTT(mq.URL, user, pass)
		if err != nil {
			t.Fatalf("%s: %v; want connected", user, err)
		}
		c.Disconnect(0)
	}
	mustConnect("ox-1", "first-secret-of-ox-1")
	mustConnect("vitalwatch-ingest", "ingest-password-0001")

	// A revocation reaches the broker: the rotated secret stops working once the files are
	// rewritten and Mosquitto reads them again.
	rotated, _, err := cli("devices", "rotate-secret", "ox-1")
	if err != nil {
		t.Fatal(err)
	}
	newSecret := strings.TrimSpace(strings.Split(rotated, "\n")[1])
	if _, stderr, err := cli("broker-config", out); err != nil {
		t.Fatalf("broker-config after a rotation: %v\n%s", err, stderr)
	}
	mq.Restart(t)
	if c, err := dialMQTT(mq.URL, "ox-1", "first-secret-of-ox-1"); !errors.Is(err, packets.ErrorRefusedNotAuthorised) {
		if err == nil {
			c.Disconnect(0)
		}
		t.Fatalf("ox-1 with its rotated-out secret: %v; want refused", err)
	}
	mustConnect("ox-1", newSecret)
	mustConnect("ox-2", "first-secret-of-ox-2")
}

// TestBrokerConfigFilesTheBrokerCanRead: broker-config run as root, as an operator following
// the docs runs it, writes files that Mosquitto started the way its package starts it (as root,
// switching to the user mosquitto before it reads them) can read: 0640 and the user mosquitto's,
// in a directory it can enter. A device's password opens the broker, and a rotated secret stops
// working once the files are rewritten. The files used to be root's and 0600, and Mosquitto
// exited at start ("Unable to open pwfile").
func TestBrokerConfigFilesTheBrokerCanRead(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("giving the files to the user mosquitto needs root (CI runs as root); broker's TestMosquittoFileOwner and TestWriteMosquittoFilesGivesThemToTheBroker cover the choice without it")
	}
	mosq, err := user.Lookup(broker.MosquittoUser)
	if err != nil {
		t.Fatalf("the user mosquitto: %v; Debian's mosquitto package makes it (apt-get install mosquitto)", err)
	}
	dataDir, in := t.TempDir(), t.TempDir()
	// Like /etc/mosquitto as the package leaves it: root's, 0755, with no vitalwatch directory.
	etc, err := os.MkdirTemp("", "vitalwatch-etc-mosquitto-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(etc) })
	if err := os.Chmod(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(etc, "vitalwatch")
	env := []string{"VITALWATCH_DATA_DIR=" + dataDir, "VITALWATCH_BROKER_USERNAME=vitalwatch-ingest",
		"VITALWATCH_BROKER_PASSWORD=ingest-password-0001"}
	cli := func(args ...string) (string, string, error) {
		var stdout, stderr strings.Builder
		err := run(context.Background(), args, env, &stdout, &stderr)
		return stdout.String(), stderr.String(), err
	}
	writeFile(t, filepath.Join(in, "sites.csv"), "id,name\nc1,Centre One\n")
	writeFile(t, filepath.Join(in, "devices.csv"), "id,kind,site,mode,secret\nox-1,oximeter,c1,home,first-secret-of-ox-1\n")
	if _, stderr, err := cli("registry", "import", in); err != nil {
		t.Fatalf("registry import: %v\n%s", err, stderr)
	}

	stdout, stderr, err := cli("broker-config", out)
	if err != nil {
		t.Fatalf("broker-config: %v\n%s", err, stderr)
	}
	uid, _ := strconv.Atoi(mosq.Uid)
	gid, _ := strconv.Atoi(mosq.Gid)
	for _, c := range []struct {
		path string
		mode os.FileMode
	}{{out, 0o750}, {filepath.Join(out, "passwd"), 0o640}, {filepath.Join(out, "acl"), 0o640}} {
		fi, err := os.Stat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode().Perm() != c.mode || int(st.Uid) != uid || int(st.Gid) != gid {
			t.Errorf("%s: mode %04o, owner %d:%d; want %04o, the user mosquitto's (%d:%d)", c.path, fi.Mode().Perm(), st.Uid, st.Gid, c.mode, uid, gid)
		}
	}
	if !strings.Contains(stdout, "0640 and belong to mosquitto:") || strings.Contains(stderr, "cannot pass") {
		t.Errorf("broker-config does not say who the files belong to, or warns:\n%s\n%s", stdout, stderr)
	}

	mq := testsrv.StartMosquitto(t, testsrv.MosquittoOptions{User: broker.MosquittoUser, ExtraConfig: mosquittoConfLines(t, stdout)})
	mustConnect := func(user, pass string) {
		t.Helper()
		c, err := dialMQTT(mq.URL, user, pass)
		if err != nil {
			t.Fatalf("%s: %v; want connected", user, err)
		}
		c.Disconnect(0)
	}
	mustConnect("ox-1", "first-secret-of-ox-1")
	mustConnect("vitalwatch-ingest", "ingest-password-0001")

	rotated, _, err := cli("devices", "rotate-secret", "ox-1")
	if err != nil {
		t.Fatal(err)
	}
	newSecret := strings.TrimSpace(strings.Split(rotated, "\n")[1])
	if _, stderr, err := cli("broker-config", out); err != nil {
		t.Fatalf("broker-config after a rotation: %v\n%s", err, stderr)
	}
	mq.Restart(t)
	if c, err := dialMQTT(mq.URL, "ox-1", "first-secret-of-ox-1"); !errors.Is(err, packets.ErrorRefusedNotAuthorised) {
		if err == nil {
			c.Disconnect(0)
		}
		t.Fatalf("ox-1 with its rotated-out secret: %v; want refused", err)
	}
	mustConnect("ox-1", newSecret)

	// A directory the broker cannot enter is the operator's to fix: broker-config says so.
	locked := filepath.Join(etc, "locked")
	if err := os.Mkdir(locked, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, stderr, err := cli("broker-config", locked); err != nil || !strings.Contains(stderr, "cannot pass through "+locked) {
		t.Errorf("broker-config into a 0700 directory of root's: %v\n%s\nwant a warning naming it", err, stderr)
	}
}

// mosquittoConfLines returns the mosquitto.conf lines broker-config printed (the indented lines
// after "In mosquitto.conf:"), so that tests configure Mosquitto exactly as an operator would.
func mosquittoConfLines(t testing.TB, stdout string) string {
	t.Helper()
	_, rest, ok := strings.Cut(stdout, "In mosquitto.conf:\n")
	if !ok {
		t.Fatalf("broker-config printed no mosquitto.conf lines:\n%s", stdout)
	}
	var lines []string
	for _, l := range strings.Split(rest, "\n") {
		if !strings.HasPrefix(l, "  ") {
			break
		}
		lines = append(lines, strings.TrimSpace(l))
	}
	return strings.Join(lines, "\n")
}

// dialMQTT connects once, as user with pass and client id user (Mosquitto replaces it with the
// username anyway under use_username_as_clientid).
func dialMQTT(url, user, pass string) (mqtt.Client, error) {
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID(user).SetUsername(user).SetPassword(pass).
		SetAutoReconnect(false).SetConnectTimeout(5 * time.Second))
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		return nil, fmt.Errorf("connect %s: timed out", user)
	}
	if err := tok.Error(); err != nil {
		return nil, fmt.Errorf("connect %s: %w", user, err)
	}
	return c, nil
}
