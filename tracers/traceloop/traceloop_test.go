package traceloop

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/ig-tracer/ig/tracers"
)

// record builds a record as traceloop.bpf.c writes it.
func record(ts uint64, tid uint32, comm string, nr int32, kind uint8, arg uint8, values ...uint64) []byte {
	// 8-byte aligned, as the perf reader's records are (tracers.View
	// needs it): a []byte of the stack may not be.
	b := unsafe.Slice((*byte)(unsafe.Pointer(&make([]uint64, recordLen/8)[0])), recordLen)
	binary.LittleEndian.PutUint64(b, ts)
	binary.LittleEndian.PutUint32(b[16:], tid) // pid
	binary.LittleEndian.PutUint32(b[20:], tid) // tid
	copy(b[36:52], comm)
	binary.LittleEndian.PutUint32(b[offNr:], uint32(nr))
	b[offKind], b[offArg] = kind, arg
	binary.LittleEndian.PutUint16(b[offCPU:], 1)
	for i, v := range values {
		binary.LittleEndian.PutUint64(b[offValues+8*i:], v)
	}
	return b
}

func stringRecord(ts uint64, tid uint32, nr int32, arg uint8, s string) []byte {
	b := record(ts, tid, "x", nr, kindString, arg)
	n := copy(b[offValues:], s)
	b[offValues+n] = 0
	return b[:offValues+n+1]
}

const openatFormat = `name: sys_enter_openat
ID: 782
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:int common_pid;	offset:4;	size:4;	signed:1;

	field:int __syscall_nr;	offset:8;	size:4;	signed:1;
	field:int dfd;	offset:16;	size:8;	signed:0;
	field:const char * filename;	offset:24;	size:8;	signed:0;
	field:int flags;	offset:32;	size:8;	signed:0;
	field:umode_t mode;	offset:40;	size:8;	signed:0;

print fmt: "dfd: 0x%08lx"
`

// TestDecode: entries, their strings and exits pair up by thread into
// system calls in the order they were entered; an entry with no exit is
// unfinished (exit_group has no return), an exit whose entry was
// overwritten still shows.
func TestDecode(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "events/syscalls/sys_enter_openat/format")
	if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f, []byte(openatFormat), 0o644); err != nil {
		t.Fatal(err)
	}
	decls := readDeclarations(dir)
	const openat, read, exitGroup, wait4 = 257, 0, 231, 61
	if got := decls.stringArgs(); len(got) != 1 || got[openat] != 0b10 {
		t.Fatalf("string arguments: %v, want openat's second", got)
	}
	d := &decoder{clock: tracers.NewClock(), decls: decls}
	atFdcwd := uint64(0xffffff9c) // -100 as the kernel passes an int
	rows := d.decode([][]byte{
		record(1, 7, "cat", read, kindExit, 0, 5),                                          // its entry was overwritten
		record(2, 7, "cat", openat, kindEnter, 0, atFdcwd, 0x1000, 0o2000000|0o100, 0o644), // O_CLOEXEC|O_CREAT
		stringRecord(2, 7, openat, 1, "/etc/passwd"),
		record(3, 8, "sh", wait4, kindEnter, 0, 0xffffffffffffffff),
		record(4, 7, "cat", openat, kindExit, 0, uint64(^uint64(1))), // -2: ENOENT
		record(5, 7, "cat", exitGroup, kindEnter, 0, 1),
	})
	want := []struct{ syscall, params, ret string }{
		{"read", "", "5"},
		{"openat", `dfd=AT_FDCWD, filename="/etc/passwd", flags=O_RDONLY|O_CREAT|O_CLOEXEC, mode=0644`, "-1 ENOENT"},
		{"wait4", "arg0=18446744073709551615, arg1=0, arg2=0, arg3=0, arg4=0, arg5=0", "unfinished"},
		{"exit_group", "arg0=1, arg1=0, arg2=0, arg3=0, arg4=0, arg5=0", ""},
	}
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d: %+v", len(rows), len(want), rows)
	}
	for i, w := range want {
		if r := rows[i]; r.Syscall != w.syscall || r.ParamsText != w.params || r.Ret != w.ret {
			t.Errorf("row %d: %s(%s) = %q, want %s(%s) = %q", i, r.Syscall, r.ParamsText, r.Ret, w.syscall, w.params, w.ret)
		}
	}
	if rows[1].Retval != -2 || rows[1].Comm != "cat" || rows[1].Tid != 7 || rows[1].CPU != 1 || rows[1].Parameters[1].Value != "0x1000" {
		t.Errorf("openat: %+v", rows[1])
	}
}

// TestSyscallFilter: names become numbers; an unknown name is an error.
func TestSyscallFilter(t *testing.T) {
	m, err := syscallFilter([]string{"openat, close", "read"})
	if err != nil || len(m) != 3 || m[257] != 1 || m[3] != 1 || m[0] != 1 {
		t.Fatalf("got %v, %v", m, err)
	}
	if _, err := syscallFilter([]string{"nosuch"}); err == nil {
		t.Fatal("an unknown system call was taken")
	}
}

func TestBufferBytes(t *testing.T) {
	for cpus, want := range map[int]int{1: 256 << 10, 8: 256 << 10, 16: 128 << 10, 64: 32 << 10, 512: 32 << 10} {
		if got := bufferBytes(cpus); got != want {
			t.Errorf("%d CPUs: %d bytes per CPU, want %d", cpus, got, want)
		}
	}
}
