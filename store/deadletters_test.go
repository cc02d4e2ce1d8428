package store

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/ingest/deadletter"
)

func testDeadLettersAddListFilter(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	base := time.Date(2026, 11, 22, 7, 0, 0, 0, time.UTC)
	var in []deadletter.DeadLetter
	for i := 0; i < 10; i++ {
		reason := "malformed_json"
		if i%2 == 1 {
			reason = "implausible_value"
		}
		in = append(in, deadletter.DeadLetter{
			Received: base.Add(time.Duration(i) * time.Minute), Device: fmt.Sprintf("dev-%d", i%3),
			Topic: "devices/x/telemetry", Reason: reason, Detail: "d", Index: i%2 - 1,
			Payload: []byte(fmt.Sprintf(`{"n":%d}`, i)), PayloadSize: 8,
		})
	}
	if err := s.AddDeadLetters(ctx, in, 0); err != nil {
		t.Fatal(err)
	}

	all, err := s.ListDeadLetters(ctx, deadletter.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 10 || !bytes.Equal(all[0].Payload, []byte(`{"n":9}`)) || !all[0].Received.Equal(in[9].Received) {
		t.Fatalf("List() = %d items, first %+v; want 10 newest first", len(all), all[0])
	}
	tests := []struct {
		name string
		f    deadletter.Filter
		want int
	}{
		{"by device", deadletter.Filter{Device: "dev-0"}, 4},
		{"by reason", deadletter.Filter{Reason: "implausible_value"}, 5},
		{"both", deadletter.Filter{Device: "dev-1", Reason: "implausible_value"}, 2},
		{"since", deadletter.Filter{Since: base.Add(8 * time.Minute)}, 2},
		{"until", deadletter.Filter{Until: base.Add(2 * time.Minute)}, 2},
		{"limit", deadletter.Filter{Limit: 3}, 3},
		{"before cursor", deadletter.Filter{Before: all[6].ID}, 3},
	}
	for _, tt := range tests {
		got, err := s.ListDeadLetters(ctx, tt.f)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != tt.want {
			t.Errorf("%s: List(%+v) = %d items; want %d", tt.name, tt.f, len(got), tt.want)
		}
	}
}

func testDeadLettersPruneKeepsNewest(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	for batch := 0; batch < 5; batch++ {
		var dls []deadletter.DeadLetter
		for i := 0; i < 7; i++ {
			dls = append(dls, deadletter.DeadLetter{Received: time.Now(), Device: "d",
				Reason: "malformed_json", Detail: fmt.Sprint(batch*7 + i), Index: -1})
		}
		if err := s.AddDeadLetters(ctx, dls, 10); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.CountDeadLetters(ctx)
	if err != nil || n != 10 {
		t.Fatalf("Count() = %d, %v; want 10", n, err)
	}
	got, _ := s.ListDeadLetters(ctx, deadletter.Filter{Limit: 1000})
	if got[0].Detail != "34" || got[9].Detail != "25" {
		t.Fatalf("kept %s..%s; want the newest 34..25", got[0].Detail, got[9].Detail)
	}
}

func testMigrateOnceAndReopen(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	dsn := newDSN(t)
	s := mustOpen(t, dsn)
	if err := s.AddDeadLetters(ctx, []deadletter.DeadLetter{{Device: "d", Reason: "r", Index: -1}}, 0); err != nil {
		t.Fatal(err)
	}
	again, err := s.MigrateVersions(ctx)
	if err != nil || len(again) != 0 {
		t.Fatalf("second Migrate applied %v, %v; want none", again, err)
	}
	s.Close()
	s2 := mustOpen(t, dsn)
	if n, _ := s2.CountDeadLetters(ctx); n != 1 {
		t.Fatalf("after reopen Count() = %d; want 1", n)
	}
}

func testDeadLettersKeepBinaryPayload(t *testing.T, newDSN func(t *testing.T) string) {
	ctx := context.Background()
	s := newStore(t, newDSN)
	binary := []byte{0x00, 0xff, 0xfe, '{', 0x00, 0x80}
	long := bytes.Repeat([]byte("x"), deadletter.MaxPayload+10)
	in := []deadletter.DeadLetter{
		{Received: time.Now(), Device: "d", Reason: "malformed_json", Index: -1, Payload: binary, PayloadSize: len(binary)},
		{Received: time.Now(), Device: "d", Reason: "oversized_payload", Index: -1, Payload: long, PayloadSize: len(long)},
	}
	if err := s.AddDeadLetters(ctx, in, 0); err != nil {
		t.Fatal(err)
	}
	got, err := s.ListDeadLetters(ctx, deadletter.Filter{})
	if err != nil || len(got) != 2 {
		t.Fatalf("List() = %d items, %v; want 2", len(got), err)
	}
	if len(got[0].Payload) != deadletter.MaxPayload || !got[0].Truncated() {
		t.Errorf("long payload kept %d bytes, truncated %v; want %d, true", len(got[0].Payload), got[0].Truncated(), deadletter.MaxPayload)
	}
	if !bytes.Equal(got[1].Payload, binary) {
		t.Errorf("binary payload = %x; want %x", got[1].Payload, binary)
	}
}
