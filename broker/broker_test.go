package broker

import (
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestBusyAddressNamesTheKey(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = Start(Config{Listen: ln.Addr().String()}, quiet)
	if err == nil || !strings.Contains(err.Error(), "broker.listen") {
		t.Fatalf("Start on a busy address: %v; want an error naming broker.listen", err)
	}
}

func TestPublishSubscribeQoS1(t *testing.T) {
	b, err := Start(Config{Listen: "127.0.0.1:0"}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	connect := func(id string) mqtt.Client {
		c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(b.URL()).SetClientID(id))
		if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("connect %s: %v", id, tok.Error())
		}
		return c
	}
	sub := connect("sub")
	got := make(chan string, 1)
	if tok := sub.Subscribe("devices/+/telemetry", 1, func(_ mqtt.Client, m mqtt.Message) { got <- m.Topic() + " " + string(m.Payload()) }); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	pub := connect("dev-1")
	if tok := pub.Publish("devices/dev-1/telemetry", 1, false, "{}"); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	select {
	case m := <-got:
		if m != "devices/dev-1/telemetry {}" {
			t.Fatalf("received %q", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("nothing received")
	}
}
