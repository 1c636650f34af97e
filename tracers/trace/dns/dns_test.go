package dns

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/ig-tracer/ig/tracers"
	"github.com/ig-tracer/ig/tracers/packettest"
)

// The Go mirror of struct ig_proc_paths is the size and shape bpf2go saw.
func TestProcPathsLayout(t *testing.T) {
	var v dnsIgProcPaths
	var m tracers.ProcPaths
	if unsafe.Sizeof(v) != unsafe.Sizeof(m) || unsafe.Offsetof(v.Walk) != unsafe.Offsetof(m.Walk) ||
		unsafe.Offsetof(v.CwdCut) != unsafe.Offsetof(m.CwdCut) || unsafe.Offsetof(v.Cwd) != unsafe.Offsetof(m.Cwd) ||
		unsafe.Offsetof(v.Exe) != unsafe.Offsetof(m.Exe) {
		t.Fatal("struct ig_proc_paths and tracers.ProcPaths differ")
	}
}

// message builds a DNS query (or its response, with one A answer).
func message(t testing.TB, response bool) []byte {
	name := dnsmessage.MustNewName("fuzz.test.")
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 0x1234, Response: response})
	b.EnableCompression()
	b.StartQuestions()
	b.Question(dnsmessage.Question{Name: name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET})
	if response {
		b.StartAnswers()
		b.AResource(dnsmessage.ResourceHeader{Name: name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 60},
			dnsmessage.AResource{A: [4]byte{192, 0, 2, 1}})
	}
	out, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// ipv4 wraps payload in IPv4 and UDP (udp) or TCP headers, 127.0.0.1
// port sport to port dport; a TCP segment's sequence number is seq[0].
func ipv4(payload []byte, udp bool, sport, dport uint16, seq ...uint32) []byte {
	if udp {
		return packettest.IPv4(payload, tracers.IPProtoUDP, sport, dport, 0)
	}
	return packettest.IPv4(payload, tracers.IPProtoTCP, sport, dport, append(seq, 0)[0])
}

var record = packettest.Record

// The Go mirror of struct ig_packet is the size and shape bpf2go saw.
func TestPacketHeaderLayout(t *testing.T) {
	var p dnsDnsPacket
	if got := unsafe.Offsetof(p.Data); got != uintptr(tracers.PacketHeaderSize) {
		t.Fatalf("data at %d, tracers.PacketHeader is %d bytes", got, tracers.PacketHeaderSize)
	}
	if unsafe.Offsetof(p.P.Owned) != unsafe.Offsetof(tracers.PacketHeader{}.Owned) ||
		unsafe.Offsetof(p.P.Paths) != unsafe.Offsetof(tracers.PacketHeader{}.Paths) ||
		unsafe.Offsetof(p.P.Netns) != unsafe.Offsetof(tracers.PacketHeader{}.NetNs) {
		t.Fatal("struct ig_packet and tracers.PacketHeader differ")
	}
}

// A packet whose local socket's process the kernel knew carries it.
func TestDecodeOwned(t *testing.T) {
	raw := record(ipv4(message(t, false), true, 40000, 53), 7, 1000)
	h := packettest.Header(raw)
	h.Owned, h.Pid, h.Tid, h.Uid, h.MntnsID = 1, 4242, 4243, 1000, 99
	copy(h.Comm[:], "resolver")
	var ev Event
	if !testDecoder().decode(raw, &ev) || ev.Pid != 4242 || ev.Tid != 4243 || ev.Comm != "resolver" || ev.Uid != 1000 || ev.MountNsID != 99 {
		t.Fatalf("owned packet: %+v", ev.Event)
	}
	h.Owned = 0
	ev = Event{}
	if !testDecoder().decode(raw, &ev) || ev.Pid != 0 || ev.Comm != "" || ev.MountNsID != 0 {
		t.Fatalf("a packet without process: %+v", ev.Event)
	}
}

func testDecoder() *decoder { return newDecoder(tracers.Clock{}, 0) }

// A query and its response over UDP, then over TCP with the response's
// length in a segment of its own: ids, names, results, answers, latency.
func TestDecode(t *testing.T) {
	d := testDecoder()
	var q, r Event
	if !d.decode(record(ipv4(message(t, false), true, 40000, 53), 7, 1000), &q) || q.Qr != "Q" || q.Name != "fuzz.test." ||
		q.QType != "A" || q.ID != "1234" || q.Nameserver != "127.0.0.1" || q.Protocol != "UDP" || q.PktType != "OUTGOING" {
		t.Fatalf("UDP query: %+v", q)
	}
	if !d.decode(record(ipv4(message(t, true), true, 53, 40000), 7, 1500), &r) || r.Qr != "R" || r.Rcode != "NoError" ||
		r.NumAnswers != 1 || len(r.Addresses) != 1 || r.Addresses[0] != "192.0.2.1" || r.Latency != 500 {
		t.Fatalf("UDP response: %+v", r)
	}

	resp := message(t, true)
	length := binary.BigEndian.AppendUint16(nil, uint16(len(resp)))
	var part, whole Event
	if !d.decode(record(ipv4(length, false, 53, 40001), 7, 2000), &part) || !part.partial {
		t.Fatalf("TCP length alone: %+v", part)
	}
	if !d.decode(record(ipv4(resp, false, 53, 40001, 2), 7, 2001), &whole) || whole.partial || whole.Protocol != "TCP" ||
		whole.Name != "fuzz.test." || whole.NumAnswers != 1 {
		t.Fatalf("TCP message after its length: %+v", whole)
	}
	if _, ok := tracers.ParsePacket([]byte{0x45}); ok {
		t.Error("a packet of one byte parsed")
	}
	if a := netip.MustParseAddr(r.SrcIP); !a.IsLoopback() {
		t.Errorf("source %s", a)
	}
}

// FuzzDecode: whatever the socket filter hands over (truncated, malformed
// or hostile packets), decoding neither panics nor reads out of bounds.
// The seed corpus is in testdata/fuzz/FuzzDecode; make test runs it for a
// bounded time.
func FuzzDecode(f *testing.F) {
	f.Add(ipv4(message(f, false), true, 40000, 53))
	f.Add(ipv4(message(f, true), true, 53, 40000))
	f.Add(ipv4(append([]byte{0, 40}, message(f, true)...), false, 53, 40001))
	f.Fuzz(func(t *testing.T, pkt []byte) {
		if len(pkt) > 512 {
			pkt = pkt[:512]
		}
		d := testDecoder()
		var ev Event
		d.decode(record(pkt, 1, 1), &ev)
		d.decode(record(pkt, 1, 2), &ev) // a second time: the state the first left
	})
}

// A query without a response is shown again once its --dns-timeout has
// passed, as Unanswered, with its process and name; an answered one and a
// retry's first send are not; with no timeout, nothing is.
func TestUnanswered(t *testing.T) {
	for _, timeout := range []time.Duration{0, time.Nanosecond} {
		d := newDecoder(tracers.Clock{}, timeout)
		var ev Event
		q := record(ipv4(message(t, false), true, 40000, 53), 7, 1) // boot time 1: long ago
		packettest.Header(q).Owned, packettest.Header(q).Pid = 1, 77
		d.decode(q, &ev)
		d.decode(q, &ev) // sent again: still one query
		d.decode(record(ipv4(message(t, false), true, 40002, 53), 7, 1), &ev)
		d.decode(record(ipv4(message(t, true), true, 53, 40002), 7, 2), &ev)
		var got []Event
		for ev = (Event{}); d.expired(&ev); ev = (Event{}) {
			got = append(got, ev)
		}
		if timeout == 0 {
			if len(got) != 0 {
				t.Errorf("no timeout: %d unanswered", len(got))
			}
			continue
		}
		if len(got) != 1 || got[0].Rcode != "Unanswered" || got[0].Qr != "Q" || got[0].Name != "fuzz.test." ||
			got[0].SrcPort != 40000 || got[0].Pid != 77 || got[0].Latency == 0 {
			t.Fatalf("unanswered: %+v", got)
		}
	}
}
