package tracers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"

	"github.com/ig-tracer/ig/runtimes"
)

// NetNsVisit is a network namespace to look into: entered through a
// process in it (Pid 0: ig's own, the host's).
type NetNsVisit struct {
	NetNs uint64
	Pid   int
	What  string // for messages: "the host's network namespace", "container web's"
}

// NetNamespaces are the host's network namespace and each running
// container's that the container filters take (Env.NetContainer), each once.
func NetNamespaces(env *Env) []NetNsVisit {
	return netNamespaces(env, true)
}

// netNamespaces is NetNamespaces, with a namespace shared by several
// containers listed once each unless once.
func netNamespaces(env *Env, once bool) []NetNsVisit {
	var out []NetNsVisit
	seen := map[uint64]bool{}
	if host, err := runtimes.NetworkNamespace(os.Getpid()); err == nil {
		seen[host] = true
		if _, _, accepted, _ := env.NetContainer(host); accepted {
			out = append(out, NetNsVisit{host, 0, "the host's network namespace"})
		}
	}
	if env.Containers == nil {
		return out
	}
	for _, ct := range env.Containers() {
		if !once {
			seen = map[uint64]bool{}
		}
		if v, ok := containerNetNs(env, ct, seen); ok {
			out = append(out, v)
		}
	}
	return out
}

// containerNetNs is ct's network namespace to visit, unless seen already,
// none, or not taken by the container filters.
func containerNetNs(env *Env, ct runtimes.Container, seen map[uint64]bool) (NetNsVisit, bool) {
	if ct.NetNsID == 0 || seen[ct.NetNsID] {
		return NetNsVisit{}, false
	}
	seen[ct.NetNsID] = true
	if _, _, accepted, _ := env.NetContainer(ct.NetNsID); !accepted {
		return NetNsVisit{}, false
	}
	return NetNsVisit{ct.NetNsID, ct.Pid, "container " + ct.Name + "'s network namespace"}, true
}

// InNetns runs f on a thread in the network namespace of pid (0: ig's
// own): sockets, iterators and /proc/thread-self/net made or opened there
// are that namespace's.
func InNetns(pid int, f func() error) error {
	if pid == 0 {
		return f()
	}
	target, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", pid))
	if err != nil {
		return err
	}
	defer target.Close()
	runtime.LockOSThread()
	self, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer self.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter: %w", err)
	}
	ferr := f()
	if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
		// The thread stays locked: Go ends it with this goroutine.
		return fmt.Errorf("back to ig's network namespace: %w", err)
	}
	runtime.UnlockOSThread()
	return ferr
}

// PacketHeader mirrors bpf/capture.h's struct ig_packet, which every
// captured packet starts with; the captured bytes follow it.
type PacketHeader struct {
	RawHeader        // the local socket's process when Owned, else only the time
	NetNs     uint64 // the namespace the packet was seen in
	Len       uint32 // bytes captured, from the IP header on
	WireLen   uint32 // the packet's length from its IP header
	PktType   uint8  // PACKET_HOST (0), PACKET_OUTGOING (4)...
	Owned     uint8
	_         [2]byte
	Paths     uint32 // the walk of the process's paths in proc_paths (PathsReader); 0 none
}

// PacketHeaderSize is the size of struct ig_packet.
const PacketHeaderSize = int(unsafe.Sizeof(PacketHeader{}))

// DecodePacket reads a captured packet's header into ev (the process when
// the kernel knew it, else only the time) and returns it with the
// captured bytes, from the IP header on.
func (c Clock) DecodePacket(raw []byte, ev *Event, names *Interner) (*PacketHeader, []byte, bool) {
	h, data, ok := View[PacketHeader](raw, uintptr(PacketHeaderSize))
	if !ok || int(h.Len) > len(data) {
		return nil, nil, false
	}
	if h.Owned != 0 {
		c.FromHeader(&h.RawHeader, ev, names)
	} else {
		ev.Timestamp = c.Wall(h.Timestamp)
	}
	return h, data[:h.Len], true
}

// PacketTypeName names a packet's direction as the kernel names packet
// types (and Inspektor Gadget's pktType field).
func PacketTypeName(t uint8) string {
	switch t {
	case unix.PACKET_HOST:
		return "HOST"
	case unix.PACKET_BROADCAST:
		return "BROADCAST"
	case unix.PACKET_MULTICAST:
		return "MULTICAST"
	case unix.PACKET_OTHERHOST:
		return "OTHERHOST"
	case unix.PACKET_OUTGOING:
		return "OUTGOING"
	}
	return strconv.Itoa(int(t))
}

// portOwners is bpf/capture.h's program that records the process behind
// each local port; only the first copy of a capture has it.
const portOwners = "ig_port_owner"

// PacketProcesses refuses --pid and --comm for a capture variant that
// cannot know the process behind a packet (without kernel BTF).
func PacketProcesses(env *Env) error {
	if !env.Filter.ByProcess() || knowsPacketProcesses(env) {
		return nil
	}
	return fmt.Errorf("the %s variant sees packets, not processes: --pid, --comm and -F on pid, comm or uid cannot apply; -c and --containers can", env.Variant)
}

// PacketPaths refuses a flag asking for the paths of a packet's process
// (trace dns --paths) where the variant cannot know the process.
func PacketPaths(env *Env, flag string) error {
	if !env.Args.Bool(flag) || knowsPacketProcesses(env) {
		return nil
	}
	return fmt.Errorf("the %s variant sees packets, not processes: --%s cannot apply", env.Variant, flag)
}

// knowsPacketProcesses: the variant records the process behind each local
// port (bpf/capture.h's IG_PORT_OWNER_PROGRAM).
func knowsPacketProcesses(env *Env) bool {
	return env.VariantReq != nil && env.VariantReq.Attaches("tp_btf/net_dev_queue")
}

// CaptureSpec is what a packet gadget hands to RunCapture.
type CaptureSpec[T any] struct {
	Program string // its socket filter program (SEC("socket"))
	Decode  Decoder[T]
	Skip    func(*T) bool // see StreamSpec
	Expired func(*T) bool // see StreamSpec
	// NetNs gives an event's network namespace (the program's
	// netns_id constant, copied into the event) for events with no process.
	NetNs func(*T) uint64
	// Loaded, when set, is given the first copy once loaded, before any
	// event is decoded: its maps (NewPathsReader).
	Loaded func(*Program)
}

// RunCapture is the per-namespace capture runner: the gadget's socket
// filter, loaded once per network namespace with the namespace in its
// netns_id constant, is attached to a packet socket (AF_PACKET, every
// protocol) opened in the host's network namespace and in each selected
// container's, as containers come and go; all copies write to one ring
// buffer, read as a stream. Ctrl-C, SIGTERM and --timeout close every
// socket and unload every copy.
func RunCapture[T any, PT eventPtr[T]](ctx context.Context, env *Env, spec *ebpf.CollectionSpec, consts map[string]any, s CaptureSpec[T]) error {
	withNetNs := func(netns uint64) map[string]any {
		c := map[string]any{"netns_id": netns}
		for k, v := range consts {
			c[k] = v
		}
		return c
	}
	spec = spec.Copy()
	if m := spec.Maps["proc_paths"]; m != nil && consts["want_paths"] != true {
		m.MaxEntries = 1 // an LRU is allocated whole: 2 MiB no walk would fill
	}
	first, err := Load(spec.Copy(), env, withNetNs(0))
	if err != nil {
		return err
	}
	defer first.Close()
	if s.Loaded != nil {
		s.Loaded(first)
	}
	env.LoadedAll()
	// The programs besides the filters (the process behind a port) run
	// once, for every namespace: each namespace's copy is its filter alone.
	if err := first.Attach(); err != nil {
		return err
	}
	filterOnly := spec.Copy()
	for name := range filterOnly.Programs {
		if name != s.Program {
			delete(filterOnly.Programs, name)
		}
	}
	c := &capture{env: env, spec: filterOnly, consts: withNetNs, first: first, prog: s.Program, attached: map[uint64]*captureSocket{}}
	first.OnDetach = c.closeAll
	defer c.closeAll()
	// Each container counts, so that a namespace shared by several is
	// let go of with the last of them.
	for _, v := range netNamespaces(env, false) {
		if err := c.attach(v); err != nil {
			return err
		}
	}
	if env.OnContainers != nil {
		env.OnContainers(c.follow)
	}
	env.Attached()
	return Stream[T, PT](ctx, env, first, StreamSpec[T]{Decode: s.Decode, Skip: s.Skip, NetNs: s.NetNs, Expired: s.Expired})
}

// capture holds the packet sockets of a RunCapture, by network namespace.
type capture struct {
	env      *Env
	spec     *ebpf.CollectionSpec
	consts   func(netns uint64) map[string]any
	first    *Program
	prog     string
	mu       sync.Mutex
	closed   bool
	attached map[uint64]*captureSocket
}

type captureSocket struct {
	fd   int
	copy *Program // the namespace's copy of the program
	n    int      // containers in the namespace
}

// attach opens a packet socket in v's namespace and attaches a copy of
// the program, made for that namespace.
func (c *capture) attach(v NetNsVisit) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	if cs := c.attached[v.NetNs]; cs != nil {
		cs.n++
		return nil
	}
	cp, err := c.first.LoadSibling(c.spec.Copy(), c.env, c.consts(v.NetNs))
	if err != nil {
		return err
	}
	prog := cp.Coll.Programs[c.prog]
	if prog == nil {
		cp.Close()
		return fmt.Errorf("eBPF object has no program %s", c.prog)
	}
	fd := -1
	err = InNetns(v.Pid, func() error {
		var err error
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
		return err
	})
	if err == nil {
		err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ATTACH_BPF, prog.FD())
	}
	if err != nil {
		if fd >= 0 {
			unix.Close(fd)
		}
		cp.Close()
		if errors.Is(err, os.ErrNotExist) {
			c.env.Logf("%s: gone before ig could watch it", v.What)
			return nil
		}
		return fmt.Errorf("capture packets in %s: %w", v.What, err)
	}
	c.attached[v.NetNs] = &captureSocket{fd: fd, copy: cp, n: 1}
	c.env.Logf("capturing packets in %s (%d)", v.What, v.NetNs)
	return nil
}

// follow watches the namespaces of containers that start, and lets go of
// those of containers that stopped.
func (c *capture) follow(added, removed []runtimes.Container) {
	for _, ct := range removed {
		c.mu.Lock()
		if cs := c.attached[ct.NetNsID]; cs != nil && ct.NetNsID != 0 {
			if cs.n--; cs.n == 0 {
				unix.Close(cs.fd)
				cs.copy.Close()
				delete(c.attached, ct.NetNsID)
			}
		}
		c.mu.Unlock()
	}
	for _, ct := range added {
		if v, ok := containerNetNs(c.env, ct, map[uint64]bool{}); ok {
			if err := c.attach(v); err != nil {
				c.env.Warnf("%v", err)
			}
		}
	}
}

// closeAll closes every socket and unloads every copy: nothing new comes
// in after it.
func (c *capture) closeAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for ns, cs := range c.attached {
		unix.Close(cs.fd)
		cs.copy.Close()
		delete(c.attached, ns)
	}
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
