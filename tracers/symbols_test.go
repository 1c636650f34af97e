package tracers

import (
	"os"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
)

// kallsymsExcerpt is recorded from this 6.18 kernel's /proc/kallsyms
// (root's view), with a data symbol and the kind of line kptr_restrict
// gives (address 0). Modules' symbols (here bpf programs and ftrace's
// trampolines) come after the kernel's, above and out of order.
const kallsymsExcerpt = `ffffffff81e425c0 T sk_skb_reason_drop
ffffffff81f285d0 T nf_hook_slow
ffffffff81f286f0 T nf_hook_slow_list
ffffffff81f62a50 T nft_do_chain
ffffffff81f7e1d0 t nft_do_chain_ipv4
ffffffff81ffc890 T __ip_local_out
ffffffff81ffca30 T ip_local_out
ffffffff82024e50 t __tcp_transmit_skb
ffffffff82400000 D __start_rodata
ffffffffc0201000 t ftrace_trampoline	[__builtin__ftrace]
ffffffffc00268ac t bpf_prog_ad220c852a04a834_exit_any	[bpf]
0000000000000000 t hidden_by_kptr_restrict
`

func TestParseKallsyms(t *testing.T) {
	k, err := ParseKallsyms(strings.NewReader(kallsymsExcerpt))
	if err != nil {
		t.Fatal(err)
	}
	intern := map[string]string{}
	for _, c := range []struct {
		addr uint64
		want string
	}{
		{0xffffffff81e425c0 + 0x5a, "sk_skb_reason_drop"},
		{0xffffffff81f285d0, "nf_hook_slow"},
		{0xffffffff81f286ef, "nf_hook_slow"},
		{0xffffffff81ffca30 + 0x40, "ip_local_out"},
		{0xffffffff82024e50 + 0x6ab, "__tcp_transmit_skb"},
		{0xffffffffc00268ac + 0x20, "bpf_prog_ad220c852a04a834_exit_any"}, // sorted in
		{0xffffffffc0201000 + 0x10, "ftrace_trampoline"},
		{0xffffffff81000000, UnknownFrame}, // below every symbol
	} {
		if got := k.Name(c.addr, intern); got != c.want {
			t.Errorf("%#x: %q, want %q", c.addr, got, c.want)
		}
	}
	if len(k.addrs) != 10 {
		t.Errorf("%d code symbols, want 10 (no data, no hidden addresses)", len(k.addrs))
	}
	if _, err := ParseKallsyms(strings.NewReader("0000000000000000 T _stext\n")); err == nil {
		t.Error("kallsyms without addresses (kptr_restrict) parsed")
	}
}

func TestKallsyms(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("kallsyms shows addresses to root only") // the suite runs as root
	}
	k, err := ReadKallsyms()
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(k.addrs); i++ {
		if k.addrs[i] < k.addrs[i-1] {
			t.Fatal("kallsyms not sorted")
		}
	}
	i := len(k.addrs) / 2
	intern := map[string]string{}
	name := k.Name(k.addrs[i], intern)
	if name == "" || name == UnknownFrame || strings.ContainsAny(name, " \x00") {
		t.Errorf("symbol %d: %q", i, name)
	}
	if k.Name(k.addrs[0]-1, intern) != UnknownFrame {
		t.Error("an address below every symbol has a name")
	}
}

//go:noinline
func symbolizeMe() uintptr {
	pc, _, _, _ := runtime.Caller(0)
	return pc
}

//go:noinline
func symbolizeMeToo() uintptr {
	pc, _, _, _ := runtime.Caller(0)
	return pc
}

// The test binary's own function resolves from its ELF symbols, through
// its mappings, as ig does for a traced process: the innermost frame as
// is, the callers' return addresses one byte back.
func TestUserFrames(t *testing.T) {
	ps := NewProcesses()
	defer ps.Close()
	pid := uint32(os.Getpid())
	ps.Note(pid)
	pc := uint64(symbolizeMe())
	names := ps.Resolve([][]FrameRef{ps.UserRefs(pid, []uint64{pc, pc + 1, 8})})
	want := []string{"github.com/ig-tracer/ig/tracers.symbolizeMe", "github.com/ig-tracer/ig/tracers.symbolizeMe", UnknownFrame}
	if !reflect.DeepEqual(names[0], want) {
		t.Errorf("frames %v, want %v", names[0], want)
	}
}

func TestFormatStacks(t *testing.T) {
	if got, want := FormatFrames([]string{"a", "b"}), "[0]a; [1]b; "; got != want {
		t.Errorf("frames %q, want %q", got, want)
	}
	if got, want := FormatAddresses([]uint64{0x40332e, 0x7f0011223344}), "[0]0x000000000040332e; [1]0x00007f0011223344; "; got != want {
		t.Errorf("addresses %q, want %q", got, want)
	}
	if FormatFrames(nil) != "" {
		t.Error("no frames: not empty")
	}
}

// stackMap is a map shaped as bpf/stack.h's (a hash map: a stack map is
// filled by the kernel only), holding stacks.
func stackMap(t *testing.T, stacks map[uint32][]uint64) *ebpf.Map {
	if os.Geteuid() != 0 {
		t.Skip("creating a map needs root")
	}
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Hash, KeySize: 4, ValueSize: MaxStackDepth * 8, MaxEntries: 16})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	for id, ips := range stacks {
		var v [MaxStackDepth]uint64
		copy(v[:], ips)
		if err := m.Put(id, v); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// A kernel stack is named from kallsyms, read once, lazily; each id is
// read once; ids the kernel gave none for, or that cannot be read, count
// as lost.
func TestKernelStacks(t *testing.T) {
	m := stackMap(t, map[uint32][]uint64{7: {0xffffffff81e425c0 + 0x5a, 0xffffffff81f285d0 + 0x80, 0xffffffff82024e50 + 0x6ab}})
	ks := NewKernelStacks(m)
	reads := 0
	ks.read = func() (*KernelSymbols, error) {
		reads++
		return ParseKallsyms(strings.NewReader(kallsymsExcerpt))
	}
	if reads != 0 {
		t.Error("kallsyms read before a stack")
	}
	want := "[0]sk_skb_reason_drop; [1]nf_hook_slow; [2]__tcp_transmit_skb; "
	if got := ks.Format(7); got != want {
		t.Errorf("stack 7: %q, want %q", got, want)
	}
	if err := m.Delete(uint32(7)); err != nil {
		t.Fatal(err)
	}
	if got := ks.Format(7); got != want {
		t.Errorf("stack 7 again (named once): %q, want %q", got, want)
	}
	if reads != 1 {
		t.Errorf("kallsyms read %d times, want once", reads)
	}
	if ks.Format(-17) != "" || ks.Format(9) != "" || ks.lost != 2 {
		t.Errorf("lost %d, want 2 (no id; an id not in the map)", ks.lost)
	}
}

// A user stack is placed in the mappings of the process as its event
// comes, and named from the binary's symbols.
func TestUserStacks(t *testing.T) {
	pc := uint64(symbolizeMe())
	m := stackMap(t, map[uint32][]uint64{3: {pc, pc + 1}})
	us := NewUserStacks(m)
	defer us.procs.Close()
	origin := UserStackOrigin{ExeInode: 77, MtimeSec: 1795000000, MtimeNsec: 5, StackID: 3,
		PidLevel0: uint32(os.Getpid()), PidnsLevel0: 4026531836, PidLevel1: 12, PidnsLevel1: 4026532000}
	st := us.Format(uint32(os.Getpid()), &origin)
	addrs, syms := st.Addresses, st.Symbols
	if st.ExeInode != 77 || st.MtimeSec != 1795000000 || st.MtimeNsec != 5 || st.StackID != 3 ||
		st.PidLevel0 != uint32(os.Getpid()) || st.PidnsLevel0 != 4026531836 || st.PidLevel1 != 12 || st.PidnsLevel1 != 4026532000 {
		t.Errorf("ustack %+v does not carry its origin %+v", st, origin)
	}
	fn := "github.com/ig-tracer/ig/tracers.symbolizeMe"
	if want := "[0]" + fn + "; [1]" + fn + "; "; syms != want {
		t.Errorf("symbols %q, want %q", syms, want)
	}
	if want := FormatAddresses([]uint64{pc, pc + 1}); addrs != want {
		t.Errorf("addresses %q, want %q", addrs, want)
	}
	if st := us.Format(1, &UserStackOrigin{StackID: -14, ExeInode: 9}); st != (UserStack{}) || us.lost != 1 {
		t.Errorf("a stack not taken: %+v, lost %d", st, us.lost)
	}
}

// UserStacks keeps the names read from a file: the same stack again is
// named the same without reading the file, a new call site in that file
// is read and named, and past maxKnownNames the names start again, still
// right.
func TestUserStacksKeepNames(t *testing.T) {
	pc, pc2 := uint64(symbolizeMe()), uint64(symbolizeMeToo())
	m := stackMap(t, map[uint32][]uint64{3: {pc}, 4: {pc2, pc}, 5: {pc + 1}})
	us := NewUserStacks(m)
	defer us.procs.Close()
	pid := uint32(os.Getpid())
	fn, fn2 := "github.com/ig-tracer/ig/tracers.symbolizeMe", "github.com/ig-tracer/ig/tracers.symbolizeMeToo"
	if got := us.Format(pid, &UserStackOrigin{StackID: 3}).Symbols; got != "[0]"+fn+"; " {
		t.Fatalf("symbols %q", got)
	}
	var bin *mappedFile
	for _, b := range us.procs.files {
		if len(b.known) > 0 {
			bin = b
		}
	}
	if bin == nil || len(bin.known) != 1 {
		t.Fatalf("no file remembers the name it gave")
	}
	// The same stack, with the file made unreadable: only the names kept
	// can name it.
	file := bin.file
	bin.file = nil
	if got := us.Format(pid, &UserStackOrigin{StackID: 3}).Symbols; got != "[0]"+fn+"; " {
		t.Errorf("the same stack again, from the names kept: %q", got)
	}
	bin.file = file
	if got, want := us.Format(pid, &UserStackOrigin{StackID: 4}).Symbols, "[0]"+fn2+"; [1]"+fn+"; "; got != want {
		t.Errorf("a new call site in the same file: %q, want %q", got, want)
	}
	for i := range maxKnownNames {
		bin.known[uint64(1<<40+i)] = ""
	}
	if got := us.Format(pid, &UserStackOrigin{StackID: 5}).Symbols; got != "[0]"+fn+"; " || len(bin.known) != 1 {
		t.Errorf("past maxKnownNames: %q, %d names kept", got, len(bin.known))
	}
}
