package tracers

import "testing"

func TestSyscallName(t *testing.T) {
	for _, c := range []struct {
		nr   int64
		want string
	}{{0, "read"}, {49, "bind"}, {59, "execve"}, {257, "openat"}, {-1, ""}, {100000, "syscall100000"}} {
		if got := SyscallName(c.nr); got != c.want {
			t.Errorf("SyscallName(%d) = %q, want %q", c.nr, got, c.want)
		}
	}
}
