//go:build linux || darwin || freebsd

package spool

import "syscall"

// Available returns the bytes free in dir's file system for a writer without
// root's reserve, as df shows them.
func (osFS) Available(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(uint64(st.Bavail) * uint64(st.Bsize)), nil
}
