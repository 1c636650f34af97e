package tests

import (
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// endpoint and connFields are the connection fields of the TCP gadgets' events
// (tracers.Connection), as JSON.
type endpoint struct {
	Addr string `json:"addr"`
	Port int    `json:"port"`
}

type connFields struct {
	IPVersion int      `json:"ipversion"`
	Src       endpoint `json:"src"`
	Dst       endpoint `json:"dst"`
	NetNs     uint64   `json:"netnsid"`
}

// tcpEvent is a trace tcp event, as JSON.
type tcpEvent struct {
	commonEvent
	connFields
	Operation string `json:"operation"`
	Err       int    `json:"err"`
	Error     string `json:"error"`
	Latency   uint64 `json:"latency"`
	Duration  uint64 `json:"duration"`
	Sent      uint64 `json:"sent"`
	Received  uint64 `json:"received"`
	Fd        int    `json:"fd"`
	AcceptFd  int    `json:"accept_fd"`
}

func (e *tcpEvent) between(src, dst int) bool { return e.Src.Port == src && e.Dst.Port == dst }

// exchange connects to a listener on addr (127.0.0.1 or ::1), sends up
// bytes, gets down bytes back, and closes both ends; it returns the
// client's and the server's ports.
func exchange(t *testing.T, addr string, up, down int) (client, server int) {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		if _, err := io.ReadFull(c, make([]byte, up)); err != nil {
			done <- err
			return
		}
		_, err = c.Write(make([]byte, down))
		done <- err
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	client, server = c.LocalAddr().(*net.TCPAddr).Port, ln.Addr().(*net.TCPAddr).Port
	if _, err := c.Write(make([]byte, up)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, down)); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	c.Close()
	return client, server
}

// closedPort is a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

// TestTraceTCP: a connection over IPv4 and one over IPv6, made by this
// process, show as its connect, accept and two closes, with the ports, the
// handshake's latency, and at close the exact bytes each way; a connect to
// a closed port shows ECONNREFUSED; a connection made before ig started
// closes as this process's.
func TestTraceTCP(t *testing.T) {
	igBinary(t)
	comm := testComm(t)
	pid := os.Getpid()
	// A connection made before ig starts: its process is found when ig
	// starts (the sockets already open), its start is not known.
	earlyLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer earlyLn.Close()
	earlyClient, err := net.Dial("tcp", earlyLn.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	earlyServer, err := earlyLn.Accept()
	if err != nil {
		t.Fatal(err)
	}
	earlyPort := earlyClient.LocalAddr().(*net.TCPAddr).Port
	ig := startIG(t, "trace", "tcp", "-o", "json", "--pid", strconv.Itoa(pid))
	ig.waitAttachedTCP(t)
	earlyClient.Close()
	earlyServer.Close()
	type conn struct {
		addr, loop               string
		client, server, up, down int
	}
	var conns []conn
	for _, c := range []conn{{addr: "127.0.0.1", up: 1000, down: 77}, {addr: "::1", up: 4321, down: 5}} {
		c.client, c.server = exchange(t, c.addr, c.up, c.down)
		conns = append(conns, c)
	}
	refused := closedPort(t)
	if _, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(refused)); err == nil {
		t.Fatalf("connect to closed port %d succeeded", refused)
	}
	last := conns[len(conns)-1]
	ig.waitUntil("the refused connect", func() {}, streamMatcher(func(e *tcpEvent) bool { return e.Operation == "connect" && e.Dst.Port == refused }))
	// Closes come when both ends are done; the last connection's server
	// close is the last of them.
	ig.waitUntil("the closes", func() {}, streamMatcher(func(e *tcpEvent) bool { return e.Operation == "close" && e.between(last.server, last.client) }))
	r := ig.stop(sigINT)
	checkSuccess(t, r)
	evs := eventsOf[tcpEvent](t, r.Stdout)
	mine := func(what string, match func(*tcpEvent) bool) tcpEvent {
		t.Helper()
		e := findOne(t, evs, what, match)
		if e.Pid != int64(pid) || e.Comm != comm {
			t.Errorf("%s: pid %d comm %q, want %d %q", what, e.Pid, e.Comm, pid, comm)
		}
		return e
	}
	for _, c := range conns {
		version := 4
		if c.addr == "::1" {
			version = 6
		}
		name := fmt.Sprintf("%s %d->%d", c.addr, c.client, c.server)
		conn := mine("connect "+name, func(e *tcpEvent) bool { return e.Operation == "connect" && e.between(c.client, c.server) })
		if conn.Err != 0 || conn.Error != "" || conn.Latency == 0 || conn.IPVersion != version || conn.Src.Addr != c.addr || conn.Dst.Addr != c.addr {
			t.Errorf("connect %s: %+v", name, conn)
		}
		acc := mine("accept "+name, func(e *tcpEvent) bool { return e.Operation == "accept" && e.between(c.server, c.client) })
		if acc.IPVersion != version || acc.NetNs == 0 {
			t.Errorf("accept %s: %+v", name, acc)
		}
		for _, end := range []struct {
			src, dst       int
			sent, received int
		}{{c.client, c.server, c.up, c.down}, {c.server, c.client, c.down, c.up}} {
			cl := mine(fmt.Sprintf("close %s (%d)", name, end.src), func(e *tcpEvent) bool { return e.Operation == "close" && e.between(end.src, end.dst) })
			if cl.Sent != uint64(end.sent) || cl.Received != uint64(end.received) || cl.Duration == 0 {
				t.Errorf("close of %d in %s: sent %d received %d duration %d, want %d, %d and more than 0",
					end.src, name, cl.Sent, cl.Received, cl.Duration, end.sent, end.received)
			}
		}
	}
	cl := mine("the early connection's close", func(e *tcpEvent) bool { return e.Operation == "close" && e.Src.Port == earlyPort })
	if cl.Duration != 0 {
		t.Errorf("the early connection's close: duration %d, but ig did not see it begin", cl.Duration)
	}
	bad := mine("refused connect", func(e *tcpEvent) bool { return e.Operation == "connect" && e.Dst.Port == refused })
	if bad.Err != int(unix.ECONNREFUSED) || bad.Error != "ECONNREFUSED" {
		t.Errorf("connect to closed port %d: err %d %q, want ECONNREFUSED", refused, bad.Err, bad.Error)
	}
}

// TestTraceTCPFlags: --failure-only shows the refused connect and nothing
// else; --accept-only shows only accepts, among them one by a thread that
// was already blocked in accept(2) when ig started.
func TestTraceTCPFlags(t *testing.T) {
	igBinary(t)
	t.Run("--failure-only", func(t *testing.T) {
		ig := startIG(t, "trace", "tcp", "-o", "json", "--failure-only", "--pid", strconv.Itoa(os.Getpid()))
		refused := closedPort(t)
		ig.waitUntil("a refused connect", func() {
			exchange(t, "127.0.0.1", 10, 10)
			net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(refused))
		}, streamMatcher(func(e *tcpEvent) bool { return e.Dst.Port == refused }))
		r := ig.stop(sigINT)
		checkSuccess(t, r)
		for _, e := range eventsOf[tcpEvent](t, r.Stdout) {
			if e.Operation != "connect" || e.Err == 0 {
				t.Errorf("--failure-only: %s %+v", e.Operation, e)
			}
		}
	})

	t.Run("--accept-only, blocked in accept before ig", func(t *testing.T) {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0) // blocking: accept(2) sleeps in the kernel
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
			t.Fatal(err)
		}
		if err := unix.Listen(fd, 1); err != nil {
			t.Fatal(err)
		}
		sa, _ := unix.Getsockname(fd)
		port := sa.(*unix.SockaddrInet4).Port
		tids := make(chan int, 1)
		accepted := make(chan int, 1)
		go func() {
			tids <- unix.Gettid()
			nfd, _, err := unix.Accept(fd)
			if err == nil {
				unix.Close(nfd)
			}
			accepted <- nfd
		}()
		tid := <-tids
		time.Sleep(100 * time.Millisecond) // in accept(2) by now
		if stat, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/wchan", tid)); err == nil && !strings.Contains(string(stat), "accept") {
			t.Logf("the accepting thread waits in %s", stat)
		}
		ig := startIG(t, "trace", "tcp", "-o", "json", "--accept-only", "--pid", strconv.Itoa(os.Getpid()))
		ig.waitUntil("an accept", func() { exchange(t, "127.0.0.1", 1, 1) }, streamMatcher(func(e *tcpEvent) bool { return e.Operation == "accept" }))
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		<-accepted
		ig.waitUntil("the accept", func() {}, streamMatcher(func(e *tcpEvent) bool {
			return e.Operation == "accept" && e.Src.Port == port && e.Tid == int64(tid) && e.Pid == int64(os.Getpid())
		}))
		r := ig.stop(sigINT)
		checkSuccess(t, r)
		for _, e := range eventsOf[tcpEvent](t, r.Stdout) {
			if e.Operation != "accept" {
				t.Errorf("--accept-only: %s %+v", e.Operation, e)
			}
		}
	})

	for args, want := range map[string]string{
		"--connect-only --accept-only": "ig: --connect-only and --accept-only: one or the other",
		"--accept-only --failure-only": "ig: --accept-only and --failure-only: only connects fail",
	} {
		if msg := checkFailure(t, runIG(t, append([]string{"trace", "tcp", "-t", "1"}, strings.Fields(args)...)...)); msg != want {
			t.Errorf("%s: %q, want %q", args, msg, want)
		}
	}
}

// TestTraceTCPContainer: nc in a docker container connects to nc there:
// the connect, accept and closes are the container's, by the processes'
// mount namespace. A connection this test made in the container's network
// namespace before ig started, left in its listener's accept queue, has
// no process at all on the server side: when the listener closes, that
// end's close is the container's by the socket's network namespace.
// Under -c another container's, the host's are not shown (the test's own
// client end among them: a host process holds it).
func TestTraceTCPContainer(t *testing.T) {
	runtimesUp(t)
	name, pid := container(t, "docker")
	other, _ := container(t, "docker")
	var queue net.Listener
	var early net.Conn
	var queuePort int
	inNetns(t, pid, func() {
		var err error
		if queue, err = net.Listen("tcp", "127.0.0.1:0"); err != nil { // never accepts
			t.Fatal(err)
		}
		queuePort = queue.Addr().(*net.TCPAddr).Port
		if early, err = net.Dial("tcp", queue.Addr().String()); err != nil {
			t.Fatal(err)
		}
	})
	defer early.Close()
	defer queue.Close()
	ig := startIG(t, "trace", "tcp", "-o", "json", "-c", name)
	ig.waitUntil("nc's connect", func() {
		inContainer(t, "docker", name, "sh", "-c", "nc -l -p 7777 >/dev/null & sleep 0.2; echo hello | nc -w 1 127.0.0.1 7777; wait")
	}, streamMatcher(func(e *tcpEvent) bool { return e.Operation == "connect" && e.Dst.Port == 7777 }))
	inContainer(t, "docker", other, "sh", "-c", "nc -l -p 7778 >/dev/null & sleep 0.2; echo hello | nc -w 1 127.0.0.1 7778; wait")
	exchange(t, "127.0.0.1", 10, 10)
	queue.Close()
	ig.waitUntil("the queued connection's close", func() {}, streamMatcher(func(e *tcpEvent) bool {
		return e.Operation == "close" && e.Src.Port == queuePort
	}))
	ig.waitUntil("nc's closes", func() {}, streamMatcher(func(e *tcpEvent) bool {
		return e.Operation == "close" && e.Src.Port == 7777
	}))
	r := ig.stop(sigINT)
	checkSuccess(t, r)
	evs := eventsOf[tcpEvent](t, r.Stdout)
	for _, op := range []string{"connect", "accept"} {
		e := findOne(t, evs, "nc's "+op, func(e *tcpEvent) bool {
			return e.Operation == op && (e.Dst.Port == 7777 || e.Src.Port == 7777)
		})
		if e.Comm != "nc" || e.Pid == 0 || e.Runtime.ContainerName != name || e.Runtime.RuntimeName != "docker" {
			t.Errorf("nc's %s: comm %q pid %d container %q (%s)", op, e.Comm, e.Pid, e.Runtime.ContainerName, e.Runtime.RuntimeName)
		}
	}
	e := findOne(t, evs, "the queued connection's close", func(e *tcpEvent) bool { return e.Operation == "close" && e.Src.Port == queuePort })
	if e.Pid != 0 || e.Comm != "" || e.Runtime.ContainerName != name || e.NetNs != netNsOf(t, pid) || e.Duration != 0 {
		t.Errorf("the queued connection's close: pid %d comm %q container %q netns %d duration %d; want no process, %s, %d, 0",
			e.Pid, e.Comm, e.Runtime.ContainerName, e.NetNs, e.Duration, name, netNsOf(t, pid))
	}
	for _, e := range evs {
		if e.Runtime.ContainerName != name {
			t.Errorf("-c %s: an event of %q: %s %s:%d", name, e.Runtime.ContainerName, e.Operation, e.Src.Addr, e.Src.Port)
		}
	}
}

// fdScript runs busybox nc as a server and a client in a container, with
// more descriptors open in each than a shell leaves (the server 3-6, the
// client 3-9), and prints the descriptors their sockets have, as /proc
// shows them: the server's listening one while it waits in accept, its
// accepted one and the client's while connected.
const fdScript = `socks() { ls -l /proc/$1/fd | sed -n 's/.* \([0-9]*\) -> socket:.*/\1/p' | tr '\n' ' '; }
exec 3</dev/null 4</dev/null 5</dev/null 6</dev/null
sleep 2 | nc -l -p 7779 >/dev/null &
sleep 0.3; srv=$(pidof nc)
echo "listen $(socks $srv)"
(exec 7</dev/null 8</dev/null 9</dev/null; sleep 1 | exec nc 127.0.0.1 7779 >/dev/null) &
sleep 0.5; cli=$(pidof nc | tr ' ' '\n' | grep -vx "$srv")
echo "accepted $(socks $srv)"; echo "client $(socks $cli)"
wait`

// TestTraceTCPFds: nc in a podman container connects to nc there; the
// connect's fd is the client's socket, the accept's fd the server's
// listening socket and its accept_fd the socket accept returned, as the
// processes' /proc showed them; closes have neither (-1, as IG).
func TestTraceTCPFds(t *testing.T) {
	runtimesUp(t)
	name, _ := container(t, "podman")
	ig := startIG(t, "trace", "tcp", "-o", "json", "-c", name)
	var out string
	ig.waitUntil("nc's connect", func() { out = outputIn(t, "podman", name, "sh", "-c", fdScript) },
		streamMatcher(func(e *tcpEvent) bool { return e.Operation == "connect" && e.Dst.Port == 7779 }))
	ig.waitUntil("nc's closes", func() {}, streamMatcher(func(e *tcpEvent) bool { return e.Operation == "close" && e.Src.Port == 7779 }))
	r := ig.stop(sigINT)
	checkSuccess(t, r)
	want := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			t.Fatalf("the script's %q: want one socket; all it said:\n%s", line, out)
		}
		n, err := strconv.Atoi(f[1])
		if err != nil {
			t.Fatalf("the script's %q: %v", line, err)
		}
		want[f[0]] = n
	}
	if want["client"] < 10 || want["listen"] < 7 || want["accepted"] <= want["listen"] {
		t.Fatalf("the script's descriptors %v: want the client's 10 or more, the server's 7 or more", want)
	}
	t.Logf("descriptors, from /proc: %v", want)
	evs := eventsOf[tcpEvent](t, r.Stdout)
	conn := findOne(t, evs, "nc's connect", func(e *tcpEvent) bool { return e.Operation == "connect" && e.Dst.Port == 7779 })
	acc := findOne(t, evs, "nc's accept", func(e *tcpEvent) bool { return e.Operation == "accept" && e.Src.Port == 7779 })
	if conn.Comm != "nc" || conn.Fd != want["client"] || conn.AcceptFd != -1 {
		t.Errorf("nc's connect: comm %q fd %d accept_fd %d, want nc %d -1", conn.Comm, conn.Fd, conn.AcceptFd, want["client"])
	}
	if acc.Comm != "nc" || acc.Fd != want["listen"] || acc.AcceptFd != want["accepted"] {
		t.Errorf("nc's accept: comm %q fd %d accept_fd %d, want nc %d %d", acc.Comm, acc.Fd, acc.AcceptFd, want["listen"], want["accepted"])
	}
	for _, e := range evs {
		if e.Operation == "close" && (e.Fd != -1 || e.AcceptFd != -1) {
			t.Errorf("close %d->%d: fd %d accept_fd %d, want -1 -1", e.Src.Port, e.Dst.Port, e.Fd, e.AcceptFd)
		}
	}
}

// waitAttachedTCP makes connections until ig (trace tcp or tcpconnect,
// whose events have no operation) shows one of this process's connects.
func (p *proc) waitAttachedTCP(t *testing.T) {
	t.Helper()
	ports := map[int]bool{}
	p.waitUntil("a connect of this process", func() { port, _ := exchange(t, "127.0.0.1", 1, 1); ports[port] = true },
		streamMatcher(func(e *tcpEvent) bool { return (e.Operation == "connect" || e.Operation == "") && ports[e.Src.Port] }))
}

// TestTraceTCPDetach: trace tcp lets go of every eBPF object.
func TestTraceTCPDetach(t *testing.T) {
	igBinary(t)
	requireTool(t, "bpftool")
	checkLifecycle(t, lifecycleGadget{name: "trace tcp", args: []string{"trace", "tcp", "-o", "json", "--pid", strconv.Itoa(os.Getpid())},
		progs: []string{"set_state", "exit_accept4", "exit_accept"}, attached: func(p *proc) {
			p.waitUntil("a connect", func() { exchange(t, "127.0.0.1", 1, 1) }, streamMatcher(func(e *tcpEvent) bool { return e.Operation == "connect" }))
		}, stop: sigTERM})
}
