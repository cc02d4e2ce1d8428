//go:build linux

package spool_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/vitalwatch/vitalwatch/ingest/spool"
)

// TestReplayDrainsRealFullDisk is TestReplayDrainsFullDisk on a real file system: a 1 MiB
// tmpfs, filled to its last page by the spool while InfluxDB is down. The cursor file is left
// empty, as it is in a spool that was never consumed from (the state that stalled ingest), and
// the last free page goes to another file. Then replay must drain every record in order.
//
// Mounting needs root, as in CI. Elsewhere the test is skipped, saying so; the same behaviour
// is tested without root on spooltest.Disk.
func TestReplayDrainsRealFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root (CI runs as root); TestReplayDrainsFullDisk covers this without it")
	}
	dir := filepath.Join(t.TempDir(), "disk")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount -t tmpfs -o size=1m tmpfs %s: %v: %s (root without CAP_SYS_ADMIN? the test needs a machine where root can mount)", dir, err, out)
	}
	// Registered first, so it runs after the spools are closed.
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})

	opts := spool.Options{Dir: dir, MaxBytes: 64 << 20, SegmentBytes: 64 << 10}
	s := spool.MustOpen(t, opts)
	var acked [][]byte
	for i := 0; ; i++ {
		rec := numbered(i, 4000)
		err := s.Append(rec)
		if err == nil {
			acked = append(acked, rec)
			continue
		}
		if !errors.Is(err, syscall.ENOSPC) || !errors.Is(err, spool.ErrNoSpace) {
			t.Fatalf("Append %d on a full tmpfs = %v; want ENOSPC, matching ErrNoSpace", i, err)
		}
		break
	}
	if len(acked) < 100 {
		t.Fatalf("only %d records of 4000 bytes fit in 1 MiB", len(acked))
	}
	if err := s.Writable(); !errors.Is(err, spool.ErrNoSpace) {
		t.Errorf("Writable() on a full tmpfs = %v; want ErrNoSpace", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// The cursor file as a spool that never consumed has it, and not a page free.
	if err := os.Truncate(filepath.Join(dir, "cursor"), 0); err != nil {
		t.Fatal(err)
	}
	filler, err := os.Create(filepath.Join(dir, "other-files"))
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := filler.Write(make([]byte, 512)); err != nil {
			break
		}
	}
	filler.Close()

	s = spool.MustOpen(t, opts)
	var got [][]byte
	for {
		rec, ok, err := s.Peek()
		if err != nil {
			t.Fatalf("Peek after %d records: %v", len(got), err)
		}
		if !ok {
			break
		}
		if err := s.Consume(); err != nil {
			t.Fatalf("Consume of record %d of %d on a full tmpfs: %v", len(got), len(acked), err)
		}
		got = append(got, rec)
	}
	sameRecords(t, got, acked)

	more := numbered(len(acked), 4000)
	spool.MustAppend(t, s, more)
	if err := s.Writable(); err != nil {
		t.Errorf("Writable() after the replay = %v; want nil", err)
	}
	s = spool.MustReopen(t, s, opts)
	sameRecords(t, spool.Drain(t, s), [][]byte{more})
}
