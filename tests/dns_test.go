package tests

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// dnsEvent is a trace dns event, as JSON.
type dnsEvent struct {
	commonEvent
	NetNs      uint64   `json:"netnsid"`
	SrcIP      string   `json:"srcIP"`
	DstIP      string   `json:"dstIP"`
	SrcPort    int      `json:"srcPort"`
	DstPort    int      `json:"dstPort"`
	Protocol   string   `json:"protocol"`
	ID         string   `json:"id"`
	Qr         string   `json:"qr"`
	Nameserver string   `json:"nameserver"`
	PktType    string   `json:"pktType"`
	QType      string   `json:"qtype"`
	Name       string   `json:"name"`
	Rcode      string   `json:"rcode"`
	Latency    uint64   `json:"latency"`
	NumAnswers int      `json:"numAnswers"`
	Addresses  []string `json:"addresses"`
	Cwd        string   `json:"cwd"`
	ExePath    string   `json:"exepath"`
}

// dnsServer answers A queries for name with addr, and NXDOMAIN for any
// other, over UDP and TCP on 127.0.0.1:53 of the current thread's network
// namespace, until the test ends.
func dnsServer(t *testing.T, name string, addr netip.Addr) {
	t.Helper()
	answer := func(q []byte) []byte {
		var p dnsmessage.Parser
		h, err := p.Start(q)
		if err != nil {
			return nil
		}
		question, err := p.Question()
		if err != nil {
			return nil
		}
		b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true})
		b.EnableCompression()
		rh := dnsmessage.ResourceHeader{Name: question.Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 60}
		if question.Name.String() != name || question.Type != dnsmessage.TypeA {
			b = dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, RCode: dnsmessage.RCodeNameError})
		}
		b.StartQuestions()
		b.Question(question)
		if question.Name.String() == name && question.Type == dnsmessage.TypeA {
			b.StartAnswers()
			b.AResource(rh, dnsmessage.AResource{A: addr.As4()})
		}
		out, _ := b.Finish()
		return out
	}
	udp, err := net.ListenPacket("udp", "127.0.0.1:53")
	if err != nil {
		t.Fatalf("DNS server: %v", err)
	}
	t.Cleanup(func() { udp.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := udp.ReadFrom(buf)
			if err != nil {
				return
			}
			if a := answer(buf[:n]); a != nil {
				udp.WriteTo(a, from)
			}
		}
	}()
	tcp, err := net.Listen("tcp", "127.0.0.1:53")
	if err != nil {
		t.Fatalf("DNS server: %v", err)
	}
	t.Cleanup(func() { tcp.Close() })
	go func() {
		for {
			c, err := tcp.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				var n uint16
				if binary.Read(c, binary.BigEndian, &n) != nil {
					return
				}
				q := make([]byte, n)
				if _, err := io.ReadFull(c, q); err != nil {
					return
				}
				a := answer(q)
				c.Write(binary.BigEndian.AppendUint16(nil, uint16(len(a))))
				c.Write(a)
			}()
		}
	}()
}

// lookup asks 127.0.0.1:53 for name's IPv4 addresses over network (udp,
// tcp), with Go's own resolver.
func lookup(name, network string) ([]netip.Addr, error) {
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, "127.0.0.1:53")
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return r.LookupNetIP(ctx, "ip4", name)
}

// TestTraceDNS: queries for a name only this test knows, over UDP and over
// TCP, to a DNS server the test runs, show as queries and responses with
// the id, name, type, server, result, the address answered and the
// response's latency.
func TestTraceDNS(t *testing.T) {
	igBinary(t)
	name := unique("igt") + ".test."
	addr := netip.MustParseAddr("192.0.2.7")
	dnsServer(t, name, addr)
	ig := startIG(t, "trace", "dns", "-o", "json")
	ig.waitUntil("the UDP response", func() { lookup(name, "udp") }, streamMatcher(func(e *dnsEvent) bool {
		return e.Name == name && e.Qr == "R" && e.Protocol == "UDP"
	}))
	ig.waitUntil("the TCP response", func() { lookup(name, "tcp") }, streamMatcher(func(e *dnsEvent) bool {
		return e.Name == name && e.Qr == "R" && e.Protocol == "TCP"
	}))
	r := ig.stop(sigINT)
	checkSuccess(t, r)
	evs := eventsOf[dnsEvent](t, r.Stdout)
	for _, proto := range []string{"UDP", "TCP"} {
		var q, resp *dnsEvent
		for i := range evs {
			e := &evs[i]
			if e.Name != name || e.Protocol != proto || e.QType != "A" {
				continue
			}
			if e.Qr == "Q" && q == nil {
				q = e
			}
			if e.Qr == "R" && resp == nil && q != nil && e.ID == q.ID {
				resp = e
			}
		}
		if q == nil || resp == nil {
			t.Errorf("%s: query %v, response %v", proto, q != nil, resp != nil)
			continue
		}
		if q.DstPort != 53 || q.Nameserver != "127.0.0.1" || q.PktType != "OUTGOING" || q.Rcode != "" {
			t.Errorf("%s query: %+v", proto, q)
		}
		for _, e := range []*dnsEvent{q, resp} {
			if e.Pid != int64(os.Getpid()) || e.Comm != testComm(t) {
				t.Errorf("%s %s: process %d %q, want this test's (%d %q)", proto, e.Qr, e.Pid, e.Comm, os.Getpid(), testComm(t))
			}
		}
		if resp.SrcPort != 53 || resp.DstPort != q.SrcPort || resp.Rcode != "NoError" || resp.NumAnswers != 1 ||
			strings.Join(resp.Addresses, ",") != addr.String() || resp.Latency == 0 || resp.Nameserver != "127.0.0.1" {
			t.Errorf("%s response: %+v", proto, resp)
		}
	}
}

// TestTraceDNSContainer: a query from nslookup in a docker container, to a
// DNS server the test runs in the container's network namespace, is the
// container's, and so is its response: both are nslookup's, the client's,
// not the server's (this test process); under -c the host's queries are
// not shown.
func TestTraceDNSContainer(t *testing.T) {
	runtimesUp(t)
	name := unique("igt") + ".test."
	container1, pid := container(t, "docker")
	inNetns(t, pid, func() { dnsServer(t, name, netip.MustParseAddr("192.0.2.8")) })
	hostName := unique("igt-host") + ".test."
	ig := startIG(t, "trace", "dns", "-o", "json", "-c", container1)
	ig.waitUntil("the container's response", func() {
		lookup(hostName, "udp") // nothing answers on the host: the query is enough
		inContainer(t, "docker", container1, "sh", "-c", fmt.Sprintf("nslookup %s 127.0.0.1 >/dev/null 2>&1; true", strings.TrimSuffix(name, ".")))
	}, streamMatcher(func(e *dnsEvent) bool { return e.Name == name && e.Qr == "R" }))
	r := ig.stop(sigINT)
	checkSuccess(t, r)
	for _, e := range eventsOf[dnsEvent](t, r.Stdout) {
		if e.Runtime.ContainerName != container1 || e.Runtime.RuntimeName != "docker" || e.NetNs != netNsOf(t, pid) {
			t.Errorf("-c %s: a message of %q (netns %d): %s %s", container1, e.Runtime.ContainerName, e.NetNs, e.Qr, e.Name)
		}
		if e.Name == name && e.Qr == "R" && e.QType == "A" && (e.Rcode != "NoError" || strings.Join(e.Addresses, ",") != "192.0.2.8") {
			t.Errorf("the container's response: %+v", e)
		}
		if e.Name == name && (e.Comm != "nslookup" || e.Pid == 0 || e.Pid == int64(os.Getpid()) || e.MountNsID != mountNsOf(t, pid)) {
			t.Errorf("%s %s: process %d %q in mount namespace %d, want nslookup's in the container's", e.Qr, e.Name, e.Pid, e.Comm, e.MountNsID)
		}
	}
}

// TestTraceDNSPaths: with --paths, a query made in a podman container by
// a copy of busybox at a path of the test's, run in a directory of the
// test's, and its response, have that directory and that executable as
// the container sees them (the response's process is the client's too).
func TestTraceDNSPaths(t *testing.T) {
	runtimesUp(t)
	name := unique("igt") + ".test."
	ctr, pid := container(t, "podman")
	inNetns(t, pid, func() { dnsServer(t, name, netip.MustParseAddr("192.0.2.9")) })
	dir := "/tmp/" + unique("igwd")
	cwd, exe := dir+"/deep/er", dir+"/bin/busybox-igt"
	inContainer(t, "podman", ctr, "sh", "-c", fmt.Sprintf("mkdir -p %s %s/bin && cp /bin/busybox %s", cwd, dir, exe))
	ig := startIG(t, "trace", "dns", "--paths", "-o", "json", "-c", ctr)
	ig.waitUntil("the container's response", func() {
		inContainer(t, "podman", ctr, "sh", "-c", fmt.Sprintf("cd %s && %s nslookup %s 127.0.0.1 >/dev/null 2>&1; true", cwd, exe, strings.TrimSuffix(name, ".")))
	}, streamMatcher(func(e *dnsEvent) bool { return e.Name == name && e.Qr == "R" }))
	r := ig.stop(sigINT)
	checkSuccess(t, r)
	evs := eventsOf[dnsEvent](t, r.Stdout)
	for _, qr := range []string{"Q", "R"} {
		e := findOne(t, evs, "nslookup's "+qr, func(e *dnsEvent) bool { return e.Name == name && e.Qr == qr && e.QType == "A" })
		if e.Comm != "busybox-igt" || e.Cwd != cwd || e.ExePath != exe {
			t.Errorf("%s %s: comm %q cwd %q exepath %q, want busybox-igt %q %q", qr, name, e.Comm, e.Cwd, e.ExePath, cwd, exe)
		}
	}
}

// TestTraceDNSPathsMap: the processes' paths take kernel memory only
// under --paths: without it, the table of paths (an LRU, allocated whole:
// 2048 entries of 1 KiB) the port-owner program refers to has one entry.
func TestTraceDNSPathsMap(t *testing.T) {
	igBinary(t)
	for _, c := range []struct {
		args []string
		want int
	}{{nil, 1}, {[]string{"--paths"}, 2048}} {
		ig := startIG(t, append([]string{"trace", "dns", "-o", "json", "-t", "30"}, c.args...)...)
		entries := -1
		deadline := time.Now().Add(attachTimeout)
		for entries < 0 && time.Now().Before(deadline) && !ig.exited() {
			time.Sleep(pollEvery)
			now := snapshotBPF(t)
			for _, p := range now.progs {
				for _, id := range p.MapIDs {
					if p.Name == "ig_port_owner" && now.maps[id].Name == "proc_paths" {
						entries = now.maps[id].MaxEntries
					}
				}
			}
		}
		checkSuccess(t, ig.stop(sigINT))
		if entries != c.want {
			t.Errorf("trace dns %v: proc_paths has %d entries, want %d (-1: not found)", c.args, entries, c.want)
		}
	}
}

// TestTraceDNSDetach: trace dns, run until --timeout while it captures,
// leaves none of its programs (one per network namespace) loaded.
func TestTraceDNSDetach(t *testing.T) {
	igBinary(t)
	requireTool(t, "bpftool")
	checkLifecycle(t, lifecycleGadget{name: "trace dns -t", args: []string{"trace", "dns", "-o", "json", "-t", "2"},
		progs: []string{"dns_filter", "ig_port_owner"}})
}

// TestTraceDNSUnanswered: a query to an address where no DNS server
// listens is shown again, as Unanswered, once --dns-timeout has passed,
// with this process and the time waited; an answered query is not.
func TestTraceDNSUnanswered(t *testing.T) {
	igBinary(t)
	answered := unique("igt-answered") + ".test."
	dnsServer(t, answered, netip.MustParseAddr("192.0.2.9"))
	lost := unique("igt-lost") + ".test."
	query := func(name string) []byte {
		b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 0x4321, RecursionDesired: true})
		b.StartQuestions()
		b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET})
		m, err := b.Finish()
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	c, err := net.Dial("udp", "127.0.0.2:53") // nothing listens there
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ig := startIG(t, "trace", "dns", "-o", "json", "--dns-timeout", "500ms")
	ig.waitUntil("the answered query's response", func() { lookup(answered, "udp") }, streamMatcher(func(e *dnsEvent) bool {
		return e.Name == answered && e.Qr == "R"
	}))
	sent := time.Now()
	c.Write(query(lost))
	ig.waitUntil("the unanswered query", nil, streamMatcher(func(e *dnsEvent) bool {
		return e.Name == lost && e.Rcode == "Unanswered"
	}))
	waited := time.Since(sent)
	time.Sleep(700 * time.Millisecond) // past the answered query's timeout too
	r := ig.stop(sigINT)
	checkSuccess(t, r)
	var queries, unanswered int
	for _, e := range eventsOf[dnsEvent](t, r.Stdout) {
		switch {
		case e.Name == answered && e.Rcode == "Unanswered":
			t.Errorf("an answered query reported unanswered: %+v", e)
		case e.Name == lost && e.Rcode == "":
			queries++
		case e.Name == lost && e.Rcode == "Unanswered":
			unanswered++
			if e.Qr != "Q" || e.Nameserver != "127.0.0.2" || e.Pid != int64(os.Getpid()) || e.Comm != testComm(t) ||
				e.Latency < uint64(500*time.Millisecond) || e.Latency > uint64(waited+time.Second) {
				t.Errorf("the unanswered query: %+v (waited %v)", e, waited)
			}
		}
	}
	if queries != 1 || unanswered != 1 {
		t.Errorf("the lost query: shown %d times as sent, %d as unanswered; want 1 and 1", queries, unanswered)
	}
}
