package tests

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// tcpRetransEvent is a trace tcpretrans event, as JSON.
type tcpRetransEvent struct {
	commonEvent
	connFields
	State    string `json:"state"`
	TCPFlags string `json:"tcpflags"`
	Type     string `json:"type"`
}

// dropTo makes nftables drop the TCP segments sent to port on this host
// until the test ends: their sender must retransmit them.
func dropTo(t *testing.T, port int) {
	t.Helper()
	nftRule(t, 0, "input", "tcp", "dport", strconv.Itoa(port), "drop")
}

// nftRule adds an nftables rule on hook (input, output) in the network
// namespace of pid (0: this one), in a table of its own that the test's
// cleanup deletes.
func nftRule(t *testing.T, pid int, hook string, rule ...string) {
	t.Helper()
	nft := requireTool(t, "nft")
	table := testTablePrefix + unique("")[1:9]
	run := func(args ...string) error {
		cmd := exec.Command(nft, args...)
		if pid != 0 {
			cmd = exec.Command("nsenter", append([]string{fmt.Sprintf("--net=/proc/%d/ns/net", pid), nft}, args...)...)
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("nft %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	for _, args := range [][]string{
		{"add", "table", "inet", table},
		{"add", "chain", "inet", table, "c", "{ type filter hook " + hook + " priority 0; }"},
		append([]string{"add", "rule", "inet", table, "c"}, rule...),
	} {
		if err := run(args...); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _ = run("delete", "table", "inet", table) })
}

// listenDiscard is a listener on 127.0.0.1 that reads every connection to
// its end, until the test ends.
func listenDiscard(t *testing.T) (net.Listener, int) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	discardAll(t, ln)
	return ln, ln.Addr().(*net.TCPAddr).Port
}

// TestTraceTCPRetrans: segments to a port whose traffic nftables drops are
// retransmitted: those of a connection made after ig started are this
// process's, and so are those of one made before (ig finds the processes
// of the sockets already open when it starts).
func TestTraceTCPRetrans(t *testing.T) {
	igBinary(t)
	_, port := listenDiscard(t)
	hostNet := netNsOf(t, os.Getpid())
	early, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	defer early.Close()
	earlyPort := early.LocalAddr().(*net.TCPAddr).Port
	dropTo(t, port)
	ig := startIG(t, "trace", "tcpretrans", "-o", "json")
	// Each try: a new connection (made after ig started, once it has
	// attached), data sent on it and on the early one.
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	mine := map[int]bool{}
	ig.waitUntil("a retransmission of a connection of this process", func() {
		d := net.Dialer{Timeout: 1300 * time.Millisecond} // the first SYN retransmission is after 1 s
		// The handshake's SYN is dropped too: the connect times out,
		// and the SYN retransmissions are the ones seen.
		c, err := d.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			conns = append(conns, c)
			c.Write([]byte("x"))
		}
		early.Write([]byte("y"))
	}, streamMatcher(func(e *tcpRetransEvent) bool {
		if e.Dst.Port == port && e.Pid == int64(os.Getpid()) {
			mine[e.Src.Port] = true
		}
		return len(mine) > 0
	}))
	ig.waitUntil("a retransmission of the early connection", func() { early.Write([]byte("y")) },
		streamMatcher(func(e *tcpRetransEvent) bool { return e.Src.Port == earlyPort }))
	r := ig.stop(sigINT)
	checkSuccess(t, r)
	evs := eventsOf[tcpRetransEvent](t, r.Stdout)
	first := func(what string, match func(*tcpRetransEvent) bool) tcpRetransEvent {
		t.Helper()
		for _, e := range evs {
			if match(&e) {
				return e
			}
		}
		t.Fatalf("no %s among %d events", what, len(evs))
		return tcpRetransEvent{}
	}
	e := first("retransmission of this process", func(e *tcpRetransEvent) bool { return mine[e.Src.Port] })
	if e.Comm != testComm(t) || e.Type != "RETRANS" || e.State != "SYN_SENT" || e.TCPFlags != "SYN" ||
		e.Src.Addr != "127.0.0.1" || e.IPVersion != 4 || e.NetNs != hostNet {
		t.Errorf("a SYN retransmitted: %+v", e)
	}
	e = first("retransmission of the early connection", func(e *tcpRetransEvent) bool { return e.Src.Port == earlyPort })
	if e.Pid != int64(os.Getpid()) || e.Comm != testComm(t) || e.Type != "RETRANS" || e.State != "ESTABLISHED" || !strings.Contains(e.TCPFlags, "ACK") ||
		e.Dst.Port != port || e.NetNs != hostNet || e.Runtime.ContainerName != "" {
		t.Errorf("the early connection's retransmission: %+v", e)
	}
}

// TestTraceTCPRetransDetach: trace tcpretrans lets go of every eBPF object.
func TestTraceTCPRetransDetach(t *testing.T) {
	igBinary(t)
	requireTool(t, "bpftool")
	_, port := listenDiscard(t)
	dropTo(t, port)
	checkLifecycle(t, lifecycleGadget{name: "trace tcpretrans", args: []string{"trace", "tcpretrans", "-o", "json"},
		progs: []string{"retransmit", "set_state", "exit_accept4", "exit_accept"}, attached: func(p *proc) {
			p.waitUntil("a retransmission", func() {
				d := net.Dialer{Timeout: 1300 * time.Millisecond} // the first SYN retransmission is after 1 s
				if c, err := d.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
					c.Close()
				}
			}, streamMatcher(func(e *tcpRetransEvent) bool { return e.Dst.Port == port }))
		}, stop: sigTERM})
}

// TestTraceTCPRetransContainer: in a docker container's network namespace,
// where nftables drops the segments to one port, nc's SYN is retransmitted
// (nc's, by its mount namespace), and so is the data of a connection this
// test made there and closed before ig started: no process holds it any
// more, so it is the container's by the socket's network namespace.
// Under -c the host's retransmissions are not shown.
func TestTraceTCPRetransContainer(t *testing.T) {
	runtimesUp(t)
	name, pid := container(t, "docker")
	var port, earlyPort int
	var early net.Conn
	inNetns(t, pid, func() {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		discardAll(t, ln)
		port = ln.Addr().(*net.TCPAddr).Port
		if early, err = net.Dial("tcp", ln.Addr().String()); err != nil {
			t.Fatal(err)
		}
		earlyPort = early.LocalAddr().(*net.TCPAddr).Port
	})
	nftRule(t, pid, "input", "tcp", "dport", strconv.Itoa(port), "drop")
	// Orphaned: closed with data the peer never acknowledges, the
	// socket retransmits it (at 0.2, 0.6, 1.4, 3 s...) with no process.
	early.Write([]byte("y"))
	early.Close()
	// The host's own retransmissions, which -c must leave out.
	_, hostPort := listenDiscard(t)
	hostConn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(hostPort))
	if err != nil {
		t.Fatal(err)
	}
	defer hostConn.Close()
	dropTo(t, hostPort)

	ig := startIG(t, "trace", "tcpretrans", "-o", "json", "-c", name, "-v")
	ig.waitUntil("nc's SYN retransmitted", func() {
		inContainer(t, "docker", name, "sh", "-c", fmt.Sprintf("echo x | nc -w 2 127.0.0.1 %d; true", port))
		hostConn.Write([]byte("z"))
	}, streamMatcher(func(e *tcpRetransEvent) bool { return e.Comm == "nc" && e.Dst.Port == port }))
	ig.waitUntil("the orphaned connection's retransmission", func() {},
		streamMatcher(func(e *tcpRetransEvent) bool { return e.Src.Port == earlyPort }))
	r := ig.stop(sigINT)
	checkSuccess(t, r)
	evs := eventsOf[tcpRetransEvent](t, r.Stdout)
	// The kernel drops the host's: its network namespace has a verdict
	// from the start, so ig never has to leave its events out itself
	// (-v names the namespaces it does: those of no container it knows,
	// like a gone container's whose orphaned sockets still retransmit).
	hostNet := fmt.Sprintf("network namespace %d: not selected", netNsOf(t, os.Getpid()))
	if strings.Contains(string(r.Stderr), hostNet) {
		t.Errorf("-c %s: the kernel let the host's retransmissions through:\n%s", name, r.Stderr)
	}
	for _, e := range evs {
		switch {
		case e.Runtime.ContainerName != name || e.Runtime.RuntimeName != "docker" || e.NetNs != netNsOf(t, pid):
			t.Errorf("-c %s: a retransmission of %q (netns %d): %+v", name, e.Runtime.ContainerName, e.NetNs, e)
		case e.Comm == "nc" && (e.Pid == 0 || e.State != "SYN_SENT" || e.TCPFlags != "SYN"):
			t.Errorf("nc's retransmission: %+v", e)
		case e.Src.Port == earlyPort && (e.Pid != 0 || e.State != "FIN_WAIT1"):
			t.Errorf("the early connection's retransmission: %+v", e)
		}
	}
}
