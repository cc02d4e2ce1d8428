package testsrv

import "syscall"

// sysProcAttr makes the kernel kill the server if the test binary dies without running its
// cleanups (a panic in another goroutine, a timeout, kill -9).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
