//go:build unix

package broker

import (
	"io/fs"
	"syscall"
)

// fileIDs returns the owner and group of a file that os.Stat described.
func fileIDs(fi fs.FileInfo) (uid, gid int, ok bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return int(st.Uid), int(st.Gid), true
}
