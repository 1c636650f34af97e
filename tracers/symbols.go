package tracers

import (
	"bufio"
	"bytes"
	"debug/elf"
	"debug/gosym"
	bin "encoding/binary"
	"fmt"
	"io"
	"os"
	"path"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// KernelSymbols are the kernel's text symbols from /proc/kallsyms, by
// address: their names in one buffer (some 200 000 of them: as separate
// strings they would be most of ig's memory).
type KernelSymbols struct {
	addrs []uint64
	ends  []uint32 // symbol i's name ends at names[ends[i]], a NUL
	names []byte   // the names, each NUL-terminated
}

// ReadKallsyms reads /proc/kallsyms.
func ReadKallsyms() (*KernelSymbols, error) {
	f, err := os.Open("/proc/kallsyms")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseKallsyms(f)
}

// ParseKallsyms reads the text symbols of a kallsyms listing.
func ParseKallsyms(r io.Reader) (*KernelSymbols, error) {
	k := &KernelSymbols{}
	sorted := true
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		// "ffffffff81000000 T _stext [module]"
		line := sc.Bytes()
		a, rest, ok1 := bytes.Cut(line, []byte(" "))
		kind, rest, ok2 := bytes.Cut(rest, []byte(" "))
		if !ok1 || !ok2 || len(kind) != 1 || (kind[0] != 't' && kind[0] != 'T') {
			continue
		}
		name, _, _ := bytes.Cut(rest, []byte("\t"))
		addr, err := strconv.ParseUint(string(a), 16, 64)
		if err != nil || addr == 0 {
			continue // 0: kptr_restrict hides addresses
		}
		if n := len(k.addrs); n > 0 && addr < k.addrs[n-1] {
			sorted = false
		}
		k.addrs = append(k.addrs, addr)
		k.names = append(k.names, name...)
		k.ends = append(k.ends, uint32(len(k.names)))
		k.names = append(k.names, 0)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(k.addrs) == 0 {
		return nil, fmt.Errorf("/proc/kallsyms shows no addresses")
	}
	if !sorted { // modules' symbols come after the kernel's, not in order
		sort.Sort(k)
	}
	return k, nil
}

func (k *KernelSymbols) Len() int           { return len(k.addrs) }
func (k *KernelSymbols) Less(i, j int) bool { return k.addrs[i] < k.addrs[j] }
func (k *KernelSymbols) Swap(i, j int) {
	// The names stay: each is found from its end, back to the NUL before it.
	k.addrs[i], k.addrs[j] = k.addrs[j], k.addrs[i]
	k.ends[i], k.ends[j] = k.ends[j], k.ends[i]
}

// Name is the symbol addr is in, interned in intern; UnknownFrame
// without symbols or below the first.
func (k *KernelSymbols) Name(addr uint64, intern map[string]string) string {
	if k == nil {
		return UnknownFrame
	}
	i := sort.Search(len(k.addrs), func(i int) bool { return k.addrs[i] > addr }) - 1
	if i < 0 {
		return UnknownFrame
	}
	end := k.ends[i]
	start := bytes.LastIndexByte(k.names[:end], 0) + 1
	b := k.names[start:end]
	if s, ok := intern[string(b)]; ok {
		return s
	}
	s := string(b)
	intern[s] = s
	return s
}

// UnknownFrame names a frame ig cannot place.
const UnknownFrame = "[unknown]"

// fileKey names a mapped file: device and inode, as /proc/PID/maps shows them.
type fileKey struct {
	dev string
	ino uint64
}

// mapping is an executable mapping of a file into a process.
type mapping struct {
	start, end, offset uint64
	bin                *mappedFile
}

// mappedFile is a mapped executable or library. Its file is held open from
// the moment ig notes the process, so that it resolves after the process
// exits (or in a container that is gone); its symbols are read only for
// a report, and dropped after it.
type mappedFile struct {
	name  string // base name, for frames without a symbol
	file  *os.File
	err   error
	known map[uint64]string // names read before, "" for none (Processes.keepNames)
}

// maxKnownNames bounds a file's remembered names: past it they are read
// again from the file.
const maxKnownNames = 4096

var vdso = &mappedFile{name: "[vdso]"}

// Processes notes the mappings of processes whose user stacks ig names.
type Processes struct {
	mu    sync.Mutex
	pids  map[uint32][]mapping // nil slice: gone before ig saw its mappings
	files map[fileKey]*mappedFile
	// keepNames: each file remembers the names read from it, for
	// stacks named event by event (the same call sites come again);
	// without it a report reads each file once and lets the memory go.
	keepNames bool
}

func NewProcesses() *Processes {
	return &Processes{pids: map[uint32][]mapping{}, files: map[fileKey]*mappedFile{}}
}

// Note reads pid's mappings unless known already.
func (ps *Processes) Note(pid uint32) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if _, ok := ps.pids[pid]; ok {
		return
	}
	ps.pids[pid], _ = ps.readMaps(pid)
}

// UserRefs places the user stack ips (leaf first) of pid in the files
// mapped there. It reads pid's mappings again if it still runs (it may
// have loaded libraries since), else uses what Note saw.
func (ps *Processes) UserRefs(pid uint32, ips []uint64) []FrameRef {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	// A zombie (exited, not yet reaped) has a maps file, empty: what
	// note saw then stands.
	if m, err := ps.readMaps(pid); err == nil && len(m) > 0 {
		ps.pids[pid] = m
	}
	maps := ps.pids[pid]
	out := make([]FrameRef, len(ips))
	for i, ip := range ips {
		if i > 0 {
			ip-- // a return address: the call is the instruction before
		}
		out[i] = place(maps, ip)
	}
	return out
}

func (ps *Processes) readMaps(pid uint32) ([]mapping, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []mapping
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// start-end perms offset dev inode path
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || !strings.Contains(fields[1], "x") {
			continue
		}
		if !strings.HasPrefix(fields[5], "/") {
			if fields[5] == "[vdso]" { // the kernel's code in user space: no file to read
				lo, hi, _ := strings.Cut(fields[0], "-")
				start, _ := strconv.ParseUint(lo, 16, 64)
				end, _ := strconv.ParseUint(hi, 16, 64)
				out = append(out, mapping{start: start, end: end, bin: vdso})
			}
			continue
		}
		lo, hi, _ := strings.Cut(fields[0], "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		off, err3 := strconv.ParseUint(fields[2], 16, 64)
		ino, err4 := strconv.ParseUint(fields[4], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil || err4 != nil || ino == 0 {
			continue
		}
		key := fileKey{fields[3], ino}
		bin, ok := ps.files[key]
		if !ok {
			file := strings.Join(fields[5:], " ")
			// map_files opens the very file mapped, even deleted or
			// in another mount namespace; the path through the
			// process's root is the fallback.
			fh, err := os.Open(fmt.Sprintf("/proc/%d/map_files/%s", pid, fields[0]))
			if err != nil {
				fh, err = os.Open(fmt.Sprintf("/proc/%d/root%s", pid, strings.TrimSuffix(file, " (deleted)")))
			}
			bin = &mappedFile{name: path.Base(file), file: fh, err: err}
			if err != nil {
				bin.file = nil
			}
			ps.files[key] = bin
		}
		out = append(out, mapping{start: start, end: end, offset: off, bin: bin})
	}
	return out, sc.Err()
}

// FrameRef is a user frame: a file offset in a binary, or a name when
// there is no file to read (nothing mapped there, the vdso).
type FrameRef struct {
	bin  *mappedFile
	off  uint64
	name string
}

func place(maps []mapping, addr uint64) FrameRef {
	for _, m := range maps {
		if addr < m.start || addr >= m.end {
			continue
		}
		if m.bin == vdso {
			return FrameRef{name: "[vdso]"}
		}
		return FrameRef{bin: m.bin, off: addr - m.start + m.offset}
	}
	return FrameRef{name: UnknownFrame}
}

// Resolve names the frames, reading one binary's symbols at a time and
// only the names it needs: a report's memory stays that of the biggest
// symbol table, not of all of them.
func (ps *Processes) Resolve(stacks [][]FrameRef) [][]string {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	wanted := map[*mappedFile][]uint64{}
	for _, st := range stacks {
		for _, f := range st {
			if f.bin != nil {
				wanted[f.bin] = append(wanted[f.bin], f.off)
			}
		}
	}
	names := map[*mappedFile]map[uint64]string{}
	for bin, offs := range wanted {
		if ps.keepNames {
			names[bin] = bin.knownNames(offs)
			continue
		}
		names[bin] = bin.names(offs)
		debug.FreeOSMemory() // the symbol table read goes before the next
	}
	intern := map[string]string{}
	out := make([][]string, len(stacks))
	for i, st := range stacks {
		out[i] = make([]string, len(st))
		for j, f := range st {
			name := f.name
			if f.bin != nil {
				if name = names[f.bin][f.off]; name == "" {
					name = fmt.Sprintf("%s+0x%x", f.bin.name, f.off)
				}
			}
			if s, ok := intern[name]; ok {
				name = s
			} else {
				intern[name] = name
			}
			out[i][j] = name
		}
	}
	return out
}

// Forget drops the symbol tables read for a report (memory), and the
// processes that are gone with their files.
func (ps *Processes) Forget() {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for pid := range ps.pids {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
			delete(ps.pids, pid)
		}
	}
	used := map[*mappedFile]bool{}
	for _, maps := range ps.pids {
		for _, m := range maps {
			used[m.bin] = true
		}
	}
	for k, b := range ps.files {
		if !used[b] {
			if b.file != nil {
				b.file.Close()
			}
			delete(ps.files, k)
		}
	}
}

// Close lets go of every file.
func (ps *Processes) Close() {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for _, b := range ps.files {
		if b.file != nil {
			b.file.Close()
		}
	}
	ps.files, ps.pids = map[fileKey]*mappedFile{}, map[uint32][]mapping{}
}

// knownNames is names, reading the file only for offsets it was not asked
// before.
func (b *mappedFile) knownNames(offs []uint64) map[uint64]string {
	var unknown []uint64
	for _, off := range offs {
		if _, ok := b.known[off]; !ok {
			unknown = append(unknown, off)
		}
	}
	if len(unknown) == 0 {
		return b.known
	}
	if b.known == nil || len(b.known)+len(unknown) > maxKnownNames {
		b.known, unknown = make(map[uint64]string, len(offs)), offs // start again
	}
	read := b.names(unknown)
	for _, off := range unknown {
		b.known[off] = read[off] // "": no function there
	}
	return b.known
}

// names maps file offsets of the binary to function names: from its ELF
// symbol table (or the dynamic one), or from Go's pclntab when it has no
// function symbols (go build -ldflags=-s). Only the names asked for are
// read; an offset without a function is left out.
func (b *mappedFile) names(offs []uint64) map[uint64]string {
	out := map[uint64]string{}
	if b.file == nil {
		return out
	}
	ef, err := elf.NewFile(b.file)
	if err != nil {
		return out
	}
	vaddrs := make(map[uint64]uint64, len(offs)) // file offset -> virtual address
	for _, off := range offs {
		// Through the segment that holds the offset: this undoes a
		// PIE's (or a library's) load bias.
		for _, p := range ef.Progs {
			if p.Type == elf.PT_LOAD && off >= p.Off && off < p.Off+p.Filesz {
				vaddrs[off] = off - p.Off + p.Vaddr
				break
			}
		}
	}
	for _, name := range []string{".symtab", ".dynsym"} {
		if sec := ef.Section(name); sec != nil && sec.Type != elf.SHT_NOBITS {
			if funcs := elfFuncs(ef, sec, vaddrs, out); funcs > 0 {
				break
			}
		}
	}
	// A Go binary stripped of .symtab may keep a .dynsym of a few
	// exported functions (cgo): its pclntab names the rest.
	if sec := ef.Section(".gopclntab"); sec != nil && len(out) < len(vaddrs) {
		if data, err := sec.Data(); err == nil {
			var text uint64
			if t := ef.Section(".text"); t != nil {
				text = t.Addr
			}
			if tab, err := gosym.NewTable(nil, gosym.NewLineTable(data, text)); err == nil {
				for off, va := range vaddrs {
					if _, named := out[off]; named {
						continue
					}
					if fn := tab.PCToFunc(va); fn != nil {
						out[off] = fn.Name
					}
				}
			}
		}
	}
	return out
}

// elfSym is an ELF64 symbol of type function, as the table holds it.
type elfSym struct {
	value, size uint64
	name        uint32 // offset in the string table
}

// elfFuncs reads the function symbols of the table sec (ELF64, little
// endian: x86_64), names into out the addresses of vaddrs they hold, and
// returns how many functions the table has.
func elfFuncs(ef *elf.File, sec *elf.Section, vaddrs map[uint64]uint64, out map[uint64]string) int {
	if ef.Class != elf.ELFCLASS64 || ef.ByteOrder != bin.LittleEndian || int(sec.Link) >= len(ef.Sections) {
		return 0
	}
	data, err := sec.Data()
	if err != nil {
		return 0
	}
	var funcs []elfSym
	for i := 0; i+24 <= len(data); i += 24 {
		e := data[i : i+24]
		if elf.SymType(e[4]&0xf) != elf.STT_FUNC {
			continue
		}
		if v := bin.LittleEndian.Uint64(e[8:]); v != 0 {
			funcs = append(funcs, elfSym{v, bin.LittleEndian.Uint64(e[16:]), bin.LittleEndian.Uint32(e[0:])})
		}
	}
	data = nil
	if len(funcs) == 0 {
		return 0
	}
	sort.Slice(funcs, func(i, j int) bool { return funcs[i].value < funcs[j].value })
	strtab := ef.Sections[sec.Link]
	var buf [512]byte
	for off, va := range vaddrs {
		i := sort.Search(len(funcs), func(i int) bool { return funcs[i].value > va }) - 1
		if i < 0 || (funcs[i].size != 0 && va >= funcs[i].value+funcs[i].size) {
			continue
		}
		n, _ := strtab.ReadAt(buf[:], int64(funcs[i].name))
		if end := bytes.IndexByte(buf[:n], 0); end > 0 {
			out[off] = string(buf[:end])
		}
	}
	return len(funcs)
}
