package ingest_test

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"

	"github.com/vitalwatch/vitalwatch/internal/testsrv"
)

// TestWatchdogResubscribesSilentSubscription removes the ingest client's subscriptions inside
// the broker while its connection stays up, as a broker that lost its session state would: no
// error reaches the client, only silence. The watchdog must notice and subscribe again, after
// which device messages flow once more; before, while its probes came back, it must not.
func TestWatchdogResubscribesSilentSubscription(t *testing.T) {
	srv := mochi.New(&mochi.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), InlineClient: true})
	if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.AddListener(listeners.NewNet("tcp", ln)); err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ix := testsrv.StartInflux(t, testsrv.InfluxOptions{})
	const clientID = "ingest-watchdog"
	r := startRig(t, "tcp://"+ln.Addr().String(), ix, clientID) // watchdog every second

	send := func(from, n int) {
		for i := from; i < from+n; i++ {
			payload := fmt.Sprintf(`{"ts":%d,"readings":[{"type":"spo2","value":97,"unit":"%%"}]}`,
				time.Now().Add(-time.Hour).Add(time.Duration(i)*time.Second).UnixMilli())
			if err := srv.Publish("devices/wd-1/telemetry", []byte(payload), false, 1); err != nil {
				t.Fatal(err)
			}
		}
	}
	send(0, 10)
	waitFor(t, 20*time.Second, "first 10 acknowledged", func() bool { return r.metric(t, "vitalwatch_ingest_acked_total") == 10 })
	// While its probes come back, the watchdog leaves the subscription alone.
	time.Sleep(4 * time.Second) // more than three of the watchdog's intervals
	if n := r.metric(t, "vitalwatch_mqtt_watchdog_resubscribes_total"); n != 0 {
		t.Fatalf("the watchdog subscribed again %v times while its probes came back", n)
	}

	for _, filter := range []string{"devices/+/telemetry", "devices/+/status", "vitalwatch/ingest/" + clientID + "/probe"} {
		if !srv.Topics.Unsubscribe(filter, clientID) {
			t.Fatalf("broker had no subscription %s for %s", filter, clientID)
		}
	}
	send(10, 10) // lost: nobody is subscribed, as with a broker that dropped the session
	waitFor(t, 20*time.Second, "the watchdog to resubscribe", func() bool {
		return r.metric(t, "vitalwatch_mqtt_watchdog_resubscribes_total") >= 1
	})
	send(20, 10)
	waitFor(t, 20*time.Second, "messages after the resubscription", func() bool {
		return r.metric(t, "vitalwatch_ingest_acked_total") == 20
	})
}
