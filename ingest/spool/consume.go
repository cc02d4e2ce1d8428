package spool

import (
	"errors"
	"fmt"
	"os"
)

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
