package cli

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// pidMaxLimit is PID_MAX_LIMIT, the largest pid_max a 64-bit kernel allows:
// no process id is above it.
const pidMaxLimit = 4 * 1024 * 1024

// checkPid refuses a --pid that no process can have, before it could wrap
// around in the kernel's 32-bit filter (4294967297 would be pid 1).
func checkPid(pid int) error {
	if pid < 1 || pid > pidMaxLimit {
		return fmt.Errorf("--pid %d: not a process id (1 to %d)", pid, pidMaxLimit)
	}
	return nil
}

// checkTimeout refuses a --timeout that is not a number of seconds.
func checkTimeout(seconds float64) error {
	s := strconv.FormatFloat(seconds, 'g', -1, 64)
	switch {
	case math.IsNaN(seconds) || math.IsInf(seconds, 0):
		return fmt.Errorf("--timeout %s: not a number of seconds (0 runs until Ctrl-C or SIGTERM)", s)
	case seconds < 0:
		return fmt.Errorf("--timeout %s: must not be negative (0 runs until Ctrl-C or SIGTERM)", s)
	}
	return nil
}

// timeoutDuration turns --timeout SECONDS into a duration; ok is false when
// there is no deadline: 0, or longer than a time.Duration holds (about 292
// years, which is as good as forever).
func timeoutDuration(seconds float64) (d time.Duration, ok bool) {
	if !(seconds > 0) { // 0, and NaN, which the flag refuses anyway
		return 0, false
	}
	ns := seconds * float64(time.Second)
	if ns >= math.MaxInt64 { // converting it would overflow into a negative duration
		return 0, false
	}
	return time.Duration(ns), true
}
