package tracers

import (
	"testing"
	"unsafe"
)

func TestView(t *testing.T) {
	type fixed struct {
		A uint64
		B uint32
		_ [4]byte
	}
	buf := make([]byte, 24) // Go allocations are 8-byte aligned, as ring-buffer records
	buf[0], buf[8], buf[16] = 7, 9, 'x'
	v, tail, ok := View[fixed](buf, 16)
	if !ok || v.A != 7 || v.B != 9 || len(tail) != 8 || tail[0] != 'x' {
		t.Errorf("View: %v %+v %q", ok, v, tail)
	}
	if _, _, ok := View[fixed](buf[:15], 16); ok {
		t.Error("a record shorter than the fixed part was accepted")
	}
	if _, _, ok := View[fixed](buf[4:], 16); ok && uintptr(unsafe.Pointer(&buf[4]))%8 != 0 {
		t.Error("a misaligned record was accepted")
	}
}

func TestDecoderIntoZeroes(t *testing.T) {
	type event struct {
		A, B string
	}
	setA := Decoder[event](func(raw []byte, ev *event) bool { ev.A = string(raw); return true })
	ev := event{A: "old", B: "left over"}
	if !setA.Into([]byte("new"), &ev) || ev != (event{A: "new"}) {
		t.Errorf("Into left %+v, want only A set", ev)
	}
}
