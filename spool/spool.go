// Package spool is a durable FIFO of byte records on local disk. Ingest appends
// batches of InfluxDB line protocol to it when InfluxDB is slow or down, so the
// MQTT messages that carried them can be acknowledged, and replays them in
// order once InfluxDB is back.
//
// A spool is a directory of segment files (00000000000000000001.seg, ...) that
// are appended to in turn, plus a cursor file holding the read position and a
// lock file. Append returns only after its record is fsynced; concurrent
// Appends share an fsync (group commit). Consume fsyncs the new read position
// before returning, and a segment file is deleted once it has been read to the
// end.
//
// Guarantees across a crash or restart:
//   - A record whose Append returned nil is never lost.
//   - A record whose Consume returned nil is never returned again.
//   - The record that Peek returned and whose Consume had not returned when the
//     process died is returned again: delivery is at least once, and that
//     record is the only one that can be delivered twice.
//   - An Append that was in flight may or may not have kept its record; one
//     that returned an error may also have kept it (a failed fsync leaves the
//     file in an unknown state), so a caller that retries may store it twice.
package spool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
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

// segment is one segment file. Fields are guarded by Spool.mu.
type segment struct {
	id   uint64
	path string
	size int64 // bytes written, including the header

	// durable is the prefix known to be fsynced; readers never look past it,
	// so Peek cannot hand out a record that a crash could still take away.
	durable        int64
	records        int // records written
	durableRecords int

	// damaged is set when the segment's header is unreadable; Peek reports
	// it on reaching the segment rather than guess at its contents.
	damaged *CorruptError
}

// Spool is a durable FIFO of records in a directory. Append is safe for
// concurrent use, as are Peek and Consume, though a spool normally has a
// single consumer.
type Spool struct {
	dir      string
	maxBytes int64
	segBytes int64
	lock     *os.File
	recovery Recovery

	// mu guards the segment list, the writer and the read position. It is
	// released during fsyncs and record reads.
	mu        sync.Mutex
	synced    *sync.Cond // on mu; signalled when a sync or rotation ends
	segs      []*segment // oldest first; the last one is written to
	w         *os.File   // the last segment
	diskBytes int64      // sum of segment sizes
	written   uint64     // records written since Open
	syncedSeq uint64     // records written since Open and known durable
	syncing   bool       // a group-commit leader is in fsync
	writeErr  error      // sticky: after a failed fsync the file state is unknown
	readOff   int64      // offset of the next unconsumed record in segs[0]
	readRecs  int        // records consumed in segs[0]
	closed    bool

	// rmu serialises consumers. It is taken before mu, never after.
	rmu    sync.Mutex
	r      *os.File // read handle on segs[0], opened lazily
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

// Append stores rec at the tail of the spool and returns once it is fsynced.
// It returns ErrFull if that would take the spool past MaxBytes, and
// ErrTooLarge if no amount of consuming would make room for rec.
func (s *Spool) Append(rec []byte) error {
	if int64(len(rec)) > MaxRecordBytes || 2*segHeaderLen+recHeaderLen+int64(len(rec)) > s.maxBytes {
		return ErrTooLarge
	}
	frame := encodeRecord(rec)
	n := int64(len(frame))

	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if s.closed {
			return ErrClosed
		}
		if s.writeErr != nil {
			return s.writeErr
		}
		act := s.segs[len(s.segs)-1]
		rotate := act.size > segHeaderLen && act.size+n > s.segBytes
		need := n
		if rotate {
			need += segHeaderLen
		}
		// Room for one segment header stays free, so that rollDrainedLocked
		// can always replace a drained segment without passing MaxBytes.
		if s.diskBytes+need > s.maxBytes-segHeaderLen {
			return ErrFull
		}
		if !rotate {
			break
		}
		if s.syncing {
			// The leader is fsyncing s.w: let it finish before the file is closed.
			s.synced.Wait()
			continue
		}
		if err := s.rotateLocked(); err != nil {
			return err
		}
	}

	act := s.segs[len(s.segs)-1]
	if _, err := s.w.WriteAt(frame, act.size); err != nil {
		if terr := s.w.Truncate(act.size); terr != nil {
			s.writeErr = fmt.Errorf("spool: %s unusable after a failed write: %w", act.path, errors.Join(err, terr))
		}
		return fmt.Errorf("spool: append to %s: %w", act.path, err)
	}
	act.size += n
	act.records++
	s.diskBytes += n
	s.written++
	return s.waitDurableLocked(s.written)
}

// waitDurableLocked returns once the seq'th record written since Open is
// fsynced. The first waiter to find no fsync running becomes the leader and
// fsyncs everything written so far; the others wait for it and usually find
// their record covered (group commit).
func (s *Spool) waitDurableLocked(seq uint64) error {
	for s.syncedSeq < seq {
		if s.writeErr != nil {
			return s.writeErr
		}
		if s.syncing {
			s.synced.Wait()
			continue
		}
		s.syncing = true
		act, f, target := s.segs[len(s.segs)-1], s.w, s.written
		size, records := act.size, act.records
		s.mu.Unlock()
		err := f.Sync()
		s.mu.Lock()
		s.syncing = false
		s.synced.Broadcast()
		if err != nil {
			s.writeErr = fmt.Errorf("spool: fsync %s: %w", act.path, err)
			return s.writeErr
		}
		// Records up to target are in act or in older segments, which
		// rotateLocked synced before sealing.
		s.markDurableLocked(act, size, records)
		s.syncedSeq = max(s.syncedSeq, target)
	}
	return nil
}

func (s *Spool) markDurableLocked(seg *segment, size int64, records int) {
	seg.durable = max(seg.durable, size)
	seg.durableRecords = max(seg.durableRecords, records)
}

// rotateLocked seals the last segment and starts a new one. The old segment is
// fsynced before the new file exists, so only the last segment can ever have a
// torn tail. No fsync may be running.
func (s *Spool) rotateLocked() error {
	old := s.segs[len(s.segs)-1]
	if err := s.w.Sync(); err != nil {
		s.writeErr = fmt.Errorf("spool: fsync %s: %w", old.path, err)
		return s.writeErr
	}
	s.markDurableLocked(old, old.size, old.records)
	s.syncedSeq = s.written
	s.synced.Broadcast()

	seg, f, err := createSegment(s.dir, old.id+1)
	if err != nil {
		return err // old stays the last segment; a later Append tries again
	}
	// old is fsynced and will not be written again, so a failed close loses nothing.
	_ = s.w.Close()
	s.w = f
	s.segs = append(s.segs, seg)
	s.diskBytes += seg.size
	return nil
}

// Peek returns the oldest pending record without removing it, or ok false if
// there is none. It returns a *CorruptError if that record fails its checks;
// the spool cannot move past it until the damaged file is dealt with. The
// returned slice belongs to the caller.
func (s *Spool) Peek() (rec []byte, ok bool, err error) {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	return s.peekLocked()
}

func (s *Spool) peekLocked() ([]byte, bool, error) {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, false, ErrClosed
		}
		if s.peeked.ok {
			s.mu.Unlock()
			return s.peeked.rec, true, nil
		}
		seg, off, end, sealed := *s.segs[0], s.readOff, s.segs[0].durable, len(s.segs) > 1
		s.mu.Unlock()

		if seg.damaged != nil {
			return nil, false, seg.damaged
		}
		if off >= end {
			if !sealed {
				return nil, false, nil
			}
			if err := s.dropHeadLocked(); err != nil {
				return nil, false, err
			}
			continue
		}
		f, err := s.readerLocked(&seg)
		if err != nil {
			return nil, false, err
		}
		rec, next, err := readRecord(f, seg.path, off, end, nil)
		if err != nil {
			return nil, false, err
		}
		s.peeked = peeked{ok: true, rec: rec, seg: seg.id, off: off, next: next}
		return rec, true, nil
	}
}

// Consume removes the oldest pending record, the one Peek returns, and makes
// that durable before returning. It returns ErrEmpty if there is none.
func (s *Spool) Consume() error {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	// Reads the record unless Peek already has, and checks for Close.
	if _, ok, err := s.peekLocked(); err != nil {
		return err
	} else if !ok {
		return ErrEmpty
	}
	p := s.peeked
	if err := s.cursor.save(position{seg: p.seg, off: p.next}); err != nil {
		return err
	}
	s.peeked = peeked{}

	s.mu.Lock()
	s.readOff = p.next
	s.readRecs++
	s.rollDrainedLocked()
	done := len(s.segs) > 1 && s.readOff >= s.segs[0].durable
	s.mu.Unlock()
	if done {
		// The record is consumed whatever happens here, so a failure must not
		// be reported as a failed Consume (the caller would consume again).
		// The next Peek retries the removal and reports a lasting failure.
		_ = s.dropHeadLocked()
	}
	return nil
}

// rollDrainedLocked starts a new segment when the last one has been read to
// its end and is at least half full, so that its space can be freed now rather
// than when it fills. Otherwise a segment holding one huge consumed record
// could keep Append returning ErrFull. Both rmu and mu are held.
func (s *Spool) rollDrainedLocked() {
	act := s.segs[len(s.segs)-1]
	if len(s.segs) > 1 || s.syncing || s.writeErr != nil ||
		s.readOff != act.size || act.size-segHeaderLen < s.segBytes/2 {
		return
	}
	// On failure the segment stays and is freed when it fills instead.
	_ = s.rotateLocked()
}

// dropHeadLocked deletes the oldest segment, which has been read to its end
// and is sealed. The cursor needs no update: Open treats a position at the end
// of a segment, or in a segment that no longer exists, as the start of the
// next one.
func (s *Spool) dropHeadLocked() error {
	s.mu.Lock()
	head := s.segs[0]
	s.mu.Unlock()
	if s.r != nil && s.rSeg == head.id {
		s.r.Close()
		s.r = nil
	}
	if err := os.Remove(head.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("spool: remove consumed segment: %w", err)
	}
	s.mu.Lock()
	s.segs = s.segs[1:]
	s.diskBytes -= head.size
	s.readOff, s.readRecs = segHeaderLen, 0
	s.mu.Unlock()
	return nil
}

// readerLocked returns a read handle on seg, the oldest segment.
func (s *Spool) readerLocked(seg *segment) (*os.File, error) {
	if s.r != nil && s.rSeg == seg.id {
		return s.r, nil
	}
	if s.r != nil {
		s.r.Close()
		s.r = nil
	}
	f, err := os.Open(seg.path)
	if err != nil {
		return nil, fmt.Errorf("spool: open segment: %w", err)
	}
	s.r, s.rSeg = f, seg.id
	return f, nil
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

// segmentPath names segment id so that names sort in id order.
func segmentPath(dir string, id uint64) string {
	return filepath.Join(dir, fmt.Sprintf("%020d.seg", id))
}

// createSegment creates segment id holding just its header, durably: the file
// and its directory entry are fsynced.
func createSegment(dir string, id uint64) (*segment, *os.File, error) {
	path := segmentPath(dir, id)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("spool: create segment: %w", err)
	}
	err = writeHeader(f)
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		f.Close()
		os.Remove(path)
		return nil, nil, fmt.Errorf("spool: create segment %s: %w", path, err)
	}
	seg := &segment{id: id, path: path, size: segHeaderLen, durable: segHeaderLen}
	return seg, f, nil
}

func writeHeader(f *os.File) error {
	if _, err := f.WriteAt([]byte(segMagic), 0); err != nil {
		return err
	}
	return f.Sync()
}

// syncDir fsyncs a directory so that files created in it survive a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
