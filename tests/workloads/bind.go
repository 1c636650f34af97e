package workloads

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

func init() { Table["trace bind"] = traceBind }

// bindEvent has the fields of trace bind the workload checks.
type bindEvent struct {
	Pid      int    `json:"pid"`
	Comm     string `json:"comm"`
	Protocol string `json:"proto"`
	Addr     string `json:"addr"`
	Port     int    `json:"port"`
	Options  string `json:"opts"`
	Ret      int    `json:"ret"`
	Error    string `json:"error"`
}

// bindTo binds a new socket; it returns the socket and the port it got.
func bindTo(family, typ int, sa unix.Sockaddr, opts ...[2]int) (int, int, error) {
	fd, err := unix.Socket(family, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, 0, err
	}
	for _, o := range opts {
		if err := unix.SetsockoptInt(fd, o[0], o[1], 1); err != nil {
			unix.Close(fd)
			return -1, 0, err
		}
	}
	if err := unix.Bind(fd, sa); err != nil {
		return fd, 0, err
	}
	got, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return -1, 0, err
	}
	switch got := got.(type) {
	case *unix.SockaddrInet4:
		return fd, got.Port, nil
	case *unix.SockaddrInet6:
		return fd, got.Port, nil
	}
	return fd, 0, nil
}

// trace bind, filtered to this process and with failed binds shown: TCP on
// 127.0.0.1 with SO_REUSEADDR and IP_FREEBIND (port 0: the kernel picks),
// UDP on ::, and a bind to the TCP port once it listens (EADDRINUSE).
func traceBind(r *Run, h Host) (string, error) {
	self := os.Getpid()
	if err := r.Start(true, "--pid", strconv.Itoa(self), "--ignore-errors=false"); err != nil {
		return "", err
	}
	marker := &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 2}}
	if _, err := r.Await("a bind to 127.0.0.2", r.AttachTimeout, func() {
		if fd, _, err := bindTo(unix.AF_INET, unix.SOCK_DGRAM, marker); fd >= 0 && err == nil {
			unix.Close(fd)
		}
	}, func(e Event) bool { return e.Pid == self && e.Ret == 0 }); err != nil {
		return "", err
	}

	tcp, tcpPort, err := bindTo(unix.AF_INET, unix.SOCK_STREAM, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}},
		[2]int{unix.SOL_SOCKET, unix.SO_REUSEADDR}, [2]int{unix.SOL_IP, unix.IP_FREEBIND})
	if err != nil {
		return "", fmt.Errorf("TCP bind: %v", err)
	}
	defer unix.Close(tcp)
	udp, udpPort, err := bindTo(unix.AF_INET6, unix.SOCK_DGRAM, &unix.SockaddrInet6{})
	if err != nil {
		return "", fmt.Errorf("UDP bind on ::: %v", err)
	}
	defer unix.Close(udp)
	if err := unix.Listen(tcp, 1); err != nil {
		return "", err
	}
	inUse, _, err := bindTo(unix.AF_INET, unix.SOCK_STREAM, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: tcpPort})
	if inUse >= 0 {
		unix.Close(inUse)
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		return "", fmt.Errorf("bind to a listening port: %v, want EADDRINUSE", err)
	}
	// Everything is in when a bind to an address of no interface (EADDRNOTAVAIL) shows up.
	if _, err := r.Await("a bind to 192.0.2.1", r.EventTimeout, func() {
		if fd, _, _ := bindTo(unix.AF_INET, unix.SOCK_DGRAM, &unix.SockaddrInet4{Addr: [4]byte{192, 0, 2, 1}}); fd >= 0 {
			unix.Close(fd)
		}
	}, func(e Event) bool { return e.Pid == self && e.Error == "EADDRNOTAVAIL" }); err != nil {
		return "", err
	}
	if err := r.StopClean(); err != nil {
		return "", err
	}
	evs, err := streamEvents[bindEvent](r)
	if err != nil {
		return "", err
	}
	var problems []string
	expect := func(what string, want bindEvent) {
		want.Pid, want.Comm = self, h.Comm
		for _, e := range evs {
			if e.Addr == want.Addr && e.Port == want.Port && e.Protocol == want.Protocol && e.Ret == want.Ret {
				if e != want {
					problems = append(problems, fmt.Sprintf("%s: got %+v, want %+v", what, e, want))
				}
				return
			}
		}
		problems = append(problems, fmt.Sprintf("no event for %s (%s %s port %d)", what, want.Protocol, want.Addr, want.Port))
	}
	expect("TCP bind", bindEvent{Protocol: "TCP", Addr: "127.0.0.1", Port: tcpPort, Options: ".R..F"})
	expect("UDP bind", bindEvent{Protocol: "UDP", Addr: "::", Port: udpPort, Options: "....."})
	expect("bind to a port in use", bindEvent{Protocol: "TCP", Addr: "127.0.0.1", Port: tcpPort, Options: ".....",
		Ret: -int(syscall.EADDRINUSE), Error: "EADDRINUSE"})
	if len(problems) > 0 {
		return "", errors.New(strings.Join(problems, "; "))
	}
	return fmt.Sprintf("caught TCP 127.0.0.1:%d (opts .R..F), UDP [::]:%d, and EADDRINUSE", tcpPort, udpPort), nil
}
