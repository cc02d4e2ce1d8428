package spool

import (
	"errors"
	"io"
	"os"
	"syscall"
)

// FS is the file system that holds a spool's segment and cursor files. The
// default, when Options.FS is nil, is the operating system's. The seam exists
// so that tests can make the disk run out of space, or fail a write, at a
// chosen point. The lock file is always taken on the operating system's file
// system (flock needs a real descriptor), so Dir must be a real directory.
type FS interface {
	OpenFile(name string, flag int, perm os.FileMode) (File, error)
	Remove(name string) error
	Rename(oldpath, newpath string) error
	ReadDir(name string) ([]os.DirEntry, error)
	// SyncDir makes the files created, removed and renamed in dir durable.
	SyncDir(dir string) error
}

// File is an open file of an FS. *os.File implements it.
type File interface {
	io.ReaderAt
	io.WriterAt
	io.Closer
	Sync() error
	Truncate(size int64) error
	Stat() (os.FileInfo, error)
}

// spaceReporter is implemented by file systems that can say how many bytes
// are free for an unprivileged writer in dir. Writable uses it to notice space
// that was freed by someone else since an Append last found none.
type spaceReporter interface {
	Available(dir string) (int64, error)
}

// osFS is the operating system's file system.
type osFS struct{}

func (osFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err // not a nil *os.File in a non-nil File
	}
	return f, nil
}

func (osFS) Remove(name string) error                   { return os.Remove(name) }
func (osFS) Rename(oldpath, newpath string) error       { return os.Rename(oldpath, newpath) }
func (osFS) ReadDir(name string) ([]os.DirEntry, error) { return os.ReadDir(name) }

func (osFS) SyncDir(dir string) error {
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

// ErrNoSpace is matched (errors.Is) by errors that come from the file system
// running out of space (ENOSPC) or out of the owner's quota (EDQUOT), which
// freeing space cures, unlike other I/O errors. Such an error also still
// matches the underlying syscall.Errno.
var ErrNoSpace = errors.New("spool: no space left on the file system")

// isNoSpace reports whether err is the file system's "no space" or "over
// quota". Both end when space is freed, so the spool treats them alike.
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// noSpaceError marks an error as ErrNoSpace while keeping its message and chain.
type noSpaceError struct{ err error }

func (e *noSpaceError) Error() string        { return e.err.Error() }
func (e *noSpaceError) Unwrap() error        { return e.err }
func (e *noSpaceError) Is(target error) bool { return target == ErrNoSpace }

// markNoSpace returns err marked as ErrNoSpace if it is one, else err.
func markNoSpace(err error) error {
	if err == nil || !isNoSpace(err) || errors.Is(err, ErrNoSpace) {
		return err
	}
	return &noSpaceError{err}
}
