package cli

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestCheckPid(t *testing.T) {
	for _, pid := range []int{1, 4242, pidMaxLimit} {
		if err := checkPid(pid); err != nil {
			t.Errorf("checkPid(%d): %v", pid, err)
		}
	}
	// 4294967296 and 4294967297 would be 0 (no filter) and 1 as the kernel's uint32.
	for _, pid := range []int{0, -1, -4294967295, pidMaxLimit + 1, 4294967296, 4294967297, math.MaxInt} {
		err := checkPid(pid)
		if err == nil {
			t.Errorf("checkPid(%d) accepted it", pid)
			continue
		}
		if !strings.Contains(err.Error(), "--pid") || !strings.Contains(err.Error(), "4194304") {
			t.Errorf("checkPid(%d): %q does not name --pid and its range", pid, err)
		}
	}
}

func TestCheckTimeout(t *testing.T) {
	for _, s := range []float64{0, 0.001, 1, 1e10, math.MaxFloat64} {
		if err := checkTimeout(s); err != nil {
			t.Errorf("checkTimeout(%v): %v", s, err)
		}
	}
	for s, want := range map[float64]string{math.NaN(): "NaN", math.Inf(1): "+Inf", math.Inf(-1): "-Inf", -1: "-1", -0.5: "-0.5"} {
		err := checkTimeout(s)
		if err == nil {
			t.Errorf("checkTimeout(%v) accepted it", s)
			continue
		}
		if !strings.HasPrefix(err.Error(), "--timeout "+want+": ") {
			t.Errorf("checkTimeout(%v) = %q, want it to start with --timeout %s", s, err, want)
		}
	}
}

func TestTimeoutDuration(t *testing.T) {
	for _, tc := range []struct {
		seconds float64
		want    time.Duration
		ok      bool
	}{
		{0, 0, false},
		{0.5, 500 * time.Millisecond, true},
		{3, 3 * time.Second, true},
		{9e9, 9e9 * time.Second, true}, // 285 years still fits
		// More than a Duration holds: no deadline, not a negative one that ends at once.
		{1e10, 0, false},
		{math.MaxFloat64, 0, false},
		{math.NaN(), 0, false},
	} {
		d, ok := timeoutDuration(tc.seconds)
		if d != tc.want || ok != tc.ok {
			t.Errorf("timeoutDuration(%v) = %v, %v; want %v, %v", tc.seconds, d, ok, tc.want, tc.ok)
		}
	}
}
