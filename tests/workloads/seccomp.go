package workloads

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

func init() { Table["audit seccomp"] = auditSeccomp }

// seccompEvent has the fields of audit seccomp the workload checks.
type seccompEvent struct {
	Syscall string `json:"syscall"`
	Code    string `json:"code"`
	Ustack  struct {
		ExeInode    uint64 `json:"exe_inode"`
		MtimeSec    int64  `json:"mtime_sec"`
		MtimeNsec   int64  `json:"mtime_nsec"`
		PidLevel0   int    `json:"pid_level0"`
		PidnsLevel0 uint64 `json:"pidns_level0"`
		PidLevel1   int    `json:"pid_level1"`
		PidnsLevel1 uint64 `json:"pidns_level1"`
		Addresses   string `json:"addresses"`
		Symbols     string `json:"symbols"`
	} `json:"ustack"`
}

// loggedGetppidFrame is the function of LoggedGetppid that makes the
// system call: a frame of its user stack.
const loggedGetppidFrame = "]github.com/ig-tracer/ig/tests/workloads.LoggedGetppid.func1; "

// LoggedGetppid calls getppid on a thread of its own whose seccomp
// filter logs that call (SECCOMP_RET_LOG); the thread ends with it. It
// returns the thread's id.
func LoggedGetppid() (int, error) {
	type result struct {
		tid int
		err error
	}
	done := make(chan result)
	go func() {
		runtime.LockOSThread() // never unlocked: the filtered thread ends with this goroutine
		filter := []unix.SockFilter{
			{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0}, // seccomp_data.nr
			{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, Jt: 0, Jf: 1, K: unix.SYS_GETPPID},
			{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_LOG},
			{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
		}
		prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			done <- result{err: err}
			return
		}
		if _, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&prog))); errno != 0 {
			done <- result{err: fmt.Errorf("seccomp: %w", errno)}
			return
		}
		unix.RawSyscall(unix.SYS_GETPPID, 0, 0, 0)
		done <- result{tid: unix.Gettid()}
	}()
	r := <-done
	return r.tid, r.err
}

// audit seccomp: getppid on a thread whose seccomp filter logs it shows as
// this process's, with the syscall and the action.
func auditSeccomp(r *Run, h Host) (string, error) {
	return AlsoVariant(r, "audit-netlink", false, func(r *Run) (string, error) {
		if err := r.Start(true); err != nil {
			return "", err
		}
		var tids []int
		ev, err := r.Await("a logged getppid", r.AttachTimeout, func() {
			if tid, err := LoggedGetppid(); err == nil {
				tids = append(tids, tid)
			}
		}, func(e Event) bool {
			var s seccompEvent
			return e.DecodeRaw(&s) == nil && s.Syscall == "getppid" && e.Pid == os.Getpid()
		})
		if err != nil {
			return "", fmt.Errorf("%v (threads filtered: %d)", err, len(tids))
		}
		if err := r.StopClean(); err != nil {
			return "", err
		}
		var s seccompEvent
		if err := ev.DecodeRaw(&s); err != nil {
			return "", err
		}
		var p Problems
		p.Check("code", s.Code, "log")
		p.Check("comm", ev.Comm, h.Comm)
		// The kprobe variant takes the user stack in the thread that made
		// the call; the audit-netlink variant has none.
		switch u := s.Ustack; r.VariantRan() {
		case "kprobe":
			if !strings.Contains(u.Symbols, loggedGetppidFrame) || strings.Count(u.Symbols, "; ") != strings.Count(u.Addresses, "; ") ||
				!strings.HasPrefix(u.Addresses, "[0]0x0000") {
				p = append(p, fmt.Sprintf("user stack: symbols %q, addresses %q: want %s among as many frames as addresses", u.Symbols, u.Addresses, loggedGetppidFrame))
			}
			// What tells this executable and this process again.
			var exe unix.Stat_t
			if err := unix.Stat("/proc/self/exe", &exe); err != nil {
				return "", err
			}
			p.Check("ustack.exe_inode", u.ExeInode, exe.Ino)
			p.Check("ustack.mtime_sec", u.MtimeSec, exe.Mtim.Sec)
			p.Check("ustack.mtime_nsec", u.MtimeNsec, exe.Mtim.Nsec)
			p.Check("ustack.pid_level0", u.PidLevel0, ev.Tid) // the thread's, as IG (thread_pid)
			p.Check("ustack.pidns_level0", u.PidnsLevel0, pidNamespace())
			p.Check("ustack.pid_level1", u.PidLevel1, 0) // the guest runs in the host's pid namespace
			p.Check("ustack.pidns_level1", u.PidnsLevel1, uint64(0))
		case "audit-netlink":
			p.Check("ustack.symbols", u.Symbols, "")
			p.Check("ustack.addresses", u.Addresses, "")
			p.Check("ustack.exe_inode", u.ExeInode, uint64(0))
			p.Check("ustack.pid_level0", u.PidLevel0, 0)
		}
		if len(p) > 0 {
			return "", errors.New(strings.Join(p, "; "))
		}
		stack := ""
		if s.Ustack.Symbols != "" {
			stack = fmt.Sprintf(", user stack of %d frames with LoggedGetppid's", strings.Count(s.Ustack.Symbols, "; "))
		}
		return fmt.Sprintf("getppid logged by a seccomp filter, of this process (%s)%s", s.Code, stack), nil
	})
}

// pidNamespace is the inode of this process's pid namespace.
func pidNamespace() uint64 {
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/pid", &st); err != nil {
		return 0
	}
	return st.Ino
}
