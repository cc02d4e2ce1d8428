//go:build unix

package spool_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vitalwatch/vitalwatch/ingest/spool"
	"github.com/vitalwatch/vitalwatch/ingest/spool/spooltest"
)

// The full-disk crash tests replay a spool that fills its disk in a child process (this
// test binary, re-executed into TestFullDiskHelperProcess) that SIGKILLs itself at a chosen
// step of the spool: right after it removed a consumed segment, or emptied the drained last
// one, before anything else is written. Like the crash tests in crash_test.go, the child
// prints each record once its Consume returned, and the parent checks what reopening finds.
const (
	fullDiskDirEnv  = "SPOOL_FULLDISK_DIR"  // the spool directory; set only in the child
	fullDiskKillEnv = "SPOOL_FULLDISK_KILL" // "remove:N", "truncate:N" (the Nth on a segment) or "lines:N"
	fullDiskCoWEnv  = "SPOOL_FULLDISK_COW"  // "1": cursor saves need free blocks too
	fullDiskRecSize = 1000
)

func fullDiskOpts(dir string, disk *spooltest.Disk) spool.Options {
	return spool.Options{Dir: dir, MaxBytes: 64 << 20, SegmentBytes: 16 << 10, FS: disk}
}

func TestFullDiskHelperProcess(t *testing.T) {
	dir := os.Getenv(fullDiskDirEnv)
	if dir == "" {
		t.Skip("helper process for the full-disk crash tests")
	}
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	disk, err := spooltest.NewDisk(dir, 0)
	if err != nil {
		fail(err)
	}
	disk.Fill() // the disk is as full as the parent left it
	disk.CopyOnWrite = os.Getenv(fullDiskCoWEnv) == "1"
	s, err := spool.Open(fullDiskOpts(dir, disk))
	if err != nil {
		fail(err)
	}
	// Ingest tries to spool a batch and finds no space, before InfluxDB is back.
	if err := s.Append(numbered(-1, fullDiskRecSize)); !errors.Is(err, spool.ErrNoSpace) {
		fail(fmt.Errorf("Append on the full disk = %v; want ErrNoSpace", err))
	}

	kill := func() {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		time.Sleep(time.Minute) // the signal is on its way
	}
	what, n, _ := strings.Cut(os.Getenv(fullDiskKillEnv), ":")
	at, err := strconv.Atoi(n)
	if err != nil {
		fail(err)
	}
	seen := 0
	disk.After = func(op spooltest.Op, path string) {
		if string(op) == what && strings.HasSuffix(path, ".seg") {
			if seen++; seen == at {
				kill()
			}
		}
	}
	for printed := 0; ; printed++ {
		if what == "lines" && printed == at {
			kill()
		}
		rec, ok, err := s.Peek()
		if err != nil {
			fail(err)
		}
		if !ok {
			fail(errors.New("drained without reaching the kill point"))
		}
		if err := s.Consume(); err != nil {
			fail(err)
		}
		var i int
		if _, err := fmt.Sscanf(string(rec), "rec %d;", &i); err != nil {
			fail(fmt.Errorf("record %.20q: %w", rec, err))
		}
		fmt.Println(i)
	}
}

// fillForCrash fills a disk with a spool and returns the records appended.
func fillForCrash(t *testing.T) (string, [][]byte) {
	t.Helper()
	dir, disk := newDisk(t, 256<<10)
	s := spool.MustOpen(t, fullDiskOpts(dir, disk))
	acked := fillDisk(t, s, fullDiskRecSize)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, acked
}

// runKilled runs the helper on dir with env and returns what it printed before it killed
// itself.
func runKilled(t *testing.T, dir string, env ...string) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFullDiskHelperProcess$")
	cmd.Env = append(os.Environ(), append(env, fullDiskDirEnv+"="+dir)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("helper ended with %v, not by its SIGKILL; stderr:\n%s", err, stderr.String())
	}
	return strings.Fields(string(out))
}

// checkResumes reopens dir after the crash and checks that reading resumes at most redeliver
// records before the first one whose Consume had not returned, and no later than the one
// after it, that is, nothing is lost; then that the spool takes and keeps new records.
func checkResumes(t *testing.T, dir string, acked [][]byte, printed []string, redeliver int) {
	t.Helper()
	for i, line := range printed {
		if line != strconv.Itoa(i) {
			t.Fatalf("helper consumed record %s as its record %d", line, i)
		}
	}
	done := len(printed)
	opts := spool.Options{Dir: dir, MaxBytes: 64 << 20, SegmentBytes: 16 << 10}
	s := spool.MustOpen(t, opts)
	recs := spool.Drain(t, s)
	first := len(acked) - len(recs)
	if first > done+1 || first < done-redeliver {
		t.Fatalf("after %d records consumed and a crash, reading resumes at record %d; want %d to %d",
			done, first, max(done-redeliver, 0), done+1)
	}
	sameRecords(t, recs, acked[first:])

	// The spool goes on as usual: a position saved before the crash does not hide new records.
	next := [][]byte{numbered(1000, 100), numbered(1001, 100), numbered(1002, 100)}
	spool.MustAppend(t, s, next...)
	s = spool.MustReopen(t, s, opts)
	sameRecords(t, spool.Drain(t, s), next)
}

// TestCrashAfterFreeingOnFullDisk kills the consumer between a step that frees space and
// whatever would follow it, and checks that nothing is lost and only the record in flight
// can come back.
func TestCrashAfterFreeingOnFullDisk(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	tests := []struct {
		name string
		kill string
		cow  bool
	}{
		// The last record of a segment is consumed by removing the segment, with no cursor
		// write; the kill lands before the next record's cursor write.
		{"after removing a consumed segment", "remove:2", false},
		{"after removing the last sealed segment", "remove:100", false},
		// The drained last segment is cut to its header and then renamed.
		{"after emptying the drained last segment, before renaming it", "truncate:1", false},
		{"after renaming the emptied segment", "rename:1", false},
		// The same with the saved position behind, in the segment that is emptied.
		{"copy on write, after emptying the drained last segment", "truncate:1", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, acked := fillForCrash(t)
			if tt.kill == "remove:100" {
				segs := len(segmentFilesIn(t, dir))
				tt.kill = fmt.Sprintf("remove:%d", segs-1)
			}
			env := []string{fullDiskKillEnv + "=" + tt.kill}
			redeliver := 0
			if tt.cow {
				env = append(env, fullDiskCoWEnv+"=1")
				redeliver = len(acked)
			}
			printed := runKilled(t, dir, env...)
			checkResumes(t, dir, acked, printed, redeliver)
		})
	}
}

// TestCrashWithCursorBehindOnFullDisk kills the consumer while the read position cannot be
// saved for want of space (a copy-on-write file system): the records consumed since the last
// save come back, at most a segment's worth, and none is lost.
func TestCrashWithCursorBehindOnFullDisk(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	perSegment := (16 << 10) / (fullDiskRecSize + 8)
	for _, kill := range []int{5, 23, 40} {
		t.Run(fmt.Sprintf("killed after %d", kill), func(t *testing.T) {
			dir, acked := fillForCrash(t)
			printed := runKilled(t, dir, fullDiskKillEnv+"=lines:"+strconv.Itoa(kill), fullDiskCoWEnv+"=1")
			checkResumes(t, dir, acked, printed, perSegment)
		})
	}
}

func segmentFilesIn(t *testing.T, dir string) []os.DirEntry {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var segs []os.DirEntry
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".seg") {
			segs = append(segs, e)
		}
	}
	return segs
}
