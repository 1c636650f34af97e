package fsslower

import (
	"testing"
	"unsafe"

	"github.com/ig-tracer/ig/tracers"
)

func record(ev *fsslowerFsEvent) []byte {
	return append([]byte(nil), unsafe.Slice((*byte)(unsafe.Pointer(ev)), eventSize)...)
}

func TestHeaderLayout(t *testing.T) {
	if got := unsafe.Sizeof(fsslowerFsEvent{}.Hdr); got != uintptr(tracers.HeaderSize) {
		t.Fatalf("struct event_header is %d bytes in C, %d in tracers.RawHeader", got, tracers.HeaderSize)
	}
	if len(fsslowerFsEvent{}.File) != 256 {
		t.Fatal("file[] is not IG_NAME_MAX bytes")
	}
}

func TestDecode(t *testing.T) {
	var raw fsslowerFsEvent
	raw.Hdr.Pid = 7
	copy(raw.Hdr.Comm[:], "dd\x00")
	raw.Op, raw.Bytes, raw.Offset, raw.LatencyNs = 0, 100, 1234, 2_500_999
	copy(raw.File[:], "data.bin\x00")
	var ev Event
	if !tracers.Decoder[Event](newDecoder().decode).Into(record(&raw), &ev) {
		t.Fatal("decode failed")
	}
	if ev.Pid != 7 || ev.Comm != "dd" || ev.Op != "R" || ev.Bytes != 100 || ev.Offset != 1234 || ev.Latency != 2500 || ev.File != "data.bin" {
		t.Errorf("got %+v", ev)
	}
	for op, want := range map[uint8]string{1: "W", 2: "O", 3: "F"} {
		raw.Op = op
		if newDecoder().decode(record(&raw), &ev); ev.Op != want {
			t.Errorf("op %d: %q, want %q", op, ev.Op, want)
		}
	}
	raw.Op = 4 // no such operation: malformed
	if newDecoder().decode(record(&raw), &ev) {
		t.Error("op 4 decoded")
	}
}
