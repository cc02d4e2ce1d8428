//go:build !unix

package spool

import (
	"os"
	"path/filepath"
)

// lockDir only creates dir/lock: there is no flock here, so keeping two
// processes off one spool is up to the caller.
func lockDir(dir string) (*os.File, error) {
	return os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o644)
}
