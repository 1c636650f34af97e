package tests

import (
	"fmt"
	"net"
	"os"
	"slices"
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
	Stack    string `json:"kernel_stack"`
	StackRaw uint32 `json:"kernel_stack_raw"`
}

// checkDropStack: the kernel stack of a segment that nftables dropped on
// its way out holds, innermost first, the function that freed it
// (kfree_skb_reason, or sk_skb_reason_drop since 6.9), then the netfilter
// hook that dropped it, IP's output (ip_local_out, or __ip_local_out where
// that is not inlined) and TCP's transmission. The frames between
// (nft_do_chain...) vary between kernels, and those after with what sent
// the segment (a send, a close, a retransmission timer).
func checkDropStack(t *testing.T, e *tcpDropEvent) {
	t.Helper()
	frames, err := parseStack(e.Stack)
	if err != nil || int32(e.StackRaw) < 0 { // an errno: no stack stored
		t.Errorf("kernel stack (id %d): %v", e.StackRaw, err)
		return
	}
	if len(frames) == 0 || frames[0] != "kfree_skb_reason" && frames[0] != "sk_skb_reason_drop" {
		t.Errorf("kernel stack %q: the innermost frame is not the freeing function", e.Stack)
	}
	want := [][]string{{"nf_hook_slow"}, {"ip_local_out", "__ip_local_out"}, {"__tcp_transmit_skb"}}
	i := 0
	for _, f := range frames[min(1, len(frames)):] {
		if i < len(want) && slices.Contains(want[i], f) {
			i++
		}
	}
	if i < len(want) {
		t.Errorf("kernel stack %q: no %s (after %v)", e.Stack, want[i], want[:i])
	}
}

// parseStack reads a stack as IG writes it, "[0]fn; [1]caller; ",
// checking the numbering.
func parseStack(s string) ([]string, error) {
	var frames []string
	for i, f := range strings.Split(strings.TrimSuffix(s, "; "), "; ") {
		name, ok := strings.CutPrefix(f, "["+strconv.Itoa(i)+"]")
		if !ok || name == "" {
			return nil, fmt.Errorf("frame %d: %q in %q", i, f, s)
		}
		frames = append(frames, name)
	}
	return frames, nil
}

// TestTraceTCPDrop: nftables drops the data segments this process sends
// to a local listener (not the handshake's): each drop shows with this
// process, the connection, ESTABLISHED, the segment's flags and the
// kernel's reason, NETFILTER_DROP, named from its BTF, and the kernel
// stack of the drop.
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
		checkDropStack(t, &e)
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
	}, streamMatcher(func(e *tcpDropEvent) bool {
		return e.Comm == "nc" && e.Dst.Port == 7777 && e.Reason == "NETFILTER_DROP"
	}))
	r := ig.stop(sigINT)
	checkSuccess(t, r)
	for _, e := range eventsOf[tcpDropEvent](t, r.Stdout) {
		if e.Runtime.ContainerName != name || e.NetNs != netNsOf(t, pid) {
			t.Errorf("-c %s: a drop of %q: %+v", name, e.Runtime.ContainerName, e)
		} else if e.Comm == "nc" && e.Pid == 0 {
			t.Errorf("nc's drop without its pid: %+v", e)
		} else if e.Comm == "nc" && e.Reason == "NETFILTER_DROP" {
			// The rule's drops (waited for above). nc's sockets may also
			// drop a late FIN as TCP_OLD_DATA, in their own stack.
			checkDropStack(t, &e)
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
