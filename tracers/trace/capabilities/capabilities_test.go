package capabilities

import (
	"testing"
	"unsafe"

	"github.com/ig-tracer/ig/tracers"
)

func record(ev *capabilitiesCapEvent) []byte {
	return append([]byte(nil), unsafe.Slice((*byte)(unsafe.Pointer(ev)), eventSize)...)
}

func TestHeaderLayout(t *testing.T) {
	if got := unsafe.Sizeof(capabilitiesCapEvent{}.Hdr); got != uintptr(tracers.HeaderSize) {
		t.Fatalf("struct event_header is %d bytes in C, %d in tracers.RawHeader", got, tracers.HeaderSize)
	}
}

func TestDecode(t *testing.T) {
	for _, c := range []struct {
		name            string
		syscall         int64
		cap, ret        int32
		audit, insetid  int8
		wantSyscall     string
		wantCap         string
		wantVerdict     string
		wantInsetID     bool
		wantInsetIDText string
	}{
		{"kprobe, denied bind", 49, 10, -1, 1, 0, "bind", "NET_BIND_SERVICE", "Deny", false, "false"},
		{"kprobe, setuid insetid", 105, 7, 0, 1, 1, "setuid", "SETUID", "Allow", true, "true"},
		{"tracepoint, kernel thread", -1, 21, 0, -1, -1, "", "SYS_ADMIN", "Allow", false, "N/A"},
		{"unknown capability", 49, 99, 0, -1, -1, "bind", "CAP_99", "Allow", false, "N/A"},
	} {
		var raw capabilitiesCapEvent
		copy(raw.Hdr.Comm[:], "python3\x00")
		raw.Hdr.Pid = 42
		raw.Syscall, raw.Cap, raw.Ret, raw.Audit, raw.Insetid = c.syscall, c.cap, c.ret, c.audit, c.insetid
		var ev Event
		if !tracers.Decoder[Event](newDecoder().decode).Into(record(&raw), &ev) {
			t.Fatalf("%s: decode failed", c.name)
		}
		if ev.Pid != 42 || ev.Comm != "python3" || ev.Syscall != c.wantSyscall || ev.Cap != c.cap || ev.CapName != c.wantCap ||
			ev.Verdict != c.wantVerdict || ev.Audit != int32(c.audit) || ev.InsetID != c.wantInsetID || ev.InsetIDText != c.wantInsetIDText {
			t.Errorf("%s: got %+v", c.name, ev)
		}
	}
	if newDecoder().decode(make([]byte, 8), &Event{}) {
		t.Error("a short record decoded")
	}
}
