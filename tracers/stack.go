package tracers

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cilium/ebpf"
)

// The stack map of bpf/stack.h: stack id -> up to MaxStackDepth
// instruction pointers, innermost first.
const (
	StackMapName  = "stacks"
	MaxStackDepth = 127
)

// ReadStack reads stack id of the stack map m: its instruction pointers,
// innermost first.
func ReadStack(m *ebpf.Map, id int32) ([]uint64, error) {
	if id < 0 {
		return nil, fmt.Errorf("no stack (%d)", id)
	}
	var raw [MaxStackDepth]uint64
	if err := m.Lookup(uint32(id), &raw); err != nil {
		return nil, err
	}
	n := slices.Index(raw[:], 0)
	if n < 0 {
		n = len(raw)
	}
	return slices.Clone(raw[:n]), nil
}

// FormatFrames writes a stack as Inspektor Gadget does:
// "[0]innermost; [1]its caller; ".
func FormatFrames(frames []string) string {
	var b strings.Builder
	for i, f := range frames {
		b.WriteByte('[')
		b.WriteString(strconv.Itoa(i))
		b.WriteByte(']')
		b.WriteString(f)
		b.WriteString("; ")
	}
	return b.String()
}

// FormatAddresses writes instruction pointers as Inspektor Gadget does:
// "[0]0x00007f0123456789; ".
func FormatAddresses(ips []uint64) string {
	var b strings.Builder
	for i, ip := range ips {
		fmt.Fprintf(&b, "[%d]0x%016x; ", i, ip)
	}
	return b.String()
}

// KernelStacks names the kernel stacks a streaming gadget's events refer
// to by id. The stack map is never emptied: an id names the same stack for
// as long as the map lives, so each is read and named once. A stack that
// found no room (its bucket held another stack, the map full) is counted.
type KernelStacks struct {
	m     *ebpf.Map
	read  func() (*KernelSymbols, error)
	syms  *KernelSymbols
	err   error // reading kallsyms, said once
	named map[int32]string
	names map[string]string // interned symbol names
	lost  uint64
}

// NewKernelStacks names the stacks of m from /proc/kallsyms, read at the
// first stack.
func NewKernelStacks(m *ebpf.Map) *KernelStacks {
	return &KernelStacks{m: m, read: ReadKallsyms, named: map[int32]string{}, names: map[string]string{}}
}

// Format is stack id as "[0]fn; [1]caller; ", or "" when the stack was
// not taken (id negative: counted as lost) or cannot be read.
func (k *KernelStacks) Format(id int32) string {
	if id < 0 {
		k.lost++
		return ""
	}
	if s, ok := k.named[id]; ok {
		return s
	}
	if k.syms == nil && k.err == nil {
		k.syms, k.err = k.read()
	}
	ips, err := ReadStack(k.m, id)
	if err != nil {
		k.lost++
		return ""
	}
	frames := make([]string, len(ips))
	for i, ip := range ips {
		frames[i] = k.syms.Name(ip, k.names)
	}
	s := FormatFrames(frames)
	k.named[id] = s
	return s
}

// Report warns of the stacks lost, and of kallsyms unread.
func (k *KernelStacks) Report(env *Env) {
	if k.err != nil {
		env.Warnf("kernel stacks show %s frames: %v", UnknownFrame, k.err)
	}
	if k.lost > 0 {
		env.Warnf("%d events have no kernel stack: the stack map had no room for it", k.lost)
	}
}

// UserStack is a user stack as Inspektor Gadget's ustack operator writes
// it (its addresses and their functions; the gadget's desc says when it
// is empty).
type UserStack struct {
	ExeInode    uint64 `json:"exe_inode" desc:"the inode of the process's executable when the stack was taken (with mtime_sec and mtime_nsec, what tells the file again); 0 with no stack"`
	MtimeSec    uint64 `json:"mtime_sec" desc:"the executable's modification time, seconds since the epoch; 0 with no stack"`
	MtimeNsec   uint32 `json:"mtime_nsec" desc:"and its nanoseconds"`
	StackID     uint32 `json:"stack_id" desc:"the stack's id in the gadget's stack map; 0 with no stack"`
	PidLevel0   uint32 `json:"pid_level0" desc:"the id of the thread that took the stack, in the host's pid namespace (level 0; the event's tid); 0 with no stack"`
	PidnsLevel0 uint32 `json:"pidns_level0" desc:"the inode of that pid namespace"`
	PidLevel1   uint32 `json:"pid_level1" desc:"that thread's id in the pid namespace below the host's (a container's), 0 when it is in the host's"`
	PidnsLevel1 uint32 `json:"pidns_level1" desc:"the inode of that pid namespace; 0 as pid_level1"`
	Addresses   string `json:"addresses" desc:"the user stack's instruction pointers, innermost first, as \"[0]0x00007f3a5c2e1d2b; [1]...; \""`
	Symbols     string `json:"symbols" desc:"their functions, as \"[0]getppid; [1]main.main; \": from the ELF symbols (or Go's pclntab) of the files the process maps, read when the event comes; [unknown] where nothing maps the address (every frame when the process is gone by then), FILE+0xOFFSET where the file has no symbol there"`
}

// UserStacks names the user stacks a streaming gadget's events refer to
// by id, as each event comes: the process may not live long (a seccomp
// kill), so its mappings are read then. As with KernelStacks, the map is
// never emptied: an event still in the ring buffer may name the id that
// an earlier one named, and a freed id may come to name another stack.
type UserStacks struct {
	m        *ebpf.Map
	procs    *Processes
	lost     uint64
	forgotAt time.Time // the last look for processes gone
	mu       sync.Mutex
}

// forgetEvery is how often Format lets go of the processes gone (a stat
// of each one known), not at every event.
const forgetEvery = time.Second

// NewUserStacks names the stacks of m. The names read from each file are
// kept while a process maps it: an event's stack mostly repeats call
// sites named before, and reading a file's symbol table again costs
// milliseconds.
func NewUserStacks(m *ebpf.Map) *UserStacks {
	ps := NewProcesses()
	ps.keepNames = true
	return &UserStacks{m: m, procs: ps}
}

// UserStackOrigin is bpf/stack.h's struct ig_user_stack, byte for byte:
// a user stack's id, with its executable and pids.
type UserStackOrigin struct {
	ExeInode    uint64
	MtimeSec    uint64
	MtimeNsec   uint32
	StackID     int32
	PidLevel0   uint32
	PidnsLevel0 uint32
	PidLevel1   uint32
	PidnsLevel1 uint32
}

// Format is the user stack o of process pid; all zero and empty when the
// stack was not taken (counted as lost).
func (u *UserStacks) Format(pid uint32, o *UserStackOrigin) UserStack {
	u.mu.Lock()
	defer u.mu.Unlock()
	ips, err := ReadStack(u.m, o.StackID)
	if err != nil {
		u.lost++
		return UserStack{}
	}
	names := u.procs.Resolve([][]FrameRef{u.procs.UserRefs(pid, ips)})
	if now := time.Now(); now.Sub(u.forgotAt) >= forgetEvery {
		u.procs.Forget()
		u.forgotAt = now
	}
	return UserStack{
		ExeInode: o.ExeInode, MtimeSec: o.MtimeSec, MtimeNsec: o.MtimeNsec, StackID: uint32(o.StackID),
		PidLevel0: o.PidLevel0, PidnsLevel0: o.PidnsLevel0, PidLevel1: o.PidLevel1, PidnsLevel1: o.PidnsLevel1,
		Addresses: FormatAddresses(ips), Symbols: FormatFrames(names[0]),
	}
}

// Report warns of the stacks lost, and lets go of the files held.
func (u *UserStacks) Report(env *Env) {
	u.procs.Close()
	if u.lost > 0 {
		env.Warnf("%d events have no user stack: the stack map had no room for it, or the stack could not be read", u.lost)
	}
}
