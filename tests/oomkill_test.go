package tests

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ig-tracer/ig/tests/workloads"
)

// oomkillEvent is a trace oomkill event, as JSON.
type oomkillEvent struct {
	commonEvent
	Kpid       int64  `json:"kpid"`
	Kcomm      string `json:"kcomm"`
	Pages      uint64 `json:"pages"`
	Tpid       int64  `json:"tpid"`
	Tuid       int64  `json:"tuid"`
	Tgid       int64  `json:"tgid"`
	Tcomm      string `json:"tcomm"`
	MemcgLimit int64  `json:"memcgLimit"`
	MemcgUsage int64  `json:"memcgUsage"`
}

// oomkillVariants: each variant of trace oomkill, its programs as the
// kernel names them (15 characters at most).
var oomkillVariants = []struct {
	name  string
	progs []string
}{
	{"tp_btf", []string{"mark_victim_btf"}},
	{"tracepoint", []string{"mark_victim", "victim_exit"}},
}

// allocEnv makes this test binary, run again, wait for a line on its stdin
// (time to move it into a cgroup), then allocate and touch MiB mebibytes
// ("MiB" exits then; "MiB,hold" says "ready" and sleeps).
const allocEnv = "IG_TEST_ALLOC"

func init() {
	spec, ok := os.LookupEnv(allocEnv)
	if !ok {
		return
	}
	mib, hold, _ := strings.Cut(spec, ",")
	n, _ := strconv.Atoi(mib)
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	var keep [][]byte
	for i := 0; i < n; i++ {
		b := make([]byte, 1<<20)
		for j := range b {
			if j%4096 == 0 {
				b[j] = 1
			}
		}
		keep = append(keep, b)
	}
	if hold == "" {
		os.Exit(0)
	}
	fmt.Println("ready", len(keep))
	for {
		time.Sleep(time.Hour)
	}
}

// allocator starts this binary as an allocator of mib MiB (see allocEnv)
// in cgroup cg; it allocates once it is in it. With hold, it returns once
// the memory is allocated, and its score makes it the OOM killer's choice.
func allocator(t *testing.T, cg *workloads.MemCgroup, mib int, hold bool) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	spec := strconv.Itoa(mib)
	if hold {
		spec += ",hold"
	}
	cmd.Env = append(os.Environ(), allocEnv+"="+spec)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	if err := cg.Add(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if hold {
		if err := os.WriteFile(fmt.Sprintf("/proc/%d/oom_score_adj", cmd.Process.Pid), []byte("1000"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := in.Write([]byte("\n")); err != nil {
		t.Fatal(err)
	}
	if hold {
		line, err := bufio.NewReader(out).ReadString('\n')
		if !strings.HasPrefix(line, "ready") {
			t.Fatalf("the allocator of %d MiB did not get ready: %q, %v", mib, line, err)
		}
	}
	return cmd
}

// exitOf waits for cmd to end, 20 s at most (then kills it), and returns
// how it ended.
func exitOf(t *testing.T, cmd *exec.Cmd) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		return fmt.Errorf("still running after 20 s: %v", <-done)
	}
}

// memCgroup makes a memory cgroup with a limit; the test's cleanup removes it.
func memCgroup(t *testing.T, limit int64) *workloads.MemCgroup {
	t.Helper()
	cg, err := workloads.NewMemCgroup(unique("igt-oom"), limit)
	if err != nil {
		t.Fatalf("memory cgroup: %v", err)
	}
	t.Cleanup(func() {
		if err := cg.Close(); err != nil {
			t.Errorf("remove cgroup %s: %v", cg.Dir, err)
		}
	})
	return cg
}

// waitAttached waits until ig (the command p runs, or its child: ig under
// strace) holds n links: its programs are attached, and what they catch
// from now on is in its ring buffer.
func (p *proc) waitAttached(n int) {
	p.t.Helper()
	pid := p.cmd.Process.Pid
	p.waitUntil(strconv.Itoa(n)+" attached programs", nil, func([]byte) bool {
		pids := []int{pid}
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid)); err == nil {
			for _, f := range strings.Fields(string(b)) {
				if c, err := strconv.Atoi(f); err == nil {
					pids = append(pids, c)
				}
			}
		}
		for _, pid := range pids {
			if held, err := heldBy(pid); err == nil && len(held["link"]) >= n {
				return true
			}
		}
		return false
	})
}

// TestTraceOomkill: in a memory cgroup of 128 MiB, a process holds 64 MiB
// and has the highest OOM score; another allocates 80 MiB and runs the
// OOM killer, which kills the first. Each variant must say so: victim and
// trigger apart, the victim's pages, the cgroup's limit and usage.
func TestTraceOomkill(t *testing.T) {
	igBinary(t)
	comm := testComm(t)
	const limit = 128 << 20
	for _, v := range oomkillVariants {
		t.Run(v.name, func(t *testing.T) {
			cg := memCgroup(t, limit)
			ig := startIG(t, "trace", "oomkill", "--variant", v.name, "-o", "json")
			ig.waitAttached(len(v.progs))
			victim := allocator(t, cg, 64, true)
			trigger := allocator(t, cg, 80, false)
			// Under load the OOM killer has been seen to kill the
			// allocator too, after the holder, before the holder's
			// memory was uncharged: not what this test is about.
			triggerErr, victimErr := exitOf(t, trigger), exitOf(t, victim)
			if victimErr == nil || !strings.Contains(victimErr.Error(), "killed") {
				r := ig.stop(os.Interrupt)
				t.Fatalf("the holder of 64 MiB ended with %v (the allocator of 80 MiB with %v); want the holder killed; ig:\n%s", victimErr, triggerErr, r)
			}
			ig.waitUntil("the OOM kill", nil, streamMatcher(func(ev *oomkillEvent) bool { return ev.Kpid == int64(victim.Process.Pid) }))
			r := ig.stop(os.Interrupt)
			checkSuccess(t, r)
			evs := eventsOf[oomkillEvent](t, r.Stdout)
			ev := findOne(t, evs, "the OOM kill", func(ev *oomkillEvent) bool { return ev.Kpid == int64(victim.Process.Pid) })
			if ev.Pid != ev.Kpid || ev.Comm != comm || ev.Kcomm != comm || ev.Ppid != int64(os.Getpid()) || ev.MountNsID != mountNsID(t) {
				t.Errorf("victim: %+v; want pid = kpid = %d, comm = kcomm = %q, ppid %d, this mount namespace", ev, victim.Process.Pid, comm, os.Getpid())
			}
			if ev.Tpid != int64(trigger.Process.Pid) || ev.Tcomm != comm || ev.Tuid != 0 || ev.Tgid != 0 {
				t.Errorf("trigger: tpid %d tcomm %q tuid %d tgid %d; want %d %q 0 0", ev.Tpid, ev.Tcomm, ev.Tuid, ev.Tgid, trigger.Process.Pid, comm)
			}
			if ev.Pages < 64<<20/4096 || ev.Pages > limit/4096 {
				t.Errorf("pages %d, want the victim's 64 MiB at least (%d) and less than the limit (%d)", ev.Pages, 64<<20/4096, limit/4096)
			}
			// Charges may pass the limit by a few pages for a moment.
			if ev.MemcgLimit != limit || ev.MemcgUsage <= 0 || ev.MemcgUsage > limit+1<<20 {
				t.Errorf("memcgLimit %d memcgUsage %d, want %d and usage in (0, limit + 1 MiB]", ev.MemcgLimit, ev.MemcgUsage, limit)
			}
		})
	}
}

// -c NAME: a process killed in a docker container run with --memory shows
// with the container's name and limit.
func TestTraceOomkillContainer(t *testing.T) {
	env := runtimesUp(t)
	docker := requireTool(t, "docker")
	name := unique("igt-oom")
	const limit = 64 << 20
	if out, err := exec.Command(docker, "run", "-d", "--name", name, "--network", "none", "--memory", "64m", "--memory-swap", "64m",
		env["IMG_BOX"], "sleep", "1000").CombinedOutput(); err != nil {
		t.Fatalf("docker run: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command(docker, "rm", "-f", name).Run() })
	ig := startIG(t, "trace", "oomkill", "-c", name, "-o", "json")
	ig.waitAttached(1)
	out, err := exec.Command(docker, "exec", name, "dd", "if=/dev/zero", "of=/dev/null", "bs=128M", "count=1").CombinedOutput()
	if err == nil {
		t.Fatalf("dd of 128 MiB in a container of 64 MiB ended well: %s", out)
	}
	hostKill := allocator(t, memCgroup(t, 32<<20), 64, false)
	if err := exitOf(t, hostKill); err == nil {
		t.Fatal("64 MiB in a cgroup of 32 MiB: not killed")
	}
	ig.waitUntil("the OOM kill of dd", nil, streamMatcher(func(ev *oomkillEvent) bool { return ev.Kcomm == "dd" }))
	r := ig.stop(os.Interrupt)
	checkSuccess(t, r)
	evs := eventsOf[oomkillEvent](t, r.Stdout)
	ev := findOne(t, evs, "the OOM kill of dd", func(ev *oomkillEvent) bool { return ev.Kcomm == "dd" })
	if ev.Runtime.ContainerName != name || ev.Runtime.RuntimeName != "docker" || ev.Comm != "dd" || ev.Tpid != ev.Kpid || ev.Tcomm != "dd" ||
		ev.Pages == 0 || ev.MemcgLimit != limit {
		t.Errorf("OOM kill in %s: %+v; want its name, dd as victim and trigger, pages > 0, memcgLimit %d", name, ev, limit)
	}
	for _, e := range evs {
		if e.Runtime.ContainerName != name || e.Kpid == int64(hostKill.Process.Pid) {
			t.Errorf("-c %s let through %+v", name, e)
		}
	}
}

// After ig exits, none of trace oomkill's programs stay loaded, whichever
// variant ran.
func TestTraceOomkillLifecycle(t *testing.T) {
	igBinary(t)
	requireTool(t, "bpftool")
	for _, v := range oomkillVariants {
		n := len(v.progs)
		checkLifecycle(t, lifecycleGadget{"trace oomkill " + v.name, []string{"trace", "oomkill", "--variant", v.name, "-o", "json"}, v.progs,
			func(p *proc) { p.waitAttached(n) }, sigINT})
	}
}
