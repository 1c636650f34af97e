package tests

import (
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// capEvent is a trace capabilities event, as JSON.
type capEvent struct {
	commonEvent
	Syscall string `json:"syscall"`
	Cap     int    `json:"cap"`
	CapName string `json:"capName"`
	Audit   int    `json:"audit"`
	Verdict string `json:"verdict"`
	InsetID bool   `json:"insetid"`
	// IG's, from the checked credentials and namespace.
	TargetUserNs  uint64   `json:"targetuserns"`
	CurrentUserNs uint64   `json:"currentuserns"`
	Caps          uint64   `json:"caps"`
	CapsNames     []string `json:"capsNames"`
}

// capProgs are trace capabilities' programs on this host (the tracepoint variant).
var capProgs = []string{"cap_capable_tp"}

// bindScript binds a TCP socket to port 80 of 127.0.0.1 argv[1] times, a
// new socket each time, and says what bind answered: a check of
// CAP_NET_BIND_SERVICE in the bind system call each time.
const bindScript = `import socket, sys
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", 80))
        print("bound")
    except PermissionError:
        print("denied")
    s.close()
`

// bindPort80 runs bindScript n times over, as root or as otherUID:otherGID,
// checks bind's answers, and returns the process's pid.
func bindPort80(t *testing.T, asOther bool, n int) int {
	t.Helper()
	// The system's python3: otherUID cannot enter a user's (pyenv's) directories.
	cmd := exec.Command("/usr/bin/python3", "-c", bindScript, strconv.Itoa(n))
	want := "bound"
	if asOther {
		asOtherIDs(cmd)
		want = "denied"
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3 bind: %v", err)
	}
	if got := strings.Fields(string(out)); len(got) != n || strings.Count(string(out), want) != n {
		t.Fatalf("python3 bind as other ids %v: %q, want %d times %q", asOther, out, n, want)
	}
	return cmd.ProcessState.Pid()
}

// waitCapAttached waits until ig (trace capabilities -o json) shows an
// allowed bind to port 80.
func (p *proc) waitCapAttached() {
	p.t.Helper()
	p.waitUntil("an allowed CAP_NET_BIND_SERVICE", func() { bindPort80(p.t, false, 1) },
		streamMatcher(func(ev *capEvent) bool { return ev.CapName == "NET_BIND_SERVICE" && ev.Verdict == "Allow" }))
}

// checkBindEvent checks the event of a bind to port 80 by pid.
func checkBindEvent(t *testing.T, what string, ev capEvent, pid int, verdict string) {
	t.Helper()
	if ev.Pid != int64(pid) || ev.Comm != "python3" {
		t.Errorf("%s: pid %d comm %q, want %d python3", what, ev.Pid, ev.Comm, pid)
	}
	if ev.Syscall != "bind" || ev.Cap != 10 || ev.CapName != "NET_BIND_SERVICE" || ev.Verdict != verdict {
		t.Errorf("%s: syscall %q cap %d %q verdict %q, want bind 10 NET_BIND_SERVICE %s", what, ev.Syscall, ev.Cap, ev.CapName, ev.Verdict, verdict)
	}
	// This host has the tracepoint variant, which cannot tell audit and insetid.
	if ev.Audit != -1 || ev.InsetID {
		t.Errorf("%s: audit %d insetid %v, want -1 false (tracepoint variant)", what, ev.Audit, ev.InsetID)
	}
}

// TestTraceCapabilities: a process of uid otherUID is denied
// CAP_NET_BIND_SERVICE when it binds port 80, root is allowed; both in bind.
func TestTraceCapabilities(t *testing.T) {
	igBinary(t)
	ig := startIG(t, "trace", "capabilities", "-o", "json")
	ig.waitCapAttached()
	from := time.Now()
	denied := bindPort80(t, true, 1)
	allowed := bindPort80(t, false, 1)
	to := time.Now()
	ig.waitCapAttached() // ig has read the events above
	r := ig.stop(sigINT)
	checkSuccess(t, r)
	evs := eventsOf[capEvent](t, r.Stdout)
	mntns := mountNsID(t)

	ev := findOne(t, evs, "the denied bind", func(ev *capEvent) bool { return ev.Pid == int64(denied) && ev.CapName == "NET_BIND_SERVICE" })
	checkBindEvent(t, "denied", ev, denied, "Deny")
	checkOtherIDs(t, "denied", ev.commonEvent)
	checkNear(t, "denied", ev.Timestamp, from, to)
	if ev.MountNsID != mntns {
		t.Errorf("denied: mountnsid %d, want %d", ev.MountNsID, mntns)
	}
	userns := nsInode(t, "/proc/self/ns/user")
	// otherUID has no capability at all; root has the test's own.
	checkCaps(t, "denied", ev, 0, nil, userns, userns)
	ev = findOne(t, evs, "the allowed bind", func(ev *capEvent) bool { return ev.Pid == int64(allowed) && ev.CapName == "NET_BIND_SERVICE" })
	checkBindEvent(t, "allowed", ev, allowed, "Allow")
	if ev.Uid != 0 || ev.Gid != 0 || ev.User != "root" || ev.Group != "root" {
		t.Errorf("allowed: uid/gid %d/%d (%q/%q), want 0/0 (root/root)", ev.Uid, ev.Gid, ev.User, ev.Group)
	}
	checkCaps(t, "allowed", ev, capEff(t), []string{"chown", "net_bind_service", "sys_admin"}, userns, userns)
}

// checkCaps checks an event's effective capabilities (caps exactly, some
// of capsNames) and user namespaces.
func checkCaps(t *testing.T, what string, ev capEvent, caps uint64, names []string, current, target uint64) {
	t.Helper()
	if ev.Caps != caps || ev.CapsNames == nil || (caps == 0) != (len(ev.CapsNames) == 0) {
		t.Errorf("%s: caps %#x %v, want %#x", what, ev.Caps, ev.CapsNames, caps)
	}
	for _, n := range names {
		if !slices.Contains(ev.CapsNames, n) {
			t.Errorf("%s: capsNames %v lack %s", what, ev.CapsNames, n)
		}
	}
	if ev.CurrentUserNs != current || ev.TargetUserNs != target {
		t.Errorf("%s: currentuserns %d targetuserns %d, want %d %d", what, ev.CurrentUserNs, ev.TargetUserNs, current, target)
	}
}

// capEff is the test's effective capabilities (/proc/self/status CapEff).
func capEff(t *testing.T) uint64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("/proc/self/status has no CapEff")
	return 0
}

// nsInode is the inode number of a namespace link (/proc/PID/ns/KIND).
func nsInode(t *testing.T, link string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(link, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// TestTraceCapabilitiesUserNs: root of a new user namespace binding port 80
// of the host's network is denied: the capability is checked in the
// host's user namespace (targetuserns), not in its own (currentuserns),
// where it has every capability (caps).
func TestTraceCapabilitiesUserNs(t *testing.T) {
	igBinary(t)
	ig := startIG(t, "trace", "capabilities", "-o", "json")
	ig.waitCapAttached()
	// The script says its user namespace, then binds.
	script := "import os; print(os.stat('/proc/self/ns/user').st_ino, flush=True)\n" + bindScript
	cmd := exec.Command("unshare", "--user", "--map-root-user", "/usr/bin/python3", "-c", script, "1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("unshare python3: %v", err)
	}
	f := strings.Fields(string(out))
	if len(f) != 2 || f[1] != "denied" {
		t.Fatalf("unshare python3: %q, want its user namespace and denied", out)
	}
	inner, _ := strconv.ParseUint(f[0], 10, 64)
	pid := cmd.ProcessState.Pid() // unshare execs python3
	ig.waitCapAttached()
	r := ig.stop(sigINT)
	checkSuccess(t, r)
	ev := findOne(t, eventsOf[capEvent](t, r.Stdout), "the bind in a user namespace", func(ev *capEvent) bool {
		return ev.Pid == int64(pid) && ev.CapName == "NET_BIND_SERVICE"
	})
	checkBindEvent(t, "user namespace", ev, pid, "Deny")
	full := uint64(1)<<(capLastCap(t)+1) - 1
	checkCaps(t, "user namespace", ev, full, []string{"chown", "net_bind_service", "sys_admin"}, inner, nsInode(t, "/proc/self/ns/user"))
	if inner == nsInode(t, "/proc/self/ns/user") {
		t.Errorf("unshare --user made no new user namespace")
	}
}

// capLastCap is the kernel's highest capability number.
func capLastCap(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestTraceCapabilitiesUnique: with --unique, a process checking the same
// capability three times is shown once, and each process once.
func TestTraceCapabilitiesUnique(t *testing.T) {
	igBinary(t)
	ig := startIG(t, "trace", "capabilities", "-o", "json", "--unique")
	ig.waitCapAttached()
	first := bindPort80(t, false, 3)
	second := bindPort80(t, false, 3)
	ig.waitUntil("the second process's check", nil, streamMatcher(func(ev *capEvent) bool { return ev.Pid == int64(second) }))
	time.Sleep(300 * time.Millisecond) // time for a wrongly repeated event to come too
	r := ig.stop(sigINT)
	checkSuccess(t, r)
	evs := eventsOf[capEvent](t, r.Stdout)
	for _, pid := range []int{first, second} {
		ev := findOne(t, evs, "the binds of pid "+strconv.Itoa(pid), func(ev *capEvent) bool {
			return ev.Pid == int64(pid) && ev.CapName == "NET_BIND_SERVICE"
		})
		checkBindEvent(t, "unique", ev, pid, "Allow")
	}
}

// TestTraceCapabilitiesContainer: -c NAME shows a docker container's chown
// (CAP_CHOWN), with the container's name, and nothing of the host; with
// --unique, two chowns in the container are one event.
func TestTraceCapabilitiesContainer(t *testing.T) {
	runtimesUp(t)
	name, _ := container(t, "docker")
	inContainer(t, "docker", name, "touch", "/tmp/f")
	ig := startIG(t, "trace", "capabilities", "-o", "json", "-c", name, "--unique")
	ig.waitUntil("a chown in the container", func() { inContainer(t, "docker", name, "chown", "1", "/tmp/f") },
		streamMatcher(func(ev *capEvent) bool { return ev.CapName == "CHOWN" }))
	inContainer(t, "docker", name, "chown", "2", "/tmp/f")
	bindPort80(t, false, 1) // on the host: filtered out
	time.Sleep(300 * time.Millisecond)
	r := ig.stop(sigINT)
	checkSuccess(t, r)
	evs := eventsOf[capEvent](t, r.Stdout)
	ev := findOne(t, evs, "CAP_CHOWN in the container (--unique)", func(ev *capEvent) bool { return ev.CapName == "CHOWN" })
	if ev.Runtime.ContainerName != name || ev.Runtime.RuntimeName != "docker" {
		t.Errorf("chown: container %q runtime %q, want %q docker", ev.Runtime.ContainerName, ev.Runtime.RuntimeName, name)
	}
	if ev.Cap != 0 || ev.Verdict != "Allow" || ev.Comm != "chown" || !strings.Contains(ev.Syscall, "chown") {
		t.Errorf("chown: cap %d verdict %q comm %q syscall %q, want 0 Allow chown *chown*", ev.Cap, ev.Verdict, ev.Comm, ev.Syscall)
	}
	for _, ev := range evs {
		if ev.Runtime.ContainerName != name {
			t.Errorf("-c %s let through an event of %q: %+v", name, ev.Runtime.ContainerName, ev)
		}
	}
}

// TestTraceCapabilitiesRefusals: what this host cannot do is refused in
// one line: --audit-only (the tracepoint cannot tell), the kprobe variant
// (no kprobes here).
func TestTraceCapabilitiesRefusals(t *testing.T) {
	igBinary(t)
	// Why not each variant: the tracepoint for the flag, the kprobe for the host.
	msg := checkFailure(t, runIG(t, "trace", "capabilities", "--audit-only", "-t", "1"))
	if !strings.HasPrefix(msg, "ig: trace capabilities: tracepoint: --audit-only needs the check's options") ||
		!strings.Contains(msg, "; kprobe: ") || !strings.Contains(msg, "kprobes unavailable") {
		t.Errorf("--audit-only: %q, want why not the tracepoint (the flag) and why not the kprobe variant (no kprobes)", msg)
	}
	msg = checkFailure(t, runIG(t, "trace", "capabilities", "--variant", "kprobe", "-t", "1"))
	if !strings.Contains(msg, "kprobes unavailable") {
		t.Errorf("--variant kprobe: %q, want it to say kprobes unavailable", msg)
	}
}

// TestTraceCapabilitiesLifecycle: attached while it runs, nothing left after.
func TestTraceCapabilitiesLifecycle(t *testing.T) {
	igBinary(t)
	requireTool(t, "bpftool")
	checkLifecycle(t, lifecycleGadget{"trace capabilities SIGINT", []string{"trace", "capabilities", "-o", "json"},
		capProgs, func(p *proc) { p.waitCapAttached() }, sigINT})
}
