package spool

import (
	"errors"
	"fmt"
)

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
