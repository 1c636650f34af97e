package tracers

import (
	"bytes"
	"strings"
)

// Ellipsis marks, in text for people (columns), where ig cut something it
// could not keep whole: a path, an argument list. Events say the same to
// machines with a *Truncated field, next to the value as it was read.
const Ellipsis = "…"

// CutText returns s, followed by Ellipsis when it was cut.
func CutText(s string, cut bool) string {
	if !cut {
		return s
	}
	return s + Ellipsis
}

// PathFromComponents joins the leaf-first, NUL-terminated path components
// written by ig_read_path (bpf/common.h) into an absolute path. cut is what
// ig_read_path returned: it stopped before the root, so the components are
// the end of the path, which then starts with Ellipsis ("…/lib/x") rather
// than pass for an absolute path.
func PathFromComponents(b []byte, cut bool) string {
	b = bytes.TrimRight(b, "\x00")
	if len(b) == 0 {
		if cut {
			return Ellipsis
		}
		return "/"
	}
	parts := bytes.Split(b, []byte{0})
	var sb strings.Builder
	sb.Grow(len(b) + len(Ellipsis) + 1)
	if cut {
		sb.WriteString(Ellipsis)
	}
	for i := len(parts) - 1; i >= 0; i-- {
		sb.WriteByte('/')
		sb.Write(parts[i])
	}
	return sb.String()
}

// DevMajorMinor splits a device number as the kernel encodes it inside
// (dev_t: major << 20 | minor, MINORBITS), not as stat shows it to users.
func DevMajorMinor(dev uint32) (major, minor uint32) {
	return dev >> 20, dev & (1<<20 - 1)
}

// PathFromKept is PathFromComponents for components of which only the
// first len(b) bytes were kept, of n written: beyond, the last component
// may be partial, and is dropped; the path is then cut.
func PathFromKept(b []byte, n int, cut bool) string {
	if n <= len(b) {
		return PathFromComponents(b[:max(n, 0)], cut)
	}
	return PathFromComponents(b[:bytes.LastIndexByte(b, 0)+1], true)
}

// PathInterner is PathFromKept, with the paths made once: a process's
// come again with each of its packets.
type PathInterner struct{ m map[string]string }

// FromKept is PathFromKept(b, n, cut), shared with earlier equal values.
func (in *PathInterner) FromKept(b []byte, n int, cut bool) string {
	if n > len(b) || cut {
		return PathFromKept(b, n, cut) // rare: not worth a key of their own
	}
	b = b[:max(n, 0)]
	if s, ok := in.m[string(b)]; ok { // no allocation: the compiler optimizes this lookup
		return s
	}
	if in.m == nil || len(in.m) >= internerMax {
		in.m = make(map[string]string, 64)
	}
	s := PathFromComponents(b, false)
	in.m[string(b)] = s
	return s
}

// SplitNul splits NUL-separated strings (an argument list); a trailing NUL
// ends the last one rather than starting an empty one.
func SplitNul(b []byte) []string {
	if len(b) == 0 {
		return []string{}
	}
	if b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	parts := bytes.Split(b, []byte{0})
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = string(p)
	}
	return out
}
