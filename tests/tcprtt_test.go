package tests

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ig-tracer/ig/tests/workloads"
)

// rttHistogram is a profile tcprtt report row, as JSON.
type rttHistogram struct {
	workloads.TCPRTTHistogram
	LocalPort  int `json:"localPort"`
	RemotePort int `json:"remotePort"`
}

// peerNetns is a network namespace joined to this one by a veth pair:
// here hostAddr, there peerAddr.
type peerNetns struct {
	name, hostAddr, peerAddr string
}

// newPeerNetns makes the namespace and the veth pair with ip(8); t.Cleanup
// removes them (deleting the namespace deletes its end of the pair, and
// with it ours).
func newPeerNetns(t *testing.T) peerNetns {
	t.Helper()
	requireTool(t, "ip")
	var b [2]byte
	rand.Read(b[:])
	id := unique("")[1:9]
	n := peerNetns{name: "igt-rtt-" + id,
		hostAddr: fmt.Sprintf("10.%d.%d.1", 200+b[0]%50, b[1]), peerAddr: fmt.Sprintf("10.%d.%d.2", 200+b[0]%50, b[1])}
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	ip("netns", "add", n.name)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", n.name).Run() })
	host, peer := "igh"+id, "igp"+id
	ip("link", "add", host, "type", "veth", "peer", "name", peer, "netns", n.name)
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", host).Run() })
	ip("addr", "add", n.hostAddr+"/24", "dev", host)
	ip("link", "set", host, "up")
	ip("-n", n.name, "addr", "add", n.peerAddr+"/24", "dev", peer)
	ip("-n", n.name, "link", "set", peer, "up")
	ip("-n", n.name, "link", "set", "lo", "up")
	return n
}

// listen opens a TCP listener on addr inside the namespace: the socket
// belongs to the namespace of the thread that made it.
func (n peerNetns) listen(t *testing.T, addr string) net.Listener {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	self, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	defer self.Close()
	peer, err := os.Open("/run/netns/" + n.name)
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	if err := unix.Setns(int(peer.Fd()), unix.CLONE_NEWNET); err != nil {
		t.Fatalf("enter %s: %v", n.name, err)
	}
	ln, lerr := net.Listen("tcp", addr)
	if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
		panic(fmt.Sprintf("back to this test's network namespace: %v", err)) // the thread is unusable
	}
	if lerr != nil {
		t.Fatal(lerr)
	}
	return discardAll(t, ln)
}

// discardAll accepts every connection to ln and reads it to its end,
// until the test ends.
func discardAll(t *testing.T, ln net.Listener) net.Listener {
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	return ln
}

// send connects to addr and sends size bytes.
func send(t *testing.T, addr string, size int) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("connect to %s: %v", addr, err)
	}
	defer c.Close()
	if _, err := c.Write(make([]byte, size)); err != nil {
		t.Fatalf("send to %s: %v", addr, err)
	}
}

// TestProfileTCPRTT sends data over loopback and, through a veth pair, to a
// server in a second network namespace; profile tcprtt's histograms count
// the segments received: --byraddr one for each peer, --raddr and --rport
// only the netns server's answers, -m in milliseconds.
func TestProfileTCPRTT(t *testing.T) {
	igBinary(t)
	n := newPeerNetns(t)
	remote := n.listen(t, n.peerAddr+":0").Addr().(*net.TCPAddr)
	local, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	go func() {
		for {
			c, err := local.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	traffic := func() {
		send(t, remote.String(), 200000)
		send(t, local.Addr().String(), 200000)
	}
	counted := func(h *rttHistogram) bool {
		return h.Unit == "us" && h.Segments() > 0 && h.Average > 0 && len(h.Intervals) > 0
	}

	t.Run("--byraddr", func(t *testing.T) {
		ig := startIG(t, "profile", "tcprtt", "-o", "json", "--byraddr", "--interval", "1")
		for _, peer := range []string{"127.0.0.1", n.peerAddr} {
			ig.waitUntil("a histogram of "+peer, traffic, streamMatcher(func(h *rttHistogram) bool {
				return h.Address == peer && h.AddressType == "Remote" && counted(h) && h.LocalPort == 0 && h.RemotePort == 0
			}))
		}
		checkSuccess(t, ig.stop(sigINT))
	})

	t.Run("--raddr --rport", func(t *testing.T) {
		ig := startIG(t, "profile", "tcprtt", "-o", "json", "--raddr", n.peerAddr, "--rport", fmt.Sprint(remote.Port), "--byladdr", "--interval", "1")
		ig.waitUntil("a histogram of the netns server's answers", traffic, streamMatcher(func(h *rttHistogram) bool {
			return h.Address == n.hostAddr && h.AddressType == "Local" && counted(h) && h.RemotePort == remote.Port
		}))
		r := ig.stop(sigINT)
		checkSuccess(t, r)
		for _, h := range eventsOf[rttHistogram](t, r.Stdout) {
			if h.Address != n.hostAddr && h.Segments() > 0 {
				t.Errorf("--raddr %s --rport %d counted segments of local address %s", n.peerAddr, remote.Port, h.Address)
			}
		}
	})

	t.Run("all, -m", func(t *testing.T) {
		ig := startIG(t, "profile", "tcprtt", "-o", "json", "-m", "--interval", "1")
		ig.waitUntil("one histogram of everything, in ms", traffic, streamMatcher(func(h *rttHistogram) bool {
			return h.Address == "******" && h.AddressType == "All Addresses" && h.Unit == "ms" && h.Segments() > 0
		}))
		checkSuccess(t, ig.stop(sigINT))
	})
}

// TestProfileTCPRTTBadInput: one-line errors for what cannot work.
func TestProfileTCPRTTBadInput(t *testing.T) {
	igBinary(t)
	for args, want := range map[string]string{
		"--byladdr --byraddr": "ig: --byladdr and --byraddr: one histogram per local or per remote address, not both",
		"--laddr 1.2.3":       "ig: --laddr 1.2.3: not an IPv4 or IPv6 address",
		"--rport 70000":       "ig: --rport 70000: not a port (1 to 65535)",
		"--pid 1":             "ig: segments are received in softirq, not by a process: --pid, --comm and -F on pid, comm or uid cannot apply; filter with -c, --laddr, --raddr, --lport, --rport",
	} {
		msg := checkFailure(t, runIG(t, append([]string{"profile", "tcprtt", "-t", "1"}, strings.Fields(args)...)...))
		if msg != want {
			t.Errorf("%s: got %q, want %q", args, msg, want)
		}
	}
}

// TestProfileTCPRTTDetach: profile tcprtt lets go of every eBPF object.
func TestProfileTCPRTTDetach(t *testing.T) {
	igBinary(t)
	requireTool(t, "bpftool")
	checkLifecycle(t, lifecycleGadget{name: "profile tcprtt -t", args: []string{"profile", "tcprtt", "-o", "json", "--interval", "1", "-t", "3"},
		progs: []string{"tcp_probe_btf"}, attached: func(p *proc) {
			p.waitUntil("a report", func() {}, func(out []byte) bool { return bytes.Contains(out, []byte(`"unit":"us"`)) })
		}})
}

// inNetns runs f on a thread in the network namespace of pid: the sockets
// f makes are that namespace's, so the kernel receives their segments
// there, as it would a container's own.
func inNetns(t *testing.T, pid int, f func()) {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	self, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	defer self.Close()
	target, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		t.Fatalf("enter the network namespace of pid %d: %v", pid, err)
	}
	defer func() {
		if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
			panic(fmt.Sprintf("back to this test's network namespace: %v", err)) // the thread is unusable
		}
	}()
	f()
}

// TestProfileTCPRTTContainers: segments received in a docker container's
// network namespace and in a CRI pod's (shared with its sandbox) are the
// containers', told apart from the host's by the socket's network
// namespace; -c keeps only the container's, and the kernel already drops
// the others (-v: as many histograms from the kernel as after filters).
func TestProfileTCPRTTContainers(t *testing.T) {
	env := runtimesUp(t)
	if err := workloads.LoopbackUp(); err != nil {
		t.Fatal(err)
	}
	dock, dockPid := container(t, "docker")
	pod, podPid := container(t, "containerd-cri")
	transfer := func() {
		t.Helper()
		if _, err := workloads.TCPTransfer("127.0.0.1", 100000); err != nil {
			t.Fatal(err)
		}
	}
	traffic := func() {
		inNetns(t, dockPid, transfer)
		inNetns(t, podPid, transfer)
		transfer()
	}

	t.Run("--per-container", func(t *testing.T) {
		ig := startIG(t, "profile", "tcprtt", "-o", "json", "--per-container", "--interval", "1")
		for _, want := range []struct{ runtime, name, pod, image string }{
			{"docker", dock, "", env["IMG_PAUSE"]}, {"containerd", pod, pod + "-pod", env["IMG_PAUSE"]}, {"", "", "", ""},
		} {
			ig.waitUntil(fmt.Sprintf("a histogram of %q", want.name), traffic, streamMatcher(func(h *rttHistogram) bool {
				k8sName := ""
				if want.pod != "" {
					k8sName = want.name
				}
				return h.Runtime.RuntimeName == want.runtime && h.Runtime.ContainerName == want.name &&
					h.Runtime.ContainerImageName == want.image && (h.Runtime.ContainerID != "") == (want.name != "") &&
					h.K8s.PodName == want.pod && h.K8s.ContainerName == k8sName && h.Segments() > 0 && h.Address == "******"
			}))
		}
		r := ig.stop(sigINT)
		checkSuccess(t, r)
		for _, h := range eventsOf[rttHistogram](t, r.Stdout) {
			if n := h.Runtime.ContainerName; n != "" && n != dock && n != pod {
				t.Errorf("a histogram of container %q: only %s and %s had traffic", n, dock, pod)
			}
		}
	})

	t.Run("-c", func(t *testing.T) {
		ig := startIG(t, "profile", "tcprtt", "-o", "json", "--per-container", "--interval", "1", "-c", dock, "-v")
		ig.waitUntil("a histogram of "+dock, traffic, streamMatcher(func(h *rttHistogram) bool {
			return h.Runtime.ContainerName == dock && h.Segments() > 0
		}))
		for range 2 {
			traffic()
			time.Sleep(time.Second)
		}
		r := ig.stop(sigINT)
		checkSuccess(t, r)
		for _, h := range eventsOf[rttHistogram](t, r.Stdout) {
			if h.Runtime.ContainerName != dock {
				t.Errorf("-c %s: a histogram of %q (%s)", dock, h.Runtime.ContainerName, h.Runtime.RuntimeName)
			}
		}
		counts := regexp.MustCompile(`(\d+) histograms from the kernel, (\d+) after filters`).FindAllStringSubmatch(string(r.Stderr), -1)
		if len(counts) < 3 {
			t.Fatalf("-v: %d lines of histogram counts, want one a second\n%s", len(counts), r.Stderr)
		}
		for _, c := range counts {
			if c[1] != c[2] {
				t.Errorf("-c %s: the kernel kept other namespaces' segments: %s", dock, c[0])
			}
		}
	})
}
