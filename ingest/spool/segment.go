package spool

import (
	"fmt"
	"os"
	"path/filepath"
)

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
