package broker

import (
	"net"
	neturl "net/url"
	"slices"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/vitalwatch/vitalwatch/devices/status"
)

// presenceLog records what the broker reports, as "device event".
type presenceLog struct {
	mu  sync.Mutex
	got []string
}

func (p *presenceLog) Connection(device string, ev status.Event, _ time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.got = append(p.got, device+" "+string(ev))
}

// waitFor waits until the log is want.
func (p *presenceLog) waitFor(t *testing.T, want ...string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		p.mu.Lock()
		got := slices.Clone(p.got)
		p.mu.Unlock()
		if slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("presence reported %q; want %q", got, want)
		}
	}
}

// cuttable connects a paho client over a TCP connection the test can cut, as a network would.
type cuttable struct {
	mu   sync.Mutex
	conn net.Conn
}

func (c *cuttable) open(uri *neturl.URL, _ mqtt.ClientOptions) (net.Conn, error) {
	conn, err := net.Dial("tcp", uri.Host)
	c.mu.Lock()
	c.conn = conn
	c.mu.Unlock()
	return conn, err
}

func (c *cuttable) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.conn.Close()
}

// The broker reports a device's connect, its clean disconnect, its will when the connection
// breaks, a broken connection without a will, and nothing of a connection taken over by the
// device's next one or of a principal.
func TestPresenceReportsDeviceConnections(t *testing.T) {
	f := newFleet()
	log := &presenceLog{}
	b, err := Start(Config{Listen: "127.0.0.1:0", Devices: f.view, Principals: []Principal{ingest}, Presence: log}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })

	p, err := dial(b.URL(), "vitalwatch-ingest", ingest.Username, ingest.Password)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Disconnect(0)

	a, err := dial(b.URL(), "A", "A", f.secrets["A"])
	if err != nil {
		t.Fatal(err)
	}
	log.waitFor(t, "A connect")
	a.Disconnect(50)
	log.waitFor(t, "A connect", "A disconnect")

	withWill := func(o *mqtt.ClientOptions) { o.SetWill("devices/A/status", `{"online": false}`, 1, false) }
	var net1 cuttable
	if _, err := dial(b.URL(), "A", "A", f.secrets["A"], withWill, func(o *mqtt.ClientOptions) { o.SetCustomOpenConnectionFn(net1.open) }); err != nil {
		t.Fatal(err)
	}
	net1.cut()
	log.waitFor(t, "A connect", "A disconnect", "A connect", "A last_will")

	var net2 cuttable
	if _, err := dial(b.URL(), "B", "B", f.secrets["B"], func(o *mqtt.ClientOptions) { o.SetCustomOpenConnectionFn(net2.open) }); err != nil {
		t.Fatal(err)
	}
	net2.cut()
	log.waitFor(t, "A connect", "A disconnect", "A connect", "A last_will", "B connect", "B connection_lost")

	// B comes back on a new connection while the old one is still open: the old one's end is
	// a takeover, not a disconnection.
	first, err := dial(b.URL(), "B", "B", f.secrets["B"])
	if err != nil {
		t.Fatal(err)
	}
	second, err := dial(b.URL(), "B", "B", f.secrets["B"])
	if err != nil {
		t.Fatal(err)
	}
	defer second.Disconnect(0)
	select {
	case <-first.lost:
	case <-time.After(5 * time.Second):
		t.Fatal("the first connection of B was not taken over")
	}
	time.Sleep(100 * time.Millisecond) // the old connection's end, if it were reported
	log.waitFor(t, "A connect", "A disconnect", "A connect", "A last_will", "B connect", "B connection_lost", "B connect", "B connect")
}
