package tracers

import (
	"bytes"
	"strings"
)

// PathFromComponents joins the leaf-first, NUL-terminated path components
// written by ig_read_path (bpf/common.h) into an absolute path.
func PathFromComponents(b []byte) string {
	b = bytes.TrimRight(b, "\x00")
	if len(b) == 0 {
		return "/"
	}
	parts := bytes.Split(b, []byte{0})
	var sb strings.Builder
	sb.Grow(len(b) + 1)
	for i := len(parts) - 1; i >= 0; i-- {
		sb.WriteByte('/')
		sb.Write(parts[i])
	}
	return sb.String()
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
