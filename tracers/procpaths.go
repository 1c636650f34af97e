package tracers

import (
	"unsafe"

	"github.com/cilium/ebpf"
)

// ProcPaths mirrors bpf/capture.h's struct ig_proc_paths: a process's
// working directory and executable as ig_read_path's components, of which
// the first 512 bytes are kept.
type ProcPaths struct {
	ExeFile, Pwd, PwdMnt uint64 // what they were read from
	Walk                 uint32 // the walk's number, as packets carry it
	CwdLen, ExeLen       uint16 // bytes the walks wrote
	CwdCut, ExeCut       uint8
	_                    [6]byte
	Cwd, Exe             [512]byte
}

// PathsReader gives the paths of a packet's process, from proc_paths
// (capture.h, IG_PROC_PATHS): a packet carries the number of the walk
// they came from, and the map is read once per walk, not per packet.
type PathsReader struct {
	m     *ebpf.Map
	cache map[uint32]procPathStrings // by process (thread group id)
	buf   []byte
	paths PathInterner
}

type procPathStrings struct {
	walk     uint32
	cwd, exe string
}

// NewPathsReader reads p's proc_paths; nil when p has none (the paths
// are then all empty).
func NewPathsReader(p *Program) *PathsReader {
	m := p.Coll.Maps["proc_paths"]
	if m == nil {
		return nil
	}
	return &PathsReader{m: m, buf: make([]byte, unsafe.Sizeof(ProcPaths{}))}
}

// Paths returns the working directory and executable of process pid,
// read in walk (a packet's PacketHeader.Paths): empty when walk is 0 or
// the process's paths are gone from the map (pushed out by others). When
// the process's were read again since (it changed directory), those are
// the ones returned.
func (r *PathsReader) Paths(pid, walk uint32) (cwd, exe string) {
	if r == nil || walk == 0 {
		return "", ""
	}
	if c, ok := r.cache[pid]; ok && c.walk == walk {
		return c.cwd, c.exe
	}
	if err := r.m.Lookup(pid, r.buf); err != nil {
		return "", ""
	}
	v := (*ProcPaths)(unsafe.Pointer(&r.buf[0]))
	c := procPathStrings{walk: walk,
		cwd: r.paths.FromKept(v.Cwd[:], int(v.CwdLen), v.CwdCut != 0),
		exe: r.paths.FromKept(v.Exe[:], int(v.ExeLen), v.ExeCut != 0)}
	if v.ExeLen == 0 && v.ExeCut == 0 {
		c.exe = "" // no executable (a kernel thread's socket)
	}
	if r.cache == nil || len(r.cache) >= internerMax {
		r.cache = make(map[uint32]procPathStrings, 64)
	}
	r.cache[pid] = c
	return c.cwd, c.exe
}
