package tests

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// receivedRe is ig -v's count, at the end of a stream gadget, of the events
// its reader took from the ring buffer (the lost ones made it past the
// kernel's filters too).
var receivedRe = regexp.MustCompile(`(?m)^ig: (?:(\d+) events received, none lost|lost (\d+) events in all \(ring buffer full\), (\d+) received)$`)

// fromKernel is how many events the kernel sent ig, by its -v count.
func fromKernel(t *testing.T, r result) int {
	t.Helper()
	m := receivedRe.FindAllStringSubmatch(string(r.Stderr), -1)
	if len(m) != 1 {
		t.Fatalf("want one count of events received on stderr (-v), got %d: %s", len(m), r)
	}
	n := 0
	for _, s := range m[0][1:] {
		if s != "" {
			v, _ := strconv.Atoi(s)
			n += v
		}
	}
	return n
}

// kernelFilterCase is a filter that must work in the kernel: ig's own
// count of the events it received must stay near what the filter lets
// through, however busy the rest of the host is.
type kernelFilterCase struct {
	name  string
	args  []string                              // gadget and filter
	mark  func(t *testing.T, marker string)     // makes an event the filter lets through
	seen  func(marker string) func([]byte) bool // whether ig printed it
	only  func(*commonEvent) bool               // what the filter lets through
	load  func(n int)                           // host events the filter must drop
	loadN int
	// slack: events the kernel may let through once per mount namespace,
	// before ig has decided it and written its verdict (see checkKernelFilter).
	slack int
}

// checkKernelFilter runs ig with the case's filter and -v while the test
// process makes heavy host load, and compares what reached ig with what
// the filter lets through. User space filters again, so only ig's count
// shows a kernel filter that lets everything through.
func checkKernelFilter(t *testing.T, c kernelFilterCase) {
	t.Helper()
	ig := startIG(t, append(c.args, "-o", "json", "-v")...)
	// Attached, and the host decided: under -c the host's first events
	// reach ig, which then writes the host's verdict. Host events made
	// before a marker come before it in the ring buffer, so once ig shows
	// the marker it has decided them; but the first marker may be seen
	// with no host event before it (they came before ig attached, and
	// a slow marker, trace bind's docker exec, outlives the attach): the
	// second round's host events surely reach ig.
	first := unique("first")
	ig.waitUntil("the first marker", func() { c.load(10); c.mark(t, first) }, c.seen(first))
	second := unique("second")
	ig.waitUntil("the second marker", func() { c.load(10); c.mark(t, second) }, c.seen(second))
	c.load(c.loadN)
	last := unique("last")
	ig.waitUntil("the last marker", func() { c.mark(t, last) }, c.seen(last))
	r := ig.stop(sigINT)
	checkSuccess(t, r)

	evs := eventsOf[commonEvent](t, r.Stdout)
	ours := countOf(evs, c.only)
	if bad := len(evs) - ours; bad > 0 {
		i := slices.IndexFunc(evs, func(ev commonEvent) bool { return !c.only(&ev) })
		t.Errorf("%s printed %d events it should have dropped, such as %+v", c.name, bad, evs[i])
	}
	got := fromKernel(t, r)
	t.Logf("%s: ig received %d events from the kernel, printed %d; host load %d", c.name, got, ours, c.loadN)
	if got > ours+c.slack {
		t.Errorf("%s: the kernel sent ig %d events, but only %d pass the filter (+%d allowed while ig decides new mount namespaces): "+
			"the in-kernel filter let the host load of %d through", c.name, got, ours, c.slack, c.loadN)
	}
}

// hostOpens opens a missing path n times from the test process.
func hostOpens(t *testing.T) func(int) {
	path := missingPath(t)
	return func(n int) {
		for i := 0; i < n; i++ {
			tryOpen(path)
		}
	}
}

// hostExecs runs /bin/true n times from the test process.
func hostExecs(t *testing.T) func(int) {
	return func(n int) {
		for i := 0; i < n; i++ {
			if err := exec.Command("/bin/true").Run(); err != nil {
				t.Errorf("/bin/true: %v", err)
				return
			}
		}
	}
}

func openSeen(marker string) func([]byte) bool {
	return streamMatcher(func(ev *openEvent) bool { return strings.HasSuffix(ev.Path, "/"+marker) })
}

func execSeen(marker string) func([]byte) bool {
	return streamMatcher(func(ev *execEvent) bool { return len(ev.Args) == 2 && ev.Args[1] == marker })
}

// opener is a host shell with a comm of its own that opens each path
// written to it: a process to filter for by --pid and --comm.
type opener struct {
	pid  int
	comm string
	in   io.WriteCloser
}

func startOpener(t *testing.T) *opener {
	t.Helper()
	return startOpenerWith(t, nil)
}

// startOpenerWith is startOpener with the opener's command changed first
// (asOtherIDs: another user).
func startOpenerWith(t *testing.T, change func(*exec.Cmd)) *opener {
	t.Helper()
	comm := unique("igop")[:15] // the most the kernel keeps
	dir, err := os.MkdirTemp("", "igop")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil { // for another user too
		t.Fatal(err)
	}
	link := filepath.Join(dir, comm)
	if err := os.Symlink("/bin/sh", link); err != nil { // comm is the name exec'd
		t.Fatal(err)
	}
	cmd := exec.Command(link, "-c", `while read -r p; do true <"$p" || :; done`)
	if change != nil {
		change(cmd)
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(); _ = cmd.Wait() })
	o := &opener{pid: cmd.Process.Pid, comm: comm, in: in}
	if b, err := os.ReadFile("/proc/" + strconv.Itoa(o.pid) + "/comm"); err != nil || strings.TrimSpace(string(b)) != comm {
		t.Fatalf("opener's comm is %q (%v), want %q", b, err, comm)
	}
	return o
}

// open has the opener open /tmp/marker (missing: a failed open).
func (o *opener) open(t *testing.T, marker string) {
	t.Helper()
	if _, err := io.WriteString(o.in, "/tmp/"+marker+"\n"); err != nil {
		t.Fatalf("write to the opener: %v", err)
	}
}

// TestKernelFilters checks that -c, --containers, --pid and --comm filter
// in the kernel: with tens of thousands of host opens (or a thousand host
// execs) going on, ig receives about as many events as it prints.
func TestKernelFilters(t *testing.T) {
	runtimesUp(t)
	name, _ := container(t, "docker")
	inName := func(t *testing.T, marker string) {
		inContainer(t, "docker", name, "/bin/sh", "-c", `true </`+marker+` || :`)
	}
	op := startOpener(t)
	other := startOpenerWith(t, asOtherIDs)

	// What may reach ig before it has decided a mount namespace: the
	// namespace's first events until ig writes its verdict (the host's:
	// the test's and run.sh's own before the first marker; another
	// test's container starting meanwhile: its opens until the runtimes
	// list it, up to 2 s). --pid and --comm need no verdict: none.
	const (
		openLoad, openSlack = 50000, 1000
		execLoad, execSlack = 1000, 100
	)
	for _, c := range []kernelFilterCase{
		{name: "trace open -c", args: []string{"trace", "open", "-c", name}, mark: inName, seen: openSeen,
			only: func(ev *commonEvent) bool { return ev.Runtime.ContainerName == name },
			load: hostOpens(t), loadN: openLoad, slack: openSlack},
		{name: "trace open --containers", args: []string{"trace", "open", "--containers"}, mark: inName, seen: openSeen,
			only: func(ev *commonEvent) bool { return ev.Runtime.RuntimeName != "" },
			load: hostOpens(t), loadN: openLoad, slack: openSlack},
		{name: "trace open --pid", args: []string{"trace", "open", "--pid", strconv.Itoa(op.pid)}, mark: op.open, seen: openSeen,
			only: func(ev *commonEvent) bool { return ev.Pid == int64(op.pid) },
			load: hostOpens(t), loadN: openLoad},
		{name: "trace open --comm", args: []string{"trace", "open", "--comm", op.comm}, mark: op.open, seen: openSeen,
			only: func(ev *commonEvent) bool { return ev.Comm == op.comm },
			load: hostOpens(t), loadN: openLoad},
		// -F filters the kernel can apply are pushed down to it.
		{name: "trace open -F container", args: []string{"trace", "open", "-F", "container:" + name}, mark: inName, seen: openSeen,
			only: func(ev *commonEvent) bool { return ev.Runtime.ContainerName == name },
			load: hostOpens(t), loadN: openLoad, slack: openSlack},
		{name: "trace open -F pid", args: []string{"trace", "open", "-F", "pid:" + strconv.Itoa(op.pid)}, mark: op.open, seen: openSeen,
			only: func(ev *commonEvent) bool { return ev.Pid == int64(op.pid) },
			load: hostOpens(t), loadN: openLoad},
		{name: "trace open -F comm", args: []string{"trace", "open", "-F", "comm:" + op.comm}, mark: op.open, seen: openSeen,
			only: func(ev *commonEvent) bool { return ev.Comm == op.comm },
			load: hostOpens(t), loadN: openLoad},
		{name: "trace open -F uid", args: []string{"trace", "open", "-F", "uid:" + strconv.Itoa(otherUID)}, mark: other.open, seen: openSeen,
			only: func(ev *commonEvent) bool { return ev.Uid == otherUID },
			load: hostOpens(t), loadN: openLoad},
		{name: "trace exec -c", args: []string{"trace", "exec", "-c", name},
			mark: func(t *testing.T, m string) { inContainer(t, "docker", name, "/bin/true", m) }, seen: execSeen,
			only: func(ev *commonEvent) bool { return ev.Runtime.ContainerName == name },
			load: hostExecs(t), loadN: execLoad, slack: execSlack},
	} {
		t.Run(c.name, func(t *testing.T) { checkKernelFilter(t, c) })
	}
}
