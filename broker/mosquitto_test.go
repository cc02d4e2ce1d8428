package broker

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
	mpackets "github.com/mochi-mqtt/server/v2/packets"

	"github.com/vitalwatch/vitalwatch/devices"
	"github.com/vitalwatch/vitalwatch/internal/testsrv"
)

func TestWriteMosquittoFiles(t *testing.T) {
	f := newFleet()
	dir := t.TempDir()
	ph := HashPrincipal(ingest)
	ph2 := HashPrincipal(sharedIngest)
	if left, err := WriteMosquittoFiles(dir, f.devs, "devices", []PrincipalHash{ph, ph2}, nil); err != nil || len(left) != 0 {
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
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.Mode().Perm() != 0o640 {
			t.Errorf("%s: %v, mode %v; want 0640: the broker reads it through its group, others not at all", name, err, fi.Mode().Perm())
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
	left, err := WriteMosquittoFiles(dir, append(slices.Clone(f.devs), bad...), "devices", []PrincipalHash{ph}, nil)
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
		if _, err := WriteMosquittoFiles(dir, f.devs, "devices", []PrincipalHash{ph, p}, nil); err == nil {
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
	if _, err := WriteMosquittoFiles(dir, f.devs, "devices", []PrincipalHash{HashPrincipal(ingest), HashPrincipal(sharedIngest)}, nil); err != nil {
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

// TestMosquittoSharedSubscriptionWhenAMemberDies shows what Mosquitto does with the share of a
// shared-subscription member whose connection breaks without a clean disconnect (a killed
// ingest instance), and what each way out costs. The ingest users are written by
// WriteMosquittoFiles, and Mosquitto names each session by its username, as broker-config says.
//
//   - Mosquitto keeps routing the dead member's share to its persistent session, where it waits:
//     a shared subscription alone is not failover.
//   - A client that signs in as the same ingest user (a standby) takes the session over and
//     receives every message queued for it: nothing is lost.
//   - A session that expires instead is deleted with its queue: what was queued for it is lost,
//     although the devices had their PUBACKs, and only then does the survivor get every message.
//     Mosquitto's persistent_client_expiration does this for MQTT 3.1.1 clients such as ingest,
//     in whole hours at least; here an MQTT 5 session expiry of one second stands in for it.
func TestMosquittoSharedSubscriptionWhenAMemberDies(t *testing.T) {
	f := newFleet()
	dir := t.TempDir()
	share := []string{"$share/+/devices/+/telemetry"}
	a := Principal{Username: "vitalwatch-ingest-a", Password: "password-a", Subscribe: share}
	b := Principal{Username: "vitalwatch-ingest-b", Password: "password-b", Subscribe: share}
	c := Principal{Username: "vitalwatch-ingest-c", Password: "password-c", Subscribe: share}
	if _, err := WriteMosquittoFiles(dir, f.devs, "devices", []PrincipalHash{HashPrincipal(a), HashPrincipal(b), HashPrincipal(c)}, nil); err != nil {
		t.Fatal(err)
	}
	m := testsrv.StartMosquitto(t, testsrv.MosquittoOptions{ExtraConfig: strings.Join([]string{
		"allow_anonymous false",
		"password_file " + filepath.Join(dir, "passwd"),
		"acl_file " + filepath.Join(dir, "acl"),
		"use_username_as_clientid true",
	}, "\n")})
	persistent := func(o *mqtt.ClientOptions) { o.SetCleanSession(false) }
	// Messages of a resumed session can come before any route is set up again.
	into := func(got chan string) func(*mqtt.ClientOptions) {
		return func(o *mqtt.ClientOptions) {
			o.SetDefaultPublishHandler(func(_ mqtt.Client, msg mqtt.Message) { got <- string(msg.Payload()) })
		}
	}
	count := func(got chan string) int {
		time.Sleep(300 * time.Millisecond) // Mosquitto delivers a few hundred messages in far less
		return len(got)
	}
	dev := mustDial(t, m.URL, "A", "A", f.secrets["A"])
	send := func(n int) {
		for i := range n {
			publish(t, dev, "devices/A/telemetry", 1, fmt.Sprint(i)) // each waits for its PUBACK
		}
	}

	gotA := make(chan string, 1000)
	survivor := mustDialWith(t, m.URL, a, persistent, into(gotA))
	subscribe(t, survivor, "$share/g/devices/+/telemetry", gotA)

	// The member that dies, and its standby.
	gotB := make(chan string, 1000)
	var conn net.Conn
	dying := mustDialWith(t, m.URL, b, persistent, into(gotB), rawConn(&conn))
	subscribe(t, dying, "$share/g/devices/+/telemetry", gotB)
	send(10)
	if a, b := count(gotA), count(gotB); a != 5 || b != 5 {
		t.Fatalf("shared subscription split 10 messages %d/%d; want 5/5", a, b)
	}
	conn.Close() // no DISCONNECT: the process died
	time.Sleep(200 * time.Millisecond)
	send(100)
	if got := count(gotA) - 5; got != 50 {
		t.Fatalf("with b dead, a received %d of 100; want its 50: Mosquitto keeps b's share for b's session", got)
	}
	gotStandby := make(chan string, 1000)
	mustDialWith(t, m.URL, b, persistent, into(gotStandby))
	if got := count(gotStandby); got != 50 {
		t.Errorf("the standby signed in as b received %d; want the 50 queued for b's session", got)
	}

	// The same death with a session that expires.
	gotC := make(chan string, 1000)
	conn, _ = dialV5(t, m.Addr, c, 1, "$share/g/devices/+/telemetry")
	conn.Close()
	time.Sleep(200 * time.Millisecond)
	before := count(gotA) + count(gotStandby)
	send(90) // a, b (the standby) and c's session take 30 each
	if got := count(gotA) + count(gotStandby) - before; got != 60 {
		t.Fatalf("with c dead, a and b received %d of 90; want 60, c's 30 queued for its session", got)
	}
	time.Sleep(3 * time.Second) // c's session expires
	before = count(gotA) + count(gotStandby)
	send(100)
	if got := count(gotA) + count(gotStandby) - before; got != 100 {
		t.Errorf("after c's session expired, a and b received %d of 100; want all", got)
	}
	conn, present := dialV5(t, m.Addr, c, 1, "")
	defer conn.Close()
	if present {
		t.Error("c signed in again after its session expired and found it present")
	}
	conn.SetReadDeadline(time.Now().Add(time.Second))
	if typ, _, err := readPacket(bufio.NewReader(conn)); err == nil {
		t.Errorf("c, signing in again after its session expired, received packet type %d; want nothing: its 30 queued messages are gone", typ)
	}
	if len(gotC) != 0 {
		t.Errorf("c received %d messages", len(gotC))
	}
}

// mustDialWith connects p persistently with the options; closed when the test ends.
func mustDialWith(t *testing.T, url string, p Principal, opts ...func(*mqtt.ClientOptions)) *client {
	t.Helper()
	c, err := dial(url, p.Username, p.Username, p.Password, opts...)
	if err != nil {
		t.Fatalf("connect %s: %v", p.Username, err)
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

// rawConn makes the client dial its own TCP connection and keep it in *conn, so that the test
// can cut it as a killed process would.
func rawConn(conn *net.Conn) func(*mqtt.ClientOptions) {
	return func(o *mqtt.ClientOptions) {
		o.SetCustomOpenConnectionFn(func(u *neturl.URL, _ mqtt.ClientOptions) (net.Conn, error) {
			c, err := net.Dial("tcp", u.Host)
			*conn = c
			return c, err
		})
	}
}

// dialV5 connects p with MQTT 5, no clean start and a session expiry of expiry seconds, and
// subscribes to filter at QoS 1 unless it is empty. It reports whether the broker still had the
// session. paho.mqtt.golang speaks 3.1.1 only, so the packets are mochi's.
func dialV5(t *testing.T, addr string, p Principal, expiry uint32, filter string) (net.Conn, bool) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	var buf bytes.Buffer
	connect := mpackets.Packet{FixedHeader: mpackets.FixedHeader{Type: mpackets.Connect}, ProtocolVersion: 5,
		Connect: mpackets.ConnectParams{ProtocolName: []byte("MQTT"), Keepalive: 30, ClientIdentifier: p.Username,
			UsernameFlag: true, Username: []byte(p.Username), PasswordFlag: true, Password: []byte(p.Password)},
		Properties: mpackets.Properties{SessionExpiryInterval: expiry, SessionExpiryIntervalFlag: true}}
	if err := connect.ConnectEncode(&buf); err != nil {
		t.Fatal(err)
	}
	conn.Write(buf.Bytes())
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	typ, body, err := readPacket(r)
	if err != nil || typ != mpackets.Connack || len(body) < 2 || body[1] != 0 {
		t.Fatalf("MQTT 5 connect of %s: packet %d %v, %v; want a CONNACK with reason 0", p.Username, typ, body, err)
	}
	present := body[0]&1 == 1
	if filter == "" {
		return conn, present
	}
	buf.Reset()
	sub := mpackets.Packet{FixedHeader: mpackets.FixedHeader{Type: mpackets.Subscribe, Qos: 1}, ProtocolVersion: 5, PacketID: 1,
		Filters: mpackets.Subscriptions{{Filter: filter, Qos: 1}}}
	if err := sub.SubscribeEncode(&buf); err != nil {
		t.Fatal(err)
	}
	conn.Write(buf.Bytes())
	if typ, body, err := readPacket(r); err != nil || typ != mpackets.Suback || len(body) < 4 || body[len(body)-1] != 1 {
		t.Fatalf("MQTT 5 subscribe of %s: packet %d %v, %v; want a SUBACK granting QoS 1", p.Username, typ, body, err)
	}
	return conn, present
}

// readPacket reads one MQTT packet: its type and what follows the fixed header.
func readPacket(r *bufio.Reader) (byte, []byte, error) {
	first, err := r.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	n, _, err := mpackets.DecodeLength(r)
	if err != nil {
		return 0, nil, err
	}
	body := make([]byte, n)
	_, err = io.ReadFull(r, body)
	return first >> 4, body, err
}
