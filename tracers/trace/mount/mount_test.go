package mount

import (
	"reflect"
	"testing"
	"unsafe"

	"github.com/ig-tracer/ig/tracers"
)

func TestHeaderLayout(t *testing.T) {
	if got := unsafe.Sizeof(mountMountEvent{}.Hdr); got != uintptr(tracers.HeaderSize) {
		t.Fatalf("struct event_header is %d bytes in C, %d in tracers.RawHeader", got, tracers.HeaderSize)
	}
}

// record is what mount.bpf.c sends: the fixed part, then the strings of the
// slots that have one, in slot order, each with its NUL.
func record(ev *mountMountEvent, slots [4]string) []byte {
	b := append([]byte(nil), unsafe.Slice((*byte)(unsafe.Pointer(ev)), dataAt)...)
	for i, s := range slots {
		if s != "" {
			b = append(b, s+"\x00"...)
			ev.Size[i] = uint16(len(s) + 1)
		}
	}
	copy(b, unsafe.Slice((*byte)(unsafe.Pointer(ev)), dataAt)) // the sizes
	return b
}

func decode(t *testing.T, ev *mountMountEvent, slots [4]string) Event {
	t.Helper()
	var out Event
	if !tracers.Decoder[Event](newDecoder().decode).Into(record(ev, slots), &out) {
		t.Fatal("decode failed")
	}
	return out
}

func TestDecodeMount(t *testing.T) {
	ev := decode(t, &mountMountEvent{Call: callMount, Flags: 0xC0ED0000 | 2 | 4096, Latency: 5, Ret: -19},
		[4]string{"none", "/mnt", "bogus", "a=b"})
	want := Event{Operation: "mount", Ret: -19, Err: 19, Error: "ENODEV", Latency: 5, Source: "none", Target: "/mnt", Fs: "bogus",
		Data: "a=b", Flags: []string{"MS_MGC_VAL", "MS_NOSUID", "MS_BIND"}, FlagsRaw: 0xC0ED0000 | 2 | 4096, Fd: -1, ToFd: -1,
		Attrs: []string{}, AttrsClr: []string{}, Truncated: []string{},
		Call: `mount("none", "/mnt", "bogus", MS_MGC_VAL|MS_NOSUID|MS_BIND, "a=b") = -19 ENODEV`}
	want.Event = ev.Event
	if !reflect.DeepEqual(ev, want) {
		t.Errorf("got  %+v\nwant %+v", ev, want)
	}
}

// The new API, call by call, as the call column shows it.
func TestDecodeNewAPI(t *testing.T) {
	for _, c := range []struct {
		raw   mountMountEvent
		slots [4]string
		call  string
	}{
		{mountMountEvent{Call: callFsopen, Flags: 1, Ret: 3}, [4]string{2: "tmpfs"}, `fsopen("tmpfs", FSOPEN_CLOEXEC) = 3`},
		{mountMountEvent{Call: callFsconfig, Arg0: 3, Cmd: 1}, [4]string{2: "size", 3: "1m"}, `fsconfig(3, FSCONFIG_SET_STRING, "size", "1m", 0) = 0`},
		{mountMountEvent{Call: callFsconfig, Arg0: 3, Cmd: 6}, [4]string{}, `fsconfig(3, FSCONFIG_CMD_CREATE, NULL, NULL, 0) = 0`},
		{mountMountEvent{Call: callFsmount, Arg0: 3, Flags: 1, AttrSet: 4 | 0x10, Ret: 4}, [4]string{}, `fsmount(3, FSMOUNT_CLOEXEC, MOUNT_ATTR_NODEV|MOUNT_ATTR_NOATIME) = 4`},
		{mountMountEvent{Call: callMoveMount, Arg0: 4, Arg1: -100, Flags: 4}, [4]string{0: "", 1: "/mnt"}, `move_mount(4, NULL, AT_FDCWD, "/mnt", MOVE_MOUNT_F_EMPTY_PATH) = 0`},
		{mountMountEvent{Call: callOpenTree, Arg0: -100, Flags: 1 | 0x8000, Ret: 5}, [4]string{0: "/mnt"}, `open_tree(AT_FDCWD, "/mnt", OPEN_TREE_CLONE|AT_RECURSIVE) = 5`},
		{mountMountEvent{Call: callMountSetattr, Arg0: 5, Flags: 0x1000, AttrSet: 1, AttrClr: 2, Propagation: 1 << 18}, [4]string{},
			`mount_setattr(5, NULL, AT_EMPTY_PATH, {attr_set=MOUNT_ATTR_RDONLY, attr_clr=MOUNT_ATTR_NOSUID, propagation=MS_PRIVATE}) = 0`},
		{mountMountEvent{Call: callUmount, Flags: 2, Ret: -22}, [4]string{1: "/mnt"}, `umount("/mnt", MNT_DETACH) = -22 EINVAL`},
	} {
		ev := decode(t, &c.raw, c.slots)
		if ev.Call != c.call {
			t.Errorf("call %q, want %q", ev.Call, c.call)
		}
	}
}

func TestDecodeFsconfigSource(t *testing.T) {
	ev := decode(t, &mountMountEvent{Call: callFsconfig, Arg0: 3, Cmd: 1, Cut: 1 << 3}, [4]string{2: "source", 3: "/dev/sda"})
	if ev.Source != "/dev/sda" || ev.Data != "source=/dev/sda" || ev.Fs != "" || ev.Fd != 3 ||
		!reflect.DeepEqual(ev.Flags, []string{"FSCONFIG_SET_STRING"}) || !reflect.DeepEqual(ev.Truncated, []string{"data"}) {
		t.Errorf("got %+v", ev)
	}
	if ev.Call != `fsconfig(3, FSCONFIG_SET_STRING, "source", "/dev/sda"…, 0) = 0` {
		t.Errorf("call %q", ev.Call)
	}
}

func TestDecodeBad(t *testing.T) {
	d := newDecoder()
	var ev Event
	raw := mountMountEvent{Call: 99}
	if d.decode(record(&raw, [4]string{}), &ev) {
		t.Error("an unknown call was accepted")
	}
	raw = mountMountEvent{Call: callMount}
	b := record(&raw, [4]string{"a", "b", "", ""})
	if d.decode(b[:len(b)-1], &ev) {
		t.Error("a record shorter than its strings was accepted")
	}
}
