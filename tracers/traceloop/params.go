package traceloop

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ig-tracer/ig/tracers"
)

// param is one argument of a system call, as the kernel's tracepoint
// format declares it ("const char * filename").
type param struct {
	Name, Type string
	String     bool // a string ig reads at the call's entry (a path)
}

// maxSyscalls is TL_MAX_SYSCALLS of traceloop.bpf.c.
const maxSyscalls = 512

// declarations are the system calls' arguments, by number, from tracefs's
// events/syscalls/sys_enter_*/format (CONFIG_FTRACE_SYSCALLS): the names
// the kernel gives them, and which are strings. A system call without a
// format (or without tracefs) shows its six arguments as arg0..arg5.
type declarations [maxSyscalls][]param

func readDeclarations(tracefs string) *declarations {
	d := &declarations{}
	files, _ := filepath.Glob(filepath.Join(tracefs, "events/syscalls/sys_enter_*/format"))
	for _, f := range files {
		event := filepath.Base(filepath.Dir(f))
		nr, ok := syscallOfEvent(strings.TrimPrefix(event, "sys_enter_"))
		if !ok || nr >= maxSyscalls {
			continue
		}
		if params, ok := readFormat(f); ok {
			d[nr] = params
		}
	}
	return d
}

// syscallOfEvent finds the number of a system call from its tracepoint's
// name, which is the kernel's function's: newstat is stat(2), and
// sendfile64 is sendfile(2).
func syscallOfEvent(name string) (int64, bool) {
	if nr, ok := tracers.SyscallNumber(name); ok {
		return nr, true
	}
	if nr, ok := tracers.SyscallNumber(strings.TrimPrefix(name, "new")); ok {
		return nr, true
	}
	return tracers.SyscallNumber(strings.TrimSuffix(name, "64"))
}

// readFormat reads the arguments of a sys_enter format: the fields after
// __syscall_nr.
func readFormat(path string) ([]param, bool) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	var params []param
	args := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		decl, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "field:")
		if !ok {
			continue
		}
		decl, _, _ = strings.Cut(decl, ";")
		i := strings.LastIndexAny(decl, " *")
		if i < 0 {
			continue
		}
		typ, name := strings.TrimSpace(decl[:i+1]), decl[i+1:]
		if name == "__syscall_nr" {
			args = true
			continue
		}
		if args && len(params) < 6 {
			params = append(params, param{Name: name, Type: typ, String: isString(typ, name)})
		}
	}
	return params, args
}

// isString says whether an argument is a string to read: a path or a name
// the caller passes in (not a buffer, whose length is another argument).
func isString(typ, name string) bool {
	switch typ {
	case "const char *":
		return name != "buf" && name != "u_msg_ptr" && name != "_callout_info"
	case "char *":
		// mount(2) takes its device, directory and type so
		return name == "dev_name" || name == "dir_name" || name == "type"
	}
	return false
}

// stringArgs is, per system call number, the bit set of its string
// arguments: the string_args map of traceloop.bpf.c.
func (d *declarations) stringArgs() map[uint32]uint8 {
	m := map[uint32]uint8{}
	for nr, params := range d {
		var bits uint8
		for i, p := range params {
			if p.String {
				bits |= 1 << i
			}
		}
		if bits != 0 {
			m[uint32(nr)] = bits
		}
	}
	return m
}

// atFdcwd is AT_FDCWD, the "current directory" of the *at system calls.
const atFdcwd = -100

// openFlags names open(2) flags, memoized.
var openFlags = tracers.BitNames{Names: tracers.OpenFlags}

// value shows an argument as strace would: a descriptor or a count in
// decimal (AT_FDCWD by name), open flags by name, a mode in octal, a
// pointer in hex.
func (p *param) value(syscall string, v uint64) string {
	switch {
	case p.String || strings.HasSuffix(p.Type, "*"):
		return "0x" + strconv.FormatUint(v, 16)
	case p.Name == "flags" && (syscall == "open" || syscall == "openat"):
		return strings.Join(openFlags.Of(uint64(uint32(v))), "|")
	case p.Type == "umode_t" || p.Name == "mode" && strings.HasPrefix(syscall, "open"):
		return "0" + strings.TrimLeft(strconv.FormatUint(v&0o7777, 8), "0")
	}
	switch p.Type {
	case "int", "pid_t", "clockid_t", "key_serial_t", "mqd_t", "timer_t":
		if strings.HasSuffix(p.Name, "fd") && int32(v) == atFdcwd {
			return "AT_FDCWD"
		}
		return strconv.FormatInt(int64(int32(v)), 10)
	case "long", "off_t", "loff_t", "ssize_t", "__kernel_old_time_t":
		return strconv.FormatInt(int64(v), 10)
	case "unsigned int", "unsigned", "uid_t", "gid_t", "u32", "qid_t", "__u32", "rwf_t", "old_uid_t", "old_gid_t":
		return strconv.FormatUint(uint64(uint32(v)), 10)
	}
	return strconv.FormatUint(v, 10)
}
