package broker

import (
	"errors"
	"net"
	neturl "net/url"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/vitalwatch/vitalwatch/devices"
)

// fleet is a registry of two active devices A and B and a retired one R, with their secrets.
type fleet struct {
	devs    []devices.Device
	secrets map[string]string
	view    *devices.View
}

func newFleet() *fleet {
	f := &fleet{secrets: map[string]string{}}
	for _, d := range []struct {
		id     string
		status devices.Status
	}{{"A", devices.Active}, {"B", devices.Active}, {"R", devices.Retired}} {
		s := devices.NewSecret()
		f.secrets[d.id] = s
		f.devs = append(f.devs, devices.Device{ID: d.id, Kind: devices.BPCuff, SiteID: "s1", Mode: devices.Home,
			Status: d.status, SecretHash: devices.HashSecret(s)})
	}
	f.view = devices.NewView(devices.NewDirectory(1, f.devs, nil, nil))
	return f
}

// update stores a new directory in which device id has been changed by fn.
func (f *fleet) update(id string, fn func(*devices.Device)) {
	for i := range f.devs {
		if f.devs[i].ID == id {
			fn(&f.devs[i])
		}
	}
	dir := f.view.Load()
	f.view.Store(devices.NewDirectory(dir.Version()+1, f.devs, nil, nil))
}

// ingest is a principal like the ingest client.
var ingest = Principal{
	Username:  "vitalwatch-ingest",
	Password:  "ingest-password",
	Subscribe: []string{"devices/+/telemetry", "devices/+/status", "$share/+/devices/+/telemetry", "vitalwatch/ingest/+/probe"},
	Publish:   []string{"vitalwatch/ingest/+/probe", "devices/+/commands"},
}

// sharedIngest is a principal allowed a shared subscription only.
var sharedIngest = Principal{Username: "ingest-2", Password: "ingest-2-password", Subscribe: []string{"$share/+/devices/+/telemetry"}}

func startWithDevices(t *testing.T, f *fleet) *Broker {
	t.Helper()
	b, err := Start(Config{Listen: "127.0.0.1:0", Devices: f.view, Principals: []Principal{ingest, sharedIngest}}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// client is a connected test client that reports when it loses its connection.
type client struct {
	mqtt.Client
	lost chan error
}

// dial connects with MQTT 3.1.1 and no reconnect; opts may add a will.
func dial(url, clientID, user, pass string, opts ...func(*mqtt.ClientOptions)) (*client, error) {
	c := &client{lost: make(chan error, 1)}
	o := mqtt.NewClientOptions().AddBroker(url).SetClientID(clientID).SetUsername(user).SetPassword(pass).
		SetProtocolVersion(4).SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(5 * time.Second).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) { c.lost <- err })
	for _, fn := range opts {
		fn(o)
	}
	c.Client = mqtt.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		return nil, errors.New("connect timed out")
	}
	if tok.Error() != nil {
		return nil, tok.Error()
	}
	return c, nil
}

// dialWithWill connects device id with a last will and returns the client and its network
// connection, whose Close makes the broker send the will.
func dialWithWill(t *testing.T, url, id, secret, willTopic, will string) (*client, net.Conn) {
	t.Helper()
	var conn net.Conn
	c, err := dial(url, id, id, secret, func(o *mqtt.ClientOptions) {
		o.SetWill(willTopic, will, 1, false)
		o.SetCustomOpenConnectionFn(func(u *neturl.URL, _ mqtt.ClientOptions) (net.Conn, error) {
			c, err := net.Dial("tcp", u.Host)
			conn = c
			return c, err
		})
	})
	if err != nil {
		t.Fatalf("connect %s with a will on %s: %v", id, willTopic, err)
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c, conn
}

func mustDial(t *testing.T, url, clientID, user, pass string) *client {
	t.Helper()
	c, err := dial(url, clientID, user, pass)
	if err != nil {
		t.Fatalf("connect %s as %s: %v", clientID, user, err)
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

// subscribe subscribes and returns the granted QoS, or 0x80 when refused.
func subscribe(t *testing.T, c mqtt.Client, filter string, got chan<- string) byte {
	t.Helper()
	tok := c.Subscribe(filter, 1, func(_ mqtt.Client, m mqtt.Message) { got <- m.Topic() + " " + string(m.Payload()) })
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe %s: %v", filter, tok.Error())
	}
	for _, q := range tok.(*mqtt.SubscribeToken).Result() { // one filter, keyed without $share/{group}/
		return q
	}
	t.Fatalf("subscribe %s: no result", filter)
	return 0
}

func publish(t *testing.T, c mqtt.Client, topic string, qos byte, payload string) {
	t.Helper()
	if tok := c.Publish(topic, qos, false, payload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

// next returns the next message received, failing after 5 s.
func next(t *testing.T, got <-chan string) string {
	t.Helper()
	select {
	case m := <-got:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("nothing received")
		return ""
	}
}

func TestDeviceConnect(t *testing.T) {
	f := newFleet()
	b := startWithDevices(t, f)
	tests := []struct {
		name                 string
		clientID, user, pass string
		wantErr              error
	}{
		{"device with its secret", "A", "A", f.secrets["A"], nil},
		{"wrong secret", "A", "A", f.secrets["B"], packets.ErrorRefusedNotAuthorised},
		{"empty secret", "A", "A", "", packets.ErrorRefusedNotAuthorised},
		{"unknown device", "X", "X", f.secrets["A"], packets.ErrorRefusedNotAuthorised},
		{"retired device", "R", "R", f.secrets["R"], packets.ErrorRefusedNotAuthorised},
		{"client id is another device's", "B", "A", f.secrets["A"], packets.ErrorRefusedNotAuthorised},
		{"anonymous", "anon", "", "", packets.ErrorRefusedNotAuthorised},
		{"principal", "ingest-1", ingest.Username, ingest.Password, nil},
		{"principal with a wrong password", "ingest-1", ingest.Username, ingest.Password + "x", packets.ErrorRefusedNotAuthorised},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := dial(b.URL(), tt.clientID, tt.user, tt.pass)
			if err == nil {
				c.Disconnect(0)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("connect as %q (client id %q): %v; want %v", tt.user, tt.clientID, err, tt.wantErr)
			}
		})
	}
	want := map[string]uint64{RefusedBadSecret: 3, RefusedUnknownDevice: 2, RefusedRetired: 1, RefusedClientID: 1}
	if got := b.Refusals(); !mapsEqual(got, want) {
		t.Errorf("Refusals() = %v; want %v", got, want)
	}
}

// A device that connects again with the secret it proved before is not checked against its
// hash again (PBKDF2); a wrong secret, or any secret once the hash has changed, is.
func TestProvenSecretSkipsTheHash(t *testing.T) {
	f := newFleet()
	b := startWithDevices(t, f)
	for range 5 {
		mustDial(t, b.URL(), "A", "A", f.secrets["A"]).Disconnect(0)
	}
	if n := b.access.hashChecks.Load(); n != 1 {
		t.Fatalf("5 connections with the same secret checked the hash %d times; want 1", n)
	}
	if _, err := dial(b.URL(), "A", "A", f.secrets["B"]); !errors.Is(err, packets.ErrorRefusedNotAuthorised) {
		t.Fatalf("connect with a wrong secret: %v; want refused", err)
	}
	fresh := devices.NewSecret()
	f.update("A", func(d *devices.Device) { d.SecretHash = devices.HashSecret(fresh) })
	if _, err := dial(b.URL(), "A", "A", f.secrets["A"]); !errors.Is(err, packets.ErrorRefusedNotAuthorised) {
		t.Fatalf("connect with the proven secret after rotation: %v; want refused", err)
	}
	mustDial(t, b.URL(), "A", "A", fresh).Disconnect(0)
	if n := b.access.hashChecks.Load(); n != 4 {
		t.Errorf("the hash was checked %d times; want 4 (the first, the wrong secret, the old one, the new one)", n)
	}
}

func mapsEqual(a, b map[string]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestDeviceWillMustBeItsOwnTopic(t *testing.T) {
	f := newFleet()
	b := startWithDevices(t, f)
	will := func(topic string) func(*mqtt.ClientOptions) {
		return func(o *mqtt.ClientOptions) { o.SetWill(topic, `{"online": false}`, 1, false) }
	}
	if _, err := dial(b.URL(), "A", "A", f.secrets["A"], will("devices/B/status")); !errors.Is(err, packets.ErrorRefusedNotAuthorised) {
		t.Fatalf("connect with a will on B's topic: %v; want refused", err)
	}

	// A will on its own topic is accepted and delivered when the connection breaks.
	sub := mustDial(t, b.URL(), "ingest", ingest.Username, ingest.Password)
	got := make(chan string, 10)
	subscribe(t, sub, "devices/+/status", got)
	_, conn := dialWithWill(t, b.URL(), "A", f.secrets["A"], "devices/A/status", `{"online": false}`)
	conn.Close()
	if m := next(t, got); m != `devices/A/status {"online": false}` {
		t.Fatalf("received %q; want A's will", m)
	}
}

func TestDeviceKeptToItsTopics(t *testing.T) {
	f := newFleet()
	b := startWithDevices(t, f)
	sub := mustDial(t, b.URL(), "ingest", ingest.Username, ingest.Password)
	got := make(chan string, 10)
	if q := subscribe(t, sub, "devices/+/telemetry", got); q != 1 {
		t.Fatalf("ingest subscribe: granted %#x; want QoS 1", q)
	}
	a := mustDial(t, b.URL(), "A", "A", f.secrets["A"])

	// QoS 0 to B's topic is dropped silently; the next message, on A's own topic, is the first
	// the subscriber sees (one connection, so the broker handles them in order).
	publish(t, a, "devices/B/telemetry", 0, "forged")
	publish(t, a, "devices/A/telemetry", 1, "own")
	if m := next(t, got); m != "devices/A/telemetry own" {
		t.Fatalf("subscriber received %q; want A's own message only", m)
	}

	for _, tt := range []struct {
		filter string
		want   byte
	}{
		{"devices/A/commands", 1},
		{"devices/B/commands", 0x80},
		{"devices/+/commands", 0x80},
		{"devices/A/telemetry", 0x80},
		{"#", 0x80},
	} {
		if q := subscribe(t, a, tt.filter, make(chan string, 1)); q != tt.want {
			t.Errorf("A subscribes %s: granted %#x; want %#x", tt.filter, q, tt.want)
		}
	}

	// A principal reaches the device on its commands topic.
	cmds := make(chan string, 1)
	subscribe(t, a, "devices/A/commands", cmds)
	publish(t, sub, "devices/A/commands", 1, "sync")
	if m := next(t, cmds); m != "devices/A/commands sync" {
		t.Fatalf("A received %q; want its command", m)
	}

	// A forged QoS 1 publish gets no PUBACK: mochi disconnects a v3 client instead, so the
	// device keeps the message rather than believing it delivered.
	a.Publish("devices/B/telemetry", 1, false, "forged")
	select {
	case <-a.lost:
	case <-time.After(5 * time.Second):
		t.Fatal("A still connected after a QoS 1 publish to B's topic")
	}
	select {
	case m := <-got:
		t.Fatalf("subscriber received %q", m)
	case <-time.After(100 * time.Millisecond):
	}
	if n := b.Refusals()[RefusedPublish]; n != 2 {
		t.Errorf("Refusals()[%s] = %d; want 2", RefusedPublish, n)
	}
}

func TestRotatedSecret(t *testing.T) {
	f := newFleet()
	b := startWithDevices(t, f)
	old := f.secrets["A"]
	live := mustDial(t, b.URL(), "A", "A", old)

	fresh := devices.NewSecret()
	f.update("A", func(d *devices.Device) { d.SecretHash = devices.HashSecret(fresh) })

	if _, err := dial(b.URL(), "A", "A", old); !errors.Is(err, packets.ErrorRefusedNotAuthorised) {
		t.Fatalf("connect with the old secret after rotation: %v; want refused", err)
	}
	// The connection made with the old secret is dropped on its next publish.
	live.Publish("devices/A/telemetry", 0, false, "{}")
	select {
	case <-live.lost:
	case <-time.After(5 * time.Second):
		t.Fatal("the connection made with the old secret survived a publish")
	}
	mustDial(t, b.URL(), "A", "A", fresh)

	f.update("A", func(d *devices.Device) { d.Status = devices.Retired })
	if _, err := dial(b.URL(), "A", "A", fresh); !errors.Is(err, packets.ErrorRefusedNotAuthorised) {
		t.Fatalf("connect after retirement: %v; want refused", err)
	}
	if n := b.Refusals()[RefusedRevoked]; n != 1 {
		t.Errorf("Refusals()[%s] = %d; want 1", RefusedRevoked, n)
	}
}

func TestDropRevokedDisconnectsIdleDevices(t *testing.T) {
	f := newFleet()
	b := startWithDevices(t, f)
	a := mustDial(t, b.URL(), "A", "A", f.secrets["A"])
	bb := mustDial(t, b.URL(), "B", "B", f.secrets["B"])
	mustDial(t, b.URL(), "ingest", ingest.Username, ingest.Password)
	if n := b.DropRevoked(); n != 0 {
		t.Fatalf("DropRevoked() = %d before any change; want 0", n)
	}
	f.update("B", func(d *devices.Device) { d.Status = devices.Retired })
	if n := b.DropRevoked(); n != 1 {
		t.Fatalf("DropRevoked() = %d; want 1", n)
	}
	select {
	case <-bb.lost:
	case <-time.After(5 * time.Second):
		t.Fatal("retired B is still connected")
	}
	if !a.IsConnectionOpen() {
		t.Error("A was disconnected too")
	}
}

func TestStartRefusesPrincipalsWithoutDevices(t *testing.T) {
	if _, err := Start(Config{Listen: "127.0.0.1:0", Principals: []Principal{ingest}}, quiet); err == nil {
		t.Fatal("Start with principals and no Devices: nil error; want one")
	}
	bad := ingest
	bad.Subscribe = []string{"devices/#/x"}
	if _, err := Start(Config{Listen: "127.0.0.1:0", Devices: newFleet().view, Principals: []Principal{bad}}, quiet); err == nil {
		t.Fatal("Start with an invalid principal filter: nil error; want one")
	}
}

func TestCovers(t *testing.T) {
	tests := []struct {
		allowed, sub string
		want         bool
	}{
		{"devices/+/telemetry", "devices/A/telemetry", true},
		{"devices/+/telemetry", "devices/+/telemetry", true},
		{"devices/+/telemetry", "devices/A/status", false},
		{"devices/+/telemetry", "devices/#", false},
		{"devices/+/telemetry", "devices/A/telemetry/x", false},
		{"devices/A/telemetry", "devices/+/telemetry", false},
		{"devices/#", "devices", true},
		{"devices/+/#", "devices", false},
		{"devices/+", "devices", false},
		{"devices", "devices/A", false},
		{"devices/A", "devices/A", true},
		{"#", "#", true},
		{"+", "+", true},
		{"+", "#", false},
		{"devices/#", "devices/A/x/y", true},
		{"devices/#", "devices/#", true},
		{"devices/#", "other/A", false},
		{"#", "anything/at/all", true},
		{"#", "$SYS/broker/uptime", false},
		{"+/x", "$SYS/x", false},
		{"$share/+/devices/+/telemetry", "$share/g1/devices/+/telemetry", true},
		{"$share/+/devices/+/telemetry", "devices/+/telemetry", false},
	}
	for _, tt := range tests {
		if got := covers(tt.allowed, tt.sub); got != tt.want {
			t.Errorf("covers(%q, %q) = %v; want %v", tt.allowed, tt.sub, got, tt.want)
		}
	}
	p := principal{Principal: Principal{Subscribe: []string{"$share/+/devices/+/telemetry"}}}
	for topic, want := range map[string]bool{
		"devices/A/telemetry":            true, // delivered through the shared subscription
		"$share/g/devices/+/telemetry":   true,
		"$share/g/devices/A/telemetry/x": false,
		"devices/A/status":               false,
		"devices/+/telemetry":            false, // a plain subscription; the principal must share
	} {
		if got := p.mayReceive(topic); got != want {
			t.Errorf("mayReceive(%q) = %v; want %v", topic, got, want)
		}
	}
}

func TestSharedSubscriptionOfPrincipal(t *testing.T) {
	f := newFleet()
	b := startWithDevices(t, f)
	sub := mustDial(t, b.URL(), "ingest-2", sharedIngest.Username, sharedIngest.Password)
	got := make(chan string, 10)
	if q := subscribe(t, sub, "devices/+/telemetry", got); q != 0x80 {
		t.Fatalf("plain subscribe by a principal allowed only the shared one: granted %#x; want refused", q)
	}
	if q := subscribe(t, sub, "$share/g/devices/+/telemetry", got); q != 1 {
		t.Fatalf("shared subscribe: granted %#x; want 1", q)
	}
	publish(t, mustDial(t, b.URL(), "A", "A", f.secrets["A"]), "devices/A/telemetry", 1, "x")
	if m := next(t, got); m != "devices/A/telemetry x" {
		t.Fatalf("received %q", m)
	}
}

// TestPrincipalClientIDIsReserved: a principal with a ClientID must use it, and a device
// registered under that id cannot connect, so it cannot take over the principal's session.
func TestPrincipalClientIDIsReserved(t *testing.T) {
	secret := devices.NewSecret()
	view := devices.NewView(devices.NewDirectory(1, []devices.Device{{ID: "ingest-1", Kind: devices.BPCuff, SiteID: "s1",
		Mode: devices.Home, Status: devices.Active, SecretHash: devices.HashSecret(secret)}}, nil, nil))
	p := ingest
	p.ClientID = "ingest-1"
	b, err := Start(Config{Listen: "127.0.0.1:0", Devices: view, Principals: []Principal{p}}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	c, err := dial(b.URL(), "ingest-1", p.Username, p.Password)
	if err != nil {
		t.Fatalf("principal with its client id: %v", err)
	}
	defer c.Disconnect(0)
	if _, err := dial(b.URL(), "ingest-1", "ingest-1", secret); !errors.Is(err, packets.ErrorRefusedNotAuthorised) {
		t.Errorf("device registered as ingest-1 connecting with client id ingest-1: %v; want refused", err)
	}
	if !c.IsConnected() {
		t.Error("the principal's connection was taken over")
	}
	if _, err := dial(b.URL(), "ingest-9", p.Username, p.Password); !errors.Is(err, packets.ErrorRefusedNotAuthorised) {
		t.Errorf("principal with another client id: %v; want refused", err)
	}
}
