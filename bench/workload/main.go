// Command workload is the load generator of `make bench`. run.sh runs it
// pinned to one CPU, once untraced and once under ig, and compares the two
// wall times. Modes:
//
//	-mode open   open and close one file N times (trace open)
//	-mode write  write -size bytes at offset 0 of one file N times (top file)
//	-mode spin   N rounds of a CPU-bound loop in the function spin (profile cpu)
//
// The system calls are raw: the loops do no allocation and no Go-level
// work around them. Output (stdout, one line): "ops=N wall_s=SECONDS".
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func main() {
	mode := flag.String("mode", "open", "open, write or spin")
	path := flag.String("path", "", "the file to open or write (created with mknod if missing, so creating it is not an open)")
	n := flag.Int("n", 200000, "number of operations (spin: rounds of 100 000 iterations)")
	size := flag.Int("size", 4096, "bytes per write")
	flag.Parse()
	if *n <= 0 || *mode != "spin" && !filepath.IsAbs(*path) {
		fmt.Fprintln(os.Stderr, "usage: workload [-mode open|write] -path /ABSOLUTE/FILE [-n N] | workload -mode spin [-n N]")
		os.Exit(2)
	}
	var loop func(n int) error
	switch *mode {
	case "open":
		loop = opens(*path)
	case "write":
		loop = writes(*path, *size)
	case "spin":
		loop = func(n int) error {
			for i := 0; i < n; i++ {
				sink += spin(100_000)
			}
			return nil
		}
	default:
		fmt.Fprintf(os.Stderr, "workload: unknown mode %q\n", *mode)
		os.Exit(2)
	}
	start := time.Now()
	if err := loop(*n); err != nil {
		fmt.Fprintf(os.Stderr, "workload: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("ops=%d wall_s=%.6f\n", *n, time.Since(start).Seconds())
}

// mknod makes a regular file without an open() call, so the only opens of
// path are the workload's.
func mknod(path string) *byte {
	if err := unix.Mknod(path, unix.S_IFREG|0o644, 0); err != nil && err != unix.EEXIST {
		fmt.Fprintf(os.Stderr, "workload: mknod %s: %v\n", path, err)
		os.Exit(1)
	}
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "workload: %v\n", err)
		os.Exit(1)
	}
	return p
}

func opens(path string) func(int) error {
	p := mknod(path)
	flags := uintptr(unix.O_RDONLY | unix.O_CLOEXEC)
	dirfd := unix.AT_FDCWD // unused by the kernel: the path is absolute
	return func(n int) error {
		for i := 0; i < n; i++ {
			fd, _, errno := unix.RawSyscall6(unix.SYS_OPENAT, uintptr(dirfd), uintptr(unsafe.Pointer(p)), flags, 0, 0, 0)
			if errno != 0 {
				return fmt.Errorf("open #%d: %v", i, errno)
			}
			if _, _, errno := unix.RawSyscall(unix.SYS_CLOSE, fd, 0, 0); errno != 0 {
				return fmt.Errorf("close #%d: %v", i, errno)
			}
		}
		return nil
	}
}

func writes(path string, size int) func(int) error {
	mknod(path)
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		fmt.Fprintf(os.Stderr, "workload: %v\n", err)
		os.Exit(1)
	}
	buf := make([]byte, size)
	return func(n int) error {
		for i := 0; i < n; i++ {
			r, _, errno := unix.RawSyscall6(unix.SYS_PWRITE64, uintptr(fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0, 0)
			if errno != 0 || r != uintptr(len(buf)) {
				return fmt.Errorf("write #%d: %d %v", i, r, errno)
			}
		}
		return nil
	}
}

var sink uint64

// spin is the CPU-bound loop profile cpu must find hottest.
//
//go:noinline
func spin(n int) uint64 {
	x := uint64(1)
	for i := 0; i < n; i++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	return x
}
