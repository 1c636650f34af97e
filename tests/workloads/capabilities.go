package workloads

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

func init() { Table["trace capabilities"] = traceCapabilities }

// capEvent is what trace capabilities reports of one check.
type capEvent struct {
	Pid     int    `json:"pid"`
	Tid     int    `json:"tid"`
	Uid     int    `json:"uid"`
	Comm    string `json:"comm"`
	Syscall string `json:"syscall"`
	Cap     int    `json:"cap"`
	CapName string `json:"capName"`
	Audit   int    `json:"audit"`
	Verdict string `json:"verdict"`
}

// capBindTestUID is the effective uid the denied bind runs with.
const capBindTestUID = 4321

// bindPrivileged binds a TCP socket to port 80 of 127.0.0.1 on a thread of
// its own, with effective uid euid (the thread's alone: a raw setresuid
// changes one thread's credentials; with euid not 0 its effective
// capabilities are gone). It returns the thread's id and bind's error.
// The thread is not given back to Go: it ends with the goroutine.
func bindPrivileged(euid int) (tid int, bindErr error, err error) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread goes away
		tid = unix.Gettid()
		if euid != 0 {
			if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, ^uintptr(0), uintptr(euid), ^uintptr(0)); e != 0 {
				err = fmt.Errorf("setresuid(-1, %d, -1): %v", euid, e)
				return
			}
		}
		fd, e := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if e != nil {
			err = e
			return
		}
		defer unix.Close(fd)
		bindErr = unix.Bind(fd, &unix.SockaddrInet4{Port: 80, Addr: [4]byte{127, 0, 0, 1}})
	}()
	<-done
	return tid, bindErr, err
}

// trace capabilities, filtered to this process: a bind to port 80 as root
// (allowed) and one with effective uid 4321 (denied CAP_NET_BIND_SERVICE).
func traceCapabilities(r *Run, h Host) (string, error) {
	self := os.Getpid()
	if err := r.Start(true, "--pid", strconv.Itoa(self)); err != nil {
		return "", err
	}
	isBind := func(e Event, verdict string, tid int) bool {
		var c capEvent
		return e.DecodeRaw(&c) == nil && c.CapName == "NET_BIND_SERVICE" && c.Verdict == verdict && (tid == 0 || c.Tid == tid)
	}
	// Attached when a bind as root shows up.
	var triggerErr error
	if _, err := r.Await("an allowed bind to port 80", r.AttachTimeout, func() {
		if _, _, err := bindPrivileged(0); err != nil {
			triggerErr = err
		}
	}, func(e Event) bool { return isBind(e, "Allow", 0) }); err != nil {
		return "", errors.Join(err, triggerErr)
	}

	allowTid, allowErr, err := bindPrivileged(0)
	if err != nil || allowErr != nil {
		return "", fmt.Errorf("bind to port 80 as root: %v %v", err, allowErr)
	}
	denyTid, denyErr, err := bindPrivileged(capBindTestUID)
	if err != nil {
		return "", err
	}
	if !errors.Is(denyErr, unix.EACCES) {
		return "", fmt.Errorf("bind to port 80 with euid %d: got %v, want EACCES", capBindTestUID, denyErr)
	}
	// The variant, when -v said it: the kprobe variant knows the check is
	// audited (ns_capable), the tracepoint variant cannot tell (-1).
	variant := r.VariantRan()
	var problems Problems
	check := problems.Check
	for _, c := range []struct {
		verdict string
		tid     int
	}{{"Allow", allowTid}, {"Deny", denyTid}} {
		e, err := r.Await(c.verdict+" of a bind to port 80", r.EventTimeout, nil, func(e Event) bool { return isBind(e, c.verdict, c.tid) })
		if err != nil {
			return "", err
		}
		var ev capEvent
		_ = e.DecodeRaw(&ev)
		check(c.verdict+": pid", ev.Pid, self)
		check(c.verdict+": comm", ev.Comm, h.Comm)
		check(c.verdict+": syscall", ev.Syscall, "bind")
		check(c.verdict+": cap", ev.Cap, 10)
		switch variant {
		case "kprobe":
			check(c.verdict+": audit", ev.Audit, 1)
		case "tracepoint":
			check(c.verdict+": audit", ev.Audit, -1)
		default:
			if ev.Audit != 1 && ev.Audit != -1 {
				problems = append(problems, fmt.Sprintf("%s: audit %d, want 1 (kprobe) or -1 (tracepoint)", c.verdict, ev.Audit))
			}
		}
	}
	if err := r.StopClean(); err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return "", errors.New(strings.Join(problems, "; "))
	}
	audit, err := auditOnly(r, self)
	if err != nil {
		return "", fmt.Errorf("--audit-only: %v", err)
	}
	return "caught CAP_NET_BIND_SERVICE allowed (root) and denied (euid 4321) in bind; --audit-only " + audit, nil
}

// auditOnly runs ig again with --audit-only: where kprobes are, it runs the
// kprobe variant (falling back from the tracepoint one, which cannot tell)
// and shows an audited bind; elsewhere it refuses, saying why.
func auditOnly(r *Run, self int) (string, error) {
	a := &Run{IG: r.IG, Gadget: r.Gadget, Args: r.Args, Tag: r.Tag + "-audit",
		AttachTimeout: r.AttachTimeout, EventTimeout: r.EventTimeout, StopTimeout: r.StopTimeout}
	if err := a.Start(true, "--pid", strconv.Itoa(self), "--audit-only"); err != nil {
		return "", err
	}
	defer a.Stop()
	if _, err := os.Stat("/sys/bus/event_source/devices/kprobe/type"); err != nil {
		select {
		case <-a.exited:
		case <-time.After(a.AttachTimeout):
			return "", errors.New("ig neither ran nor refused without kprobes")
		}
		if a.err == nil || !strings.Contains(a.Stderr(), "--audit-only") {
			return "", fmt.Errorf("without kprobes: exit %v, stderr %q; want a refusal naming --audit-only", a.err, a.Stderr())
		}
		return "refused without kprobes", nil
	}
	e, err := a.Await("an audited bind", a.AttachTimeout, func() { _, _, _ = bindPrivileged(0) }, func(e Event) bool {
		var c capEvent
		return e.DecodeRaw(&c) == nil && c.CapName == "NET_BIND_SERVICE"
	})
	if err != nil {
		return "", err
	}
	var c capEvent
	_ = e.DecodeRaw(&c)
	if c.Audit != 1 || c.Syscall != "bind" {
		return "", fmt.Errorf("audit %d syscall %q, want 1 bind", c.Audit, c.Syscall)
	}
	if err := a.StopClean(); err != nil {
		return "", err
	}
	return "showed an audited bind (kprobe)", nil
}
