// Package spooltest provides a disk that runs out of space, for testing the spool and code
// that uses it without root or a real full file system.
package spooltest

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/vitalwatch/vitalwatch/ingest/spool"
)

// Op names a file operation, for Disk's hooks.
type Op string

// The operations a Disk reports.
const (
	OpWrite    Op = "write"
	OpTruncate Op = "truncate"
	OpSync     Op = "sync"
	OpRemove   Op = "remove"
	OpRename   Op = "rename"
	OpSyncDir  Op = "syncdir"
)

// BlockSize is the unit in which a Disk allocates, as ext4 and tmpfs do: a write that
// grows a file into a new block needs a whole free block.
const BlockSize = 4096

// Disk is a spool.FS over real files in one directory that holds at most Capacity bytes,
// counted in whole blocks of the files' sizes. A write that needs more space than is free
// writes what fits and fails with ENOSPC, as write(2) does. Space comes back when a file is
// truncated or removed.
type Disk struct {
	mu       sync.Mutex
	capacity int64
	used     int64
	files    map[string]*inode // by cleaned path

	// CopyOnWrite makes an overwrite in place need free blocks too, as on btrfs or ZFS,
	// where the new data is written elsewhere before the old is released.
	CopyOnWrite bool
	// Inject, if set, is called before each operation; an error it returns fails the
	// operation without doing it.
	Inject func(op Op, path string) error
	// After, if set, is called after each operation that succeeded. A crash test can kill
	// the process from here, between two steps of the spool.
	After func(op Op, path string)
}

// NewDisk returns a disk of capacity bytes over dir, counting the files already there.
func NewDisk(dir string, capacity int64) (*Disk, error) {
	d := &Disk{capacity: capacity, files: make(map[string]*inode)}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			return nil, err
		}
		d.files[filepath.Join(dir, e.Name())] = &inode{size: fi.Size()}
		d.used += blocks(fi.Size())
	}
	return d, nil
}

// inode is a file's size, shared by its names and open handles, so that a rename or an
// open handle sees the same file.
type inode struct {
	size    int64
	removed bool // its blocks were given back; writes through open handles no longer count
}

func blocks(size int64) int64 { return (size + BlockSize - 1) / BlockSize * BlockSize }

// Free returns the bytes free.
func (d *Disk) Free() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.capacity - d.used
}

// Used returns the bytes in use.
func (d *Disk) Used() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.used
}

// SetCapacity changes the capacity, as an operator freeing space by hand would.
func (d *Disk) SetCapacity(n int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.capacity = n
}

// Fill takes all free space, as another process writing to the same disk would.
func (d *Disk) Fill() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.capacity = d.used
}

// Available implements the spool's free-space probe.
func (d *Disk) Available(string) (int64, error) { return d.Free(), nil }

func (d *Disk) inject(op Op, path string) error {
	if d.Inject == nil {
		return nil
	}
	return d.Inject(op, path)
}

func (d *Disk) after(op Op, path string) {
	if d.After != nil {
		d.After(op, path)
	}
}

// OpenFile opens a real file; O_TRUNC is not supported (the spool does not use it).
func (d *Disk) OpenFile(name string, flag int, perm os.FileMode) (spool.File, error) {
	if flag&os.O_TRUNC != 0 {
		return nil, fmt.Errorf("spooltest: O_TRUNC not supported")
	}
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	path := filepath.Clean(name)
	d.mu.Lock()
	defer d.mu.Unlock()
	ino, ok := d.files[path]
	if !ok {
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, err
		}
		ino = &inode{size: fi.Size()}
		d.files[path] = ino
		d.used += blocks(fi.Size())
	}
	return &file{d: d, f: f, ino: ino, path: path}, nil
}

// Remove removes a file and frees its blocks.
func (d *Disk) Remove(name string) error {
	path := filepath.Clean(name)
	if err := d.inject(OpRemove, path); err != nil {
		return &fs.PathError{Op: "remove", Path: name, Err: err}
	}
	if err := os.Remove(name); err != nil {
		return err
	}
	d.mu.Lock()
	if ino, ok := d.files[path]; ok {
		d.used -= blocks(ino.size)
		ino.removed = true
		delete(d.files, path)
	}
	d.mu.Unlock()
	d.after(OpRemove, path)
	return nil
}

// Rename renames a file; it needs no space.
func (d *Disk) Rename(oldpath, newpath string) error {
	op, np := filepath.Clean(oldpath), filepath.Clean(newpath)
	if err := d.inject(OpRename, op); err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	if err := os.Rename(oldpath, newpath); err != nil {
		return err
	}
	d.mu.Lock()
	if ino, ok := d.files[np]; ok {
		d.used -= blocks(ino.size)
		ino.removed = true
	}
	if ino, ok := d.files[op]; ok {
		d.files[np] = ino
		delete(d.files, op)
	}
	d.mu.Unlock()
	d.after(OpRename, op)
	return nil
}

// ReadDir reads a real directory.
func (d *Disk) ReadDir(name string) ([]os.DirEntry, error) { return os.ReadDir(name) }

// SyncDir fsyncs a real directory.
func (d *Disk) SyncDir(dir string) error {
	if err := d.inject(OpSyncDir, dir); err != nil {
		return &fs.PathError{Op: "sync", Path: dir, Err: err}
	}
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		d.after(OpSyncDir, dir)
	}
	return err
}

// file is an open file of a Disk.
type file struct {
	d    *Disk
	f    *os.File
	ino  *inode
	path string // the name it was opened by, for errors and hooks
}

func (f *file) ReadAt(p []byte, off int64) (int, error) { return f.f.ReadAt(p, off) }
func (f *file) Stat() (os.FileInfo, error)              { return f.f.Stat() }
func (f *file) Close() error                            { return f.f.Close() }

func (f *file) Sync() error {
	if err := f.d.inject(OpSync, f.path); err != nil {
		return &fs.PathError{Op: "sync", Path: f.path, Err: err}
	}
	if err := f.f.Sync(); err != nil {
		return err
	}
	f.d.after(OpSync, f.path)
	return nil
}

// WriteAt writes what the free blocks allow and fails with ENOSPC if that is not all of p.
func (f *file) WriteAt(p []byte, off int64) (int, error) {
	if err := f.d.inject(OpWrite, f.path); err != nil {
		return 0, &fs.PathError{Op: "write", Path: f.path, Err: err}
	}
	d := f.d
	d.mu.Lock()
	size := f.ino.size
	end := off + int64(len(p))
	free := d.capacity - d.used
	// The end of what can be written: the blocks the file has, and then the free ones.
	limit := blocks(size) + free/BlockSize*BlockSize
	if d.CopyOnWrite {
		// An overwrite needs as many free blocks as it touches below the file's end.
		inPlace := min(end, blocks(size)) - off/BlockSize*BlockSize
		if inPlace > 0 && free < blocks(inPlace) {
			limit = off // nothing can be written
		}
	}
	n := len(p)
	if end > limit {
		n = int(max(0, limit-off))
	}
	written, err := f.f.WriteAt(p[:n], off)
	if newSize := off + int64(written); newSize > size {
		if !f.ino.removed {
			d.used += blocks(newSize) - blocks(size)
		}
		f.ino.size = newSize
	}
	d.mu.Unlock()
	if err != nil {
		return written, err
	}
	if n < len(p) {
		return written, &fs.PathError{Op: "write", Path: f.path, Err: syscall.ENOSPC}
	}
	d.after(OpWrite, f.path)
	return written, nil
}

// Truncate sets the file's size, freeing the blocks past it or taking those it grows into.
func (f *file) Truncate(size int64) error {
	if err := f.d.inject(OpTruncate, f.path); err != nil {
		return &fs.PathError{Op: "truncate", Path: f.path, Err: err}
	}
	d := f.d
	d.mu.Lock()
	old := f.ino.size
	if grow := blocks(size) - blocks(old); grow > 0 && !f.ino.removed && grow > d.capacity-d.used {
		d.mu.Unlock()
		return &fs.PathError{Op: "truncate", Path: f.path, Err: syscall.ENOSPC}
	}
	if err := f.f.Truncate(size); err != nil {
		d.mu.Unlock()
		return err
	}
	if !f.ino.removed {
		d.used += blocks(size) - blocks(old)
	}
	f.ino.size = size
	d.mu.Unlock()
	d.after(OpTruncate, f.path)
	return nil
}
