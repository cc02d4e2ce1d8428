package mqttconn

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"

	"github.com/vitalwatch/vitalwatch/internal/testsrv"
)

// TestWritesArriveInOrderAndCloseFlushes checks that many small writes reach the peer whole and
// in order, and that Close sends what is still queued.
func TestWritesArriveInOrderAndCloseFlushes(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		b, _ := io.ReadAll(c)
		got <- b
	}()
	u, _ := url.Parse("tcp://" + ln.Addr().String())
	c, err := Open(u, *mqtt.NewClientOptions())
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	for i := range 20000 {
		p := fmt.Appendf(nil, "packet-%d;", i)
		want.Write(p)
		if n, err := c.Write(p); n != len(p) || err != nil {
			t.Fatalf("Write() = %d, %v", n, err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-got:
		if !bytes.Equal(b, want.Bytes()) {
			t.Fatalf("peer got %d bytes; want %d in the order written", len(b), want.Len())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("peer got nothing")
	}
}

func TestSupports(t *testing.T) {
	for url, want := range map[string]bool{"tcp://h:1883": true, "mqtt://h:1883": true, "ssl://h:8883": false, "ws://h/mqtt": false, "::": false} {
		if got := Supports(url); got != want {
			t.Errorf("Supports(%q) = %v; want %v", url, got, want)
		}
	}
}

// TestPahoRoundTrip publishes and receives QoS 1 messages through a real Mosquitto with both
// clients on this connection.
func TestPahoRoundTrip(t *testing.T) {
	mq := testsrv.StartMosquitto(t, testsrv.MosquittoOptions{})
	const n = 5000
	var received atomic.Int64
	done := make(chan struct{})
	var outOfOrder atomic.Bool
	sub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(mq.URL).SetClientID("sub").SetCustomOpenConnectionFn(Open))
	if tok := sub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer sub.Disconnect(100)
	tok := sub.Subscribe("t/#", 1, func(_ mqtt.Client, m mqtt.Message) {
		i := received.Add(1)
		if string(m.Payload()) != fmt.Sprint(i-1) {
			outOfOrder.Store(true)
		}
		if i == n {
			close(done)
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	pub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(mq.URL).SetClientID("pub").SetCustomOpenConnectionFn(Open))
	if tok := pub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer pub.Disconnect(100)
	var toks []mqtt.Token
	for i := range n {
		toks = append(toks, pub.Publish("t/x", 1, false, fmt.Sprint(i)))
	}
	for _, tok := range toks {
		if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("received %d of %d", received.Load(), n)
	}
	if outOfOrder.Load() {
		t.Error("messages arrived out of order")
	}
}

// TestStoreKeepsNoReceivedQoS1AndTheBrokerRedelivers checks that Store keeps nothing for the
// QoS 1 messages a subscriber receives, keeps what the client sends and QoS 2's records, and
// that the broker still redelivers the messages left unacknowledged when the client reconnects.
func TestStoreKeepsNoReceivedQoS1AndTheBrokerRedelivers(t *testing.T) {
	mq := testsrv.StartMosquitto(t, testsrv.MosquittoOptions{})
	const n, acked = 20, 12
	connect := func(store *Store, got chan<- mqtt.Message) mqtt.Client {
		c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(mq.URL).SetClientID("store-sub").
			SetCleanSession(false).SetAutoAckDisabled(true).SetStore(store).SetCustomOpenConnectionFn(Open).
			SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) { got <- m }))
		if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
		return c
	}
	receive := func(got <-chan mqtt.Message, k int) []mqtt.Message {
		var ms []mqtt.Message
		for len(ms) < k {
			select {
			case m := <-got:
				ms = append(ms, m)
			case <-time.After(10 * time.Second):
				t.Fatalf("received %d of %d messages", len(ms), k)
			}
		}
		return ms
	}

	got := make(chan mqtt.Message, n)
	store := NewStore()
	sub := connect(store, got)
	if tok := sub.Subscribe("t/#", 1, nil); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	pub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(mq.URL).SetClientID("store-pub").SetStore(NewStore()))
	if tok := pub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer pub.Disconnect(100)
	for i := range n {
		if tok := pub.Publish("t/x", 1, false, fmt.Sprint(i)); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}
	ms := receive(got, n)
	if keys := store.All(); len(keys) != 0 {
		t.Errorf("the store kept %d records of received QoS 1 messages: %v", len(keys), keys)
	}
	for _, m := range ms[:acked] {
		m.Ack()
	}
	time.Sleep(200 * time.Millisecond) // the acknowledgements reach the broker before DISCONNECT
	sub.Disconnect(100)

	got = make(chan mqtt.Message, n)
	sub = connect(NewStore(), got)
	defer sub.Disconnect(100)
	var again []string
	for _, m := range receive(got, n-acked) {
		again = append(again, string(m.Payload()))
		m.Ack()
	}
	var want []string
	for i := acked; i < n; i++ {
		want = append(want, fmt.Sprint(i))
	}
	if fmt.Sprint(again) != fmt.Sprint(want) {
		t.Errorf("redelivered %v, want %v", again, want)
	}
	select {
	case m := <-got:
		t.Errorf("an acknowledged message came again: %q", m.Payload())
	case <-time.After(300 * time.Millisecond):
	}

	// What the client sends, and the records of QoS 2, are kept and deleted as paho's store does.
	s := NewStore()
	s.Open()
	out := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
	out.Qos, out.MessageID = 1, 7
	in2 := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
	in2.Qos, in2.MessageID = 2, 8
	s.Put("o.7", out)
	s.Put("i.8", in2)
	if s.Get("o.7") != out || s.Get("i.8") != in2 {
		t.Fatalf("kept %v, want o.7 and i.8", s.All())
	}
	s.Del("o.7")
	s.Del("i.8")
	if keys := s.All(); len(keys) != 0 {
		t.Errorf("after deleting, the store has %v", keys)
	}
}
