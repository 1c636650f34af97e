// Package integration is the gate of the tests that need the real thing
// (root, the kernel, Debian's archive): they run under IG_INTEGRATION=1, as
// `make test` and CI set it, and are skipped, saying why, otherwise. In
// make test a skip is a failure (scripts/gotest.sh).
package integration

import (
	"os"
	"testing"
)

// Require skips t unless IG_INTEGRATION is set; needs says what the test needs.
func Require(t testing.TB, needs string) {
	t.Helper()
	if os.Getenv("IG_INTEGRATION") == "" {
		t.Skipf("needs %s: runs under IG_INTEGRATION=1, as root (make test)", needs)
	}
}
