package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
)

// cursorFileSize is the cursor file's full size: both slots.
const cursorFileSize = 2 * cursorSlotSize

// The read position lives in a small file with two slots a sector apart. Each
// save writes the slot the previous save did not and fsyncs it, so a write torn
// by a power cut damages only the newest slot and Open falls back to the other:
// the position then moves back by at most the one record being consumed.
//
// Open writes the file out to its full size (zeros where no slot was saved yet),
// so that a save overwrites bytes the file system has already allocated and
// needs no free space: on a full disk, the cursor must not be what keeps
// replay from freeing segments. An all-zero slot is an empty one.
const (
	cursorName     = "cursor"
	cursorSlotSize = 512
	cursorSlotLen  = 28 // gen, segment id, offset (uint64 each), crc32c
)

// position is a read position: the offset of the next unconsumed record in
// segment seg. An offset at the end of a sealed segment means the same as the
// start of the next one.
type position struct {
	seg uint64
	off int64
}

type cursor struct {
	f    File
	path string
	gen  uint64 // generation of the newest durable slot
	size int64  // bytes in the file
}

// cursorState says what openCursor found.
type cursorState int

const (
	cursorNone  cursorState = iota // no position saved yet
	cursorValid                    // a position was read
	cursorLost                     // the file has bytes but no valid slot
)

func openCursor(fsys FS, dir string) (*cursor, position, cursorState, error) {
	path := filepath.Join(dir, cursorName)
	f, err := fsys.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, position{}, 0, fmt.Errorf("spool: open cursor: %w", err)
	}
	c := &cursor{f: f, path: path}
	buf := make([]byte, cursorFileSize)
	n, err := f.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		f.Close()
		return nil, position{}, 0, fmt.Errorf("spool: read cursor: %w", err)
	}
	var (
		pos   position
		state = cursorNone
	)
	for slot := 0; slot < 2; slot++ {
		start := slot * cursorSlotSize
		if n < start+cursorSlotLen {
			continue
		}
		gen, p, ok := decodeSlot(buf[start : start+cursorSlotLen])
		if ok && (state != cursorValid || gen > c.gen) {
			c.gen, pos, state = gen, p, cursorValid
		}
	}
	if state == cursorNone && slices.ContainsFunc(buf[:n], func(b byte) bool { return b != 0 }) {
		state = cursorLost
	}
	c.size = int64(n)
	return c, pos, state, nil
}

// preallocate writes the file out to cursorFileSize with zeros past its end,
// leaving the slots it has alone, and fsyncs it. On a disk that is already full
// it fails; the spool then works on, and saves grow the file as they can.
func (c *cursor) preallocate() error {
	if c.size >= cursorFileSize {
		return nil
	}
	if _, err := c.f.WriteAt(make([]byte, cursorFileSize-c.size), c.size); err != nil {
		// Cut back what was written, so that no partial write counts as allocated.
		_ = c.f.Truncate(c.size)
		return fmt.Errorf("spool: preallocate cursor: %w", err)
	}
	if err := c.f.Sync(); err != nil {
		return fmt.Errorf("spool: fsync cursor: %w", err)
	}
	c.size = cursorFileSize
	return nil
}

// save makes p the durable read position.
func (c *cursor) save(p position) error {
	gen := c.gen + 1
	var buf [cursorSlotLen]byte
	binary.LittleEndian.PutUint64(buf[0:8], gen)
	binary.LittleEndian.PutUint64(buf[8:16], p.seg)
	binary.LittleEndian.PutUint64(buf[16:24], uint64(p.off))
	binary.LittleEndian.PutUint32(buf[24:28], crc32.Checksum(buf[:24], castagnoli))
	off := int64(gen%2) * cursorSlotSize
	if _, err := c.f.WriteAt(buf[:], off); err != nil {
		return fmt.Errorf("spool: write cursor: %w", err)
	}
	c.size = max(c.size, off+cursorSlotLen)
	if err := c.f.Sync(); err != nil {
		return fmt.Errorf("spool: fsync cursor: %w", err)
	}
	// Only now, so that a failed save is retried into the same slot and the
	// other slot keeps the last durable position.
	c.gen = gen
	return nil
}

func decodeSlot(b []byte) (gen uint64, p position, ok bool) {
	if crc32.Checksum(b[:24], castagnoli) != binary.LittleEndian.Uint32(b[24:28]) {
		return 0, p, false
	}
	gen = binary.LittleEndian.Uint64(b[0:8])
	p.seg = binary.LittleEndian.Uint64(b[8:16])
	p.off = int64(binary.LittleEndian.Uint64(b[16:24]))
	return gen, p, gen != 0 && p.off >= 0
}
