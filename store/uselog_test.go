package store

import (
	"context"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"testing"
)

// The log's encoding gives back what was encoded, in both versions, and every truncation of
// it is an error.
func TestUseLogEncoding(t *testing.T) {
	subjects := []subject{{"cuff-1", "site-01"}, {"", "s"}, {"glucometer-ünï", "site-02"}}
	in := []logUse{
		{device: "cuff-1", site: "site-01", at: 1_795_000_000_123, day: 20780, id: 1},
		{device: "", site: "s", at: -5, day: 0, id: 2},
		{device: "glucometer-ünï", site: "site-02", at: 1, day: 65535, id: 3},
		{device: "cuff-1", site: "site-01", at: 1_795_000_000_122, day: 20779, id: 1},
	}
	v1 := slices.Clone(in)
	for i := range v1 {
		v1[i].id = 0
	}
	for _, c := range []struct {
		name string
		b    []byte
		want []logUse
	}{
		{"version 2", appendUseLog(nil, in), in},
		{"version 1", appendUseLogV1(nil, in), v1},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out []logUse
			if err := decodeUseLog(c.b, subjects, func(l logUse) { out = append(out, l) }); err != nil || !slices.Equal(out, c.want) {
				t.Fatalf("decode(encode(%v)) = %v, %v", c.want, out, err)
			}
			for n := range len(c.b) {
				if err := decodeUseLog(c.b[:n], subjects, func(logUse) {}); err == nil {
					t.Errorf("decoding the first %d of %d bytes succeeded; want an error", n, len(c.b))
				}
			}
			if err := decodeUseLog(append(c.b, 0), subjects, func(logUse) {}); err == nil {
				t.Error("decoding with a byte left over succeeded; want an error")
			}
		})
	}
	// A subject the decoder does not know is an error, not a use of someone else.
	err := decodeUseLog(appendUseLog(nil, in), subjects[:2], func(logUse) {})
	if err == nil || !strings.Contains(err.Error(), "subject 3") {
		t.Errorf("decoding a row naming subject 3 with 2 known = %v; want an error naming subject 3", err)
	}
	// Version 2 is several times smaller than version 1 for the same uses.
	if v2, v1 := len(appendUseLog(nil, in)), len(appendUseLogV1(nil, in)); 2*v2 > v1 {
		t.Errorf("version 2 takes %d bytes and version 1 %d for the same uses; want less than half", v2, v1)
	}
}

// appendUseLogV1 encodes uses as rows were written before version 2.
func appendUseLogV1(b []byte, uses []logUse) []byte {
	b = append(b, useLogV1)
	b = binary.AppendUvarint(b, uint64(len(uses)))
	for _, u := range uses {
		b = binary.AppendUvarint(b, uint64(len(u.device)))
		b = append(b, u.device...)
		b = binary.AppendUvarint(b, uint64(len(u.site)))
		b = append(b, u.site...)
		b = binary.AppendVarint(b, u.at)
		b = binary.AppendUvarint(b, uint64(u.day))
	}
	return b
}

// TestPipeline checks that the consumer gets every item in order, that the producer's error is
// returned, and that the consumer's error stops the producer and is returned instead.
func TestPipeline(t *testing.T) {
	ctx := context.Background()
	count := func(n int, fail error) func(context.Context, func(int) error) error {
		return func(ctx context.Context, send func(int) error) error {
			for i := range n {
				if err := send(i); err != nil {
					return err
				}
			}
			return fail
		}
	}
	var got []int
	if err := pipeline(ctx, 2, count(100, nil), func(v int) error { got = append(got, v); return nil }); err != nil {
		t.Fatalf("pipeline: %v", err)
	}
	if len(got) != 100 || !slices.IsSorted(got) || got[99] != 99 {
		t.Errorf("pipeline handed %d items (first %v); want 0..99 in order", len(got), got[:min(len(got), 5)])
	}
	broken := errors.New("read failed")
	if err := pipeline(ctx, 2, count(3, broken), func(int) error { return nil }); !errors.Is(err, broken) {
		t.Errorf("pipeline with a failing producer = %v; want %v", err, broken)
	}
	bad := errors.New("bad row")
	sent := 0
	err := pipeline(ctx, 2, func(ctx context.Context, send func(int) error) error {
		for i := range 1_000_000 {
			if err := send(i); err != nil {
				return err
			}
			sent++
		}
		return nil
	}, func(v int) error {
		if v == 10 {
			return bad
		}
		return nil
	})
	if !errors.Is(err, bad) {
		t.Errorf("pipeline with a failing consumer = %v; want %v", err, bad)
	}
	if sent > 100 {
		t.Errorf("the producer sent %d items after the consumer failed at the 11th; want it stopped", sent)
	}
}
