// Command workload is the load generator of `make bench`: it opens and closes
// one file N times, back to back, with raw system calls, and prints how long
// the loop took. run.sh runs it pinned to one CPU, once untraced and once
// under `ig trace open`, and compares the two wall times.
//
// Output (stdout, one line): "opens=N wall_s=SECONDS"
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
	path := flag.String("path", "", "file to open and close (created with mknod if missing, so creating it is not an open)")
	n := flag.Int("n", 200000, "number of open/close pairs")
	flag.Parse()
	if !filepath.IsAbs(*path) || *n <= 0 {
		fmt.Fprintln(os.Stderr, "usage: workload -path /ABSOLUTE/FILE [-n N]")
		os.Exit(2)
	}
	// mknod makes a regular file without an open() call, so the only opens of
	// this path are the N below.
	if err := unix.Mknod(*path, unix.S_IFREG|0o644, 0); err != nil && err != unix.EEXIST {
		fmt.Fprintf(os.Stderr, "workload: mknod %s: %v\n", *path, err)
		os.Exit(1)
	}
	// One pre-converted C string: the loop does no allocation and no Go-level
	// path handling, just the two system calls.
	p, err := unix.BytePtrFromString(*path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "workload: %v\n", err)
		os.Exit(1)
	}
	flags := uintptr(unix.O_RDONLY | unix.O_CLOEXEC)
	dirfd := unix.AT_FDCWD // unused by the kernel: the path is absolute
	start := time.Now()
	for i := 0; i < *n; i++ {
		fd, _, errno := unix.RawSyscall6(unix.SYS_OPENAT, uintptr(dirfd), uintptr(unsafe.Pointer(p)), flags, 0, 0, 0)
		if errno != 0 {
			fmt.Fprintf(os.Stderr, "workload: open #%d: %v\n", i, errno)
			os.Exit(1)
		}
		if _, _, errno := unix.RawSyscall(unix.SYS_CLOSE, fd, 0, 0); errno != 0 {
			fmt.Fprintf(os.Stderr, "workload: close #%d: %v\n", i, errno)
			os.Exit(1)
		}
	}
	wall := time.Since(start)
	fmt.Printf("opens=%d wall_s=%.6f\n", *n, wall.Seconds())
}
