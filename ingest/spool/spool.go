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

// Append stores rec at the tail of the spool and returns once it is fsynced.
// It returns ErrFull if that would take the spool past MaxBytes, ErrTooLarge
// if no amount of consuming would make room for rec, and an error matching
// ErrNoSpace if the file system is full.
func (s *Spool) Append(rec []byte) error {
	if int64(len(rec)) > MaxRecordBytes || 2*segHeaderLen+recHeaderLen+int64(len(rec)) > s.maxBytes {
		return ErrTooLarge
	}
	frame := encodeRecord(rec)

	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.writeLocked(frame)
	if isNoSpace(err) && s.drainedLocked() && !s.syncing {
		// Everything in the last segment was consumed: emptying it makes room
		// without needing any, so a full disk cannot hold on to it.
		if rerr := s.recycleLocked(); rerr == nil {
			err = s.writeLocked(frame)
		}
	}
	if err != nil {
		return err
	}
	s.noSpace, s.noSpaceNeed, s.fullNeed = nil, 0, 0
	return s.waitDurableLocked(s.written)
}

// writeLocked writes frame at the end of the last segment, starting a new
// segment first if the frame would take this one past SegmentBytes.
func (s *Spool) writeLocked(frame []byte) error {
	n := int64(len(frame))
	for {
		if s.closed {
			return ErrClosed
		}
		if s.writeErr != nil {
			if err := s.repairLocked(); err != nil {
				return err
			}
			continue
		}
		act := s.segs[len(s.segs)-1]
		rotate := act.size > segHeaderLen && act.size+n > s.segBytes
		need := n
		if rotate {
			need += segHeaderLen
		}
		// Room for one segment header stays free, so that a drained segment
		// can always be replaced without passing MaxBytes.
		over := s.diskBytes+need > s.maxBytes-segHeaderLen
		if s.stale || ((rotate || over) && s.drainedLocked()) {
			// Emptying the drained last segment is cheaper than a new one and
			// needs no space.
			if s.syncing {
				s.synced.Wait()
				continue
			}
			if err := s.recycleLocked(); err != nil {
				return s.noteLocked(err, need)
			}
			continue
		}
		if over {
			s.fullNeed = need
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
			return s.noteLocked(err, need)
		}
	}

	act := s.segs[len(s.segs)-1]
	if _, err := s.w.WriteAt(frame, act.size); err != nil {
		// Cut off what part of the frame was written, which also gives back
		// the space it took.
		if terr := s.w.Truncate(act.size); terr != nil {
			s.writeErr = markNoSpace(fmt.Errorf("spool: %s unusable after a failed write: %w", act.path, errors.Join(err, terr)))
			return s.writeErr
		}
		return s.noteLocked(fmt.Errorf("spool: append to %s: %w", act.path, err), n)
	}
	act.size += n
	act.records++
	s.diskBytes += n
	s.written++
	return nil
}

// noteLocked marks err as ErrNoSpace if the file system is full, and then
// keeps it for Writable.
func (s *Spool) noteLocked(err error, need int64) error {
	err = markNoSpace(err)
	if errors.Is(err, ErrNoSpace) {
		s.noSpace, s.noSpaceNeed = err, need
	}
	return err
}

// Writable reports whether an Append can be expected to store a record now: it
// returns nil, or the reason the last Append could not while that reason still
// holds. That is ErrFull while MaxBytes leaves no room for that Append's
// record; an error matching ErrNoSpace while the file system is full (until
// an Append succeeds, or the file system reports room for the record that did
// not fit, where it can report free space); or the error that left the last
// segment unusable after a failed fsync or write.
func (s *Spool) Writable() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return ErrClosed
	case s.writeErr != nil:
		return s.writeErr
	case s.noSpace != nil:
		if sr, ok := s.fs.(spaceReporter); ok {
			if free, err := sr.Available(s.dir); err == nil && free >= s.noSpaceNeed {
				return nil
			}
		}
		return s.noSpace
	case s.fullNeed > 0 && s.diskBytes+s.fullNeed > s.maxBytes-segHeaderLen:
		return fmt.Errorf("%w: %d of %d bytes in use", ErrFull, s.diskBytes, s.maxBytes)
	}
	return nil
}

// waitDurableLocked returns once the seq'th record written since Open is
// fsynced. The first waiter to find no fsync running becomes the leader and
// fsyncs everything written so far; the others wait for it and usually find
// their record covered (group commit).
func (s *Spool) waitDurableLocked(seq uint64) error {
	s.waiting++
	defer func() {
		if s.waiting--; s.waiting == 0 && s.writeErr != nil {
			s.synced.Broadcast() // a repairLocked may be waiting for the last of us
		}
	}()
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
			s.writeErr = markNoSpace(fmt.Errorf("spool: fsync %s: %w", act.path, err))
			return s.writeErr
		}
		// Records up to target are in act or in older segments, which
		// rotateLocked synced before sealing.
		s.markDurableLocked(act, size, records)
		s.syncedSeq = max(s.syncedSeq, target)
	}
	return nil
}

// repairLocked makes the last segment writable again after a failed fsync or
// write left its state unknown (writeErr): it cuts the segment back to the
// part known to be durable and fsyncs that, and writing goes on from there.
// The records past that point were never acknowledged: their Appends returned
// the error. So that none of them can take a later fsync for its own, the
// repair waits until they have all returned. On failure writeErr stays, to be
// retried by the next Append; until then ingest holds the broker back.
func (s *Spool) repairLocked() error {
	for s.waiting > 0 || s.syncing {
		s.synced.Wait()
	}
	if s.closed {
		return ErrClosed
	}
	if s.writeErr == nil {
		return nil // repaired while we waited
	}
	act := s.segs[len(s.segs)-1]
	if err := s.w.Truncate(act.durable); err != nil {
		return s.writeErr
	}
	if err := s.w.Sync(); err != nil {
		return s.writeErr
	}
	s.diskBytes -= act.size - act.durable
	act.size, act.records = act.durable, act.durableRecords
	s.written = s.syncedSeq
	s.writeErr = nil
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
		s.writeErr = markNoSpace(fmt.Errorf("spool: fsync %s: %w", old.path, err))
		return s.writeErr
	}
	s.markDurableLocked(old, old.size, old.records)
	s.syncedSeq = s.written
	s.synced.Broadcast()

	seg, f, err := createSegment(s.fs, s.dir, old.id+1)
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
// that durable before returning. It returns ErrEmpty if there is none. See the
// package comment for what a full file system changes.
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

	s.mu.Lock()
	endsSealed := len(s.segs) > 1 && p.seg == s.segs[0].id && p.next >= s.segs[0].durable
	s.mu.Unlock()
	if endsSealed {
		// The record ends a sealed segment: removing the segment consumes it,
		// with no cursor write, because Open starts reading after a segment
		// that is gone. A crash before the removal is durable delivers the
		// record again; one after it does not. On a full disk this frees space
		// first, where a cursor write could need some.
		if err := s.dropHeadLocked(); err != nil {
			return err // nothing changed: the record is still the one to consume
		}
		s.peeked = peeked{}
		return nil
	}

	err := s.cursor.save(position{seg: p.seg, off: p.next})
	if err != nil && !isNoSpace(err) {
		return err
	}
	// Saved, or the file system could not find space for it. Then the read
	// position moves on in memory only: the durable one stays behind until a
	// save succeeds or the segment is removed, and a crash meanwhile delivers
	// those records again, which loses nothing. Failing instead would stop the
	// consumer that is about to free space.
	s.peeked = peeked{}
	s.mu.Lock()
	if err != nil {
		s.noteLocked(err, cursorSlotLen)
	}
	s.readOff = p.next
	s.readRecs++
	s.rollDrainedLocked()
	s.mu.Unlock()
	return nil
}

// drainedLocked reports whether the last segment is the only one, holds
// records, and has been read to its end.
func (s *Spool) drainedLocked() bool {
	act := s.segs[len(s.segs)-1]
	return len(s.segs) == 1 && act.size > segHeaderLen && s.readOff == act.size
}

// rollDrainedLocked empties the last segment when it has been read to its end
// and is at least half full, or the file system is out of space, so that its
// space is freed now rather than when it fills. Otherwise a segment holding one
// huge consumed record could keep Append returning ErrFull. Both rmu and mu are
// held.
func (s *Spool) rollDrainedLocked() {
	if !s.drainedLocked() || s.syncing || s.writeErr != nil {
		return
	}
	if s.noSpace == nil && s.segs[0].size-segHeaderLen < s.segBytes/2 {
		return
	}
	// On failure the segment stays, and Append empties it when it needs to.
	_ = s.recycleLocked()
}

// recycleLocked empties the last segment, which has been read to its end, and
// gives it the next id. Unlike starting a new segment, this needs no space.
// The new id keeps a read position saved in the old segment from pointing
// into the records appended next: Open takes a position in a segment that no
// longer exists as the start of the next one. mu is held and no fsync runs.
//
// A crash before the rename leaves the old segment, cut short or not, which
// Open reads as consumed to its end or delivers again from the saved position.
// A failed rename leaves s.stale set, and Append retries it before writing.
func (s *Spool) recycleLocked() error {
	act := s.segs[len(s.segs)-1]
	if act.size > segHeaderLen {
		if err := s.w.Truncate(segHeaderLen); err != nil {
			return fmt.Errorf("spool: empty drained segment %s: %w", act.path, err)
		}
		s.diskBytes -= act.size - segHeaderLen
		act.size, act.durable, act.records, act.durableRecords = segHeaderLen, segHeaderLen, 0, 0
		s.readOff, s.readRecs = segHeaderLen, 0
		s.stale = true
	}
	if !s.stale {
		return nil
	}
	// The cut is made durable before the rename, or the segment could come
	// back from a crash under its new name with its old records, to be
	// delivered again.
	if err := s.w.Sync(); err != nil {
		return fmt.Errorf("spool: fsync emptied segment %s: %w", act.path, err)
	}
	next := &segment{id: act.id + 1, path: segmentPath(s.dir, act.id+1), size: segHeaderLen, durable: segHeaderLen}
	if err := s.fs.Rename(act.path, next.path); err != nil {
		return fmt.Errorf("spool: rename emptied segment: %w", err)
	}
	s.segs[len(s.segs)-1] = next
	if err := s.fs.SyncDir(s.dir); err != nil {
		// Renamed, but maybe not durably yet: renaming again is as good.
		return fmt.Errorf("spool: fsync %s after renaming a segment: %w", s.dir, err)
	}
	s.stale = false
	return nil
}

// dropHeadLocked deletes the oldest segment, which has been read to its end
// and is sealed, and returns once the deletion is durable. The cursor needs no
// update: Open treats a position at the end of a segment, or in a segment that
// no longer exists, as the start of the next one. On failure the segment stays
// the oldest, and a retry removes it again.
func (s *Spool) dropHeadLocked() error {
	s.mu.Lock()
	head := s.segs[0]
	s.mu.Unlock()
	if s.r != nil && s.rSeg == head.id {
		s.r.Close()
		s.r = nil
	}
	if err := s.fs.Remove(head.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("spool: remove consumed segment: %w", err)
	}
	if err := s.fs.SyncDir(s.dir); err != nil {
		return fmt.Errorf("spool: fsync %s after removing %s: %w", s.dir, head.path, err)
	}
	s.mu.Lock()
	s.segs = s.segs[1:]
	s.diskBytes -= head.size
	s.readOff, s.readRecs = segHeaderLen, 0
	s.mu.Unlock()
	return nil
}

// readerLocked returns a read handle on seg, the oldest segment.
func (s *Spool) readerLocked(seg *segment) (File, error) {
	if s.r != nil && s.rSeg == seg.id {
		return s.r, nil
	}
	if s.r != nil {
		s.r.Close()
		s.r = nil
	}
	f, err := s.fs.OpenFile(seg.path, os.O_RDONLY, 0)
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
func createSegment(fsys FS, dir string, id uint64) (*segment, File, error) {
	path := segmentPath(dir, id)
	f, err := fsys.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("spool: create segment: %w", err)
	}
	err = writeHeader(f)
	if err == nil {
		err = fsys.SyncDir(dir)
	}
	if err != nil {
		f.Close()
		fsys.Remove(path)
		return nil, nil, fmt.Errorf("spool: create segment %s: %w", path, err)
	}
	seg := &segment{id: id, path: path, size: segHeaderLen, durable: segHeaderLen}
	return seg, f, nil
}

func writeHeader(f File) error {
	if _, err := f.WriteAt([]byte(segMagic), 0); err != nil {
		return err
	}
	return f.Sync()
}
