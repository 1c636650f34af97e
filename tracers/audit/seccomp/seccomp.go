// Package seccomp is the audit seccomp gadget: the system calls a seccomp
// filter acted on and the kernel logged (killed, trapped, logged, or
// refused with an errno when the filter asked for logging).
package seccomp

import (
	"bytes"
	"context"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"

	"github.com/ig-tracer/ig/output"
	"github.com/ig-tracer/ig/runtimes"
	"github.com/ig-tracer/ig/tracers"
)

// Event is one logged seccomp action. JSON names follow Inspektor Gadget's
// audit seccomp.
type Event struct {
	tracers.Event
	Syscall string `json:"syscall" column:"syscall,width:16" desc:"the system call's name (x86_64), or its number when ig does not know it"`
	Code    string `json:"code" column:"code,width:12" desc:"the filter's action: kill_process, kill_thread, trap, errno, user_notif, trace, log"`
	// As IG's ustack: where in the process the system call was made.
	Ustack tracers.UserStack `json:"ustack" desc:"the process's user stack at the system call (kprobe variant), as IG's ustack: its addresses, their symbols, and what tells the executable and the process again; all empty or 0 with the audit-netlink variant, which reads the kernel's records after the fact and has no tracepoint in the task's context for every action, and when the stack map had no room (counted, said at the end)"`
	skip   bool              // filtered out (--pid, --comm) in Go: the audit-netlink variant
}

var schema = output.NewSchema[Event]()

func init() {
	tracers.Register(&tracers.Gadget{
		Category:    "audit",
		Name:        "seccomp",
		Description: "Trace the system calls that seccomp filters acted on and the kernel logged",
		Schema:      schema,
		Columns:     tracers.Fixed("container", "pid", "comm", "syscall", "code"),
		Run:         run,
	})
}

func run(ctx context.Context, env *tracers.Env) error {
	spec, err := loadSeccomp()
	if err != nil {
		return err
	}
	d := &decoder{clock: tracers.NewClock(), filter: env.Filter}
	s := tracers.StreamSpec[Event]{Decode: d.decodeKprobe, Skip: func(ev *Event) bool { return ev.skip },
		Loaded: func(p *tracers.Program) { d.stacks = tracers.NewUserStacks(p.Coll.Maps[tracers.StackMapName]) }}
	var audit *auditSocket
	if env.Variant == auditNetlink {
		s.Decode, s.Loaded = d.decodeRecord, nil
		s.Source = func(p *tracers.Program) (tracers.RecordSource, error) {
			d.exited = p.Coll.Maps["exited"]
			audit, err = openAudit(env)
			if err != nil {
				return nil, err
			}
			return audit.feed, nil
		}
	}
	err = tracers.RunStream[Event](ctx, env, spec, nil, s)
	if audit != nil {
		audit.report(env)
	}
	if d.stacks != nil {
		d.stacks.Report(env)
	}
	return err
}

// auditNetlink is the variant that reads the kernel's audit records.
const auditNetlink = "audit-netlink"

type decoder struct {
	clock   tracers.Clock
	strings tracers.Interner
	filter  tracers.Filter
	exited  *ebpf.Map // pid -> mount namespace of processes that exited
	stacks  *tracers.UserStacks
}

func (d *decoder) decodeKprobe(raw []byte, ev *Event) bool {
	e, _, ok := tracers.View[seccompSeccompEvent](raw, unsafe.Sizeof(seccompSeccompEvent{}))
	if !ok || !d.clock.DecodeHeader(raw, &ev.Event, &d.strings) {
		return false
	}
	ev.Syscall = tracers.SyscallName(int64(e.Syscall))
	ev.Code = CodeName(e.Code)
	// Now: after a kill the process is soon gone, with its mappings.
	ev.Ustack = d.stacks.Format(ev.Pid, (*tracers.UserStackOrigin)(unsafe.Pointer(&e.Ustack)))
	return true
}

// decodeRecord reads an AUDIT_SECCOMP record's text:
//
//	audit(1795741551.768:2): auid=4294967295 uid=0 gid=0 ses=4294967295
//	pid=12965 comm="t" exe="/tmp/t" sig=0 arch=c000003e syscall=110
//	compat=0 ip=0x7efd21985829 code=0x7ffc0000
//
// The process may be gone (a kill): its mount namespace is then the one
// the kernel saw it exit with.
func (d *decoder) decodeRecord(raw []byte, ev *Event) bool {
	text := string(bytes.TrimRight(raw, "\x00\n"))
	stamp, fields, ok := strings.Cut(text, "): ")
	if !ok || !strings.HasPrefix(stamp, "audit(") {
		return false
	}
	secs, _, _ := strings.Cut(strings.TrimPrefix(stamp, "audit("), ":")
	if f, err := strconv.ParseFloat(secs, 64); err == nil {
		ev.Timestamp = int64(f * float64(time.Second))
	}
	kv := auditFields(fields)
	pid, err1 := strconv.ParseUint(kv["pid"], 10, 32)
	nr, err2 := strconv.ParseInt(kv["syscall"], 10, 64)
	code, err3 := strconv.ParseUint(strings.TrimPrefix(kv["code"], "0x"), 16, 32)
	if err1 != nil || err2 != nil || err3 != nil {
		return false
	}
	ev.Pid, ev.Tid = uint32(pid), uint32(pid)
	ev.Comm = auditString(kv["comm"])
	if uid, err := strconv.ParseUint(kv["uid"], 10, 32); err == nil {
		ev.Uid = uint32(uid)
	}
	if gid, err := strconv.ParseUint(kv["gid"], 10, 32); err == nil {
		ev.Gid = uint32(gid)
	}
	ev.Syscall = tracers.SyscallName(nr)
	if kv["arch"] != "c000003e" || kv["compat"] == "1" { // not x86_64's numbers
		ev.Syscall = "syscall " + kv["syscall"] + " (arch " + kv["arch"] + ")"
	}
	ev.Code = CodeName(uint32(code))
	ev.MountNsID = d.mountNs(ev.Pid)
	f := d.filter
	ev.skip = f.Pid != 0 && ev.Pid != f.Pid || f.Comm != "" && ev.Comm != f.Comm
	return true
}

// mountNs is pid's mount namespace: from /proc while it runs, else as it
// exited; 0 when neither knows (the host's, then, as events without one).
func (d *decoder) mountNs(pid uint32) uint64 {
	if n, err := runtimes.MountNamespace(int(pid)); err == nil {
		return n
	}
	var ns uint64
	if d.exited != nil && d.exited.Lookup(pid, &ns) == nil {
		return ns
	}
	return 0
}

// auditFields splits an audit record's key=value pairs (values quoted,
// hex-encoded, or bare).
func auditFields(s string) map[string]string {
	kv := map[string]string{}
	for len(s) > 0 {
		s = strings.TrimLeft(s, " ")
		key, rest, ok := strings.Cut(s, "=")
		if !ok {
			break
		}
		var val string
		if strings.HasPrefix(rest, `"`) {
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				end = len(rest) - 1
			}
			val, s = rest[:end+2], rest[min(end+2, len(rest)):]
		} else {
			val, s, _ = strings.Cut(rest, " ")
		}
		kv[key] = val
	}
	return kv
}

// auditString is a string field's value: quoted, or hex when the kernel
// found characters it would not print as they are.
func auditString(v string) string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		return v[1 : len(v)-1]
	}
	if b, err := hex.DecodeString(v); err == nil {
		return string(b)
	}
	return v
}

// Seccomp actions (linux/seccomp.h), in the top 16 bits of code.
const (
	retKillProcess = 0x80000000
	retKillThread  = 0x00000000
	retTrap        = 0x00030000
	retErrno       = 0x00050000
	retUserNotif   = 0x7fc00000
	retTrace       = 0x7ff00000
	retLog         = 0x7ffc0000
	retAllow       = 0x7fff0000
	retActionFull  = 0xffff0000
)

// CodeName names a seccomp action as Inspektor Gadget does.
func CodeName(code uint32) string {
	switch code & retActionFull {
	case retKillProcess:
		return "kill_process"
	case retKillThread:
		return "kill_thread"
	case retTrap:
		return "trap"
	case retErrno:
		return "errno"
	case retUserNotif:
		return "user_notif"
	case retTrace:
		return "trace"
	case retLog:
		return "log"
	case retAllow:
		return "allow"
	}
	return "unknown"
}
