package spool_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/vitalwatch/vitalwatch/ingest/spool"
	"github.com/vitalwatch/vitalwatch/ingest/spool/spooltest"
)

// These tests run the spool on a spooltest.Disk, whose space runs out like a real file
// system's, to check that a full disk never stops replay: consuming frees space, and needs
// none.

// numbered is record i, size bytes long, its content derived from i so that a swapped or
// damaged record shows.
func numbered(i, size int) []byte {
	b := fmt.Appendf(nil, "rec %d;", i)
	for len(b) < size {
		b = append(b, byte('a'+(i+len(b))%26))
	}
	return b
}

// newDisk returns a disk of capacity bytes over a new directory.
func newDisk(t *testing.T, capacity int64) (string, *spooltest.Disk) {
	t.Helper()
	dir := t.TempDir()
	disk, err := spooltest.NewDisk(dir, capacity)
	if err != nil {
		t.Fatal(err)
	}
	return dir, disk
}

// fillDisk appends numbered records until the disk is full, checks that the refusal is
// ErrNoSpace, and returns the records whose Append returned nil.
func fillDisk(t *testing.T, s *spool.Spool, size int) [][]byte {
	t.Helper()
	var acked [][]byte
	for i := 0; ; i++ {
		rec := numbered(i, size)
		err := s.Append(rec)
		if err == nil {
			acked = append(acked, rec)
			continue
		}
		if !errors.Is(err, spool.ErrNoSpace) || !errors.Is(err, syscall.ENOSPC) || errors.Is(err, spool.ErrFull) {
			t.Fatalf("Append on a full disk = %v; want an error matching ErrNoSpace and ENOSPC, not ErrFull", err)
		}
		if i < 4 {
			t.Fatalf("the disk was full after %d records; the test wants several segments", i)
		}
		return acked
	}
}

// consumeAll peeks and consumes until the spool is empty, failing on any error: on a full
// disk, each Consume must still succeed.
func consumeAll(t *testing.T, s *spool.Spool) [][]byte {
	t.Helper()
	var got [][]byte
	for {
		rec, ok, err := s.Peek()
		if err != nil {
			t.Fatalf("Peek after %d records: %v", len(got), err)
		}
		if !ok {
			return got
		}
		if err := s.Consume(); err != nil {
			t.Fatalf("Consume of record %d: %v", len(got), err)
		}
		got = append(got, rec)
	}
}

func sameRecords(t *testing.T, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records; want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("record %d = %.20q; want %.20q", i, got[i], want[i])
		}
	}
}

// TestReplayDrainsFullDisk fills the disk while InfluxDB is down, so that appends fail for
// want of space; then InfluxDB is back and the consumer must replay every record, in order,
// once, without any Consume failing, and leave the spool writable.
func TestReplayDrainsFullDisk(t *testing.T) {
	tests := []struct {
		name string
		// emptyCursor empties the cursor file before the spool is reopened on the full
		// disk, as a spool left by a version that did not preallocate it.
		emptyCursor bool
		// copyOnWrite makes every cursor save need a free block, as on btrfs.
		copyOnWrite bool
	}{
		{name: "cursor preallocated"},
		{name: "cursor file empty, from an older version", emptyCursor: true},
		{name: "copy on write", copyOnWrite: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, disk := newDisk(t, 256<<10)
			opts := spool.Options{Dir: dir, MaxBytes: 64 << 20, SegmentBytes: 16 << 10, FS: disk}
			s := spool.MustOpen(t, opts)
			acked := fillDisk(t, s, 1000)
			if err := s.Writable(); !errors.Is(err, spool.ErrNoSpace) {
				t.Errorf("Writable() on a full disk = %v; want ErrNoSpace", err)
			}
			// Ingest retries while the broker holds the messages: nothing more is taken.
			for range 3 {
				if err := s.Append(numbered(len(acked), 1000)); !errors.Is(err, spool.ErrNoSpace) {
					t.Fatalf("Append retried on a full disk = %v; want ErrNoSpace", err)
				}
			}

			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if tt.emptyCursor {
				if err := os.Truncate(filepath.Join(dir, "cursor"), 0); err != nil {
					t.Fatal(err)
				}
				disk, _ = spooltest.NewDisk(dir, disk.Used()) // recount, still full
				opts.FS = disk
			}
			disk.CopyOnWrite = tt.copyOnWrite
			s = spool.MustOpen(t, opts)
			if r := s.Recovery(); r.Records != len(acked) || r.TruncatedBytes != 0 || r.CursorLost {
				t.Errorf("Recovery() = %+v; want the %d acknowledged records, nothing cut, cursor kept", r, len(acked))
			}
			if free := disk.Free(); free >= spooltest.BlockSize {
				t.Fatalf("%d bytes free after reopening; the disk should still be full", free)
			}

			sameRecords(t, consumeAll(t, s), acked)
			if n := s.Len(); n != 0 {
				t.Errorf("Len() = %d after the replay; want 0", n)
			}
			if err := s.Writable(); err != nil {
				t.Errorf("Writable() after the replay freed the disk = %v; want nil", err)
			}
			more := numbered(len(acked), 1000)
			spool.MustAppend(t, s, more)
			if err := s.Writable(); err != nil {
				t.Errorf("Writable() after an Append succeeded = %v; want nil", err)
			}

			// What was consumed stays consumed, what was appended is there.
			s = spool.MustReopen(t, s, opts)
			sameRecords(t, spool.Drain(t, s), [][]byte{more})
		})
	}
}

// TestDrainedSegmentIsFreedOnFullDisk covers one segment that fills the disk by itself (a
// disk smaller than a segment): once it is read to its end, its space must come back without
// needing any, whether the disk filled while appending or afterwards.
func TestDrainedSegmentIsFreedOnFullDisk(t *testing.T) {
	for _, fillAfter := range []bool{false, true} {
		t.Run(fmt.Sprintf("filled after draining %v", fillAfter), func(t *testing.T) {
			dir, disk := newDisk(t, 64<<10)
			opts := spool.Options{Dir: dir, MaxBytes: 64 << 20, SegmentBytes: 1 << 20, FS: disk}
			s := spool.MustOpen(t, opts)
			var acked [][]byte
			if fillAfter {
				for i := range 20 {
					acked = append(acked, numbered(i, 1000))
				}
				spool.MustAppend(t, s, acked...)
			} else {
				acked = fillDisk(t, s, 1000)
			}
			sameRecords(t, consumeAll(t, s), acked)
			if fillAfter {
				disk.Fill() // another process takes the space left
			}

			next := [][]byte{numbered(1000, 1000), numbered(1001, 1000)}
			spool.MustAppend(t, s, next...)
			// A read position saved in the emptied segment must not skip the new records.
			s = spool.MustReopen(t, s, opts)
			sameRecords(t, spool.Drain(t, s), next)
		})
	}
}

// TestOpenOnFullDiskAfterCrashInSegmentCreation covers a crash between the creation of a
// segment file and its header reaching the disk, on a full disk: Open must not need space to
// repair that, or the spool could never be opened to be drained.
func TestOpenOnFullDiskAfterCrashInSegmentCreation(t *testing.T) {
	dir, disk := newDisk(t, 128<<10)
	opts := spool.Options{Dir: dir, MaxBytes: 64 << 20, SegmentBytes: 16 << 10, FS: disk}
	s := spool.MustOpen(t, opts)
	acked := fillDisk(t, s, 1000)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	segs, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil || len(segs) < 2 {
		t.Fatalf("segment files %v, %v; want several", segs, err)
	}
	var last uint64
	fmt.Sscanf(filepath.Base(segs[len(segs)-1]), "%d.seg", &last)
	if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%020d.seg", last+1)), nil, 0o644); err != nil {
		t.Fatal(err)
	}

	disk, _ = spooltest.NewDisk(dir, disk.Used())
	opts.FS = disk
	s = spool.MustOpen(t, opts)
	sameRecords(t, consumeAll(t, s), acked)
	spool.MustAppend(t, s, numbered(1, 1000))
}

// TestWritableSaysWhy checks the reasons Writable gives, and that each clears when it no
// longer holds.
func TestWritableSaysWhy(t *testing.T) {
	t.Run("limit", func(t *testing.T) {
		rec := numbered(0, 100)
		s := spool.MustOpen(t, spool.Options{Dir: t.TempDir(), MaxBytes: 2048, SegmentBytes: 512})
		if err := s.Writable(); err != nil {
			t.Fatalf("Writable() on a new spool = %v", err)
		}
		var err error
		for err == nil {
			err = s.Append(rec)
		}
		if !errors.Is(err, spool.ErrFull) {
			t.Fatalf("Append = %v; want ErrFull", err)
		}
		if err := s.Writable(); !errors.Is(err, spool.ErrFull) {
			t.Errorf("Writable() at MaxBytes = %v; want ErrFull", err)
		}
		spool.Drain(t, s)
		if err := s.Writable(); err != nil {
			t.Errorf("Writable() after draining = %v; want nil", err)
		}
	})
	t.Run("disk freed by hand", func(t *testing.T) {
		dir, disk := newDisk(t, 64<<10)
		s := spool.MustOpen(t, spool.Options{Dir: dir, MaxBytes: 64 << 20, SegmentBytes: 16 << 10, FS: disk})
		fillDisk(t, s, 1000)
		if err := s.Writable(); !errors.Is(err, spool.ErrNoSpace) {
			t.Fatalf("Writable() = %v; want ErrNoSpace", err)
		}
		disk.SetCapacity(1 << 20) // an operator deletes something else
		if err := s.Writable(); err != nil {
			t.Errorf("Writable() once the disk has room = %v; want nil", err)
		}
	})
}

// TestAppendRecoversFromFailedFsync fails one fsync of a segment while writers append, as a
// file system out of space at writeback (NFS, thin provisioning, quotas) or a transient I/O
// error would. The Appends it covered fail; later ones must succeed again instead of failing
// until a restart, and every record whose Append returned nil must be kept, once, in order.
func TestAppendRecoversFromFailedFsync(t *testing.T) {
	for _, cause := range []syscall.Errno{syscall.ENOSPC, syscall.EIO} {
		t.Run(cause.Error(), func(t *testing.T) {
			dir, disk := newDisk(t, 1<<30)
			opts := spool.Options{Dir: dir, MaxBytes: 64 << 20, SegmentBytes: 16 << 10, FS: disk}
			s := spool.MustOpen(t, opts)
			var mu sync.Mutex
			syncs, failAt := 0, []int{20, 45}
			disk.Inject = func(op spooltest.Op, path string) error {
				if op != spooltest.OpSync || !strings.HasSuffix(path, ".seg") {
					return nil
				}
				mu.Lock()
				defer mu.Unlock()
				syncs++
				if slices.Contains(failAt, syncs) {
					return cause
				}
				return nil
			}

			const writers, perWriter = 4, 60
			acked := make([][]int, writers)
			failures := make([]int, writers)
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					for i := range perWriter {
						err := s.Append(fmt.Appendf(nil, "%d %d %s", w, i, strings.Repeat("x", 300)))
						switch {
						case err == nil:
							acked[w] = append(acked[w], i)
						case cause == syscall.ENOSPC && !errors.Is(err, spool.ErrNoSpace):
							t.Errorf("Append after an fsync failed with ENOSPC = %v; want ErrNoSpace", err)
						default:
							failures[w]++
						}
					}
				})
			}
			wg.Wait()
			total := 0
			for w := range writers {
				total += failures[w]
				// The last Appends come after the failures: they must have worked.
				if n := len(acked[w]); n == 0 || acked[w][n-1] != perWriter-1 {
					t.Errorf("writer %d: Appends acknowledged %v; want the last ones to succeed after the repair", w, acked[w])
				}
			}
			if total == 0 {
				t.Fatal("no Append failed; the injected fsync failures did not happen")
			}
			if err := s.Writable(); err != nil {
				t.Errorf("Writable() after appends succeeded again = %v; want nil", err)
			}

			s = spool.MustReopen(t, s, spool.Options{Dir: dir, MaxBytes: 64 << 20, SegmentBytes: 16 << 10})
			next := make([]int, writers)
			for _, rec := range spool.Drain(t, s) {
				var w, i int
				if _, err := fmt.Sscanf(string(rec), "%d %d", &w, &i); err != nil {
					t.Fatalf("record %.20q: %v", rec, err)
				}
				// Acknowledged records are all there, in order; a failed Append may have kept its record.
				for next[w] < len(acked[w]) && acked[w][next[w]] < i {
					t.Fatalf("writer %d: record %d, acknowledged, is missing", w, acked[w][next[w]])
				}
				if next[w] < len(acked[w]) && acked[w][next[w]] == i {
					next[w]++
				}
			}
			for w := range writers {
				if next[w] != len(acked[w]) {
					t.Errorf("writer %d: %d of %d acknowledged records kept", w, next[w], len(acked[w]))
				}
			}
		})
	}
}
