// Package tcpdrop is the trace tcpdrop gadget: TCP packets the kernel
// dropped, with its reason, the connection and its process.
package tcpdrop

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"unsafe"

	"github.com/cilium/ebpf/btf"

	"github.com/ig-tracer/ig/output"
	"github.com/ig-tracer/ig/tracers"
)

// Event is one dropped packet. JSON names follow Inspektor Gadget's trace
// tcpdrop.
type Event struct {
	tracers.Event
	tracers.Connection
	State    string `json:"state" column:"state,width:11" desc:"the socket's TCP state"`
	TCPFlags string `json:"tcpflags" column:"tcpflags,width:12" desc:"the dropped segment's TCP flags; empty when its TCP header was not built yet"`
	Reason   string `json:"reason" column:"reason,width:22" desc:"why the kernel dropped it: its skb_drop_reason, named from this kernel's BTF (NETFILTER_DROP, TCP_CSUM...)"`
	// As IG's: the stack's id, and its kernel functions as IG writes them.
	KernelStack    string `json:"kernel_stack" column:"kernel_stack,width:60" desc:"the kernel stack of the drop, innermost first, as \"[0]sk_skb_reason_drop; [1]nf_hook_slow; ...; \" (functions from /proc/kallsyms, [unknown] where none holds the address); empty when the stack map had no room for it (counted, and said at the end)"`
	KernelStackRaw uint32 `json:"kernel_stack_raw" desc:"the stack's id in ig's stack map: drops with the same stack have the same id; when none was stored, the kernel's error as an unsigned number, as Inspektor Gadget writes it (4294967279 for -EEXIST, the stack's bucket held another)"`
}

var schema = output.NewSchema[Event]()

func init() {
	tracers.Register(&tracers.Gadget{
		Category:    "trace",
		Name:        "tcpdrop",
		Description: "Trace TCP packets the kernel drops, with its reason",
		Schema:      schema,
		Columns:     tracers.Fixed("container", "pid", "comm", "ip", "src", "dst", "state", "tcpflags", "reason"),
		Run:         run,
	})
}

func run(ctx context.Context, env *tracers.Env) error {
	reasons, err := dropReasons(env.KernelTypes)
	if err != nil {
		return err
	}
	spec, err := loadTcpdrop()
	if err != nil {
		return err
	}
	d := &decoder{clock: tracers.NewClock(), reasons: reasons}
	err = tracers.RunStream[Event](ctx, env, spec, nil,
		tracers.StreamSpec[Event]{Decode: d.decode, NetNs: func(ev *Event) uint64 { return ev.NetNsID },
			Loaded: func(p *tracers.Program) { d.stacks = tracers.NewKernelStacks(p.Coll.Maps[tracers.StackMapName]) }})
	if d.stacks != nil {
		d.stacks.Report(env)
	}
	return err
}

// dropReasons names the kernel's drop reasons, which differ from one
// kernel to the next: the values of its enum skb_drop_reason, without
// the SKB_DROP_REASON_ prefix.
func dropReasons(kernel *btf.Spec) (map[uint32]string, error) {
	if kernel == nil {
		var err error
		if kernel, err = btf.LoadKernelSpec(); err != nil {
			return nil, err
		}
	}
	var enum *btf.Enum
	if err := kernel.TypeByName("skb_drop_reason", &enum); err != nil {
		return nil, errors.New("this kernel's BTF has no enum skb_drop_reason: drop reasons need kernel 5.17 or later")
	}
	names := make(map[uint32]string, len(enum.Values))
	for _, v := range enum.Values {
		names[uint32(v.Value)] = strings.TrimPrefix(v.Name, "SKB_DROP_REASON_")
	}
	return names, nil
}

type decoder struct {
	clock   tracers.Clock
	strings tracers.Interner
	flags   tracers.TCPFlags
	reasons map[uint32]string
	stacks  *tracers.KernelStacks
}

func (d *decoder) decode(raw []byte, ev *Event) bool {
	e, _, ok := tracers.View[tcpdropDropEvent](raw, unsafe.Sizeof(tcpdropDropEvent{}))
	if !ok || !d.clock.DecodeSockHeader(raw, e.Owner != 0, &ev.Event, &d.strings) {
		return false
	}
	ends := &e.Ends
	ev.SetConnection(ends.Family, ends.Saddr, ends.Daddr, ends.Lport, ends.Dport, e.Netns)
	ev.State = tracers.TCPState(e.State)
	if e.Tcpflags != 0 {
		ev.TCPFlags = d.flags.Name(e.Tcpflags)
	}
	if name, ok := d.reasons[e.Reason]; ok {
		ev.Reason = name
	} else {
		ev.Reason = strconv.FormatUint(uint64(e.Reason), 10)
	}
	ev.KernelStackRaw = uint32(e.KernelStack)
	ev.KernelStack = d.stacks.Format(e.KernelStack)
	return true
}
