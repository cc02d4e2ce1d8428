package spool

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The crash tests run a child process (this test binary, re-executed into
// TestHelperProcess) that works on a spool and prints each operation after it
// returns. The parent kills it with SIGKILL part way and checks what reopening
// the spool finds against what the child had reported.
const (
	helperEnv    = "SPOOL_HELPER"     // "append" or "consume"
	helperDirEnv = "SPOOL_HELPER_DIR" // the spool directory
	crashWriters = 4
)

// crashOpts lets segments rotate often so that the kill can land in a rotation.
func crashOpts(dir string) Options {
	return Options{Dir: dir, MaxBytes: 1 << 30, SegmentBytes: 16 << 10}
}

func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		t.Skip("helper process for the crash tests")
	}
	s, err := Open(crashOpts(os.Getenv(helperDirEnv)))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	switch mode {
	case "append":
		// Writers append until killed; "w i" is printed once Append w,i returned.
		var wg sync.WaitGroup
		for w := range crashWriters {
			wg.Go(func() {
				for i := 0; ; i++ {
					if err := s.Append(fmt.Appendf(nil, "%d %d %s", w, i, strings.Repeat("z", 100+i%900))); err != nil {
						fmt.Fprintln(os.Stderr, err)
						os.Exit(2)
					}
					fmt.Printf("%d %d\n", w, i)
				}
			})
		}
		wg.Wait()
	case "consume":
		// Consumes until killed; the record is printed once Consume returned.
		for {
			rec, ok, err := s.Peek()
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
			if !ok {
				time.Sleep(time.Millisecond)
				continue
			}
			if err := s.Consume(); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
			fmt.Printf("%s\n", rec)
		}
	}
	os.Exit(2)
}

// runAndKill starts the helper in mode on dir, SIGKILLs it once it has printed
// killAfter lines, and returns every line it printed.
func runAndKill(t *testing.T, mode, dir string, killAfter int) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, helperDirEnv+"="+dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var lines []string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) == killAfter {
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			// Keep scanning: lines written before the kill are still in the pipe.
		}
	}
	err = cmd.Wait()
	if len(lines) < killAfter {
		t.Fatalf("helper printed %d lines and exited (%v); want %d. stderr:\n%s", len(lines), err, killAfter, stderr.String())
	}
	return lines
}

// TestCrashDuringAppend kills a process mid-stream of concurrent Appends, three
// times over the same directory, and checks that every record whose Append
// returned is there, once, in order, and that at most the one in-flight record
// per writer is there besides.
func TestCrashDuringAppend(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	dir := t.TempDir()
	for round := range 3 {
		printed := make([]int, crashWriters) // per writer, records reported appended
		for _, line := range runAndKill(t, "append", dir, 400) {
			w, i := parseWI(t, line)
			if i != printed[w] {
				t.Fatalf("round %d: helper printed %q out of order", round, line)
			}
			printed[w]++
		}

		s := MustOpen(t, crashOpts(dir))
		r := s.Recovery()
		t.Logf("round %d: %+v", round, r)
		got := make([]int, crashWriters)
		for _, rec := range Drain(t, s) {
			w, i := parseWI(t, string(rec))
			if i != got[w] {
				t.Fatalf("round %d: writer %d: read record %d; want %d", round, w, i, got[w])
			}
			got[w]++
		}
		for w := range crashWriters {
			if got[w] < printed[w] || got[w] > printed[w]+1 {
				t.Errorf("round %d: writer %d: %d records survived; %d Appends had returned, so want %d or %d",
					round, w, got[w], printed[w], printed[w], printed[w]+1)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCrashDuringConsume kills a consuming process and checks that no record
// whose Consume returned comes back, and none is lost.
func TestCrashDuringConsume(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	const n = 1000
	dir := t.TempDir()
	s := MustOpen(t, crashOpts(dir))
	for i := range n {
		MustAppend(t, s, []byte(strconv.Itoa(i)))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	lines := runAndKill(t, "consume", dir, 300)
	for i, line := range lines {
		if line != strconv.Itoa(i) {
			t.Fatalf("helper consumed %q as record %d", line, i)
		}
	}

	s = MustOpen(t, crashOpts(dir))
	recs := Drain(t, s)
	first := n - len(recs)
	// The record after the last one printed may have been consumed before
	// the kill without being printed.
	if first < len(lines) || first > len(lines)+1 {
		t.Fatalf("after consuming %d records and a crash, reading resumes at %d; want %d or %d",
			len(lines), first, len(lines), len(lines)+1)
	}
	for i, rec := range recs {
		if want := strconv.Itoa(first + i); string(rec) != want {
			t.Fatalf("record %d = %q; want %q", i, rec, want)
		}
	}
}

func parseWI(t *testing.T, s string) (w, i int) {
	t.Helper()
	if _, err := fmt.Sscanf(s, "%d %d", &w, &i); err != nil || w < 0 || w >= crashWriters {
		t.Fatalf("unparsable record %.30q", s)
	}
	return w, i
}
