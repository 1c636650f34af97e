package tests

import (
	"os"
	"slices"
	"sort"
	"strconv"
	"testing"
)

// A kernel without an optional tracepoint (arm64 has no sys_enter_open) runs
// trace open with the others: here sys_{enter,exit}_open are hidden from
// ig by empty mounts over their tracefs directories, in a mount namespace
// of ig's own. ig says what it skipped, loads neither of their programs,
// and catches opens through openat.
func TestOptionalTracepointSkipped(t *testing.T) {
	bin := igBinary(t)
	unshare := requireTool(t, "unshare")
	const events = "/sys/kernel/tracing/events/syscalls"
	for _, tp := range []string{"sys_enter_open", "sys_exit_open"} {
		if _, err := os.Stat(events + "/" + tp + "/id"); err != nil {
			t.Fatalf("this test hides %s, which this kernel should have: %v", tp, err)
		}
	}
	// unshare and sh exec in place: the process started is ig itself.
	script := `set -e; for tp in sys_enter_open sys_exit_open; do mount -t tmpfs none ` + events + `/$tp; done; exec "$@"`
	ig := startCmd(t, unshare, "-m", "--propagation", "private", "sh", "-c", script, "sh",
		bin, "-v", "trace", "open", "-o", "json", "--pid", strconv.Itoa(os.Getpid()))
	ig.waitOpenJSON(newMarkerFile(t))

	held, err := heldBy(ig.cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	now := snapshotBPF(t)
	var names []string
	for id := range held["prog"] {
		names = append(names, now.progs[id].Name)
	}
	sort.Strings(names)
	want := []string{"enter_openat", "enter_openat2", "exit_openat", "exit_openat2"}
	if !slices.Equal(names, want) {
		t.Errorf("ig loaded %q, want %q (nothing for the hidden tracepoints)", names, want)
	}

	r := ig.stop(sigINT)
	checkSuccess(t, r)
	for _, tp := range []string{"sys_enter_open", "sys_exit_open"} {
		checkLogLine(t, r, "ig: trace open: skipped tracepoint syscalls/"+tp+", which this kernel lacks (optional)")
	}
}
