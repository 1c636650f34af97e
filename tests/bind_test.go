package tests

import (
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// bindEvent is a trace bind event, as JSON.
type bindEvent struct {
	commonEvent
	Protocol  string `json:"proto"`
	Addr      string `json:"addr"`
	Port      int64  `json:"port"`
	Options   string `json:"opts"`
	Interface string `json:"if"`
	Ret       int64  `json:"ret"`
	Err       int64  `json:"err"`
	Error     string `json:"error"`
}

var bindProgs = []string{"enter_bind", "exit_bind"}

// bindSocket makes a socket of family and type, sets the options, binds it
// to addr:port and returns it (open: the caller closes it) with the port
// it got and the bind's error.
func bindSocket(t *testing.T, family, typ int, addr string, port int, opts ...func(fd int) error) (int, int, error) {
	t.Helper()
	fd, err := unix.Socket(family, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range opts {
		if err := o(fd); err != nil {
			unix.Close(fd)
			t.Fatal(err)
		}
	}
	ip := netip.MustParseAddr(addr)
	var sa unix.Sockaddr
	if family == unix.AF_INET {
		sa = &unix.SockaddrInet4{Addr: ip.As4(), Port: port}
	} else {
		sa = &unix.SockaddrInet6{Addr: ip.As16(), Port: port}
	}
	if err := unix.Bind(fd, sa); err != nil {
		return fd, port, err
	}
	got, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	switch got := got.(type) {
	case *unix.SockaddrInet4:
		port = got.Port
	case *unix.SockaddrInet6:
		port = got.Port
	}
	return fd, port, nil
}

func reuseAddr(fd int) error { return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1) }
func onLoopback(fd int) error {
	return unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, "lo")
}

// freePort is a port nothing is bound to right now, of typ on 127.0.0.1.
func freePort(t *testing.T, typ int) int {
	t.Helper()
	fd, port, err := bindSocket(t, unix.AF_INET, typ, "127.0.0.1", 0)
	unix.Close(fd)
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// waitBindMarker binds UDP sockets to addr:port (port 0: any) until ig shows
// one: ig is attached and has read every event before it.
func (p *proc) waitBindMarker(addr string, port int) {
	p.t.Helper()
	p.waitUntil("a bind to "+addr, func() {
		if fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0); err == nil {
			_ = unix.Bind(fd, &unix.SockaddrInet4{Addr: netip.MustParseAddr(addr).As4(), Port: port})
			unix.Close(fd)
		}
	}, streamMatcher(func(ev *bindEvent) bool { return ev.Addr == addr && ev.Pid == int64(os.Getpid()) }))
}

// bindCase is one bind the test makes and what ig must show for it.
type bindCase struct {
	name   string
	family int
	typ    int
	addr   string
	port   int // 0: the kernel picks; the case's port is then the one it got
	opts   []func(int) error
	proto  string
	flags  string // opts
	iface  string
	errno  unix.Errno
	fd     int
}

// TestTraceBind binds TCP and UDP sockets on 127.0.0.1 and ::1 (to a given
// port and to port 0), one with SO_REUSEADDR, one bound to lo, and one to a
// port a listening socket has (EADDRINUSE), and checks every field of their
// events. The failed bind shows only with --ignore-errors=false.
func TestTraceBind(t *testing.T) {
	igBinary(t)
	comm, pid := testComm(t), os.Getpid()
	for _, ignoreErrors := range []bool{true, false} {
		t.Run("--ignore-errors="+strconv.FormatBool(ignoreErrors), func(t *testing.T) {
			cases := []bindCase{
				{name: "tcp4 port 0 SO_REUSEADDR", family: unix.AF_INET, typ: unix.SOCK_STREAM, addr: "127.0.0.1", opts: []func(int) error{reuseAddr}, proto: "TCP", flags: ".R..."},
				{name: "udp4", family: unix.AF_INET, typ: unix.SOCK_DGRAM, addr: "127.0.0.1", port: freePort(t, unix.SOCK_DGRAM), proto: "UDP", flags: "....."},
				{name: "tcp6", family: unix.AF_INET6, typ: unix.SOCK_STREAM, addr: "::1", port: freePort(t, unix.SOCK_STREAM), proto: "TCP", flags: "....."},
				{name: "udp6 port 0", family: unix.AF_INET6, typ: unix.SOCK_DGRAM, addr: "::1", proto: "UDP", flags: "....."},
				{name: "udp4 on lo", family: unix.AF_INET, typ: unix.SOCK_DGRAM, addr: "127.0.0.1", opts: []func(int) error{onLoopback}, proto: "UDP", flags: ".....", iface: "lo"},
				// The bind fails; the socket, no inet one, is not read.
				{name: "unix socket, inet address", family: unix.AF_UNIX, typ: unix.SOCK_STREAM, addr: "::1", port: freePort(t, unix.SOCK_STREAM), errno: unix.EINVAL},
				{name: "tcp4 in use", family: unix.AF_INET, typ: unix.SOCK_STREAM, addr: "127.0.0.1", proto: "TCP", flags: ".....", errno: unix.EADDRINUSE},
			}
			args := []string{"trace", "bind", "-o", "json", "--pid", strconv.Itoa(pid)}
			if !ignoreErrors {
				args = append(args, "--ignore-errors=false")
			}
			ig := startIG(t, args...)
			ig.waitBindMarker("127.0.0.2", 0)
			from := time.Now()
			tid := bindAll(t, cases)
			to := time.Now()
			ig.waitBindMarker("127.0.0.3", 0)
			r := ig.stop(sigINT)
			checkSuccess(t, r)

			evs := eventsOf[bindEvent](t, r.Stdout)
			mntns := mountNsID(t)
			for _, c := range cases {
				match := func(ev *bindEvent) bool {
					return ev.Addr == c.addr && ev.Port == int64(c.port) && ev.Protocol == c.proto && ev.Err == int64(c.errno)
				}
				if c.errno != 0 && ignoreErrors {
					if n := countOf(evs, match); n != 0 {
						t.Errorf("%s: by default, a failed bind is not shown; got %d events", c.name, n)
					}
					continue
				}
				ev := findOne(t, evs, c.name, match)
				if ev.Pid != int64(pid) || ev.Tid != int64(tid) || ev.Comm != comm || ev.MountNsID != mntns {
					t.Errorf("%s: pid/tid %d/%d comm %q mntns %d, want %d/%d %q %d", c.name, ev.Pid, ev.Tid, ev.Comm, ev.MountNsID, pid, tid, comm, mntns)
				}
				checkNear(t, c.name, ev.Timestamp, from, to)
				if ev.Options != c.flags || ev.Interface != c.iface {
					t.Errorf("%s: opts %q if %q, want %q %q", c.name, ev.Options, ev.Interface, c.flags, c.iface)
				}
				wantRet, wantError := int64(0), ""
				if c.errno != 0 {
					wantRet, wantError = -int64(c.errno), unix.ErrnoName(c.errno)
				}
				if ev.Ret != wantRet || ev.Error != wantError {
					t.Errorf("%s: ret %d error %q, want %d %q", c.name, ev.Ret, ev.Error, wantRet, wantError)
				}
			}
		})
	}
}

// bindAll makes the binds on one locked OS thread and returns its id. The
// last case binds to the port of the first, which listens.
func bindAll(t *testing.T, cases []bindCase) int {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer func() {
		for _, c := range cases {
			unix.Close(c.fd)
		}
	}()
	for i := range cases {
		c := &cases[i]
		if c.errno == unix.EADDRINUSE {
			if err := unix.Listen(cases[0].fd, 1); err != nil {
				t.Fatal(err)
			}
			c.port = cases[0].port
		}
		fd, port, err := bindSocket(t, c.family, c.typ, c.addr, c.port, c.opts...)
		if err != error(nil) && err != c.errno || err == nil && c.errno != 0 {
			t.Fatalf("%s: bind to %s port %d: %v, want %v", c.name, c.addr, c.port, err, c.errno)
		}
		c.fd, c.port = fd, port
	}
	return unix.Gettid()
}

// TestTraceBindPorts: -P shows binds to the ports it lists, no other.
func TestTraceBindPorts(t *testing.T) {
	igBinary(t)
	pid := os.Getpid()
	marker, wanted, other := freePort(t, unix.SOCK_DGRAM), freePort(t, unix.SOCK_STREAM), freePort(t, unix.SOCK_STREAM)
	ig := startIG(t, "trace", "bind", "-o", "json", "--pid", strconv.Itoa(pid), "-P", strconv.Itoa(wanted)+","+strconv.Itoa(marker))
	ig.waitBindMarker("127.0.0.2", marker)
	for _, port := range []int{other, wanted} {
		fd, _, err := bindSocket(t, unix.AF_INET, unix.SOCK_STREAM, "127.0.0.1", port)
		unix.Close(fd)
		if err != nil {
			t.Fatalf("bind to port %d: %v", port, err)
		}
	}
	ig.waitBindMarker("127.0.0.3", marker)
	r := ig.stop(sigINT)
	checkSuccess(t, r)
	evs := eventsOf[bindEvent](t, r.Stdout)
	findOne(t, evs, "the bind to port "+strconv.Itoa(wanted), func(ev *bindEvent) bool { return ev.Port == int64(wanted) })
	for _, ev := range evs {
		if ev.Port != int64(wanted) && ev.Port != int64(marker) {
			t.Errorf("-P %d,%d showed a bind to port %d: %+v", wanted, marker, ev.Port, ev)
		}
	}
}

// TestTraceBindBadPorts: a --ports that is no list of ports fails in one line.
func TestTraceBindBadPorts(t *testing.T) {
	igBinary(t)
	for _, bad := range []string{"http", "0", "65536", "80,,81", strings.Repeat("1,", 64) + "1"} {
		msg := checkFailure(t, runIG(t, "trace", "bind", "--ports", bad, "-t", "1"))
		if !strings.Contains(msg, "--ports") {
			t.Errorf("--ports %s: message %q does not name the flag", bad, msg)
		}
	}
}

// TestTraceBindContainer: under -c, nc listening in a docker container (its
// network is none, but it has loopback) shows with the container's name.
func TestTraceBindContainer(t *testing.T) {
	runtimesUp(t)
	name, ctrPid := container(t, "docker")
	port := strconv.Itoa(freePort(t, unix.SOCK_STREAM)) // any port: the container has its own network namespace
	ig := startIG(t, "trace", "bind", "-o", "json", "-c", name)
	inCtr := func(ev *bindEvent) bool { return ev.Port != 0 && strconv.Itoa(int(ev.Port)) == port }
	ig.waitUntil("nc's bind in the container", func() {
		// nc listens for a second, then gives up (exit status 1).
		_ = exec.Command("runtimes/run.sh", "exec", "docker", name, "nc", "-l", "-p", port, "-w", "1").Run()
	}, streamMatcher(inCtr))
	fd, _, err := bindSocket(t, unix.AF_INET, unix.SOCK_STREAM, "127.0.0.1", 0) // the host's: filtered out
	unix.Close(fd)
	if err != nil {
		t.Fatal(err)
	}
	_ = exec.Command("runtimes/run.sh", "exec", "docker", name, "nc", "-l", "-p", port, "-w", "1").Run()
	r := ig.stop(sigINT)
	checkSuccess(t, r)

	evs := eventsOf[bindEvent](t, r.Stdout)
	if countOf(evs, inCtr) < 2 {
		t.Errorf("want a bind to port %s for each nc run, got %d", port, countOf(evs, inCtr))
	}
	for _, ev := range evs {
		if ev.Runtime.ContainerName != name || ev.Runtime.RuntimeName != "docker" || ev.MountNsID != mountNsOf(t, ctrPid) {
			t.Errorf("-c %s let through an event of %q (runtime %q, mntns %d): %+v", name, ev.Runtime.ContainerName, ev.Runtime.RuntimeName, ev.MountNsID, ev)
		}
		if !inCtr(&ev) {
			continue
		}
		if ev.Comm != "nc" || ev.Protocol != "TCP" || !slices.Contains([]string{"0.0.0.0", "::"}, ev.Addr) || ev.Ret != 0 || ev.Error != "" {
			t.Errorf("nc's bind: comm %q proto %q addr %q ret %d error %q, want nc TCP, any address, 0", ev.Comm, ev.Protocol, ev.Addr, ev.Ret, ev.Error)
		}
	}
}

// TestTraceBindLifecycle: trace bind's programs are attached while it runs,
// and none remains after it exits.
func TestTraceBindLifecycle(t *testing.T) {
	igBinary(t)
	requireTool(t, "bpftool")
	checkLifecycle(t, lifecycleGadget{"trace bind SIGINT", []string{"trace", "bind", "-o", "json", "--pid", strconv.Itoa(os.Getpid())},
		bindProgs, func(p *proc) { p.waitBindMarker("127.0.0.2", 0) }, sigINT})
}

// TestTraceBindKernelFilter: -c filters in the kernel (ig_skip_current at
// syscall entry): with many host binds going on, ig receives about as many
// events as nc's binds in the container.
func TestTraceBindKernelFilter(t *testing.T) {
	runtimesUp(t)
	name, _ := container(t, "docker")
	var mu sync.Mutex
	ports := map[string]int64{} // marker -> the port nc listened on for it
	checkKernelFilter(t, kernelFilterCase{name: "trace bind -c", args: []string{"trace", "bind", "-c", name},
		mark: func(t *testing.T, marker string) {
			mu.Lock()
			port, ok := ports[marker]
			if !ok {
				port = int64(freePort(t, unix.SOCK_STREAM))
				ports[marker] = port
			}
			mu.Unlock()
			_ = exec.Command("runtimes/run.sh", "exec", "docker", name, "nc", "-l", "-p", strconv.FormatInt(port, 10), "-w", "1").Run()
		},
		seen: func(marker string) func([]byte) bool {
			return streamMatcher(func(ev *bindEvent) bool {
				mu.Lock()
				defer mu.Unlock()
				return ev.Port == ports[marker] && ev.Runtime.ContainerName == name
			})
		},
		only: func(ev *commonEvent) bool { return ev.Runtime.ContainerName == name },
		load: func(n int) {
			for i := 0; i < n; i++ {
				if fd, _, err := bindSocket(t, unix.AF_INET, unix.SOCK_DGRAM, "127.0.0.1", 0); err == nil {
					unix.Close(fd)
				}
			}
		},
		loadN: 20000, slack: 1000})
}
