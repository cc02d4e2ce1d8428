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
