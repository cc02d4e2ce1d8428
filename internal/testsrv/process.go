package testsrv

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// stopTimeout is how long a server gets to exit after SIGTERM before it is killed.
const stopTimeout = 30 * time.Second

// process runs one server binary, possibly several times in a row (stop, start again). Its
// stdout and stderr are appended to one log file that outlives each run, so that a failure after a
// restart still shows what the earlier run said.
type process struct {
	name    string // for messages, e.g. "mosquitto"
	path    string
	args    []string
	env     []string // nil: inherit
	logPath string
	dir     string              // working directory; empty: the test's
	cred    *syscall.Credential // run as this user; nil: as the test binary's
	// stopSignal asks the server to exit; zero means SIGTERM.
	stopSignal syscall.Signal

	mu  sync.Mutex
	cur *run // nil when not running
}

// run is one started process.
type run struct {
	proc *os.Process
	done chan struct{} // closed when the process has exited
	err  error         // Wait's result; read only after done is closed
}

// start launches the binary. It does not wait for readiness.
func (p *process) start() (*run, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur != nil {
		return nil, fmt.Errorf("%s is already running", p.name)
	}
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child has its own descriptor once started

	cmd := exec.Command(p.path, p.args...)
	cmd.Dir = p.dir
	cmd.Env = p.env
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = sysProcAttr()
	// Set in the child before the parent-death signal, which a later change of user would clear.
	cmd.SysProcAttr.Credential = p.cred

	r := &run{done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// The parent-death signal fires when the thread that forked the child exits, not the
		// process, and Go ends any thread whose locked goroutine exits. Forking from a thread that
		// stays locked here until the child is gone ties the signal to the test binary's death.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		r.err = cmd.Wait()
		close(r.done)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	r.proc = cmd.Process
	p.cur = r
	return r, nil
}

// pid is the process id of the current run; 0 when the process is not running.
func (p *process) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur == nil {
		return 0
	}
	return p.cur.proc.Pid
}

// stop sends stopSignal (SIGTERM by default), waits for the exit and kills the process if it
// takes longer than stopTimeout. It does nothing when the process is not running.
func (p *process) stop() {
	p.mu.Lock()
	r := p.cur
	p.cur = nil
	p.mu.Unlock()
	if r == nil {
		return
	}
	sig := p.stopSignal
	if sig == 0 {
		sig = syscall.SIGTERM
	}
	if err := r.proc.Signal(sig); err != nil {
		_ = r.proc.Kill()
	}
	select {
	case <-r.done:
	case <-time.After(stopTimeout):
		_ = r.proc.Kill()
		<-r.done
	}
}

// waitReady calls ready until it returns nil, the process exits or timeout passes.
func (r *run) waitReady(timeout time.Duration, ready func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := ready()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v: %w", timeout, err)
		}
		select {
		case <-r.done:
			if r.err == nil {
				return errors.New("exited before it was ready")
			}
			return fmt.Errorf("exited before it was ready: %w", r.err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// fatalf stops the process and fails the test with the message and the end of the log.
func (p *process) fatalf(tb testing.TB, format string, args ...any) {
	tb.Helper()
	p.stop()
	tb.Fatalf("%s\n--- end of %s (%s) ---\n%s", fmt.Sprintf(format, args...), p.name, p.logPath, logTail(p.logPath))
}

// logTail returns the last lines of a log file, at most a few kilobytes.
func logTail(path string) string {
	const maxBytes, maxLines = 8 << 10, 40
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	if len(b) > maxBytes {
		b = b[len(b)-maxBytes:]
	}
	b = bytes.TrimRight(b, "\n")
	lines := bytes.Split(b, []byte("\n"))
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
	}
	if len(lines) == 1 && len(lines[0]) == 0 {
		return "(log is empty)"
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// logSize is the size of a log file, 0 if there is none yet: where logSince reads from.
func logSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// logSince returns what a log file holds past offset from (logSize before a start), so that a
// server started again is judged by its own lines only.
func logSince(path string, from int64) string {
	b, err := os.ReadFile(path)
	if err != nil || int64(len(b)) < from {
		return ""
	}
	return string(b[from:])
}

// portAttempts is how many times a harness starts a server on ports it picked as free: another
// test's server may bind such a port first, between the pick and the server's start.
const portAttempts = 3

// startOnFreePort calls start, which writes a server's configuration on ports it picks anew
// and starts it, until the server starts: again, up to portAttempts times in all, while the
// server's log says its port was taken, unless fixed (the caller gave the port). It fails the
// test with the end of the server's log otherwise.
func startOnFreePort(tb testing.TB, fixed bool, start func() (*process, error)) {
	tb.Helper()
	for attempt := 1; ; attempt++ {
		p, err := start()
		if err == nil {
			return
		}
		if !fixed && attempt < portAttempts && portTaken(logTail(p.logPath)) {
			p.stop()
			continue
		}
		p.fatalf(tb, "testsrv: %v", err)
	}
}

// portTaken reports whether a server's log says that it could not bind its port because
// another process had (each server words it in its own case).
func portTaken(log string) bool {
	return strings.Contains(strings.ToLower(log), "address already in use")
}
