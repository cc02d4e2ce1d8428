package testsrv

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// Message is one MQTT message for Publish.
type Message struct {
	Topic   string
	Payload []byte
}

var publisherID atomic.Int64

// Publish sends msgs at QoS 1 to the broker at url and waits until the broker has acknowledged
// every one. The client reconnects by itself, and paho resends unacknowledged messages on
// reconnect, so a broker restart during Publish loses nothing.
func Publish(tb testing.TB, url string, msgs []Message) {
	tb.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).
		SetClientID(fmt.Sprintf("testsrv-pub-%d-%d", time.Now().UnixNano(), publisherID.Add(1))).
		SetCleanSession(false).SetAutoReconnect(true).SetConnectRetry(true).
		SetMaxReconnectInterval(500 * time.Millisecond))
	if tok := c.Connect(); !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
		tb.Fatalf("testsrv: publisher connect to %s: %v", url, tok.Error())
	}
	defer c.Disconnect(250)
	toks := make([]mqtt.Token, 0, 500)
	wait := func() {
		for _, tok := range toks {
			if !tok.WaitTimeout(60*time.Second) || tok.Error() != nil {
				tb.Fatalf("testsrv: publish to %s: %v", url, tok.Error())
			}
		}
		toks = toks[:0]
	}
	for _, m := range msgs {
		toks = append(toks, c.Publish(m.Topic, 1, false, m.Payload))
		if len(toks) == cap(toks) {
			wait()
		}
	}
	wait()
}
