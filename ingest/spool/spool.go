// Package spool is a durable FIFO of byte records on local disk. Ingest appends
// batches of InfluxDB line protocol to it when InfluxDB is slow or down, so the
// MQTT messages that carried them can be acknowledged, and replays them in
// order once InfluxDB is back.
//
// A spool is a directory of segment files (00000000000000000001.seg, ...) that
// are appended to in turn, plus a cursor file holding the read position and a
// lock file. Append returns only after its record is fsynced; concurrent
// Appends share an fsync (group commit). Consume fsyncs the new read position
// before returning; the last record of a sealed segment is consumed by deleting
// the segment instead. A last segment read to its end is emptied and renamed
// rather than replaced.
//
// Guarantees across a crash or restart:
//   - A record whose Append returned nil is never lost.
//   - A record whose Consume returned nil is never returned again, except
//     after the file system ran out of space (below).
//   - The record that Peek returned and whose Consume had not returned when the
//     process died is returned again: delivery is at least once, and that
//     record is the only one that can be delivered twice.
//   - An Append that was in flight may or may not have kept its record; one
//     that returned an error may also have kept it (a failed fsync leaves the
//     file in an unknown state), so a caller that retries may store it twice.
//
// After a failed fsync, the next Append cuts the last segment back to what is
// known to be durable and goes on from there: one bad fsync does not stop the
// spool taking records until a restart.
//
// On a full file system (ENOSPC, or EDQUOT over a quota), Append returns an
// error matching ErrNoSpace and Writable reports it, while Peek and Consume go
// on and free space as they go, so the spool always drains. Nothing the
// consumer does needs new space: consuming the last record of a segment removes
// the segment instead of writing the read position, a drained last segment is
// emptied in place, and the read position is saved over bytes allocated when
// the spool was opened. Where even that fails for want of space (a file system
// that copies on write), Consume moves on without saving it; a crash before
// the next save then delivers again the records consumed since the last one,
// at most those of one segment. Nothing is lost either way.
package spool

import (
	"errors"
	"fmt"
	"os"
	"sync"
)

// Errors returned by Spool methods.
var (
	// ErrFull means the record would take the files on disk past MaxBytes.
	// Consuming frees space a segment file at a time.
	ErrFull = errors.New("spool: full")
	// ErrTooLarge means the record can never be stored: it is over
	// MaxRecordBytes or alone would exceed MaxBytes.
	ErrTooLarge = errors.New("spool: record too large")
	// ErrEmpty is returned by Consume when there is no record to consume.
	ErrEmpty = errors.New("spool: empty")
	// ErrClosed is returned by methods called after Close.
	ErrClosed = errors.New("spool: closed")
	// ErrLocked means another process has the spool directory open.
	ErrLocked = errors.New("spool: directory in use")
)

// DefaultSegmentBytes is the segment size used when Options.SegmentBytes is 0
// and MaxBytes is large enough for it.
const DefaultSegmentBytes = 8 << 20

// Options configures a Spool.
type Options struct {
	// Dir holds the spool's files. It is created if missing.
	Dir string
	// MaxBytes bounds the bytes in segment files on disk, including the
	// consumed part of the oldest segment, which is freed when the segment
	// has been read to its end. Room for one segment header (8 bytes) is
	// kept in reserve. Required.
	MaxBytes int64
	// SegmentBytes is the size past which Append starts a new segment file;
	// at most MaxBytes. 0 means DefaultSegmentBytes, or MaxBytes/4 if that is
	// smaller.
	SegmentBytes int64
	// FS holds the segment and cursor files; nil means the operating system's.
	FS FS
}

// Recovery describes what Open found on disk.
type Recovery struct {
	Segments int   // segment files kept
	Records  int   // records pending after recovery
	Bytes    int64 // bytes pending after recovery, as Bytes reports them

	// TruncatedBytes is how much was cut from the end of the last segment
	// because it did not hold a whole, valid record: a write torn by a crash.
	// Such bytes were never acknowledged by Append.
	TruncatedBytes int64

	// CursorLost reports that the read position could not be read back, so
	// reading restarts at the oldest segment and consumed records in it are
	// delivered again.
	CursorLost bool
}

// Spool is a durable FIFO of records in a directory. Append is safe for
// concurrent use, as are Peek and Consume, though a spool normally has a
// single consumer.
type Spool struct {
	dir      string
	maxBytes int64
	segBytes int64
	fs       FS
	lock     *os.File
	recovery Recovery

	// mu guards the segment list, the writer and the read position. It is
	// released during fsyncs and record reads.
	mu        sync.Mutex
	synced    *sync.Cond // on mu; signalled when a sync or rotation ends
	segs      []*segment // oldest first; the last one is written to
	w         File       // the last segment
	diskBytes int64      // sum of segment sizes
	written   uint64     // records written since Open
	syncedSeq uint64     // records written since Open and known durable
	syncing   bool       // a group-commit leader is in fsync
	writeErr  error      // after a failed fsync the file state is unknown, until repairLocked
	waiting   int        // Appends in waitDurableLocked; repairLocked waits for none
	readOff   int64      // offset of the next unconsumed record in segs[0]
	readRecs  int        // records consumed in segs[0]
	closed    bool

	// stale is set when the last segment was emptied (recycleLocked) but not
	// yet renamed: it must not take records under its old id, where a saved
	// read position may point past where they would go.
	stale bool
	// noSpace is the last error for want of space, with the bytes the Append
	// that met it needed; an Append that succeeds clears it. fullNeed is the
	// need of the last Append refused with ErrFull, until one succeeds. They
	// are what Writable reports.
	noSpace     error
	noSpaceNeed int64
	fullNeed    int64

	// rmu serialises consumers. It is taken before mu, never after.
	rmu    sync.Mutex
	r      File // read handle on segs[0], opened lazily
	rSeg   uint64
	peeked peeked
	cursor *cursor
}

// peeked is the record Peek last returned, which Consume removes.
type peeked struct {
	ok   bool
	rec  []byte
	seg  uint64
	off  int64
	next int64
}

// Recovery reports what Open found on disk.
func (s *Spool) Recovery() Recovery { return s.recovery }

// Len returns the number of records pending. It counts a record once its
// Append has made it durable.
func (s *Spool) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := -s.readRecs
	for _, seg := range s.segs {
		n += seg.durableRecords
	}
	return max(n, 0)
}

// Bytes returns the size of the pending records on disk, framing included.
func (s *Spool) Bytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pendingBytesLocked()
}

func (s *Spool) pendingBytesLocked() int64 {
	n := segHeaderLen - s.readOff
	for _, seg := range s.segs {
		n += seg.durable - segHeaderLen
	}
	return max(n, 0)
}

// Close syncs and closes the spool's files. Appends waiting for an fsync
// return once Close has synced their records.
func (s *Spool) Close() error {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.closed = true
	for s.syncing {
		s.synced.Wait()
	}
	var errs []error
	if s.writeErr == nil {
		if err := s.w.Sync(); err != nil {
			s.writeErr = fmt.Errorf("spool: fsync on close: %w", err)
			errs = append(errs, s.writeErr)
		} else {
			act := s.segs[len(s.segs)-1]
			s.markDurableLocked(act, act.size, act.records)
			s.syncedSeq = s.written
		}
	}
	s.synced.Broadcast()
	errs = append(errs, s.w.Close(), s.cursor.f.Close(), s.lock.Close())
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	return errors.Join(errs...)
}
