package seccomp

import (
	"testing"
	"unsafe"

	"github.com/ig-tracer/ig/tracers"
)

// Records as the kernel writes them: a comm with a space comes hex-encoded,
// a 32-bit caller's numbers are not x86_64's, and each action has IG's name.
func TestDecodeRecord(t *testing.T) {
	d := &decoder{}
	var ev Event
	rec := `audit(1795741551.768:2): auid=4294967295 uid=1000 gid=1001 ses=4294967295 pid=12965 comm="sync" exe="/bin/busybox" sig=0 arch=c000003e syscall=162 compat=0 ip=0x7efd21985829 code=0x7ffc0000`
	if !d.decodeRecord([]byte(rec), &ev) || ev.Pid != 12965 || ev.Comm != "sync" || ev.Uid != 1000 || ev.Gid != 1001 ||
		ev.Syscall != "sync" || ev.Code != "log" || ev.Timestamp != 1795741551768000000 {
		t.Fatalf("%+v", ev)
	}
	ev = Event{}
	rec = `audit(1.5:3): auid=0 uid=0 gid=0 ses=1 pid=7 comm=6D792070726F67 exe="/x" sig=31 arch=40000003 syscall=20 compat=1 ip=0x1 code=0x80000000`
	if !d.decodeRecord([]byte(rec), &ev) || ev.Comm != "my prog" || ev.Code != "kill_process" || ev.Syscall != "syscall 20 (arch 40000003)" {
		t.Fatalf("%+v", ev)
	}
	d.filter = tracers.Filter{Comm: "other"}
	if ev = (Event{}); !d.decodeRecord([]byte(rec), &ev) || !ev.skip {
		t.Errorf("--comm other let %q through", ev.Comm)
	}
	for _, bad := range []string{"", "audit(", "audit(1:2): pid=x syscall=1 code=0x0", "type=1326 msg=audit(1:2): pid=1"} {
		if d.decodeRecord([]byte(bad), &Event{}) {
			t.Errorf("%q decoded", bad)
		}
	}
	for code, want := range map[uint32]string{0x80000000: "kill_process", 0: "kill_thread", 0x30000: "trap", 0x50001: "errno",
		0x7fc00000: "user_notif", 0x7ff00000: "trace", 0x7ffc0000: "log", 0x7fff0000: "allow", 0x12340000: "unknown"} {
		if got := CodeName(code); got != want {
			t.Errorf("code %#x: %q, want %q", code, got, want)
		}
	}
}

// A datagram of multicast records: lengths count the header but are not
// padded, so the last record may end before a 4-byte boundary.
func TestNetlinkMessages(t *testing.T) {
	msg := func(typ uint16, text string) []byte {
		b := make([]byte, 16, 16+len(text)+3)
		n := 16 + len(text)
		b[0], b[1], b[4], b[5] = byte(n), byte(n>>8), byte(typ), byte(typ>>8)
		return append(b, text...)
	}
	first := msg(1326, "abcde") // 21 bytes, padded to 24
	dgram := append(append(first, 0, 0, 0), msg(1300, "xy")...)
	got := netlinkMessages(dgram)
	if len(got) != 2 || got[0].typ != 1326 || string(got[0].data) != "abcde" || got[1].typ != 1300 || string(got[1].data) != "xy" {
		t.Fatalf("%+v", got)
	}
	if got := netlinkMessages(dgram[:10]); len(got) != 0 {
		t.Errorf("a cut header gave %+v", got)
	}
}

// The event's ustack is read as a tracers.UserStackOrigin: same layout.
func TestUserStackLayout(t *testing.T) {
	var e seccompSeccompEvent
	if got, want := unsafe.Sizeof(e.Ustack), unsafe.Sizeof(tracers.UserStackOrigin{}); got != want {
		t.Fatalf("struct ig_user_stack is %d bytes in C, %d in tracers.UserStackOrigin", got, want)
	}
	if got := unsafe.Offsetof(e.Ustack.StackId); got != unsafe.Offsetof(tracers.UserStackOrigin{}.StackID) {
		t.Fatalf("stack_id at %d in C, %d in Go", got, unsafe.Offsetof(tracers.UserStackOrigin{}.StackID))
	}
}
