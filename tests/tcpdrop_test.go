package tests

import (
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// tcpDropEvent is a trace tcpdrop event, as JSON.
type tcpDropEvent struct {
	commonEvent
	connFields
	State    string `json:"state"`
	TCPFlags string `json:"tcpflags"`
	Reason   string `json:"reason"`
}

// TestTraceTCPDrop: nftables drops the data segments this process sends
// to a local listener (not the handshake's): each drop shows with this
// process, the connection, ESTABLISHED, the segment's flags and the
// kernel's reason, NETFILTER_DROP, named from its BTF.
func TestTraceTCPDrop(t *testing.T) {
	igBinary(t)
	_, port := listenDiscard(t)
	nftRule(t, 0, "output", "tcp", "dport", strconv.Itoa(port), "meta", "length", "gt", "150", "drop")
	pid := os.Getpid()
	ig := startIG(t, "trace", "tcpdrop", "-o", "json", "--pid", strconv.Itoa(pid))
	ports := map[int]bool{}
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	ig.waitUntil("a dropped segment of this process", func() {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		ports[c.LocalAddr().(*net.TCPAddr).Port] = true
		c.Write(make([]byte, 500))
	}, streamMatcher(func(e *tcpDropEvent) bool { return ports[e.Src.Port] }))
	r := ig.stop(sigINT)
	checkSuccess(t, r)
	for _, e := range eventsOf[tcpDropEvent](t, r.Stdout) {
		if !ports[e.Src.Port] {
			continue
		}
		if e.Pid != int64(pid) || e.Comm != testComm(t) || e.Dst.Port != port || e.State != "ESTABLISHED" ||
			e.Reason != "NETFILTER_DROP" || !strings.Contains(e.TCPFlags, "ACK") || e.IPVersion != 4 || e.NetNs != netNsOf(t, pid) {
			t.Errorf("a dropped segment: %+v", e)
		}
		return
	}
	t.Error("no dropped segment of this process")
}

// TestTraceTCPDropContainer: in a docker container whose nftables drop
// nc's data, the drops are nc's and the container's; -c leaves out the
// host's drops.
func TestTraceTCPDropContainer(t *testing.T) {
	runtimesUp(t)
	name, pid := container(t, "docker")
	nftRule(t, pid, "output", "tcp", "dport", "7777", "meta", "length", "gt", "150", "drop")
	_, hostPort := listenDiscard(t)
	nftRule(t, 0, "output", "tcp", "dport", strconv.Itoa(hostPort), "meta", "length", "gt", "150", "drop")
	hostConn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(hostPort))
	if err != nil {
		t.Fatal(err)
	}
	defer hostConn.Close()
	ig := startIG(t, "trace", "tcpdrop", "-o", "json", "-c", name)
	ig.waitUntil("nc's dropped data", func() {
		hostConn.Write(make([]byte, 500))
		inContainer(t, "docker", name, "sh", "-c",
			"nc -l -p 7777 >/dev/null & sleep 0.2; head -c 600 /dev/zero | nc -w 1 127.0.0.1 7777; kill %1; true")
	}, streamMatcher(func(e *tcpDropEvent) bool { return e.Comm == "nc" && e.Dst.Port == 7777 }))
	r := ig.stop(sigINT)
	checkSuccess(t, r)
	for _, e := range eventsOf[tcpDropEvent](t, r.Stdout) {
		if e.Runtime.ContainerName != name || e.NetNs != netNsOf(t, pid) {
			t.Errorf("-c %s: a drop of %q: %+v", name, e.Runtime.ContainerName, e)
		} else if e.Comm == "nc" && (e.Reason != "NETFILTER_DROP" || e.Pid == 0) {
			t.Errorf("nc's drop: %+v", e)
		}
	}
}

// TestTraceTCPDropDetach: trace tcpdrop lets go of every eBPF object.
func TestTraceTCPDropDetach(t *testing.T) {
	igBinary(t)
	requireTool(t, "bpftool")
	_, port := listenDiscard(t)
	nftRule(t, 0, "output", "tcp", "dport", strconv.Itoa(port), "meta", "length", "gt", "150", "drop")
	checkLifecycle(t, lifecycleGadget{name: "trace tcpdrop", args: []string{"trace", "tcpdrop", "-o", "json"},
		progs: []string{"kfree_skb", "set_state", "exit_accept4", "exit_accept"}, attached: func(p *proc) {
			var conns []net.Conn
			defer func() {
				for _, c := range conns {
					c.Close()
				}
			}()
			p.waitUntil("a drop", func() {
				if c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
					conns = append(conns, c)
					c.Write(make([]byte, 500))
				}
			}, streamMatcher(func(e *tcpDropEvent) bool { return e.Dst.Port == port }))
		}, stop: sigTERM})
}
