package tracers

import (
	"strconv"
	"sync"
)

//go:generate bash ../scripts/gen-names.sh syscalls /usr/include/x86_64-linux-gnu/asm/unistd_64.h tracers syscallNames syscalls_amd64.go

// SyscallName names an x86_64 system call by its number ("bind" for 49), for
// gadgets that read the number from the kernel (the task's pt_regs, a
// raw_syscalls tracepoint). A number without a name is "syscall<N>", as
// Inspektor Gadget writes it; a negative one (no system call: a kernel
// thread, an interrupt) is "".
func SyscallName(nr int64) string {
	if nr < 0 {
		return ""
	}
	if nr < int64(len(syscallNames)) && syscallNames[nr] != "" {
		return syscallNames[nr]
	}
	return "syscall" + strconv.FormatInt(nr, 10)
}

// SyscallNumber is SyscallName's inverse: the x86_64 number of a system
// call name, false when there is none.
func SyscallNumber(name string) (int64, bool) {
	syscallNumbersOnce.Do(func() {
		syscallNumbers = make(map[string]int64, len(syscallNames))
		for nr, n := range syscallNames {
			if n != "" {
				syscallNumbers[n] = int64(nr)
			}
		}
	})
	nr, ok := syscallNumbers[name]
	return nr, ok
}

var (
	syscallNumbersOnce sync.Once
	syscallNumbers     map[string]int64
)
