package open

import (
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/ig-tracer/ig/tracers"
)

// record is what open.bpf.c sends: the fixed part and the path with its NUL.
func record(ev *openOpenEvent, path string) []byte { return recordFull(ev, path, "") }

// recordFull is record with the full path's components (leaf first, each
// NUL-terminated) after the path.
func recordFull(ev *openOpenEvent, path, components string) []byte {
	ev.PathLen = uint32(len(path) + 1)
	ev.Cursor = ev.PathLen + uint32(len(components))
	fixed := unsafe.Slice((*byte)(unsafe.Pointer(ev)), pathAt)
	return append(append(append([]byte(nil), fixed...), path+"\x00"...), components...)
}

// With --full-path, fullPath is the kernel's path of the opened file; an
// event without it (a failed open) has none, and a bad cursor is refused.
func TestDecodeFullPath(t *testing.T) {
	d := newDecoder()
	var ev Event
	raw := openOpenEvent{Ret: 3, Full: 1}
	if !tracers.Decoder[Event](d.decode).Into(recordFull(&raw, "b", "b\x00a\x00"), &ev) {
		t.Fatal("decode failed")
	}
	if ev.Path != "b" || ev.FullPath != "/a/b" {
		t.Errorf("path %q fullPath %q, want b /a/b", ev.Path, ev.FullPath)
	}
	raw = openOpenEvent{Ret: 3, Full: 1, FullTruncated: 1}
	if !tracers.Decoder[Event](d.decode).Into(recordFull(&raw, "b", "b\x00a\x00"), &ev) || ev.FullPath != tracers.Ellipsis+"/a/b" {
		t.Errorf("cut fullPath %q, want %s/a/b", ev.FullPath, tracers.Ellipsis)
	}
	raw = openOpenEvent{Ret: -2}
	if !tracers.Decoder[Event](d.decode).Into(record(&raw, "b"), &ev) || ev.FullPath != "" {
		t.Errorf("failed open: fullPath %q, want empty", ev.FullPath)
	}
	b := recordFull(&raw, "b", "b\x00")
	(*openOpenEvent)(unsafe.Pointer(&b[0])).Cursor = 100
	if d.decode(b, &ev) {
		t.Error("a cursor past the record was accepted")
	}
}

func TestHeaderLayout(t *testing.T) {
	if got := unsafe.Sizeof(openOpenEvent{}.Hdr); got != uintptr(tracers.HeaderSize) {
		t.Fatalf("struct event_header is %d bytes in C, %d in tracers.RawHeader", got, tracers.HeaderSize)
	}
}

func TestDecode(t *testing.T) {
	var raw openOpenEvent
	raw.Hdr.Timestamp = 1000
	raw.Hdr.MntnsId = 4026531841
	raw.Hdr.Pid, raw.Hdr.Tid, raw.Hdr.Ppid, raw.Hdr.Uid, raw.Hdr.Gid = 10, 11, 1, 1000, 100
	copy(raw.Hdr.Comm[:], "cat\x00")
	raw.Ret = -2
	raw.Flags = 0o2000000 | 0o100 | 0o1 // O_CLOEXEC|O_CREAT|O_WRONLY
	raw.Mode = 0o640

	d := newDecoder()
	var ev Event
	if !tracers.Decoder[Event](d.decode).Into(record(&raw, "relative/file"), &ev) {
		t.Fatal("decode failed")
	}
	want := Event{Ret: -2, Fd: 0, Err: 2, Error: "ENOENT", Flags: []string{"O_WRONLY", "O_CREAT", "O_CLOEXEC"},
		FlagsRaw: int32(raw.Flags), Mode: "-rw-r-----", ModeRaw: 0o640, Path: "relative/file", PathText: "relative/file"}
	want.Event = ev.Event // header checked below
	if !reflect.DeepEqual(ev, want) {
		t.Errorf("got  %+v\nwant %+v", ev, want)
	}
	if ev.Pid != 10 || ev.Tid != 11 || ev.Ppid != 1 || ev.Uid != 1000 || ev.Gid != 100 || ev.Comm != "cat" || ev.MountNsID != 4026531841 {
		t.Errorf("header %+v", ev.Event)
	}
	if ev.Timestamp != d.clock.Wall(1000) {
		t.Errorf("timestamp %d", ev.Timestamp)
	}

	// The same event reused for a successful open leaves nothing behind.
	raw.Ret, raw.Flags, raw.Mode = 3, 0, 0
	if !tracers.Decoder[Event](d.decode).Into(record(&raw, "/etc/hostname"), &ev) {
		t.Fatal("decode failed")
	}
	if ev.Fd != 3 || ev.Err != 0 || ev.Error != "" || !reflect.DeepEqual(ev.Flags, []string{"O_RDONLY"}) || ev.Path != "/etc/hostname" {
		t.Errorf("reused event: %+v", ev)
	}
	if d.decode(make([]byte, pathAt-1), &ev) {
		t.Error("a short record was accepted")
	}
}

// The special bits of a creation mode show as ls shows them.
func TestDecodeMode(t *testing.T) {
	d := newDecoder()
	var ev Event
	for mode, want := range map[uint32]string{0o4755: "-rwsr-xr-x", 0o2644: "-rw-r-Sr--", 0o1777: "-rwxrwxrwt", 0o600: "-rw-------"} {
		raw := openOpenEvent{Flags: 0o100, Mode: mode} // O_CREAT
		if !tracers.Decoder[Event](d.decode).Into(record(&raw, "f"), &ev) {
			t.Fatal("decode failed")
		}
		if ev.Mode != want || ev.ModeRaw != mode {
			t.Errorf("mode %#o: got %q (raw %#o), want %q", mode, ev.Mode, ev.ModeRaw, want)
		}
	}
}

// A path longer than the kernel program reads comes with its start and the
// mark; the next event, whole, has neither.
func TestDecodeTruncatedPath(t *testing.T) {
	long := strings.Repeat("d/", 2047) + "x" // 4095 bytes kept of a longer path
	raw := openOpenEvent{Ret: -36, PathTruncated: 1}
	d := newDecoder()
	var ev Event
	if !tracers.Decoder[Event](d.decode).Into(record(&raw, long), &ev) {
		t.Fatal("decode failed")
	}
	if ev.Path != long || !ev.PathTruncated || ev.PathText != long+"…" || ev.Error != "ENAMETOOLONG" {
		t.Errorf("cut path: path %d bytes, pathTruncated %v, text ends %q, error %q", len(ev.Path), ev.PathTruncated, ev.PathText[len(ev.PathText)-4:], ev.Error)
	}
	raw = openOpenEvent{Ret: 3}
	if !tracers.Decoder[Event](d.decode).Into(record(&raw, "/etc/passwd"), &ev) {
		t.Fatal("decode failed")
	}
	if ev.Path != "/etc/passwd" || ev.PathTruncated || ev.PathText != "/etc/passwd" {
		t.Errorf("whole path after a cut one: %q %v %q", ev.Path, ev.PathTruncated, ev.PathText)
	}
}
