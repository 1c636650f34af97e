// Package oomkill is the trace oomkill gadget: the processes the OOM killer
// kills, the process that ran it, and the victim's memory cgroup.
package oomkill

import (
	"context"
	"errors"
	"fmt"
	"os"
	"unsafe"

	"github.com/cilium/ebpf/btf"

	igbtf "github.com/ig-tracer/ig/btf"
	"github.com/ig-tracer/ig/output"
	"github.com/ig-tracer/ig/tracers"
)

// Event is one OOM kill. JSON names follow Inspektor Gadget's trace
// oomkill. The common fields (pid, comm, uid, mountnsid, the container)
// are the victim's: the event is about it.
type Event struct {
	tracers.Event
	KilledPid     uint32 `json:"kpid" column:"kpid,width:7,right" desc:"the victim's process id (the same as pid)"`
	KilledComm    string `json:"kcomm" column:"kcomm,width:16" desc:"the victim's command name (the same as comm)"`
	Pages         uint64 `json:"pages" column:"pages,width:8,right" desc:"the victim's resident memory when it was chosen, in pages (anonymous, file and shared memory); 0 where the kernel does not give it (the tracepoint variant before 6.8)"`
	TriggeredPid  uint32 `json:"tpid" column:"tpid,width:7,right" desc:"the process that ran the OOM killer: the one whose allocation failed (may be the victim itself)"`
	TriggeredUid  uint32 `json:"tuid" column:"tuid,width:6,right" desc:"its user id"`
	TriggeredGid  uint32 `json:"tgid" column:"tgid,width:6,right" desc:"its group id"`
	TriggeredComm string `json:"tcomm" column:"tcomm,width:16" desc:"its command name"`
	MemcgLimit    uint64 `json:"memcgLimit" column:"memcglimit,width:12,right" desc:"the limit of the victim's memory cgroup in bytes (memory.max, memory.limit_in_bytes); 0 when it has none" unit:"bytes"`
	MemcgUsage    uint64 `json:"memcgUsage" column:"memcgusage,width:12,right" desc:"the memory the victim's memory cgroup used, in bytes: at the kill (tp_btf variant), or when the victim exited (tracepoint variant)" unit:"bytes"`
}

var schema = output.NewSchema[Event]()

func init() {
	tracers.Register(&tracers.Gadget{
		Category:    "trace",
		Name:        "oomkill",
		Description: "Trace processes killed by the OOM killer",
		Schema:      schema,
		Columns:     tracers.Fixed("container", "kpid", "kcomm", "pages", "tpid", "tcomm"),
		Run:         run,
		Unfit:       unfit,
	})
}

// unfit passes the tp_btf variant over where mark_victim does not pass the
// victim's task. The running kernel's own types say so: they hold the raw
// tracepoint the program attaches to (-v and ig requirements tell why).
func unfit(_ tracers.Args, variant string) string {
	if variant != "tp_btf" {
		return ""
	}
	kernel, err := igbtf.KernelCache().Kernel()
	if err != nil {
		return "" // no kernel BTF: the checker refuses tp_btf for that already
	}
	if err := victimPassed(kernel); err != nil {
		return err.Error()
	}
	return ""
}

func run(ctx context.Context, env *tracers.Env) error {
	spec, err := loadOomkill()
	if err != nil {
		return err
	}
	d := &decoder{clock: tracers.NewClock(), pageSize: uint64(os.Getpagesize())}
	return tracers.RunStream[Event](ctx, env, spec, nil, tracers.StreamSpec[Event]{Decode: d.decode})
}

// victimPassed checks that mark_victim passes the victim's task_struct, as
// the tp_btf variant reads it: since "mm: update mark_victim tracepoints
// fields" (6.8, backported to Debian's 5.10 and 6.1); before, it passed
// the victim's pid, which the program would read as a pointer.
func victimPassed(kernel *btf.Spec) error {
	var tp *btf.Typedef
	if err := kernel.TypeByName("btf_trace_mark_victim", &tp); err != nil {
		return fmt.Errorf("tp_btf/mark_victim: %w", err)
	}
	if ptr, ok := btf.UnderlyingType(tp).(*btf.Pointer); ok {
		if proto, ok := ptr.Target.(*btf.FuncProto); ok && len(proto.Params) >= 2 { // (void *, struct task_struct *, ...)
			if arg, ok := btf.UnderlyingType(proto.Params[1].Type).(*btf.Pointer); ok {
				if st, ok := btf.UnderlyingType(arg.Target).(*btf.Struct); ok && st.Name == "task_struct" {
					return nil
				}
			}
		}
	}
	return errors.New("tp_btf/mark_victim: this kernel's mark_victim passes the victim's pid, not its task_struct")
}

// eventSize is the whole record: oomkill_event has no variable tail.
var eventSize = unsafe.Sizeof(oomkillOomkillEvent{})

// pageCounterMax is the kernel's PAGE_COUNTER_MAX (LONG_MAX / PAGE_SIZE on
// 64-bit): the max of a memory cgroup without a limit.
const pageCounterMax = (1<<63 - 1) / 4096

type decoder struct {
	clock    tracers.Clock
	strings  tracers.Interner
	pageSize uint64
}

func (d *decoder) decode(raw []byte, ev *Event) bool {
	e, _, ok := tracers.View[oomkillOomkillEvent](raw, eventSize)
	if !ok || !d.clock.DecodeHeader(raw, &ev.Event, &d.strings) {
		return false
	}
	ev.KilledPid = ev.Pid
	ev.KilledComm = ev.Comm
	ev.Pages = e.Pages
	ev.TriggeredPid, ev.TriggeredUid, ev.TriggeredGid = e.Tpid, e.Tuid, e.Tgid
	ev.TriggeredComm = d.strings.String(tracers.CString(e.Tcomm[:]))
	if e.MemcgLimit < pageCounterMax {
		ev.MemcgLimit = e.MemcgLimit * d.pageSize
	}
	ev.MemcgUsage = e.MemcgUsage * d.pageSize
	return true
}
