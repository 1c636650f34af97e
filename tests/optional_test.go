package tests

import (
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
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
		bin, "-v", "trace", "open", "--variant", "tracepoint", "-o", "json", "--pid", strconv.Itoa(os.Getpid()))
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

// --variant forces one of a gadget's variants: -v says so, and the gadget
// runs it (snapshot process from /proc on this host, where the iterator
// works); a variant that cannot run here is refused, saying why, and an
// unknown one names the variants there are.
func TestVariantFlag(t *testing.T) {
	igBinary(t)
	r := runIG(t, "snapshot", "process", "--variant", "/proc", "-v", "-o", "json")
	checkSuccess(t, r)
	checkLogLine(t, r, "ig: snapshot process: using the /proc variant (--variant)")
	checkLogLine(t, r, "ig: snapshot process: reading /proc")
	procs := decodeAll[commonEvent](t, snapshotArray(t, r))
	findOne(t, procs, "this process", func(p *commonEvent) bool { return p.Pid == int64(os.Getpid()) && p.Tid == p.Pid })

	msg := checkFailure(t, runIG(t, "--btf", "/etc/passwd", "snapshot", "process", "--variant", "iter/task"))
	if !strings.HasPrefix(msg, "ig: snapshot process: variant iter/task cannot run here: no kernel BTF (--btf: ") {
		t.Errorf("forced iter/task without kernel BTF: %q", msg)
	}
	msg = checkFailure(t, runIG(t, "trace", "open", "--variant", "kprobe"))
	if msg != `ig: trace open has no variant "kprobe"; its variants: tp_btf, tracepoint` {
		t.Errorf("unknown variant: %q", msg)
	}
}
