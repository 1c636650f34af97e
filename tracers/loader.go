package tracers

import (
	"context"
	"errors"
	"fmt"
	igbtf "github.com/ig-tracer/ig/btf"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// RingBufferSize is the size of every gadget's ring buffer: about 35 000
// open events, enough to absorb bursts while the reader catches up (make
// bench: 200 000 opens at full speed, none lost), and small, because its
// pages count in ig's resident memory.
const RingBufferSize = 4 << 20

// Program is a gadget's loaded eBPF collection and its attachments.
type Program struct {
	Coll       *ebpf.Collection
	spec       *ebpf.CollectionSpec
	links      []link.Link
	perfFDs    []int // perf events its perf_event programs run on
	detachOnce sync.Once

	// PerfEvent is what perf_event programs sample (set before Attach).
	PerfEvent *PerfEvent
	// OnDetach, when set, detaches what the gadget attached itself (the
	// packet sockets of a capture).
	OnDetach func()

	verdictMu   sync.Mutex
	verdicts    map[uint64]mntNsVerdict // what mntns_filter holds, as far as ig wrote it
	netVerdicts map[uint64]mntNsVerdict // and netns_filter
}

// Load sets the shared filters and the gadget's own constants (names of
// `const volatile` variables in its C) on spec, sizes the ring buffer and
// loads everything into the kernel, relocated against env.KernelTypes.
func Load(spec *ebpf.CollectionSpec, env *Env, consts map[string]any) (*Program, error) {
	return load(spec, env, consts, nil)
}

// LoadSibling loads spec as Load does, but with p's ring buffer, lost
// counter, port owners and their paths (and the scratch those are read
// in, rather than a copy each) instead of its own: one reader for several
// copies of a program (one per network namespace, each with its own
// constants).
func (p *Program) LoadSibling(spec *ebpf.CollectionSpec, env *Env, consts map[string]any) (*Program, error) {
	shared := map[string]*ebpf.Map{}
	for _, name := range []string{"events", "lost_events", "port_owners", "proc_paths", "paths_walk"} {
		if m := p.Coll.Maps[name]; m != nil {
			shared[name] = m
		}
	}
	return load(spec, env, consts, shared)
}

func load(spec *ebpf.CollectionSpec, env *Env, consts map[string]any, shared map[string]*ebpf.Map) (*Program, error) {
	set := func(name string, v any) error {
		vs, ok := spec.Variables[name]
		if !ok {
			return fmt.Errorf("eBPF object has no variable %s", name)
		}
		if err := vs.Set(v); err != nil {
			return fmt.Errorf("set %s: %w", name, err)
		}
		return nil
	}
	if _, shared := spec.Variables["filter_pid"]; shared {
		if err := set("filter_pid", env.Filter.Pid); err != nil {
			return nil, err
		}
		if env.Filter.Comm != "" {
			var comm [16]byte
			if len(env.Filter.Comm) > 15 {
				return nil, fmt.Errorf("--comm %q: a command name has at most 15 characters", env.Filter.Comm)
			}
			copy(comm[:], env.Filter.Comm)
			if err := set("filter_by_comm", true); err != nil {
				return nil, err
			}
			if err := set("filter_comm", comm); err != nil {
				return nil, err
			}
		}
		if env.Filter.Uid != nil {
			if err := set("filter_by_uid", true); err != nil {
				return nil, err
			}
			if err := set("filter_uid", *env.Filter.Uid); err != nil {
				return nil, err
			}
		}
		if err := set("filter_mntns_mode", uint8(env.Filter.MntNsMode)); err != nil {
			return nil, err
		}
	}
	for name, v := range consts {
		if err := set(name, v); err != nil {
			return nil, err
		}
	}
	keepVariantPrograms(spec, env)
	if _, ok := spec.Programs[seedOwners]; ok && !kernelHasBTF() {
		// Iterators attach by the kernel's own BTF: without it the
		// gadget runs, and connections made before ig have no process.
		delete(spec.Programs, seedOwners)
		env.Logf("no kernel BTF (/sys/kernel/btf/vmlinux): sockets already open will have no process")
	}
	if m, ok := spec.Maps["events"]; ok {
		m.MaxEntries = RingBufferSize
	}
	// Shared maps that no program of this variant uses are not made: a
	// top or profile gadget adds up in its own maps (the ring buffer would
	// be megabytes of nothing), and only gadgets that attribute by network
	// namespace look at netns_filter, or own sockets; a variant that takes
	// no stacks makes no stack map (megabytes).
	for _, name := range []string{"events", "netns_filter", "sock_owners", "port_owners", StackMapName} {
		if _, ok := spec.Maps[name]; ok && !referenced(spec, name) {
			delete(spec.Maps, name)
		}
	}

	// Relocation decodes the kernel types it looks at into the spec it is
	// given, and decoded types are most of ig's memory: each load gets a
	// copy, which takes them with it when it goes, while env.KernelTypes
	// stays as read, for the next object a gadget loads in this run (per
	// namespace or per container): the same types, from whatever source.
	coll, err := ebpf.NewCollectionWithOptions(spec, ebpf.CollectionOptions{
		Programs:        ebpf.ProgramOptions{KernelTypes: env.KernelTypes.Copy()},
		Cache:           igbtf.KernelCache(), // attach targets (tp_btf, fentry) are looked up in it
		MapReplacements: shared,
	})
	if err != nil {
		return nil, loadError(err)
	}
	debug.FreeOSMemory() // the decoded types, before the ring buffer's pages fill
	p := &Program{Coll: coll, spec: spec, verdicts: map[uint64]mntNsVerdict{}, netVerdicts: map[uint64]mntNsVerdict{}}
	if err := p.UpdateNs(env.Filter.Verdicts); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// referenced says whether any program of spec uses the map called name.
func referenced(spec *ebpf.CollectionSpec, name string) bool {
	for _, ps := range spec.Programs {
		for _, ins := range ps.Instructions {
			if ins.Reference() == name {
				return true
			}
		}
	}
	return false
}

// AttachError is a variant's program that the kernel would not attach:
// RunVariants then tries the next variant the host offers.
type AttachError struct{ Err error }

func (e *AttachError) Error() string { return e.Err.Error() }
func (e *AttachError) Unwrap() error { return e.Err }

// keepVariantPrograms drops from spec the programs that are not the chosen
// variant's (an object may hold several variants' programs), and those of
// optional tracepoints this kernel lacks: they are neither loaded nor
// attached.
func keepVariantPrograms(spec *ebpf.CollectionSpec, env *Env) {
	for name, ps := range spec.Programs {
		if name == seedOwners {
			continue // run once at start, by every variant (tracers.start)
		}
		other := env.VariantReq != nil && !env.VariantReq.Attaches(ps.SectionName)
		if other || slices.Contains(env.Skipped, strings.TrimPrefix(ps.SectionName, "tracepoint/")) {
			delete(spec.Programs, name)
		}
	}
}

// UpdateNs changes the kernel's namespace verdicts.
func (p *Program) UpdateNs(u NsUpdate) error {
	p.verdictMu.Lock()
	defer p.verdictMu.Unlock()
	if m := p.Coll.Maps["mntns_filter"]; m != nil {
		if err := p.updateVerdicts(m, p.verdicts, "mount", u.Pass, u.Skip, u.Forget); err != nil {
			return err
		}
	}
	if m := p.Coll.Maps["netns_filter"]; m != nil {
		if err := p.updateVerdicts(m, p.netVerdicts, "network", u.NetPass, u.NetSkip, u.NetForget); err != nil {
			return err
		}
	}
	return nil
}

func (p *Program) updateVerdicts(m *ebpf.Map, mirror map[uint64]mntNsVerdict, kind string, pass, skip, forget []uint64) error {
	// Forget first: a namespace number freed and made again between two
	// refreshes is in both lists, and must end up with its new verdict.
	for _, ns := range forget {
		if err := m.Delete(ns); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return fmt.Errorf("%s-namespace filter: forget %d: %w", kind, ns, err)
		}
		delete(mirror, ns)
	}
	for _, ns := range skip {
		if err := putVerdict(m, mirror, kind, ns, mntNsVerdict{}); err != nil {
			return err
		}
	}
	for _, ns := range pass {
		if err := putVerdict(m, mirror, kind, ns, mntNsVerdict{Pass: 1}); err != nil {
			return err
		}
	}
	return nil
}

// mntNsVerdict is struct mntns_verdict of bpf/common.h. A verdict with
// Serial 0 holds for any namespace with the number: containers', whose
// namespaces ig holds open while it knows them.
type mntNsVerdict struct {
	Serial uint32
	Pass   uint8
	_      [3]uint8
}

// LearnVerdict writes the verdict Env.Accept gave an event of namespace ns
// (with serial, so that it does not outlive the namespace: the kernel
// reuses the number), so the kernel decides that namespace's next events
// itself. Cheap when the kernel has it already.
func (p *Program) LearnVerdict(ns uint64, serial uint32, pass bool) {
	m := p.Coll.Maps["mntns_filter"]
	if m == nil {
		return
	}
	v := mntNsVerdict{Serial: serial}
	if pass {
		v.Pass = 1
	}
	p.verdictMu.Lock()
	defer p.verdictMu.Unlock()
	if p.verdicts[ns] == v {
		return
	}
	_ = putVerdict(m, p.verdicts, "mount", ns, v) // on failure ig keeps deciding in user space
}

// putVerdict writes v for ns into m and its mirror.
func putVerdict(m *ebpf.Map, mirror map[uint64]mntNsVerdict, kind string, ns uint64, v mntNsVerdict) error {
	if err := m.Put(ns, v); err != nil {
		return fmt.Errorf("%s-namespace filter: set %d: %w", kind, ns, err)
	}
	if len(mirror) >= 1<<14 {
		clear(mirror) // only a mirror: at worst a verdict is written twice
	}
	mirror[ns] = v
	return nil
}

// FollowNs applies the filter's changes until ctx ends.
func (p *Program) FollowNs(ctx context.Context, env *Env) {
	if env.Filter.NsSets == nil {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case u := <-env.Filter.NsSets:
			if err := p.UpdateNs(u); err != nil {
				env.Warnf("%v", err)
			}
		}
	}
}

// loadError keeps the verifier's verdict to its last lines: the whole log is
// for developers (ig -v shows nothing more useful to a user).
func loadError(err error) error {
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) {
		lines := ve.Log
		if len(lines) > 3 {
			lines = lines[len(lines)-3:]
		}
		return fmt.Errorf("load eBPF program: %s: %s", ve.Cause, strings.Join(lines, " / "))
	}
	if errors.Is(err, os.ErrPermission) {
		return fmt.Errorf("load eBPF program: %w (ig needs root, or CAP_BPF and CAP_PERFMON)", err)
	}
	return fmt.Errorf("load eBPF program: %w", err)
}

// Attach attaches every program of the collection to the hook its ELF
// section names (tracepoint/GROUP/NAME, raw_tp/NAME, tp_btf/NAME,
// kprobe/FUNC, kretprobe/FUNC, fentry/FUNC, fexit/FUNC, and perf_event:
// p.PerfEvent on every online CPU). Iterators
// are not attached here: the snapshot that runs them does it.
func (p *Program) Attach() error {
	for name, ps := range p.spec.Programs {
		prog := p.Coll.Programs[name]
		kind, target, _ := strings.Cut(ps.SectionName, "/")
		var l link.Link
		var err error
		switch kind {
		case "tracepoint", "tp":
			group, tp, ok := strings.Cut(target, "/")
			if !ok {
				return fmt.Errorf("program %s: bad section %q", name, ps.SectionName)
			}
			l, err = link.Tracepoint(group, tp, prog, nil)
		case "raw_tp", "raw_tracepoint":
			l, err = link.AttachRawTracepoint(link.RawTracepointOptions{Name: target, Program: prog})
		case "tp_btf", "fentry", "fexit":
			l, err = link.AttachTracing(link.TracingOptions{Program: prog})
		case "kprobe":
			l, err = link.Kprobe(target, prog, nil)
		case "kretprobe":
			l, err = link.Kretprobe(target, prog, nil)
		case "iter", "socket":
			continue // run by a snapshot; attached to a socket by RunCapture
		case "perf_event":
			fds, links, err := attachPerfEvent(prog, p.PerfEvent)
			if err != nil {
				return &AttachError{fmt.Errorf("attach %s: %w", ps.SectionName, err)}
			}
			p.perfFDs = append(p.perfFDs, fds...)
			p.links = append(p.links, links...)
			continue
		default:
			return fmt.Errorf("program %s: no attach rule for section %q", name, ps.SectionName)
		}
		if err != nil {
			return &AttachError{fmt.Errorf("attach %s: %w", ps.SectionName, err)}
		}
		p.links = append(p.links, l)
	}
	return nil
}

// Lost sums the per-CPU count of events that did not fit in the ring buffer.
func (p *Program) Lost() uint64 {
	m := p.Coll.Maps["lost_events"]
	if m == nil {
		return 0
	}
	var perCPU []uint64
	if err := m.Lookup(uint32(0), &perCPU); err != nil {
		return 0
	}
	var n uint64
	for _, v := range perCPU {
		n += v
	}
	return n
}

// Detach removes the programs from their hooks; no new events come after it.
// The maps stay readable until Close.
func (p *Program) Detach() {
	p.detachOnce.Do(func() {
		for _, l := range p.links {
			l.Close()
		}
		for _, fd := range p.perfFDs {
			unix.Close(fd)
		}
		if p.OnDetach != nil {
			p.OnDetach()
		}
	})
}

// Close detaches and unloads everything. Nothing is pinned, so nothing of
// ours stays in the kernel afterwards.
func (p *Program) Close() {
	p.Detach()
	p.Coll.Close()
}

// kernelHasBTF says whether the kernel exposes its own BTF, which
// iterator programs attach by.
func kernelHasBTF() bool {
	_, err := os.Stat("/sys/kernel/btf/vmlinux")
	return err == nil
}
