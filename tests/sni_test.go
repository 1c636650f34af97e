package tests

import (
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ig-tracer/ig/tests/workloads"
	"github.com/ig-tracer/ig/tracers/packettest"
)

// sniEvent is a trace sni event, as JSON.
type sniEvent struct {
	commonEvent
	NetNs     uint64   `json:"netnsid"`
	IPVersion int      `json:"ipversion"`
	Src       endpoint `json:"src"`
	Dst       endpoint `json:"dst"`
	Name      string   `json:"name"`
}

// helloSink is a workloads.HelloSink on addr until the test ends; it
// returns the port.
func helloSink(t *testing.T, network, addr string) int {
	t.Helper()
	ln, err := workloads.HelloSink(network, addr)
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

// sendHello connects to addr and writes hello, in two writes (two
// segments: Go sets TCP_NODELAY) cut at cut when cut > 0; it returns the
// local port.
func sendHello(t *testing.T, addr string, hello []byte, cut int) int {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("connect to %s: %v", addr, err)
	}
	defer c.Close()
	if cut > 0 {
		c.Write(hello[:cut])
		time.Sleep(50 * time.Millisecond) // the first segment leaves alone
		hello = hello[cut:]
	}
	if _, err := c.Write(hello); err != nil {
		t.Fatalf("send the hello: %v", err)
	}
	return c.LocalAddr().(*net.TCPAddr).Port
}

// tlsHello starts a TLS handshake with addr asking for name, with Go's
// crypto/tls; it returns the local port.
func tlsHello(t *testing.T, addr, name string) int {
	t.Helper()
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("connect to %s: %v", addr, err)
	}
	defer raw.Close()
	c := tls.Client(raw, &tls.Config{ServerName: name})
	c.SetDeadline(time.Now().Add(200 * time.Millisecond))
	c.Handshake() // the sink never answers
	return raw.LocalAddr().(*net.TCPAddr).Port
}

// TestTraceSNI: TLS ClientHellos with names only this test knows, sent
// from this process to local listeners, show with the name, both ends
// and this process: Go's own over IPv4 and IPv6, one split over two TCP
// segments (1,216 bytes of key share, as post-quantum ones), and one with
// 25 extensions before its name (IG reads at most 20).
func TestTraceSNI(t *testing.T) {
	igBinary(t)
	port4 := helloSink(t, "tcp4", "127.0.0.1:0")
	port6 := helloSink(t, "tcp6", "[::1]:0")
	addr4, addr6 := fmt.Sprintf("127.0.0.1:%d", port4), fmt.Sprintf("[::1]:%d", port6)
	type want struct {
		name     string
		version  int
		dstPort  int
		srcPorts map[int]bool
	}
	cases := map[string]*want{
		"Go, IPv4":      {name: unique("igt-v4") + ".example.test", version: 4, dstPort: port4},
		"Go, IPv6":      {name: unique("igt-v6") + ".example.test", version: 6, dstPort: port6},
		"two segments":  {name: unique("igt-split") + ".example.test", version: 4, dstPort: port4},
		"25 extensions": {name: unique("igt-many") + ".example.test", version: 4, dstPort: port4},
	}
	for _, w := range cases {
		w.srcPorts = map[int]bool{}
	}
	ig := startIG(t, "trace", "sni", "-o", "json")
	for what, w := range cases {
		ig.waitUntil(what, func() {
			switch what {
			case "Go, IPv4":
				w.srcPorts[tlsHello(t, addr4, w.name)] = true
			case "Go, IPv6":
				w.srcPorts[tlsHello(t, addr6, w.name)] = true
			case "two segments":
				hello := packettest.ClientHello(w.name, 3, true, 1216)
				w.srcPorts[sendHello(t, addr4, hello, 600)] = true
			case "25 extensions":
				w.srcPorts[sendHello(t, addr4, packettest.ClientHello(w.name, 25, true, 32), 0)] = true
			}
		}, streamMatcher(func(e *sniEvent) bool { return e.Name == w.name }))
	}
	r := ig.stop(sigINT)
	checkSuccess(t, r)
	evs := eventsOf[sniEvent](t, r.Stdout)
	for what, w := range cases {
		// One event per hello sent (waitUntil may send again), each with
		// its connection's ends.
		n := 0
		for _, e := range evs {
			if e.Name != w.name {
				continue
			}
			n++
			if e.Pid != int64(os.Getpid()) || e.Comm != testComm(t) || e.IPVersion != w.version || e.Dst.Port != w.dstPort ||
				!w.srcPorts[e.Src.Port] || e.NetNs != netNsOf(t, os.Getpid()) {
				t.Errorf("%s: %+v, want pid %d, IPv%d, to port %d from one of %v", what, e, os.Getpid(), w.version, w.dstPort, w.srcPorts)
			}
		}
		if n == 0 || n > len(w.srcPorts) {
			t.Errorf("%s: %d events for %d hellos sent", what, n, len(w.srcPorts))
		}
	}
}

// TestTraceSNIContainer: a ClientHello sent by nc in a docker container,
// to a listener in the container's network namespace, is nc's, in the
// container; under -c the host's hellos are not shown.
func TestTraceSNIContainer(t *testing.T) {
	runtimesUp(t)
	name := unique("igt-ctr") + ".example.test"
	ctr, pid := container(t, "docker")
	var port int
	inNetns(t, pid, func() { port = helloSink(t, "tcp4", "127.0.0.1:0") })
	hostName := unique("igt-host") + ".example.test"
	hostPort := helloSink(t, "tcp4", "127.0.0.1:0")
	var octal strings.Builder
	for _, b := range packettest.ClientHello(name, 2, false, 32) {
		fmt.Fprintf(&octal, "\\%03o", b)
	}
	ig := startIG(t, "trace", "sni", "-o", "json", "-c", ctr)
	ig.waitUntil("the container's hello", func() {
		sendHello(t, fmt.Sprintf("127.0.0.1:%d", hostPort), packettest.ClientHello(hostName, 2, false, 32), 0)
		inContainer(t, "docker", ctr, "sh", "-c", fmt.Sprintf("printf '%s' | nc 127.0.0.1 %d; true", octal.String(), port))
	}, streamMatcher(func(e *sniEvent) bool { return e.Name == name }))
	r := ig.stop(sigINT)
	checkSuccess(t, r)
	for _, e := range eventsOf[sniEvent](t, r.Stdout) {
		if e.Runtime.ContainerName != ctr || e.Runtime.RuntimeName != "docker" || e.Name != name {
			t.Errorf("-c %s: the hello for %q of %q (%s)", ctr, e.Name, e.Runtime.ContainerName, e.Comm)
			continue
		}
		if e.Comm != "nc" || e.MountNsID != mountNsOf(t, pid) || e.NetNs != netNsOf(t, pid) || e.Dst.Port != port {
			t.Errorf("the container's hello: %+v", e)
		}
	}
}

// TestTraceSNIDetach: trace sni, run until --timeout while it captures,
// leaves none of its programs loaded.
func TestTraceSNIDetach(t *testing.T) {
	igBinary(t)
	requireTool(t, "bpftool")
	checkLifecycle(t, lifecycleGadget{name: "trace sni -t", args: []string{"trace", "sni", "-o", "json", "-t", "2"},
		progs: []string{"sni_filter", "ig_port_owner"}})
}
