package exec

import (
	"reflect"
	"testing"
	"unsafe"

	"github.com/ig-tracer/ig/tracers"
)

// record is what exec.bpf.c sends: the fixed part, then data.
func record(ev *execExecEvent, data string) []byte {
	fixed := unsafe.Slice((*byte)(unsafe.Pointer(ev)), dataAt)
	return append(append([]byte(nil), fixed...), data...)
}

func TestDecode(t *testing.T) {
	args := "/bin/ls\x00-l\x00\x00a b\x00"
	exe := "ls\x00bin\x00usr\x00" // components, leaf first
	cwd := "tmp\x00"
	var raw execExecEvent
	raw.Hdr.Pid = 7
	copy(raw.Hdr.Comm[:], "ls")
	raw.ArgsSize, raw.ExeSize, raw.CwdSize, raw.ExeComponents = uint32(len(args)), uint16(len(exe)), uint16(len(cwd)), 1
	d := &decoder{}
	var ev Event
	if !tracers.Decoder[Event](d.decode).Into(record(&raw, args+exe+cwd), &ev) {
		t.Fatal("decode failed")
	}
	if !reflect.DeepEqual(ev.Args, []string{"/bin/ls", "-l", "", "a b"}) || ev.ArgsText != "/bin/ls -l  a b" || ev.ArgsTruncated {
		t.Errorf("args %q (%q)", ev.Args, ev.ArgsText)
	}
	if ev.ExePath != "/usr/bin/ls" || ev.ExePathText != "/usr/bin/ls" || ev.Cwd != "/tmp" || ev.Comm != "ls" || ev.Pid != 7 || ev.Ret != 0 || ev.Error != "" {
		t.Errorf("event %+v", ev)
	}
	if ev.ExePathTruncated || ev.CwdTruncated {
		t.Errorf("exepathTruncated %v cwdTruncated %v, want false", ev.ExePathTruncated, ev.CwdTruncated)
	}

	// Paths from the kernel that did not fit: their ends, marked at the start.
	raw.ExeTruncated, raw.CwdTruncated = 1, 1
	if !tracers.Decoder[Event](d.decode).Into(record(&raw, args+exe+cwd), &ev) {
		t.Fatal("decode failed")
	}
	if ev.ExePath != "…/usr/bin/ls" || ev.ExePathText != ev.ExePath || !ev.ExePathTruncated || ev.Cwd != "…/tmp" || !ev.CwdTruncated {
		t.Errorf("cut paths: exepath %q (%q, %v), cwd %q (%v)", ev.ExePath, ev.ExePathText, ev.ExePathTruncated, ev.Cwd, ev.CwdTruncated)
	}

	// A failed exec: the path as passed, an error, a cut argument list.
	raw = execExecEvent{Ret: -2, ArgsTruncated: 1}
	args, exe = "./nope\x00x\x00cut-he", "./nope\x00"
	raw.ArgsSize, raw.ExeSize = uint32(len(args)), uint16(len(exe))
	if !tracers.Decoder[Event](d.decode).Into(record(&raw, args+exe), &ev) {
		t.Fatal("decode failed")
	}
	if ev.ExePath != "./nope" || ev.Err != 2 || ev.Error != "ENOENT" || ev.Cwd != "" || !ev.ArgsTruncated || ev.ArgsText != "./nope x …" {
		t.Errorf("failed exec %+v", ev)
	}
	if ev.ExePathTruncated || ev.CwdTruncated || ev.ExePathText != "./nope" {
		t.Errorf("failed exec: exepath %q truncated %v, cwdTruncated %v", ev.ExePathText, ev.ExePathTruncated, ev.CwdTruncated)
	}

	// A path as passed that did not fit: its start, marked at the end.
	raw.ExeTruncated = 1
	if !tracers.Decoder[Event](d.decode).Into(record(&raw, args+exe), &ev) {
		t.Fatal("decode failed")
	}
	if ev.ExePath != "./nope" || !ev.ExePathTruncated || ev.ExePathText != "./nope…" {
		t.Errorf("cut path as passed: exepath %q (%q, %v)", ev.ExePath, ev.ExePathText, ev.ExePathTruncated)
	}

	// Sizes larger than the record are refused, not read out of bounds.
	raw.ArgsSize = 100
	if tracers.Decoder[Event](d.decode).Into(record(&raw, args+exe), &ev) {
		t.Error("inconsistent sizes accepted")
	}
}
