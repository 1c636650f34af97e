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
		if got := PathFromComponents([]byte(in), false); got != want {
			t.Errorf("PathFromComponents(%q) = %q, want %q", in, got, want)
		}
	}
	// A walk that stopped before the root has the end of the path only.
	for in, want := range map[string]string{"": "…", "c\x00b\x00": "…/b/c"} {
		if got := PathFromComponents([]byte(in), true); got != want {
			t.Errorf("PathFromComponents(%q, cut) = %q, want %q", in, got, want)
		}
	}
	if got := CutText("/a/b", false); got != "/a/b" {
		t.Errorf("CutText(not cut) = %q", got)
	}
	if got := CutText("/a/b", true); got != "/a/b…" {
		t.Errorf("CutText(cut) = %q", got)
	}
	if got := SplitNul([]byte("ls\x00-l\x00\x00x\x00")); !reflect.DeepEqual(got, []string{"ls", "-l", "", "x"}) {
		t.Errorf("SplitNul = %q", got)
	}
}

// Components of which only the first bytes were kept: the partial last
// one is dropped and the path is cut; the interner gives the same.
func TestPathFromKept(t *testing.T) {
	buf := make([]byte, 16)
	copy(buf, "leaf\x00dir\x00longname")
	var in PathInterner
	for _, c := range []struct {
		n    int
		cut  bool
		want string
	}{
		{9, false, "/dir/leaf"},
		{9, true, "…/dir/leaf"},
		{0, false, "/"},
		{40, false, "…/dir/leaf"}, // "longname..." went on past the 16 bytes kept
	} {
		if got := PathFromKept(buf, c.n, c.cut); got != c.want {
			t.Errorf("PathFromKept(%d, %v) = %q, want %q", c.n, c.cut, got, c.want)
		}
		if got := in.FromKept(buf, c.n, c.cut); got != c.want {
			t.Errorf("FromKept(%d, %v) = %q, want %q", c.n, c.cut, got, c.want)
		}
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

func TestModeString(t *testing.T) {
	for mode, want := range map[uint32]string{
		0:        "----------",
		0o640:    "-rw-r-----",
		0o755:    "-rwxr-xr-x",
		0o4755:   "-rwsr-xr-x",
		0o4644:   "-rwSr--r--",
		0o2755:   "-rwxr-sr-x",
		0o2745:   "-rwxr-Sr-x",
		0o1777:   "-rwxrwxrwt",
		0o1776:   "-rwxrwxrwT",
		0o7777:   "-rwsrwsrwt",
		0o7000:   "---S--S--T",
		0o100644: "-rw-r--r--", // bits above 07777 (a file type) are not permissions
	} {
		if got := ModeString(mode); got != want {
			t.Errorf("ModeString(%#o) = %q, want %q", mode, got, want)
		}
	}
}

func TestErrno(t *testing.T) {
	for _, tc := range []struct {
		ret   int64
		errno int32
		name  string
	}{{3, 0, ""}, {0, 0, ""}, {-2, 2, "ENOENT"}, {-98, 98, "EADDRINUSE"}, {-4000, 4000, "E4000"}} {
		if errno, name := Errno(tc.ret); errno != tc.errno || name != tc.name {
			t.Errorf("Errno(%d) = %d, %q; want %d, %q", tc.ret, errno, name, tc.errno, tc.name)
		}
	}
}
