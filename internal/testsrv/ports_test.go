package testsrv

import "testing"

// busyFirst returns a port picker whose first pick is busy, as when another test's server
// binds a port picked as free first, and whose later picks are free ports; and the number of
// picks made so far.
func busyFirst(busy int) (pick func(testing.TB) int, picks *int) {
	picks = new(int)
	return func(tb testing.TB) int {
		*picks++
		if *picks == 1 {
			return busy
		}
		return FreePort(tb)
	}, picks
}
