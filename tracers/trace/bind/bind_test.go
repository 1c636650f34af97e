package bind

import (
	"strings"
	"testing"
	"unsafe"

	"github.com/ig-tracer/ig/tracers"
)

func TestHeaderLayout(t *testing.T) {
	if got := unsafe.Sizeof(bindBindEvent{}.Hdr); got != uintptr(tracers.HeaderSize) {
		t.Fatalf("struct event_header is %d bytes in C, %d in tracers.RawHeader", got, tracers.HeaderSize)
	}
}

func record(ev *bindBindEvent) []byte {
	return append([]byte(nil), unsafe.Slice((*byte)(unsafe.Pointer(ev)), unsafe.Sizeof(*ev))...)
}

func TestDecode(t *testing.T) {
	d := &decoder{clock: tracers.NewClock()}
	var raw bindBindEvent
	raw.Hdr.Pid = 7
	copy(raw.Hdr.Comm[:], "nc\x00")
	raw.Family, raw.Port, raw.Protocol, raw.HasSocket = 10, 8080, 6, 1
	raw.Addr[15] = 1 // ::1
	raw.Opts = 8 | 1 // SO_REUSEADDR, IP_FREEBIND
	raw.BoundDevIf = 1
	copy(raw.Ifname[:], "lo\x00")
	raw.Ret = -98
	var ev Event
	if !tracers.Decoder[Event](d.decode).Into(record(&raw), &ev) {
		t.Fatal("decode failed")
	}
	if ev.Pid != 7 || ev.Comm != "nc" || ev.Addr != "::1" || ev.Port != 8080 || ev.Protocol != "TCP" ||
		ev.Options != ".R..F" || ev.Interface != "lo" || ev.Ret != -98 || ev.Err != 98 || ev.Error != "EADDRINUSE" {
		t.Errorf("got %+v", ev)
	}

	// IPv4, no socket (EBADF): no protocol, no options; a device without a name shows its index.
	raw = bindBindEvent{Family: 2, Port: 53, Ret: -9, BoundDevIf: 4}
	copy(raw.Addr[:], []byte{10, 0, 0, 1})
	if !tracers.Decoder[Event](d.decode).Into(record(&raw), &ev) {
		t.Fatal("decode failed")
	}
	if ev.Addr != "10.0.0.1" || ev.Protocol != "" || ev.Options != "" || ev.Interface != "4" || ev.Error != "EBADF" {
		t.Errorf("got %+v", ev)
	}
	if d.decode(record(&raw)[:unsafe.Sizeof(raw)-1], &ev) {
		t.Error("a short record was accepted")
	}
}

func TestOptions(t *testing.T) {
	for bits, want := range map[uint8]string{0: ".....", 1: "....F", 2: "...T.", 4: "..N..", 8: ".R...", 16: "r....", 31: "rRNTF"} {
		if got := options(bits); got != want {
			t.Errorf("options(%#x) = %q, want %q", bits, got, want)
		}
	}
}

func TestParsePorts(t *testing.T) {
	if p, err := parsePorts("80, 443,65535"); err != nil || len(p) != 3 || p[0] != 80 || p[1] != 443 || p[2] != 65535 {
		t.Errorf("parsePorts: %v %v", p, err)
	}
	if p, err := parsePorts(""); err != nil || p != nil {
		t.Errorf("parsePorts(\"\"): %v %v", p, err)
	}
	for _, bad := range []string{"x", "0", "65536", "-1", "80,", strings.Repeat("1,", maxPorts) + "1"} {
		if _, err := parsePorts(bad); err == nil || !strings.HasPrefix(err.Error(), "--ports ") {
			t.Errorf("parsePorts(%q): %v, want an error naming --ports", bad, err)
		}
	}
}
