// Command workload is the load generator of `make bench`. run.sh runs it
// pinned to one CPU, once untraced and once under ig, and compares the two
// wall times. Modes:
//
//	-mode open   open and close one file N times (trace open)
//	-mode write  write -size bytes at offset 0 of one file N times (top file)
//	-mode spin   N rounds of a CPU-bound loop in the function spin (profile cpu)
//	-mode connect  N TCP connects to a listener of its own on 127.0.0.1, whose
//	             port it writes to -path (trace tcpconnect)
//	-mode dns    N DNS queries over UDP, each answered, to a server of its own
//	             on 127.0.0.1:53, for the name BASE.bench.test. where BASE is
//	             -path's base name (trace dns)
//
// The system calls are raw: the loops do no allocation and no Go-level
// work around them. Output (stdout, one line): "ops=N wall_s=SECONDS".
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"
	"unsafe"

	"golang.org/x/net/dns/dnsmessage"
	"golang.org/x/sys/unix"
)

func main() {
	mode := flag.String("mode", "open", "open, write or spin")
	path := flag.String("path", "", "the file to open or write (created with mknod if missing, so creating it is not an open)")
	n := flag.Int("n", 200000, "number of operations (spin: rounds of 100 000 iterations)")
	size := flag.Int("size", 4096, "bytes per write")
	flag.Parse()
	if *n <= 0 || *mode != "spin" && !filepath.IsAbs(*path) {
		fmt.Fprintln(os.Stderr, "usage: workload [-mode open|write|connect|dns] -path /ABSOLUTE/FILE [-n N] | workload -mode spin [-n N]")
		os.Exit(2)
	}
	var loop func(n int) error
	switch *mode {
	case "open":
		loop = opens(*path)
	case "write":
		loop = writes(*path, *size)
	case "connect":
		loop = connects(*path)
	case "dns":
		loop = queries(filepath.Base(*path) + ".bench.test.")
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

// fail ends the workload on a set-up error.
func fail(err error) {
	fmt.Fprintf(os.Stderr, "workload: %v\n", err)
	os.Exit(1)
}

// connects connects to a listener of its own, which accepts and closes.
func connects(portFile string) func(int) error {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		fail(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	if err := os.WriteFile(portFile, []byte(strconv.Itoa(port)), 0o644); err != nil {
		fail(err)
	}
	addr := &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}
	return func(n int) error {
		for i := 0; i < n; i++ {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				return err
			}
			err = unix.Connect(fd, addr)
			// Reset, not closed: no TIME_WAIT to run out of ports with.
			unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
			unix.Close(fd)
			if err != nil {
				return fmt.Errorf("connect #%d: %v", i, err)
			}
		}
		return nil
	}
}

// queries asks a server of its own for name, over UDP, and waits for
// each answer.
func queries(name string) func(int) error {
	srv, err := net.ListenPacket("udp4", "127.0.0.1:53")
	if err != nil {
		fail(fmt.Errorf("DNS server: %w", err))
	}
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := srv.ReadFrom(buf)
			if err != nil {
				return
			}
			if n > 2 {
				buf[2] |= 0x80 // the query back, as its response (no answer)
				srv.WriteTo(buf[:n], from)
			}
		}
	}()
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 1, RecursionDesired: true})
	b.StartQuestions()
	b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET})
	query, err := b.Finish()
	if err != nil {
		fail(err)
	}
	c, err := net.Dial("udp4", "127.0.0.1:53")
	if err != nil {
		fail(err)
	}
	buf := make([]byte, 512)
	return func(n int) error {
		for i := 0; i < n; i++ {
			binary.BigEndian.PutUint16(query, uint16(i))
			if _, err := c.Write(query); err != nil {
				return fmt.Errorf("query #%d: %v", i, err)
			}
			if _, err := c.Read(buf); err != nil {
				return fmt.Errorf("answer #%d: %v", i, err)
			}
		}
		return nil
	}
}
