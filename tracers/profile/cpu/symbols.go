package cpu

import (
	"bufio"
	"debug/elf"
	"debug/gosym"
	"fmt"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// kernelSymbols are the kernel's text symbols from /proc/kallsyms, by address.
type kernelSymbols struct {
	addrs []uint64
	names []string
}

func readKallsyms() (*kernelSymbols, error) {
	f, err := os.Open("/proc/kallsyms")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	type sym struct {
		addr uint64
		name string
	}
	var syms []sym
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "ffffffff81000000 T _stext [module]"
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 || (fields[1] != "t" && fields[1] != "T") {
			continue
		}
		addr, err := strconv.ParseUint(fields[0], 16, 64)
		if err != nil || addr == 0 {
			continue // 0: kptr_restrict hides addresses
		}
		syms = append(syms, sym{addr, fields[2]})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(syms) == 0 {
		return nil, fmt.Errorf("/proc/kallsyms shows no addresses")
	}
	sort.Slice(syms, func(i, j int) bool { return syms[i].addr < syms[j].addr })
	k := &kernelSymbols{addrs: make([]uint64, len(syms)), names: make([]string, len(syms))}
	for i, s := range syms {
		k.addrs[i], k.names[i] = s.addr, s.name
	}
	return k, nil
}

// name is the symbol addr is in.
func (k *kernelSymbols) name(addr uint64) string {
	if k == nil {
		return unknownFrame
	}
	i := sort.Search(len(k.addrs), func(i int) bool { return k.addrs[i] > addr }) - 1
	if i < 0 {
		return unknownFrame
	}
	return k.names[i]
}

const unknownFrame = "[unknown]"

// fileKey names a mapped file: device and inode, as /proc/PID/maps shows them.
type fileKey struct {
	dev string
	ino uint64
}

// mapping is an executable mapping of a file into a process.
type mapping struct {
	start, end, offset uint64
	bin                *binary
}

// binary is a mapped executable or library. Its file is held open from
// the moment ig notes the process, so that it resolves after the process
// exits (or in a container that is gone); its symbols are read only for
// a report, and dropped after it.
type binary struct {
	name string // base name, for frames without a symbol
	file *os.File
	syms *userSymbols // nil until read; see load
	err  error
}

var vdso = &binary{name: "[vdso]"}

// processes notes the mappings of the processes sampled.
type processes struct {
	mu    sync.Mutex
	pids  map[uint32][]mapping // nil slice: gone before ig saw its mappings
	files map[fileKey]*binary
}

func newProcesses() *processes {
	return &processes{pids: map[uint32][]mapping{}, files: map[fileKey]*binary{}}
}

// note reads pid's mappings unless known already.
func (ps *processes) note(pid uint32) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if _, ok := ps.pids[pid]; ok {
		return
	}
	ps.pids[pid], _ = ps.readMaps(pid)
}

// userFrames names the functions of the user stack ips (leaf first) of
// pid. It reads pid's mappings again if it still runs (it may have loaded
// libraries since), else uses what note saw.
func (ps *processes) userFrames(pid uint32, ips []uint64) []string {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if m, err := ps.readMaps(pid); err == nil {
		ps.pids[pid] = m
	}
	maps := ps.pids[pid]
	out := make([]string, len(ips))
	for i, ip := range ips {
		if i > 0 {
			ip-- // a return address: the call is the instruction before
		}
		out[i] = frame(maps, ip)
	}
	return out
}

func (ps *processes) readMaps(pid uint32) ([]mapping, error) {
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
			bin = &binary{name: path.Base(file), file: fh, err: err}
			ps.files[key] = bin
		}
		out = append(out, mapping{start: start, end: end, offset: off, bin: bin})
	}
	return out, sc.Err()
}

// frame names the function at user address addr, in a process mapped so.
func frame(maps []mapping, addr uint64) string {
	for _, m := range maps {
		if addr < m.start || addr >= m.end {
			continue
		}
		fileOff := addr - m.start + m.offset
		if m.bin == vdso {
			return "[vdso]"
		}
		if name := m.bin.lookup(fileOff); name != "" {
			return name
		}
		return fmt.Sprintf("%s+0x%x", m.bin.name, fileOff)
	}
	return unknownFrame
}

// forget drops the symbol tables read for a report (memory), and the
// processes that are gone with their files.
func (ps *processes) forget() {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for _, b := range ps.files {
		b.syms = nil
	}
	for pid := range ps.pids {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
			delete(ps.pids, pid)
		}
	}
	used := map[*binary]bool{}
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

// close lets go of every file.
func (ps *processes) close() {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	for _, b := range ps.files {
		if b.file != nil {
			b.file.Close()
		}
	}
	ps.files, ps.pids = map[fileKey]*binary{}, map[uint32][]mapping{}
}

// userSymbols resolve a binary's file offsets to function names: from its
// ELF symbols, or from Go's pclntab when it has none (go build -ldflags=-s).
type userSymbols struct {
	loads []elf.ProgHeader // PT_LOAD segments: file offset -> virtual address
	funcs []elfFunc        // by address
	gotab *gosym.Table
}

type elfFunc struct {
	addr, size uint64
	name       string
}

func (b *binary) lookup(fileOff uint64) string {
	if b.syms == nil && b.err == nil {
		b.syms, b.err = readUserSymbols(b.file)
	}
	if b.syms == nil {
		return ""
	}
	return b.syms.name(fileOff)
}

func readUserSymbols(f *os.File) (*userSymbols, error) {
	if f == nil {
		return nil, fmt.Errorf("not open")
	}
	ef, err := elf.NewFile(f)
	if err != nil {
		return nil, err
	}
	defer ef.Close()
	s := &userSymbols{}
	for _, p := range ef.Progs {
		if p.Type == elf.PT_LOAD {
			s.loads = append(s.loads, p.ProgHeader)
		}
	}
	add := func(syms []elf.Symbol) {
		for _, sym := range syms {
			if elf.ST_TYPE(sym.Info) == elf.STT_FUNC && sym.Value != 0 {
				s.funcs = append(s.funcs, elfFunc{sym.Value, sym.Size, sym.Name})
			}
		}
	}
	if syms, err := ef.Symbols(); err == nil {
		add(syms)
	}
	if len(s.funcs) == 0 {
		if sec := ef.Section(".gopclntab"); sec != nil {
			if data, err := sec.Data(); err == nil {
				var text uint64
				if t := ef.Section(".text"); t != nil {
					text = t.Addr
				}
				s.gotab, _ = gosym.NewTable(nil, gosym.NewLineTable(data, text))
			}
		}
	}
	if syms, err := ef.DynamicSymbols(); err == nil && s.gotab == nil {
		add(syms)
	}
	sort.Slice(s.funcs, func(i, j int) bool { return s.funcs[i].addr < s.funcs[j].addr })
	return s, nil
}

// name maps a file offset to its virtual address through the segment that
// holds it (this undoes a PIE's load bias), then to the function there.
func (s *userSymbols) name(fileOff uint64) string {
	var vaddr uint64
	found := false
	for _, p := range s.loads {
		if fileOff >= p.Off && fileOff < p.Off+p.Filesz {
			vaddr, found = fileOff-p.Off+p.Vaddr, true
			break
		}
	}
	if !found {
		return ""
	}
	if s.gotab != nil {
		if fn := s.gotab.PCToFunc(vaddr); fn != nil {
			return fn.Name
		}
	}
	i := sort.Search(len(s.funcs), func(i int) bool { return s.funcs[i].addr > vaddr }) - 1
	if i < 0 {
		return ""
	}
	if f := s.funcs[i]; f.size == 0 || vaddr < f.addr+f.size {
		return f.name
	}
	return ""
}
