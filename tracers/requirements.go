package tracers

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/cilium/ebpf"
)

// Variant is one way of implementing a gadget, with everything it needs from
// the kernel. A gadget lists its variants in order of preference; the checker
// picks the first one this host offers. Its JSON form (MarshalJSON) is the one
// `ig requirements -o json` prints.
type Variant struct {
	Name         string
	MinKernel    string   // major.minor; "" means any (JSON and tables say AnyKernel)
	Configs      []string // CONFIG_* beyond BaseConfigs
	ProgramTypes []ebpf.ProgramType
	MapTypes     []ebpf.MapType
	Tracepoints  []string // GROUP/NAME in tracefs
	// Optional are tracepoints of Tracepoints the gadget runs without where
	// the kernel lacks them (arm64 has no sys_enter_open): their programs
	// are then neither loaded nor attached, and -v says so.
	Optional    []string
	KernelFuncs []string // kprobe/kretprobe targets
	// Fentry are fentry/fexit targets: Tracing programs attached by BTF id,
	// probed by loading an fentry program on each (a kernel may refuse
	// fentry and take tp_btf; this CI host does).
	Fentry []string
	// BTFTracepoints are raw tracepoints attached by BTF id (tp_btf/NAME
	// sections): Tracing programs, probed by loading one, not by fentry.
	BTFTracepoints []string
	Iterators      []string // bpf_iter_<name>
	// SeedIterators are iterators run once at start where the kernel has
	// its BTF (bpf/sock.h's seed of socket owners): used, never required.
	SeedIterators []string
	PerfEvents    []string // perf events its perf_event programs sample (cpu-clock)
	KernelBTF     bool     // needs /sys/kernel/btf/vmlinux itself (attach by BTF id)
	NoBPF         bool     // a fallback that loads nothing (e.g. reads /proc)
}

// Requirements is one row of the requirements table.
type Requirements struct {
	Gadget      string    `json:"gadget"`
	Implemented bool      `json:"implemented"` // set by Register: a gadget is implemented when it is registered
	Variants    []Variant `json:"variants"`
	Note        string    `json:"note,omitempty"`
}

// captureVariants are the packet gadgets' (tracers.RunCapture): a socket
// filter per network namespace and, where the kernel has its BTF, the
// tp_btf program that records the process behind each local port
// (bpf/capture.h).
var captureVariants = []Variant{
	{Name: "socket-filter", MinKernel: "5.8", ProgramTypes: []ebpf.ProgramType{ebpf.SocketFilter, ebpf.Tracing},
		MapTypes: []ebpf.MapType{ebpf.RingBuf, ebpf.PerCPUArray, ebpf.LRUHash}, BTFTracepoints: []string{"net_dev_queue"}, KernelBTF: true},
	{Name: "socket-filter-no-btf", MinKernel: "5.8", ProgramTypes: []ebpf.ProgramType{ebpf.SocketFilter},
		MapTypes: []ebpf.MapType{ebpf.RingBuf, ebpf.PerCPUArray, ebpf.LRUHash}},
}

// BaseConfigs are needed by every gadget that loads eBPF.
var BaseConfigs = []string{"CONFIG_BPF", "CONFIG_BPF_SYSCALL"}

// Shared pieces of the table.
var (
	// Every streaming gadget sends events through a BPF ring buffer (5.8).
	ringBuffer = []ebpf.MapType{ebpf.RingBuf}
	// Top gadgets add up in a hash map, read and cleared in batches.
	topMaps = []ebpf.MapType{ebpf.Hash}
	// Network stream gadgets: events, and sockets' owners (LRU) beside
	// the namespace verdicts.
	socketOwners = []ebpf.MapType{ebpf.RingBuf, ebpf.LRUHash, ebpf.PerCPUArray}
	// Histograms by namespace, with the kernel's verdicts on namespaces.
	histMaps = []ebpf.MapType{ebpf.Hash, ebpf.LRUHash}
	// Programs on tracepoints; syscall tracepoints also need FTRACE_SYSCALLS.
	tracepointConfigs = []string{"CONFIG_BPF_EVENTS"}
	syscallConfigs    = []string{"CONFIG_BPF_EVENTS", "CONFIG_FTRACE_SYSCALLS"}
	kprobeConfigs     = []string{"CONFIG_BPF_EVENTS", "CONFIG_KPROBES", "CONFIG_KPROBE_EVENTS"}
	kretprobeConfigs  = []string{"CONFIG_BPF_EVENTS", "CONFIG_KPROBES", "CONFIG_KPROBE_EVENTS", "CONFIG_KRETPROBES"}
	tp                = []ebpf.ProgramType{ebpf.TracePoint}
	kp                = []ebpf.ProgramType{ebpf.Kprobe}
	// Iterators (SEC("iter/...")) are tracing programs attached to bpf_iter_<name>.
	iter = []ebpf.ProgramType{ebpf.Tracing}
	// Tracepoints, and the socket owners' seed (an iterator: Tracing).
	tpSeed = []ebpf.ProgramType{ebpf.TracePoint, ebpf.Tracing}
	// tp_btf programs (raw tracepoints with BTF) are Tracing programs too.
	tracing = []ebpf.ProgramType{ebpf.Tracing}
)

// sysExits are the exit tracepoints of system calls, for gadgets that
// read the arguments from the saved registers at exit (ig_current_regs).
func sysExits(names ...string) []string {
	var out []string
	for _, n := range names {
		out = append(out, "syscalls/sys_exit_"+n)
	}
	return out
}

// blockRequests are the raw block tracepoints bpf/block.h times requests
// with (block_rq_merge came in 5.9).
// seedIterators: the socket owners' seed (bpf/sock.h IG_SOCK_OWNER_SEED).
var seedIterators = []string{"task_file"}

// tcpOwnerTracepoints keep the sockets' owners (bpf/sock.h): connect, accept.
var tcpOwnerTracepoints = append([]string{"sock/inet_sock_set_state"}, sysExits("accept", "accept4")...)

// tcpRetransTracepoints: retransmissions, and the sockets' owners.
var tcpRetransTracepoints = append([]string{"tcp/tcp_retransmit_skb"}, tcpOwnerTracepoints...)

// execTracepoints: the system calls, and the exec itself (a raw
// tracepoint, for its struct linux_binprm).
var execTracepoints = append(syscalls("execve", "execveat"), "sched/sched_process_exec")

func execPrograms(more ...ebpf.ProgramType) []ebpf.ProgramType {
	return append([]ebpf.ProgramType{ebpf.TracePoint, ebpf.RawTracepoint}, more...)
}

var blockRequests = []string{"block_rq_insert", "block_rq_issue", "block_rq_merge", "block_rq_complete"}

func syscalls(names ...string) []string {
	var out []string
	for _, n := range names {
		out = append(out, "syscalls/sys_enter_"+n, "syscalls/sys_exit_"+n)
	}
	return out
}

// Table is the requirements of every gadget of the seed's table, for the way
// ig implements (or will implement) it: tracepoints first, as DESIGN.md says.
// Minimum kernels follow from what is attached: ring buffer 5.8, task
// iterator 5.8, TCP/UDP iterators 5.9, block/block_rq_merge 5.9, skb/kfree_skb reason 5.17,
// capability/cap_capable 6.14, sock_send_length 6.3.
var Table = []Requirements{
	{Gadget: "advise network-policy", Variants: []Variant{{Name: "tracepoint", MinKernel: "5.8",
		Configs: append([]string{"CONFIG_NET"}, tracepointConfigs...), ProgramTypes: tp, MapTypes: []ebpf.MapType{ebpf.Hash, ebpf.LRUHash},
		Tracepoints: []string{"sock/inet_sock_set_state", "net/net_dev_queue"}}},
		Note: "connections counted in the kernel per network namespace: TCP connects and accepts (state changes), UDP datagrams sent (read from the packet as it leaves a device); UDP received is not seen"},
	{Gadget: "advise seccomp-profile", Variants: []Variant{{Name: "tracepoint", MinKernel: "5.8",
		Configs: []string{"CONFIG_BPF_EVENTS", "CONFIG_FTRACE_SYSCALLS", "CONFIG_SECCOMP_FILTER"}, ProgramTypes: tp, MapTypes: topMaps,
		Tracepoints: []string{"raw_syscalls/sys_enter"}}},
		Note: "the system calls each container's mount namespace made, one byte per number, in the kernel"},
	{Gadget: "audit seccomp", Variants: []Variant{
		{Name: "kprobe", MinKernel: "5.8", Configs: append([]string{"CONFIG_AUDIT", "CONFIG_SECCOMP_FILTER"}, kprobeConfigs...),
			ProgramTypes: kp, MapTypes: []ebpf.MapType{ebpf.RingBuf, ebpf.StackTrace}, KernelFuncs: []string{"audit_seccomp"}},
		{Name: "audit-netlink", MinKernel: "5.8", Configs: append([]string{"CONFIG_AUDIT", "CONFIG_SECCOMP_FILTER"}, tracepointConfigs...),
			ProgramTypes: tp, MapTypes: []ebpf.MapType{ebpf.LRUHash}, Tracepoints: []string{"sched/sched_process_exit"}}},
		Note: "no tracepoint reports seccomp actions: without kprobes, the kernel's own audit records (netlink read-log group, needs CAP_AUDIT_READ), " +
			"with the exit tracepoint for the mount namespace of a process already gone; only the kprobe variant has the user stack"},
	{Gadget: "profile block-io", Variants: []Variant{{Name: "tp_btf", MinKernel: "5.9",
		Configs: tracepointConfigs, ProgramTypes: tracing,
		MapTypes: []ebpf.MapType{ebpf.Hash, ebpf.LRUHash}, BTFTracepoints: blockRequests, KernelBTF: true}},
		Note: "the tracefs block tracepoints do not give the request, which times it"},
	{Gadget: "profile cpu", Variants: []Variant{{Name: "perf-event", MinKernel: "5.8",
		Configs: []string{"CONFIG_PERF_EVENTS"}, ProgramTypes: []ebpf.ProgramType{ebpf.PerfEvent},
		MapTypes: []ebpf.MapType{ebpf.StackTrace, ebpf.Hash}, PerfEvents: []string{"cpu-clock"}}}},
	{Gadget: "profile tcprtt", Variants: []Variant{
		{Name: "tp_btf", MinKernel: "5.8", Configs: tracepointConfigs, ProgramTypes: tracing, MapTypes: histMaps,
			KernelBTF: true, BTFTracepoints: []string{"tcp_probe"}},
		{Name: "tracepoint", MinKernel: "5.8", Configs: tracepointConfigs, ProgramTypes: tp, MapTypes: histMaps, Tracepoints: []string{"tcp/tcp_probe"}},
		{Name: "kprobe", MinKernel: "5.8", Configs: kprobeConfigs, ProgramTypes: kp, MapTypes: histMaps, KernelFuncs: []string{"tcp_rcv_established"}}},
		Note: "the tracefs tracepoint does not give the socket's network namespace: no -c, --containers or --per-container"},
	{Gadget: "snapshot process", Variants: []Variant{
		{Name: "iter/task", MinKernel: "5.8", ProgramTypes: iter, Iterators: []string{"task"}, KernelBTF: true},
		{Name: "/proc", NoBPF: true}},
		Note: "without task iterators it reads /proc"},
	{Gadget: "snapshot socket", Variants: []Variant{
		{Name: "iter/tcp+udp", MinKernel: "5.9", ProgramTypes: iter, Iterators: []string{"tcp", "udp", "task_file"}, KernelBTF: true},
		{Name: "netlink", NoBPF: true, Configs: []string{"CONFIG_INET_DIAG", "CONFIG_INET_TCP_DIAG", "CONFIG_INET_UDP_DIAG"}}},
		Note: "without socket iterators it asks netlink sock_diag, and /proc for the processes; unix sockets from /proc/net/unix, per network namespace"},
	{Gadget: "top file", Variants: []Variant{
		{Name: "tp_btf", MinKernel: "5.8", Configs: tracepointConfigs, ProgramTypes: tracing, MapTypes: topMaps,
			KernelBTF: true, BTFTracepoints: []string{"sys_exit"}},
		{Name: "tracepoint", MinKernel: "5.8", Configs: syscallConfigs, ProgramTypes: tp, MapTypes: topMaps,
			Tracepoints: sysExits("read", "pread64", "readv", "preadv", "preadv2", "write", "pwrite64", "writev", "pwritev", "pwritev2", "sendfile64")},
		{Name: "fexit", MinKernel: "5.8", Configs: []string{"CONFIG_BPF_JIT", "CONFIG_DEBUG_INFO_BTF"},
			ProgramTypes: []ebpf.ProgramType{ebpf.Tracing}, MapTypes: topMaps, KernelBTF: true,
			Fentry: []string{"vfs_read", "vfs_write"}}},
		Note: "tp_btf and tracepoint count read and write system calls (readv, sendfile and the like too); fexit counts vfs_read and vfs_write calls, the kernel's own included"},
	{Gadget: "top block-io", Variants: []Variant{{Name: "tp_btf", MinKernel: "5.9",
		Configs: tracepointConfigs, ProgramTypes: tracing,
		MapTypes: []ebpf.MapType{ebpf.Hash, ebpf.LRUHash}, BTFTracepoints: blockRequests, KernelBTF: true}},
		Note: "the tracefs block tracepoints do not give the request, which times it"},
	{Gadget: "top tcp", Variants: []Variant{
		{Name: "tracepoint", MinKernel: "6.3", Configs: tracepointConfigs, ProgramTypes: tp,
			Tracepoints: []string{"sock/sock_send_length", "sock/sock_recv_length"}},
		{Name: "kprobe", MinKernel: "5.8", Configs: kretprobeConfigs, ProgramTypes: kp,
			KernelFuncs: []string{"tcp_sendmsg", "tcp_cleanup_rbuf"}}},
		Note: "kprobe: tcp_sendmsg's return value is what was sent, so it needs kretprobes too"},
	{Gadget: "trace bind", Variants: []Variant{{Name: "tracepoint", MinKernel: "5.8",
		Configs: syscallConfigs, ProgramTypes: tp, MapTypes: ringBuffer, Tracepoints: syscalls("bind")}}},
	{Gadget: "trace capabilities", Variants: []Variant{
		{Name: "tracepoint", MinKernel: "6.14", Configs: tracepointConfigs, ProgramTypes: tp, MapTypes: ringBuffer,
			Tracepoints: []string{"capability/cap_capable"}},
		{Name: "kprobe", MinKernel: "5.8", Configs: kretprobeConfigs, ProgramTypes: kp, MapTypes: ringBuffer,
			KernelFuncs: []string{"cap_capable"}}},
		Note: "the tracepoint does not carry the check's options: audit and insetid need the kprobe variant"},
	{Gadget: "trace dns", Variants: captureVariants,
		Note: "a packet socket per network namespace; the process is the client's, found by its local port, when it is on this host; " +
			"without kernel BTF there is none (pid 0) and the container is the namespace's"},
	{Gadget: "trace exec", Variants: []Variant{
		{Name: "kprobe", MinKernel: "5.8", Configs: append([]string{"CONFIG_SECURITY", "CONFIG_FTRACE_SYSCALLS"}, kprobeConfigs...),
			ProgramTypes: execPrograms(ebpf.Kprobe), MapTypes: ringBuffer,
			Tracepoints: execTracepoints, KernelFuncs: []string{"security_bprm_check"}},
		{Name: "tracepoint", MinKernel: "5.8", Configs: syscallConfigs, ProgramTypes: execPrograms(),
			MapTypes: ringBuffer, Tracepoints: execTracepoints}},
		Note: "a script's own file (file, its device, inode and fupper_layer) needs the kprobe variant: " +
			"without it file is the path as passed, with no device or inode"},
	{Gadget: "trace fsslower", Variants: []Variant{
		{Name: "fentry", MinKernel: "5.8", Configs: []string{"CONFIG_BPF_JIT", "CONFIG_DEBUG_INFO_BTF", "CONFIG_BPF_EVENTS", "CONFIG_FTRACE_SYSCALLS"},
			ProgramTypes: []ebpf.ProgramType{ebpf.Tracing, ebpf.TracePoint}, MapTypes: ringBuffer, KernelBTF: true,
			Fentry:      []string{"vfs_read", "vfs_write", "vfs_open"},
			Tracepoints: syscalls("fsync", "fdatasync")},
		{Name: "tracepoint", MinKernel: "5.8", Configs: syscallConfigs, ProgramTypes: tp, MapTypes: ringBuffer,
			Tracepoints: syscalls("read", "readv", "pread64", "write", "writev", "pwrite64", "fsync", "fdatasync", "open", "openat", "openat2"),
			Optional:    syscalls("open")}},
		Note: "fentry measures the VFS call; the tracepoint variant the whole system call; fsyncs are timed at the system call by both"},
	{Gadget: "trace mount", Variants: []Variant{{Name: "tracepoint", MinKernel: "5.8",
		Configs: syscallConfigs, ProgramTypes: tp, MapTypes: ringBuffer,
		Tracepoints: syscalls("mount", "umount", "fsopen", "fsconfig", "fsmount", "move_mount", "open_tree", "mount_setattr"),
		// mount_setattr came in 5.12; the rest of the new mount API in 5.2.
		Optional: syscalls("mount_setattr")}}},
	{Gadget: "trace oomkill", Variants: []Variant{
		// 6.8 made mark_victim pass the victim's task_struct (it passed its pid); Debian backported
		// it to 5.10 and 6.1. Where it has not, Run says so and the tracepoint variant runs.
		{Name: "tp_btf", MinKernel: "5.8", Configs: tracepointConfigs,
			ProgramTypes: tracing, MapTypes: ringBuffer,
			BTFTracepoints: []string{"mark_victim"}, KernelBTF: true},
		{Name: "tracepoint", MinKernel: "5.8", Configs: tracepointConfigs, ProgramTypes: tp, MapTypes: ringBuffer,
			Tracepoints: []string{"oom/mark_victim", "sched/sched_process_exit"}}},
		Note: "tp_btf: everything at the kill; tracepoint: the event comes when the victim exits"},
	{Gadget: "trace open", Variants: []Variant{
		{Name: "tp_btf", MinKernel: "5.8", Configs: tracepointConfigs, ProgramTypes: tracing, MapTypes: ringBuffer,
			BTFTracepoints: []string{"sys_exit"}, KernelBTF: true},
		{Name: "tracepoint", MinKernel: "5.8", Configs: syscallConfigs, ProgramTypes: tp, MapTypes: ringBuffer,
			Tracepoints: syscalls("open", "openat", "openat2"), Optional: syscalls("open")}}},
	{Gadget: "trace signal", Variants: []Variant{{Name: "tracepoint", MinKernel: "5.8",
		Configs: syscallConfigs, ProgramTypes: tp, MapTypes: ringBuffer,
		Tracepoints: append(syscalls("kill", "tkill", "tgkill"), "signal/signal_generate")}}},
	{Gadget: "trace sni", Variants: captureVariants,
		Note: "a packet socket per network namespace; the process is the client's when it is on this host (without kernel BTF, none)"},
	{Gadget: "trace tcp", Variants: []Variant{{Name: "tracepoint", MinKernel: "5.8",
		Configs: syscallConfigs, ProgramTypes: tpSeed, MapTypes: socketOwners,
		Tracepoints: append([]string{"sock/inet_sock_set_state"}, sysExits("accept", "accept4")...), SeedIterators: seedIterators}},
		Note: "sockets open before ig started get their processes from a task-file iterator where the kernel has BTF"},
	{Gadget: "trace tcpconnect", Variants: []Variant{{Name: "tracepoint", MinKernel: "5.8",
		Configs: tracepointConfigs, ProgramTypes: tp, MapTypes: []ebpf.MapType{ebpf.RingBuf, ebpf.LRUHash},
		Tracepoints: []string{"sock/inet_sock_set_state"}}},
		Note: "an attempt is reported at its outcome: the source port is chosen after the tracepoint fires for the attempt"},
	{Gadget: "trace tcpdrop", Variants: []Variant{{Name: "tracepoint", MinKernel: "5.17",
		Configs: syscallConfigs, ProgramTypes: tpSeed, MapTypes: []ebpf.MapType{ebpf.RingBuf, ebpf.LRUHash, ebpf.StackTrace},
		Tracepoints: append([]string{"skb/kfree_skb"}, tcpOwnerTracepoints...), SeedIterators: seedIterators, KernelBTF: true}},
		Note: "kfree_skb has the drop reason since 5.17; only packets with a socket are reported"},
	{Gadget: "trace tcpretrans", Variants: []Variant{
		{Name: "kprobe", MinKernel: "5.8", Configs: append(slices.Clone(syscallConfigs), "CONFIG_KPROBES", "CONFIG_KPROBE_EVENTS"),
			ProgramTypes: []ebpf.ProgramType{ebpf.TracePoint, ebpf.Kprobe, ebpf.Tracing}, MapTypes: []ebpf.MapType{ebpf.RingBuf, ebpf.LRUHash},
			Tracepoints: tcpRetransTracepoints, KernelFuncs: []string{"tcp_send_loss_probe"}, SeedIterators: seedIterators},
		{Name: "tracepoint", MinKernel: "5.8", Configs: syscallConfigs, ProgramTypes: tpSeed, MapTypes: []ebpf.MapType{ebpf.RingBuf, ebpf.LRUHash},
			Tracepoints: tcpRetransTracepoints, SeedIterators: seedIterators}},
		Note: "tail-loss probes (type LOSS) have no tracepoint: only the kprobe variant sees them"},
	{Gadget: "script", Variants: []Variant{{Name: "bpftrace", NoBPF: true, Configs: tracepointConfigs}},
		Note: "runs bpftrace (from the distribution, on PATH), which loads the programs: what a script needs (kprobes...) is bpftrace's to check"},
	{Gadget: "traceloop", Variants: []Variant{{Name: "raw-tracepoint", MinKernel: "5.8",
		Configs: syscallConfigs, ProgramTypes: []ebpf.ProgramType{ebpf.RawTracepoint, ebpf.TracePoint},
		MapTypes:    []ebpf.MapType{ebpf.PerfEventArray, ebpf.HashOfMaps},
		Tracepoints: []string{"raw_syscalls/sys_enter", "raw_syscalls/sys_exit", "sched/sched_process_exit"}}},
		Note: "an overwritable perf buffer per recorded mount namespace; argument names and which are strings come from tracefs's syscall formats"},
}

var requirementsByName = func() map[string]*Requirements {
	m := map[string]*Requirements{}
	for i := range Table {
		m[Table[i].Gadget] = &Table[i]
	}
	return m
}()

// MustRequirementsOf is RequirementsOf for a registered gadget, which has a row.
func MustRequirementsOf(gadget string) *Requirements {
	r, ok := requirementsByName[gadget]
	if !ok {
		panic("tracers: no requirements row for " + gadget)
	}
	return r
}

// RequirementsOf returns the table row of a gadget.
func RequirementsOf(gadget string) (*Requirements, bool) {
	r, ok := requirementsByName[gadget]
	return r, ok
}

// AnyKernel is how tables and JSON write a variant's minimum kernel when it has none.
const AnyKernel = "any"

// MinKernelOrAny is the variant's minimum kernel as tables and JSON show it.
func (v *Variant) MinKernelOrAny() string {
	if v.MinKernel == "" {
		return AnyKernel
	}
	return v.MinKernel
}

// ProgramTypeNames names the variant's program types as cilium/ebpf does (TracePoint,
// Kprobe, Tracing, …), the names refusals use; never nil.
func (v *Variant) ProgramTypeNames() []string { return typeNames(v.ProgramTypes) }

func typeNames[T fmt.Stringer](types []T) []string {
	names := []string{}
	for _, t := range types {
		names = append(names, t.String())
	}
	return names
}

// MarshalJSON writes every field of the variant, program and map types by name and
// AnyKernel for no minimum kernel.
func (v Variant) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Name         string   `json:"name"`
		MinKernel    string   `json:"minKernel"`
		Configs      []string `json:"configs"`
		ProgramTypes []string `json:"programTypes"`
		MapTypes     []string `json:"mapTypes"`
		Tracepoints  []string `json:"tracepoints"`
		Optional     []string `json:"optional"`
		KernelFuncs  []string `json:"kernelFuncs"`
		Fentry       []string `json:"fentry"`
		BTFTps       []string `json:"btfTracepoints"`
		Iterators    []string `json:"iterators"`
		Seed         []string `json:"seedIterators"`
		PerfEvents   []string `json:"perfEvents"`
		KernelBTF    bool     `json:"kernelBTF"`
		NoBPF        bool     `json:"noBPF"`
	}{v.Name, v.MinKernelOrAny(), v.Configs, v.ProgramTypeNames(), typeNames(v.MapTypes),
		v.Tracepoints, v.Optional, v.KernelFuncs, v.Fentry, v.BTFTracepoints, v.Iterators, v.SeedIterators, v.PerfEvents, v.KernelBTF, v.NoBPF})
}

// MinKernel is the oldest kernel any variant runs on: major.minor, or AnyKernel.
func (r *Requirements) MinKernel() string {
	best := ""
	for _, v := range r.Variants {
		if v.MinKernel == "" {
			return AnyKernel
		}
		if best == "" || compareVersions(v.MinKernel, best) < 0 {
			best = v.MinKernel
		}
	}
	return best
}

// Verdict is what the checker says of one gadget on one host.
type Verdict struct {
	OK      bool
	Variant string   // the variant to use when OK
	Missing []string // why each variant cannot run (when not OK)
	Skipped []string // optional tracepoints of the variant this kernel lacks (when OK)
	// PassedOver says why each variant before the chosen one cannot run
	// here ("iter/task: no task iterator"), for -v.
	PassedOver []string
	// Fallbacks are the later variants this host offers too, in order:
	// RunVariants tries them when the chosen one fails to attach.
	Fallbacks []Verdict
	// LaterMissing says why each later variant the host does not offer
	// cannot run here, for a refusal when a run's flags rule out the rest
	// (Verdict.ForArgs).
	LaterMissing []string
}

// CheckVariant is Check for the one variant name (--variant): an error
// names the variants there are when the gadget has none of that name, and
// says why when it cannot run here.
func (h *Host) CheckVariant(r *Requirements, name string) (Verdict, error) {
	var names []string
	for _, v := range r.Variants {
		names = append(names, v.Name)
	}
	i := slices.IndexFunc(r.Variants, func(v Variant) bool { return v.Name == name })
	if i < 0 {
		return Verdict{}, fmt.Errorf("%s has no variant %q; its variants: %s", r.Gadget, name, strings.Join(names, ", "))
	}
	one := *r
	one.Variants = r.Variants[i : i+1]
	v := h.Check(&one)
	if !v.OK {
		return v, fmt.Errorf("%s: variant %s cannot run here: %s (its variants: %s)", r.Gadget, name, v.Reason(), strings.Join(names, ", "))
	}
	return v, nil
}

// Reason is a one-line explanation of a refusal.
func (v Verdict) Reason() string { return strings.Join(v.Missing, "; ") }

// Check compares the host with a gadget's row.
func (h *Host) Check(r *Requirements) Verdict {
	var missing, reasons []string
	for i, v := range r.Variants {
		m := h.missing(&v)
		if len(m) == 0 {
			if !r.Implemented {
				return Verdict{Variant: v.Name, Missing: []string{"not implemented yet"}}
			}
			verdict := Verdict{OK: true, Variant: v.Name, Skipped: h.skipped(&v), PassedOver: missing}
			for _, later := range r.Variants[i+1:] {
				if m := h.missing(&later); len(m) > 0 {
					verdict.LaterMissing = append(verdict.LaterMissing, later.Name+": "+strings.Join(m, ", "))
				} else {
					verdict.Fallbacks = append(verdict.Fallbacks, Verdict{OK: true, Variant: later.Name, Skipped: h.skipped(&later)})
				}
			}
			return verdict
		}
		missing = append(missing, v.Name+": "+strings.Join(m, ", "))
		reasons = append(reasons, strings.Join(m, ", "))
	}
	// One variant, or the same reason for every one (no kernel BTF, say):
	// said once, without the variants' names.
	if len(reasons) > 0 && !slices.ContainsFunc(reasons, func(r string) bool { return r != reasons[0] }) {
		missing = reasons[:1]
	}
	if !r.Implemented {
		missing = append([]string{"not implemented yet"}, missing...)
	}
	return Verdict{Missing: missing}
}

// Error is the refusal a gadget prints before loading anything.
func (v Verdict) Error(gadget string) error {
	return fmt.Errorf("%s: %s", gadget, v.Reason())
}

// skipped lists the optional tracepoints of v the host lacks.
func (h *Host) skipped(v *Variant) []string {
	var out []string
	if h.Probes == nil {
		return nil
	}
	for _, tp := range v.Optional {
		if !h.Probes.Tracepoint(tp) {
			out = append(out, tp)
		}
	}
	return out
}

// missing lists what the host lacks for variant v, most basic first.
func (h *Host) missing(v *Variant) []string {
	var out []string
	if v.MinKernel != "" && compareVersions(h.Version, v.MinKernel) < 0 {
		out = append(out, fmt.Sprintf("kernel %s is older than %s", h.Release, v.MinKernel))
	}
	if v.NoBPF {
		return out
	}
	if h.Config != nil {
		var lacks []string
		for _, c := range append(append([]string{}, BaseConfigs...), v.Configs...) {
			if !h.HasConfig(c) {
				lacks = append(lacks, c)
			}
		}
		if len(lacks) > 0 {
			out = append(out, "kernel lacks "+strings.Join(lacks, ", "))
		}
	}
	if h.BTF != nil && h.BTF.Source == "" {
		out = append(out, "no kernel BTF ("+h.BTF.Missing+")")
	}
	if v.KernelBTF && !h.KernelBTF {
		out = append(out, "no kernel BTF (/sys/kernel/btf/vmlinux)")
	}
	if h.Probes == nil {
		return out
	}
	for _, t := range v.ProgramTypes {
		if t == ebpf.Tracing && len(v.Iterators)+len(v.SeedIterators)+len(v.BTFTracepoints)+len(v.Fentry) > 0 {
			// cilium/ebpf probes Tracing with an fentry program on a function of
			// its choice, which a kernel may refuse while its iterators and BTF
			// tracepoints work (this CI host does): the checks below probe
			// what will be attached.
			continue
		}
		if err := h.Probes.ProgramType(t); err != nil {
			out = append(out, fmt.Sprintf("program type %s unsupported", t))
		}
	}
	for _, t := range v.MapTypes {
		if err := h.Probes.MapType(t); err != nil {
			out = append(out, fmt.Sprintf("map type %s unsupported", t))
		}
	}
	for _, tp := range v.Tracepoints {
		if !slices.Contains(v.Optional, tp) && !h.Probes.Tracepoint(tp) {
			out = append(out, "no tracepoint "+tp)
		}
	}
	if len(v.KernelFuncs) > 0 && !h.Probes.Kprobes() {
		// Said once; looking the functions up (in kallsyms, a fifth
		// of a second) would change nothing.
		out = append(out, "kprobes unavailable")
	} else {
		for _, fn := range v.KernelFuncs {
			if !h.Probes.KernelFunc(fn) {
				out = append(out, "no kernel function "+fn)
			}
		}
	}
	for _, fn := range v.Fentry {
		if err := h.Probes.Fentry(fn); err != nil {
			out = append(out, fmt.Sprintf("fentry %s refused (%v)", fn, err))
			break // the same answer for every function, most likely: say it once
		}
	}
	for _, it := range v.Iterators {
		if !h.Probes.Iterator(it) {
			out = append(out, "no "+it+" iterator")
		}
	}
	for _, tp := range v.BTFTracepoints {
		if err := h.Probes.BTFTracepoint(tp); err != nil {
			out = append(out, fmt.Sprintf("tp_btf %s refused (%v)", tp, err))
		}
	}
	return out
}
