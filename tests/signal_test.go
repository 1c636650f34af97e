package tests

import (
	"hash/fnv"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
)

// signalEvent is a trace signal event, as JSON.
type signalEvent struct {
	commonEvent
	Signal    string `json:"signal"`
	SignalRaw int64  `json:"signalRaw"`
	TargetPid int64  `json:"tpid"`
	Ret       int64  `json:"ret"`
	Error     string `json:"error"`
	Syscall   string `json:"syscall"`
}

var signalProgs = []string{"enter_kill", "exit_kill", "enter_tkill", "exit_tkill", "enter_tgkill", "exit_tgkill", "signal_generate"}

// segfaultEnv makes this test binary, run again, fault at once (see init):
// a SIGSEGV the kernel generates, not one sent with kill.
const segfaultEnv = "IG_TEST_SEGFAULT"

var nilInt *int

func init() {
	if os.Getenv(segfaultEnv) == "1" {
		*nilInt = 1 // a nil dereference is a real fault: the kernel sends SIGSEGV
	}
}

// segfault runs a process that faults, and returns its pid.
func segfault(t *testing.T) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), segfaultEnv+"=1")
	if err := cmd.Run(); err == nil {
		t.Fatal("the faulting process exited 0")
	}
	return cmd.ProcessState.Pid()
}

// sleeper starts `sleep 100` and returns it; the test's cleanup kills it.
func sleeper(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "100")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd
}

// freePid is a pid no process has: kill(2) of it fails with ESRCH.
func freePid(t *testing.T) int {
	t.Helper()
	for pid := 4194000; pid > 4000000; pid-- {
		if err := syscall.Kill(pid, 0); err == syscall.ESRCH {
			return pid
		}
	}
	t.Fatal("no free pid")
	return 0
}

// waitSignalJSON sends signal 0 (kill's existence check) to target until ig
// reports it: ig is attached, and has read what this thread sent before.
func (p *proc) waitSignalJSON(target int) {
	p.t.Helper()
	p.waitUntil("kill(0) of "+strconv.Itoa(target), func() { _ = syscall.Kill(target, 0) },
		streamMatcher(func(ev *signalEvent) bool { return ev.TargetPid == int64(target) && ev.SignalRaw == 0 }))
}

// TestTraceSignal sends SIGUSR1 to a sleeping child, SIGUSR2 to a pid that
// does not exist, and runs a process that faults; it checks each event's
// fields, and what -f, -k and --signal let through.
func TestTraceSignal(t *testing.T) {
	igBinary(t)
	comm := testComm(t)
	self := os.Getpid()
	for _, tc := range []struct {
		name                    string
		args                    []string
		usr1, esrch, segv, sig0 bool // which events the run shows
	}{
		{"all", nil, true, true, true, true},
		{"-f", []string{"-f"}, false, true, false, false},
		{"--failed-only", []string{"--failed-only"}, false, true, false, false},
		{"-k", []string{"-k"}, true, true, false, true},
		{"--kill-only", []string{"--kill-only"}, true, true, false, true},
		{"--signal USR1", []string{"--signal", "USR1"}, true, false, false, false},
		{"--signal SIGUSR2", []string{"--signal", "SIGUSR2"}, false, true, false, false},
		{"--signal 11", []string{"--signal", "11"}, false, false, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			marker := sleeper(t).Process.Pid
			// --comm: the test and its faulting child (the same binary)
			// only, so that a signal storm elsewhere on the host (an ig
			// writing to a closed pipe was seen sending 100 000
			// SIGPIPE/s) cannot fill the ring buffer.
			ig := startIG(t, append([]string{"trace", "signal", "-o", "json", "--comm", comm}, tc.args...)...)
			// Attached: a kill that fails (-f), or one of signal 0 (the others).
			free := freePid(t)
			switch {
			case tc.sig0:
				ig.waitSignalJSON(marker)
			case tc.esrch:
				ig.waitUntil("a failed kill", func() { _ = syscall.Kill(free, syscall.SIGUSR2) },
					streamMatcher(func(ev *signalEvent) bool { return ev.TargetPid == int64(free) }))
			case tc.usr1:
				ig.waitUntil("a SIGUSR1", func() { _ = syscall.Kill(marker, syscall.SIGUSR1) },
					streamMatcher(func(ev *signalEvent) bool { return ev.TargetPid == int64(marker) }))
			default:
				ig.waitUntil("a fault", func() { segfault(t) },
					streamMatcher(func(ev *signalEvent) bool { return ev.Signal == "SIGSEGV" && ev.Syscall == "" }))
			}

			child := sleeper(t)
			// syscall.Kill: os.Process.Signal uses pidfd_send_signal.
			if err := syscall.Kill(child.Process.Pid, syscall.SIGUSR1); err != nil {
				t.Fatal(err)
			}
			if err := syscall.Kill(free, syscall.SIGUSR2); err != syscall.ESRCH {
				t.Fatalf("kill(%d, SIGUSR2): %v, want ESRCH", free, err)
			}
			faulted := segfault(t)
			// The last event every run shows, seen after all of the above.
			last := sleeper(t).Process.Pid
			switch {
			case tc.sig0:
				ig.waitSignalJSON(last)
			case tc.esrch:
				ig.waitUntil("a failed kill", func() { _ = syscall.Kill(free, syscall.SIGUSR2) },
					streamMatcher(func(ev *signalEvent) bool { return ev.TargetPid == int64(free) && ev.Pid == int64(self) }))
			case tc.usr1:
				ig.waitUntil("a SIGUSR1", func() { _ = syscall.Kill(last, syscall.SIGUSR1) },
					streamMatcher(func(ev *signalEvent) bool { return ev.TargetPid == int64(last) }))
			default:
				ig.waitUntil("a second fault", func() { faulted = segfault(t) },
					streamMatcher(func(ev *signalEvent) bool { return ev.Pid == int64(faulted) }))
			}
			r := ig.stop(os.Interrupt)
			checkSuccess(t, r)
			evs := eventsOf[signalEvent](t, r.Stdout)

			pid := int64(child.Process.Pid)
			usr1 := func(ev *signalEvent) bool { return ev.TargetPid == pid && ev.SignalRaw == 10 }
			if !tc.usr1 {
				if n := countOf(evs, usr1); n != 0 {
					t.Errorf("%d SIGUSR1 events, want none", n)
				}
			} else {
				// Once: the signal_generate inside the kill is not a second event.
				ev := findOne(t, evs, "the SIGUSR1 to the child", usr1)
				if ev.Pid != int64(self) || ev.Comm != comm || ev.Signal != "SIGUSR1" || ev.Ret != 0 || ev.Error != "" || ev.Syscall != "kill" {
					t.Errorf("SIGUSR1 to %d: %+v; want pid %d comm %q signal SIGUSR1 ret 0 syscall kill", pid, ev, self, comm)
				}
			}

			esrch := func(ev *signalEvent) bool { return ev.TargetPid == int64(free) && ev.Pid == int64(self) }
			if !tc.esrch {
				if n := countOf(evs, esrch); n != 0 {
					t.Errorf("%d events of the failed kill, want none", n)
				}
			} else {
				n := countOf(evs, esrch)
				if n < 1 {
					t.Fatalf("no event of the failed kill of %d", free)
				}
				for _, ev := range evs {
					if esrch(&ev) && (ev.Comm != comm || ev.Signal != "SIGUSR2" || ev.SignalRaw != 12 || ev.Ret != -3 || ev.Error != "ESRCH" || ev.Syscall != "kill") {
						t.Errorf("failed kill of %d: %+v; want signal SIGUSR2 ret -3 error ESRCH syscall kill", free, ev)
					}
				}
			}

			segv := func(ev *signalEvent) bool { return ev.Pid == int64(faulted) && ev.SignalRaw == 11 }
			if !tc.segv {
				if n := countOf(evs, segv); n != 0 {
					t.Errorf("%d SIGSEGV events of the faulting process, want none", n)
				}
			} else {
				// Sent by the kernel to the thread that faulted, current then.
				ev := findOne(t, evs, "the fault's SIGSEGV", segv)
				if ev.TargetPid != ev.Tid || ev.Signal != "SIGSEGV" || ev.Ret != 0 || ev.Syscall != "" || ev.Comm != comm || ev.Ppid != int64(self) {
					t.Errorf("SIGSEGV of %d: %+v; want tpid = its faulting thread, syscall \"\", ret 0, comm %q, ppid %d", faulted, ev, comm, self)
				}
			}

			for _, ev := range evs {
				if ev.Comm != comm {
					t.Errorf("--comm %s let through %+v", comm, ev)
				}
				switch {
				case tc.name == "-f" || tc.name == "--failed-only":
					if ev.Ret >= 0 || ev.Syscall == "" {
						t.Errorf("%s let through %+v", tc.name, ev)
					}
				case tc.name == "-k" || tc.name == "--kill-only":
					if ev.Syscall == "" {
						t.Errorf("%s let through %+v", tc.name, ev)
					}
				case len(tc.args) == 2: // --signal
					want, _ := strconv.Atoi(map[string]string{"USR1": "10", "SIGUSR2": "12", "11": "11"}[tc.args[1]])
					if ev.SignalRaw != int64(want) {
						t.Errorf("%s let through %+v", tc.name, ev)
					}
				}
			}
		})
	}
}

// -c NAME: kill -USR1 of a process inside a docker container shows with its
// name; the same kill on the host does not.
func TestTraceSignalContainer(t *testing.T) {
	runtimesUp(t)
	name, _ := container(t, "docker")
	host := sleeper(t)
	ig := startIG(t, "trace", "signal", "-c", name, "-o", "json")
	ig.waitUntil("a kill -USR2 in container "+name, func() { inContainer(t, "docker", name, "sh", "-c", "sleep 100 & kill -USR2 $!") },
		streamMatcher(func(ev *signalEvent) bool { return ev.SignalRaw == 12 && ev.Syscall == "kill" }))
	inContainer(t, "docker", name, "sh", "-c", "sleep 100 & kill -USR1 $!")
	if err := syscall.Kill(host.Process.Pid, syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	ig.waitUntil("the kill -USR1 in container "+name, nil,
		streamMatcher(func(ev *signalEvent) bool { return ev.SignalRaw == 10 && ev.Syscall == "kill" }))
	r := ig.stop(os.Interrupt)
	checkSuccess(t, r)
	evs := eventsOf[signalEvent](t, r.Stdout)
	ev := findOne(t, evs, "the kill -USR1 in the container", func(ev *signalEvent) bool { return ev.SignalRaw == 10 && ev.Syscall == "kill" })
	if ev.Runtime.ContainerName != name || ev.Runtime.RuntimeName != "docker" || ev.Comm != "sh" || ev.Signal != "SIGUSR1" || ev.Ret != 0 || ev.TargetPid <= 0 {
		t.Errorf("kill in %s: %+v", name, ev)
	}
	for _, e := range evs {
		if e.Runtime.ContainerName != name || e.TargetPid == int64(host.Process.Pid) {
			t.Errorf("-c %s let through %+v", name, e)
		}
	}
}

// After ig exits, none of trace signal's programs stay loaded.
func TestTraceSignalLifecycle(t *testing.T) {
	igBinary(t)
	requireTool(t, "bpftool")
	target := sleeper(t).Process.Pid
	checkLifecycle(t, lifecycleGadget{"trace signal SIGINT", []string{"trace", "signal", "-o", "json"}, signalProgs,
		func(p *proc) { p.waitSignalJSON(target) }, sigINT})
}

// A signal ig does not know is a one-line error.
func TestTraceSignalBadSignal(t *testing.T) {
	for _, s := range []string{"FOO", "0", "65", "SIG"} {
		msg := checkFailure(t, runIG(t, "trace", "signal", "--signal", s))
		if want := "ig: --signal " + s + ": "; len(msg) < len(want) || msg[:len(want)] != want {
			t.Errorf("--signal %s: %q, want it to start with %q", s, msg, want)
		}
	}
}

// markerPid turns a marker into a pid no process of a container has
// (its pid namespace is small): kill(2) of it fails, and the event's tpid
// tells the marker.
func markerPid(marker string) int {
	h := fnv.New32a()
	h.Write([]byte(marker))
	return 1_000_000 + int(h.Sum32()%3_000_000)
}

// -c filters trace signal in the kernel: host kills do not reach ig.
func TestTraceSignalKernelFilter(t *testing.T) {
	runtimesUp(t)
	name, _ := container(t, "docker")
	target := sleeper(t).Process.Pid
	checkKernelFilter(t, kernelFilterCase{name: "trace signal -c", args: []string{"trace", "signal", "-c", name},
		mark: func(t *testing.T, m string) {
			inContainer(t, "docker", name, "sh", "-c", "kill -0 "+strconv.Itoa(markerPid(m))+" || :")
		},
		seen: func(m string) func([]byte) bool {
			return streamMatcher(func(ev *signalEvent) bool { return ev.TargetPid == int64(markerPid(m)) })
		},
		only: func(ev *commonEvent) bool { return ev.Runtime.ContainerName == name },
		load: func(n int) {
			for i := 0; i < n; i++ {
				_ = syscall.Kill(target, 0)
			}
		},
		loadN: 20000, slack: 1000})
}
