// Package traceloop is the traceloop gadget: a flight recorder of system
// calls. Each recorded container (and the host, when selected) has its own
// overwritable buffer in the kernel, which keeps its last system calls;
// they are dumped on Ctrl-C, on SIGUSR1, and when the container's first
// process exits with a failure.
package traceloop

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/urfave/cli/v2"

	"github.com/ig-tracer/ig/output"
	"github.com/ig-tracer/ig/tracers"
)

// Event is one system call: its entry's arguments and its exit's return.
type Event struct {
	tracers.Event
	CPU        uint16  `json:"cpu" column:"cpu,width:3,right" desc:"the CPU it entered on"`
	Syscall    string  `json:"syscall" column:"syscall,width:16" desc:"system call name (x86_64)"`
	Parameters []Param `json:"parameters" desc:"its arguments, named as the kernel declares them; empty when the entry was overwritten"`
	ParamsText string  `json:"-" column:"params,width:40" desc:"the arguments as name=value, strings quoted"`
	Ret        string  `json:"ret" column:"ret,width:12" desc:"the return value; -1 and the errno's name on failure; unfinished when it had not returned; empty for exit and exit_group"`
	Retval     int64   `json:"retval" desc:"the return value as a number (-errno on failure, 0 when unfinished)"`
}

// Param is one argument.
type Param struct {
	Name    string `json:"name" desc:"its name in the kernel's declaration"`
	Value   string `json:"value" desc:"its value: decimal, flags by name, a pointer in hex"`
	Content string `json:"content" desc:"for a string (a path), the string it points to (at most 255 bytes)"`
}

// Common gives the runners the shared fields.
func (e *Event) Common() *tracers.Event { return &e.Event }

var schema = output.NewSchema[Event]()

func init() {
	tracers.Register(&tracers.Gadget{
		Name:        "traceloop",
		Description: "Record the last system calls of each container, dumped on Ctrl-C, SIGUSR1 or a failed exit",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "syscall-filters", Usage: "record only these system calls (`NAME`s, comma-separated or repeated)"},
		},
		Schema:  schema,
		Columns: tracers.Fixed("cpu", "pid", "tid", "comm", "syscall", "params", "ret"),
		Run:     run,
	})
}

// bufferBytes is each recorded namespace's buffer, per CPU: 256 KiB
// (about 1000 system calls with a path) up to 8 CPUs; beyond, 2 MiB in all
// per namespace, but never under 32 KiB. Always a power of two, as the
// kernel's perf buffers are.
func bufferBytes(cpus int) int {
	size := 256 << 10
	for size > 32<<10 && size*cpus > 2<<20 {
		size /= 2
	}
	return size
}

func run(ctx context.Context, env *tracers.Env) error {
	filter, err := syscallFilter(env.Args.StringSlice("syscall-filters"))
	if err != nil {
		return err
	}
	tracefs, err := tracers.EnsureTracefs(env.Logf)
	if err != nil {
		return err
	}
	decls := readDeclarations(tracefs)
	spec, err := loadTraceloop()
	if err != nil {
		return err
	}
	spec.Maps["string_args"].Contents = mapContents(decls.stringArgs())
	spec.Maps["syscall_filter"].Contents = mapContents(filter)
	consts := map[string]any{"filter_syscalls": len(filter) > 0, "ig_tgid": uint32(os.Getpid())}
	cpus, err := ebpf.PossibleCPU() // a perf buffer has a ring per possible CPU
	if err != nil {
		return err
	}
	d := &decoder{clock: tracers.NewClock(), decls: decls}
	return tracers.RunRecorder[Event](ctx, env, spec, consts, tracers.RecorderSpec[Event]{
		Buffers:     "buffers",
		Failures:    "failures",
		BufferBytes: bufferBytes(cpus),
		Decode:      d.decode,
	})
}

// syscallFilter reads --syscall-filters into the syscall_filter map.
func syscallFilter(names []string) (map[uint32]uint8, error) {
	m := map[uint32]uint8{}
	for _, list := range names {
		for _, name := range strings.Split(list, ",") {
			if name = strings.TrimSpace(name); name == "" {
				continue
			}
			nr, ok := tracers.SyscallNumber(name)
			if !ok || nr >= maxSyscalls {
				return nil, fmt.Errorf("--syscall-filters %s: no such system call (x86_64 names, as in syscalls(2))", name)
			}
			m[uint32(nr)] = 1
		}
	}
	return m, nil
}

func mapContents(m map[uint32]uint8) []ebpf.MapKV {
	kv := make([]ebpf.MapKV, 0, len(m))
	for k, v := range m {
		kv = append(kv, ebpf.MapKV{Key: k, Value: v})
	}
	return kv
}

// The records of traceloop.bpf.c: the shared header, then struct
// tl_record's or tl_string's own fields.
const (
	offNr     = tracers.HeaderSize
	offKind   = offNr + 4
	offArg    = offKind + 1
	offCPU    = offArg + 1
	offValues = offCPU + 2
	numArgs   = 6
	recordLen = offValues + 8*numArgs

	kindEnter  = 0
	kindExit   = 1
	kindString = 2
)

type decoder struct {
	clock tracers.Clock
	decls *declarations
	names tracers.Interner
}

// decode pairs each thread's entries, strings and exits (records in time
// order) into system calls, in the order they were entered. An exit whose
// entry was overwritten still shows; an entry whose exit has not come
// (blocked, or exit_group) shows as unfinished.
func (d *decoder) decode(records [][]byte) []Event {
	var rows []Event
	pending := map[uint32]int{} // thread → its row whose exit is to come
	for _, raw := range records {
		if len(raw) < offValues {
			continue
		}
		var ev tracers.Event
		if !d.clock.DecodeHeader(raw, &ev, &d.names) {
			continue
		}
		nr := int64(int32(binary.LittleEndian.Uint32(raw[offNr:])))
		switch raw[offKind] {
		case kindEnter:
			if len(raw) < recordLen {
				continue
			}
			if i, ok := pending[ev.Tid]; ok {
				rows[i].Ret = "unfinished" // its exit never came (execve that failed to return, or overwritten)
			}
			row := Event{Event: ev, CPU: binary.LittleEndian.Uint16(raw[offCPU:]), Syscall: tracers.SyscallName(nr), Ret: "unfinished"}
			if noReturn[row.Syscall] {
				row.Ret = ""
			}
			row.Parameters = d.params(nr, row.Syscall, raw[offValues:recordLen])
			pending[ev.Tid] = len(rows)
			rows = append(rows, row)
		case kindString:
			i, ok := pending[ev.Tid]
			arg := int(raw[offArg])
			if !ok || rows[i].Syscall != tracers.SyscallName(nr) || arg >= len(rows[i].Parameters) {
				continue
			}
			rows[i].Parameters[arg].Content = string(tracers.CString(raw[offValues:]))
		case kindExit:
			if len(raw) < recordLen {
				continue
			}
			ret := int64(binary.LittleEndian.Uint64(raw[offValues:]))
			i, ok := pending[ev.Tid]
			if !ok || rows[i].Syscall != tracers.SyscallName(nr) {
				// its entry was overwritten
				rows = append(rows, Event{Event: ev, CPU: binary.LittleEndian.Uint16(raw[offCPU:]), Syscall: tracers.SyscallName(nr), Parameters: []Param{}})
				i = len(rows) - 1
			}
			delete(pending, ev.Tid)
			rows[i].Retval, rows[i].Ret = ret, retString(rows[i].Syscall, ret)
		}
	}
	for i := range rows {
		rows[i].ParamsText = d.paramsText(rows[i].Syscall, rows[i].Parameters)
	}
	return rows
}

// params names and shows a system call's arguments: as many as its
// declaration has, or all six unnamed.
func (d *decoder) params(nr int64, syscall string, values []byte) []Param {
	var decl []param
	if nr >= 0 && nr < maxSyscalls {
		decl = d.decls[nr]
	}
	if decl == nil {
		decl = unnamed[:]
	}
	ps := make([]Param, len(decl))
	for i := range decl {
		v := binary.LittleEndian.Uint64(values[8*i:])
		ps[i] = Param{Name: decl[i].Name, Value: decl[i].value(syscall, v)}
	}
	return ps
}

var unnamed = [numArgs]param{{Name: "arg0"}, {Name: "arg1"}, {Name: "arg2"}, {Name: "arg3"}, {Name: "arg4"}, {Name: "arg5"}}

// noReturn are the system calls that end the thread or process: they have
// no return value to wait for.
var noReturn = map[string]bool{"exit": true, "exit_group": true}

// returnsPointer are the system calls whose result is an address.
var returnsPointer = map[string]bool{"mmap": true, "mremap": true, "brk": true, "shmat": true}

// retString shows a return value as strace does: -1 and the errno's name
// on failure, an address in hex.
func retString(syscall string, ret int64) string {
	if ret < 0 && ret >= -4095 {
		return "-1 " + tracers.ErrnoName(int32(-ret))
	}
	if returnsPointer[syscall] {
		return "0x" + strconv.FormatUint(uint64(ret), 16)
	}
	return strconv.FormatInt(ret, 10)
}

// paramsText is the params column: name=value, a string's content quoted
// in place of its address.
func (d *decoder) paramsText(syscall string, ps []Param) string {
	var decl []param
	if nr, ok := tracers.SyscallNumber(syscall); ok && nr < maxSyscalls {
		decl = d.decls[nr]
	}
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(p.Name)
		b.WriteByte('=')
		if i < len(decl) && decl[i].String && p.Value != "0x0" {
			b.WriteString(strconv.Quote(p.Content))
		} else {
			b.WriteString(p.Value)
		}
	}
	return b.String()
}
