package spool

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Open opens the spool in opts.Dir, creating the directory if needed, and
// recovers what a previous process left: segments are taken in order, a torn
// record at the end of the last segment is cut off (see Recovery), and reading
// resumes at the saved position. Open fails with ErrLocked if another process
// has the directory open.
func Open(opts Options) (*Spool, error) {
	if opts.Dir == "" {
		return nil, errors.New("spool: Options.Dir is empty")
	}
	if opts.MaxBytes <= 0 {
		return nil, fmt.Errorf("spool: Options.MaxBytes is %d; it must bound the spool", opts.MaxBytes)
	}
	segBytes := opts.SegmentBytes
	if segBytes == 0 {
		segBytes = min(DefaultSegmentBytes, opts.MaxBytes/4)
	}
	if segBytes <= segHeaderLen+recHeaderLen || segBytes > opts.MaxBytes {
		return nil, fmt.Errorf("spool: SegmentBytes %d must be over %d and at most MaxBytes %d",
			segBytes, segHeaderLen+recHeaderLen, opts.MaxBytes)
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	lock, err := lockDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	fsys := opts.FS
	if fsys == nil {
		fsys = osFS{}
	}
	s := &Spool{
		dir:      opts.Dir,
		maxBytes: opts.MaxBytes,
		segBytes: segBytes,
		fs:       fsys,
		lock:     lock,
		readOff:  segHeaderLen,
	}
	s.synced = sync.NewCond(&s.mu)
	if err := s.recover(); err != nil {
		if s.w != nil {
			s.w.Close()
		}
		if s.cursor != nil {
			s.cursor.f.Close()
		}
		lock.Close()
		return nil, err
	}
	return s, nil
}

// recover rebuilds the spool's state from its files.
func (s *Spool) recover() error {
	ids, err := listSegments(s.fs, s.dir)
	if err != nil {
		return err
	}
	c, pos, state, err := openCursor(s.fs, s.dir)
	if err != nil {
		return err
	}
	s.cursor = c
	s.recovery.CursorLost = state == cursorLost

	var nextID uint64 = 1
	mark := int64(-1) // the saved offset in ids[0], if the cursor points into it
	if state == cursorValid {
		nextID = pos.seg + 1
		// Segments before the cursor's were consumed; a crash kept them from
		// being deleted.
		for len(ids) > 0 && ids[0] < pos.seg {
			if err := s.fs.Remove(segmentPath(s.dir, ids[0])); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("spool: remove consumed segment: %w", err)
			}
			ids = ids[1:]
		}
		if len(ids) > 0 && ids[0] == pos.seg {
			mark = pos.off
		}
	}
	if len(ids) > 0 {
		nextID = max(nextID, ids[len(ids)-1]+1)
	}

	for i, id := range ids {
		last := i == len(ids)-1
		if last && i > 0 {
			// A last segment that a crash caught while it was being created
			// holds no record. Removed, it leaves the one before it, fsynced
			// when sealed, to be written to again; rewriting its header
			// instead would need space that a full disk does not have.
			if gone, err := s.removeIfUnborn(id); err != nil {
				return err
			} else if gone {
				break
			}
		}
		seg, err := s.recoverSegment(id, last, i == 0, mark)
		if err != nil {
			return err
		}
		s.segs = append(s.segs, seg)
		s.diskBytes += seg.size
	}

	last := len(s.segs) - 1
	if last < 0 || s.segs[last].damaged != nil {
		// Nothing to append to, or the last segment has an unreadable header:
		// write to a fresh segment and let Peek report the damaged one.
		seg, f, err := createSegment(s.fs, s.dir, nextID)
		if err != nil {
			return err
		}
		s.w = f
		s.segs = append(s.segs, seg)
		s.diskBytes += seg.size
	} else if s.w, err = s.fs.OpenFile(s.segs[last].path, os.O_RDWR, 0); err != nil {
		return fmt.Errorf("spool: open segment for append: %w", err)
	}
	if err := s.fs.SyncDir(s.dir); err != nil {
		return fmt.Errorf("spool: fsync %s: %w", s.dir, err)
	}

	for len(s.segs) > 1 && s.segs[0].damaged == nil && s.readOff >= s.segs[0].durable {
		if err := s.dropHeadLocked(); err != nil {
			return err
		}
	}
	// After the removals above, which may be what makes room. A spool opened
	// on a full disk works without it: saves then grow the file, or wait for
	// space (see Consume).
	if err := s.cursor.preallocate(); err != nil && !isNoSpace(err) {
		return err
	}
	s.recovery.Segments = len(s.segs)
	s.recovery.Records = s.Len()
	s.recovery.Bytes = s.Bytes()
	return nil
}

// recoverSegment scans segment id. The last segment is verified record by
// record and cut at its first bad record; older ones were fsynced before the
// next was created, so they are only walked to count records, and damage in
// them is left for Peek to report. For the first segment, mark is the saved
// read offset (or -1) and sets the read position.
func (s *Spool) recoverSegment(id uint64, last, first bool, mark int64) (*segment, error) {
	path := segmentPath(s.dir, id)
	f, err := s.fs.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("spool: open segment: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	size := fi.Size()
	seg := &segment{id: id, path: path, size: size, durable: size}

	header := make([]byte, segHeaderLen)
	n, _ := f.ReadAt(header, 0)
	if n < len(header) || string(header) != segMagic {
		if last && size <= segHeaderLen {
			// Torn while being created: no record ever reached it. The header
			// is written over what is there, which is no longer than it.
			if err := writeHeader(f); err != nil {
				return nil, fmt.Errorf("spool: reset torn segment %s: %w", path, err)
			}
			s.recovery.TruncatedBytes += size
			seg.size, seg.durable = segHeaderLen, segHeaderLen
			return seg, nil
		}
		seg.damaged = &CorruptError{Path: path, Offset: 0, Reason: fmt.Sprintf("segment header %q, want %q", header[:n], segMagic)}
		return seg, nil
	}

	if !first {
		mark = -1
	}
	res, err := scan(f, path, segHeaderLen, size, last, mark)
	if err != nil {
		return nil, err
	}
	if last && res.bad != nil {
		if err := f.Truncate(res.end); err != nil {
			return nil, fmt.Errorf("spool: cut torn tail of %s: %w", path, err)
		}
		if err := f.Sync(); err != nil {
			return nil, fmt.Errorf("spool: fsync %s: %w", path, err)
		}
		s.recovery.TruncatedBytes += size - res.end
		seg.size, seg.durable = res.end, res.end
	}
	seg.records, seg.durableRecords = res.records, res.records

	if first && mark >= 0 {
		switch {
		case res.markHit:
			s.readOff, s.readRecs = mark, res.markRecs
		case mark > res.end && last:
			// Consumed past what survived: those records were delivered. This
			// is a drained segment emptied by recycleLocked and not yet
			// renamed when the process died. Records appended here would sit
			// before the saved position, to be skipped after another crash,
			// so the segment takes the next id first, as recycleLocked does.
			s.readOff, s.readRecs = res.end, res.records
			s.stale = true
		case mark > res.end:
			// Past damage found by the walk: the reader got beyond it before.
			s.readOff, s.readRecs = mark, res.records
		default:
			// Not a record boundary; start the segment over rather than guess.
			s.recovery.CursorLost = true
		}
	}
	return seg, nil
}

// removeIfUnborn removes segment id if a crash left it between its creation
// and its header's fsync (see createSegment): at most a header long, and not a
// whole one. It reports whether it did.
func (s *Spool) removeIfUnborn(id uint64) (bool, error) {
	path := segmentPath(s.dir, id)
	f, err := s.fs.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return false, fmt.Errorf("spool: open segment: %w", err)
	}
	header := make([]byte, segHeaderLen+1)
	n, err := f.ReadAt(header, 0)
	f.Close()
	if err != nil && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("spool: read %s: %w", path, err)
	}
	if n > int(segHeaderLen) || string(header[:n]) == segMagic {
		return false, nil
	}
	if err := s.fs.Remove(path); err != nil {
		return false, fmt.Errorf("spool: remove torn segment %s: %w", path, err)
	}
	if err := s.fs.SyncDir(s.dir); err != nil {
		return false, fmt.Errorf("spool: fsync %s: %w", s.dir, err)
	}
	s.recovery.TruncatedBytes += int64(n)
	return true, nil
}

// listSegments returns the ids of the segment files in dir, in order.
func listSegments(fsys FS, dir string) ([]uint64, error) {
	entries, err := fsys.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	var ids []uint64
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".seg")
		if !ok || !e.Type().IsRegular() {
			continue
		}
		if id, err := strconv.ParseUint(name, 10, 64); err == nil && id > 0 {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids, nil
}
