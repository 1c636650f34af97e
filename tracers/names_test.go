package tracers

import (
	"reflect"
	"testing"
)

func TestErrnoName(t *testing.T) {
	for n, want := range map[int32]string{0: "", 2: "ENOENT", 13: "EACCES", 4000: "E4000"} {
		if got := ErrnoName(n); got != want {
			t.Errorf("ErrnoName(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestBitNames(t *testing.T) {
	b := BitNames{Names: []NamedBits{
		{Bits: 0, Mask: 3, Name: "RD"}, {Bits: 1, Mask: 3, Name: "WR"},
		{Bits: 0x30, Name: "BOTH"}, {Bits: 0x10, Name: "LOW"},
	}}
	for v, want := range map[uint64][]string{
		0: {"RD"}, 1: {"WR"}, 0x31: {"WR", "BOTH"}, 0x10: {"RD", "LOW"}, 0x100: {"RD", "0x100"},
	} {
		if got := b.Of(v); !reflect.DeepEqual(got, want) {
			t.Errorf("Of(%#x) = %v, want %v", v, got, want)
		}
		if got := b.Of(v); !reflect.DeepEqual(got, want) { // memoized
			t.Errorf("Of(%#x) again = %v", v, got)
		}
	}
}

func TestPaths(t *testing.T) {
	for in, want := range map[string]string{"": "/", "c\x00b\x00a\x00": "/a/b/c", "etc\x00": "/etc"} {
		if got := PathFromComponents([]byte(in)); got != want {
			t.Errorf("PathFromComponents(%q) = %q, want %q", in, got, want)
		}
	}
	if got := SplitNul([]byte("ls\x00-l\x00\x00x\x00")); !reflect.DeepEqual(got, []string{"ls", "-l", "", "x"}) {
		t.Errorf("SplitNul = %q", got)
	}
}

func TestInterner(t *testing.T) {
	var in Interner
	a := in.String([]byte("comm"))
	b := in.String([]byte("comm"))
	if a != b || a != "comm" {
		t.Fatal("interner changed the value")
	}
	for i := 0; i < internerMax*2; i++ {
		in.String([]byte{byte(i), byte(i >> 8)})
	}
	if len(in.m) > internerMax {
		t.Errorf("interner grew to %d entries", len(in.m))
	}
}
