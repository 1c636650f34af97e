package signal

import (
	"testing"
	"unsafe"

	"github.com/ig-tracer/ig/tracers"
)

func TestHeaderLayout(t *testing.T) {
	if got := unsafe.Sizeof(signalSignalEvent{}.Hdr); got != uintptr(tracers.HeaderSize) {
		t.Fatalf("struct event_header is %d bytes in C, %d in tracers.RawHeader", got, tracers.HeaderSize)
	}
}

func TestParseSignal(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int32
		ok   bool
	}{
		{"", 0, true}, {"SIGUSR1", 10, true}, {"USR1", 10, true}, {"usr1", 10, true}, {"sigkill", 9, true},
		{"9", 9, true}, {"64", 64, true}, {"SIG34", 34, true},
		{"0", 0, false}, {"65", 0, false}, {"-1", 0, false}, {"FOO", 0, false}, {"SIG", 0, false}, {"SIG0", 0, false},
	} {
		got, err := ParseSignal(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseSignal(%q) = %d, %v; want %d, ok %v", c.in, got, err, c.want, c.ok)
		}
	}
}

// Every name ig shows is one --signal takes back.
func TestSignalNameRoundTrip(t *testing.T) {
	for sig := int32(1); sig <= maxSignal; sig++ {
		if got, err := ParseSignal(tracers.SignalName(sig)); err != nil || got != sig {
			t.Errorf("ParseSignal(tracers.SignalName(%d) = %q) = %d, %v", sig, tracers.SignalName(sig), got, err)
		}
	}
	if tracers.SignalName(0) != "0" || tracers.SignalName(10) != "SIGUSR1" || tracers.SignalName(34) != "SIG34" {
		t.Errorf("names: %q %q %q", tracers.SignalName(0), tracers.SignalName(10), tracers.SignalName(34))
	}
}

func TestDecode(t *testing.T) {
	var raw signalSignalEvent
	raw.Hdr.Timestamp = 1000
	raw.Hdr.Pid, raw.Hdr.Tid = 10, 11
	copy(raw.Hdr.Comm[:], "kill\x00")
	raw.Ret, raw.Tpid, raw.Sig, raw.Syscall = -3, 999999, 12, 3
	rec := unsafe.Slice((*byte)(unsafe.Pointer(&raw)), eventSize)
	d := &decoder{clock: tracers.NewClock()}
	var ev Event
	if !tracers.Decoder[Event](d.decode).Into(append([]byte(nil), rec...), &ev) {
		t.Fatal("decode failed")
	}
	if ev.Pid != 10 || ev.Comm != "kill" || ev.Signal != "SIGUSR2" || ev.SignalRaw != 12 || ev.TargetPid != 999999 ||
		ev.Ret != -3 || ev.Error != "ESRCH" || ev.Syscall != "tgkill" {
		t.Errorf("decoded %+v", ev)
	}
	raw.Syscall = 4 // no such source: a record ig does not understand
	if tracers.Decoder[Event](d.decode).Into(append([]byte(nil), rec...), &ev) {
		t.Error("decoded a record with an unknown syscall")
	}
}
