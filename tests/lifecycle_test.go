package tests

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openProgs are the eBPF programs of trace open's tp_btf variant (the one
// this host gets), openTracepointProgs those of its tracepoint variant, as
// the kernel names them (at most 15 characters).
var (
	openProgs           = []string{"exit_any"}
	openTracepointProgs = []string{"enter_open", "exit_open", "enter_openat", "exit_openat", "enter_openat2", "exit_openat2"}
)

var (
	// trace exec's tracepoint variant, the one this host gets
	execProgs     = []string{"enter_execve", "exit_execve", "enter_execveat", "exit_execveat", "exec_done"}
	snapshotProgs = []string{"snapshot_proces"} // snapshot_process, cut to 15
	profileProgs  = []string{"ig_profile_cpu"}
)

// attachedProfile waits for profile cpu's first report (--interval 1):
// its perf events are open by then.
func attachedProfile(p *proc) {
	p.waitUntil("a report", nil, func(out []byte) bool { return bytes.Contains(out, []byte(" samples, ")) })
}

// TestLifecycle checks, with bpftool and /proc/PID/fdinfo, that each gadget
// has its programs loaded and attached while it runs, has let go of every
// eBPF object once stopped and before it exits, leaves nothing behind
// (programs, links, maps, BTF) after it exits, and exits 0.
//
// "Before it exits" matters: the kernel frees what a process holds when it
// exits, so a link ig forgets to close would go unnoticed after exit. ig
// runs under strace, which holds its exit_group for exitHold: long enough to
// look at what it still holds.
//
// Other processes may load eBPF programs meanwhile (another ig, say), so
// ig's objects are told apart by the file descriptors ig holds
// (/proc/PID/fdinfo), and new programs named like ours that remain after ig
// are accepted only when another live process holds them.
func TestLifecycle(t *testing.T) {
	igBinary(t)
	requireTool(t, "bpftool")
	pid := strconv.Itoa(os.Getpid())
	openArgs := []string{"trace", "open", "-o", "json", "--pid", pid}
	execArgs := []string{"trace", "exec", "-o", "json", "--comm", "true"}
	attachedOpen := func(p *proc) { p.waitOpenJSON(newMarkerFile(p.t)) }
	attachedExec := func(p *proc) { p.waitExecJSON(unique("attached")) }
	// SIGINT, SIGTERM and -t all end the one context of signalContext
	// (cli/app.go), after which every stream gadget goes the same way
	// (tracers.RunStream): trace open tries the three, the other stream
	// gadgets one. list-containers --watch loads no eBPF: nothing to check.
	for _, g := range []lifecycleGadget{
		{"trace open SIGINT", openArgs, openProgs, attachedOpen, sigINT},
		{"trace open SIGTERM", openArgs, openProgs, attachedOpen, sigTERM},
		{"trace open -t", append(slices.Clone(openArgs), "-t", "2"), openProgs, attachedOpen, nil},
		{"trace open --variant tracepoint SIGINT", append(slices.Clone(openArgs), "--variant", "tracepoint"), openTracepointProgs, attachedOpen, sigINT},
		{"trace exec SIGINT", execArgs, execProgs, attachedExec, sigINT},
		{"snapshot process", []string{"snapshot", "process", "-o", "json"}, snapshotProgs, nil, nil},
		{"snapshot socket", []string{"snapshot", "socket", "-o", "json"}, []string{"snapshot_tcp", "snapshot_udp", "socket_owners"}, nil, nil},
		{"profile cpu SIGINT", []string{"profile", "cpu", "--pid", pid, "--interval", "1"}, profileProgs, attachedProfile, sigINT},
	} {
		t.Run(g.name, func(t *testing.T) { checkLifecycle(t, g) })
	}
}

// lifecycleGadget is one way to run and end a gadget.
type lifecycleGadget struct {
	name     string
	args     []string
	progs    []string    // its programs, as the kernel names them
	attached func(*proc) // waits until it is attached; nil: it ends by itself
	stop     os.Signal   // sent once attached; nil: it ends by itself (-t, snapshot)
}

// exitHold is how long strace holds ig in exit_group.
const exitHold = 5 * time.Second

// releaseWait is how long the kernel may take to free what ig closed.
const releaseWait = 2 * time.Second

func checkLifecycle(t *testing.T, g lifecycleGadget) {
	before := snapshotBPF(t)
	ig, pid := startHeldExit(t, g.args...)
	var held bpfIDs
	if g.attached != nil {
		g.attached(ig)
		held = checkRunning(t, ig, pid, before, g.progs)
	}
	if g.stop != nil {
		if err := syscall.Kill(pid, g.stop.(syscall.Signal)); err != nil {
			t.Fatalf("signal ig: %v", err)
		}
	}
	waitExitGroup(t, ig, pid)
	if still, err := heldBy(pid); err != nil {
		t.Fatalf("fdinfo of ig (pid %d) in exit_group: %v", pid, err)
	} else {
		for _, kind := range []string{"prog", "link", "map", "btf"} {
			if len(still[kind]) > 0 {
				t.Errorf("stopped and exiting, ig still holds %s ids %v", kind, keys(still[kind]))
			}
		}
	}
	// cilium/ebpf (v0.22) keeps a collection's variable sections (.rodata,
	// .data, .bss) memory-mapped after Close, until the GC unmaps them; the
	// kernel frees those maps when ig exits (checked below). So as many of
	// them as ig still maps may remain until then, nothing else. The kernel
	// also frees a map a moment after its last reference goes (after an RCU
	// grace period, in a work queue).
	mapped := bpfMappings(t, pid)
	left := leftovers(t, before, held, g.progs, mapped)
	for deadline := time.Now().Add(releaseWait); len(left) > 0 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		left = leftovers(t, before, held, g.progs, mapped)
	}
	if len(left) > 0 {
		t.Errorf("stopped and exiting, ig left in the kernel: %v", left)
	}
	if !inExitGroup(pid) {
		t.Fatalf("ig left exit_group before the check ended: raise exitHold (%v)", exitHold)
	}
	checkSuccess(t, ig.wait())

	// After exit. The kernel may free objects a moment after the process ends.
	left = leftovers(t, before, held, g.progs, 0)
	for deadline := time.Now().Add(10 * time.Second); len(left) > 0 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		left = leftovers(t, before, held, g.progs, 0)
	}
	if len(left) > 0 {
		t.Errorf("after ig exited, still in the kernel: %v", left)
	}
}

// startHeldExit starts ig args under strace, which delays ig's exit_group
// by exitHold; it returns strace's proc (ig's output is its output) and ig's pid.
func startHeldExit(t *testing.T, args ...string) (*proc, int) {
	t.Helper()
	strace := requireTool(t, "strace")
	log := filepath.Join(t.TempDir(), "strace.log")
	argv := append([]string{strace, "-f", "-qq", "--seccomp-bpf", "-e", "trace=exit_group", "-e", "signal=none",
		"-e", fmt.Sprintf("inject=exit_group:delay_enter=%d", exitHold.Microseconds()), "-o", log, "--", igBinary(t)}, args...)
	p := startCmd(t, argv...)
	// ig is strace's child once it runs ig's binary (strace forks test
	// children of its own first).
	children := fmt.Sprintf("/proc/%d/task/%d/children", p.cmd.Process.Pid, p.cmd.Process.Pid)
	for deadline := time.Now().Add(attachTimeout); ; time.Sleep(10 * time.Millisecond) {
		b, _ := os.ReadFile(children)
		for _, f := range strings.Fields(string(b)) {
			if exe, _ := os.Readlink("/proc/" + f + "/exe"); exe == igBinary(t) {
				pid, _ := strconv.Atoi(f)
				return p, pid
			}
		}
		if p.exited() || time.Now().After(deadline) {
			t.Fatalf("no ig under strace: %s", p.wait())
		}
	}
}

// inExitGroup says whether a thread of pid is in exit_group (held by strace).
func inExitGroup(pid int) bool {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/syscall", pid))
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		if nr, _, _ := strings.Cut(string(b), " "); nr == strconv.Itoa(unix.SYS_EXIT_GROUP) {
			return true
		}
	}
	return false
}

// waitExitGroup waits until ig, stopped or done, is held in exit_group.
func waitExitGroup(t *testing.T, p *proc, pid int) {
	t.Helper()
	for deadline := time.Now().Add(stopTimeout); !inExitGroup(pid); time.Sleep(10 * time.Millisecond) {
		if p.exited() || time.Now().After(deadline) {
			t.Fatalf("ig did not reach exit_group under strace: %s", p.wait())
		}
	}
}

// checkRunning checks a running gadget: every program of progs is loaded,
// new, held by ig and attached by a link ig holds, and ig holds maps. It
// returns what ig holds.
func checkRunning(t *testing.T, ig *proc, pid int, before bpfState, progs []string) bpfIDs {
	t.Helper()
	held, err := heldBy(pid)
	during := snapshotBPF(t)
	if err != nil || ig.exited() {
		t.Fatalf("ig ended before its eBPF objects could be listed (%v): %s", err, ig.wait())
	}
	t.Logf("ig holds %d programs, %d links, %d maps, %d BTF objects", len(held["prog"]), len(held["link"]), len(held["map"]), len(held["btf"]))
	var names []string
	for id := range held["prog"] {
		p, ok := during.progs[id]
		if !ok {
			t.Errorf("ig holds program %d, which bpftool does not list", id)
			continue
		}
		if _, old := before.progs[id]; old {
			t.Errorf("ig holds program %d (%s), which existed before it started", id, p.Name)
		}
		names = append(names, p.Name)
		attached := false
		for l := range held["link"] {
			attached = attached || during.links[l].ProgID == id
		}
		if !attached {
			t.Errorf("while ig runs, its program %d (%s) is not attached by any link it holds", id, p.Name)
		}
	}
	sort.Strings(names)
	want := slices.Clone(progs)
	sort.Strings(want)
	if !slices.Equal(names, want) {
		t.Errorf("while ig runs, bpftool lists its programs as %q, want %q", names, want)
	}
	if len(held["map"]) == 0 {
		t.Error("while ig runs, it holds no eBPF map")
	}
	return held
}

// leftovers lists what the kernel still has of held, but for up to
// varMaps maps of variable sections (named ".rodata" and so on), and the
// new programs named like one of progs that no live process holds.
func leftovers(t *testing.T, before bpfState, held bpfIDs, progs []string, varMaps int) []string {
	t.Helper()
	var left []string
	now := snapshotBPF(t)
	for _, kind := range []string{"prog", "link", "map", "btf"} {
		for id := range held[kind] {
			if kind == "map" && now.has(kind, id) && strings.HasPrefix(now.maps[id].Name, ".") && varMaps > 0 {
				varMaps--
				continue
			}
			if now.has(kind, id) {
				left = append(left, fmt.Sprintf("%s %d%s", kind, id, now.describe(kind, id)))
			}
		}
	}
	for _, id := range now.progIDsNamed(progs) {
		if _, old := before.progs[id]; !old && len(progHolders(id)) == 0 {
			left = append(left, fmt.Sprintf("prog %d (%s), held by no process", id, now.progs[id].Name))
		}
	}
	return left
}

// bpfMappings counts the eBPF maps process pid has memory-mapped.
func bpfMappings(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "anon_inode:bpf-map")
}

func keys(m map[int]bool) []int {
	var ids []int
	for id := range m {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	return ids
}

// describe names an object for messages: " (name)", or "".
func (s bpfState) describe(kind string, id int) string {
	switch kind {
	case "prog":
		return " (" + s.progs[id].Name + ")"
	case "map":
		return " (" + s.maps[id].Name + ")"
	}
	return ""
}
