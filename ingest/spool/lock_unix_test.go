//go:build unix

package spool

import (
	"errors"
	"testing"
)

func TestOpenTwiceIsRefused(t *testing.T) {
	opts := Options{Dir: t.TempDir(), MaxBytes: 1 << 20}
	s := MustOpen(t, opts)
	if _, err := Open(opts); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open of %s = %v; want ErrLocked", opts.Dir, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	MustOpen(t, opts) // the lock went with Close
}
