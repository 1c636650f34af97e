// Package dns is the trace dns gadget: DNS queries and responses, over
// UDP and TCP, in the host's network namespace and each container's.
package dns

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/ig-tracer/ig/output"
	"github.com/ig-tracer/ig/tracers"
)

// Event is one DNS message. JSON names follow Inspektor Gadget's trace dns.
type Event struct {
	tracers.Event
	NetNsID    uint64   `json:"netns" column:"netns,width:10,right" desc:"the network namespace the message was seen in (inode number)"`
	SrcIP      string   `json:"srcIP" desc:"the sender's address"`
	DstIP      string   `json:"dstIP" desc:"the receiver's address"`
	SrcPort    uint16   `json:"srcPort" desc:"the sender's port"`
	DstPort    uint16   `json:"dstPort" desc:"the receiver's port"`
	Protocol   string   `json:"protocol" column:"proto,width:5" desc:"UDP or TCP"`
	ID         string   `json:"id" column:"id,width:4" desc:"the message id, in hex, shared by a query and its response"`
	Qr         string   `json:"qr" column:"qr,width:2" desc:"Q for a query, R for a response"`
	Nameserver string   `json:"nameserver" column:"nameserver,width:15" desc:"the server's address: the receiver of a query, the sender of a response"`
	PktType    string   `json:"pktType" column:"type,width:8" desc:"HOST: received; OUTGOING: sent (as the kernel names packet types)"`
	QType      string   `json:"qtype" column:"qtype,width:5" desc:"the question's type: A, AAAA, MX..."`
	Name       string   `json:"name" column:"name,width:30" desc:"the name asked about, with its final dot"`
	Rcode      string   `json:"rcode" column:"rcode,width:8" desc:"a response's result: NoError, NXDomain, ServFail...; empty for a query"`
	Latency    uint64   `json:"latency" desc:"a response: nanoseconds since its query was seen; 0 when it was not"`
	NumAnswers int      `json:"numAnswers" column:"answers,width:7,right" desc:"the answers in a response"`
	Addresses  []string `json:"addresses" desc:"the IPv4 and IPv6 addresses among the answers"`

	partial bool // a TCP segment of a message not whole yet: no event
}

var schema = output.NewSchema[Event]()

func init() {
	tracers.Register(&tracers.Gadget{
		Category:    "trace",
		Name:        "dns",
		Description: "Trace DNS queries and responses (UDP and TCP port 53) in the host's and the containers' network namespaces",
		Schema:      schema,
		Columns:     tracers.Fixed("container", "proto", "id", "qr", "type", "nameserver", "qtype", "name", "rcode", "answers"),
		Run:         run,
	})
}

func run(ctx context.Context, env *tracers.Env) error {
	if err := tracers.PacketProcesses(env); err != nil {
		return err
	}
	spec, err := loadDns()
	if err != nil {
		return err
	}
	d := &decoder{clock: tracers.NewClock(), queries: map[queryKey]uint64{}, flows: map[flowKey][]byte{}}
	return tracers.RunCapture[Event](ctx, env, spec, nil, tracers.CaptureSpec[Event]{
		Program: "dns_filter", Decode: d.decode, NetNs: func(ev *Event) uint64 { return ev.NetNsID },
		Skip: func(ev *Event) bool { return ev.partial },
	})
}

type decoder struct {
	clock   tracers.Clock
	names   tracers.Interner
	queries map[queryKey]uint64 // a query's time, until its response
	flows   map[flowKey][]byte  // TCP: the bytes of a message not whole yet
}

// flowKey is one direction of a TCP connection.
type flowKey struct {
	netns    uint64
	src, dst netip.AddrPort
}

const maxFlows, maxMessage = 1024, 64 << 10

// stream adds a TCP segment's payload to its flow and returns the first
// whole message, if any. A segment the capture cut (truncated) ends the
// flow: what it has of the message is all there will be.
func (d *decoder) stream(netns uint64, f flowKey, payload []byte, truncated bool) ([]byte, bool) {
	f.netns = netns
	buf := append(d.flows[f], payload...)
	if len(buf) >= 2 {
		n := int(binary.BigEndian.Uint16(buf))
		if len(buf) >= 2+n || truncated {
			delete(d.flows, f)
			return buf[2:min(len(buf), 2+n)], true
		}
	}
	if len(buf) > maxMessage {
		delete(d.flows, f)
		return nil, false
	}
	if len(d.flows) >= maxFlows {
		clear(d.flows)
	}
	d.flows[f] = buf
	return nil, false
}

// queryKey is what a response shares with its query.
type queryKey struct {
	netns  uint64
	id     uint16
	client netip.AddrPort
}

const maxPendingQueries = 4096

func (d *decoder) decode(raw []byte, ev *Event) bool {
	p, pkt, ok := d.clock.DecodePacket(raw, &ev.Event, &d.names)
	if !ok {
		return false
	}
	msg, flow, ok := parsePacket(pkt, ev)
	if !ok {
		return false
	}
	if ev.Protocol == "TCP" {
		// A message over TCP follows its 2-byte length and may span
		// segments: kept per connection until whole.
		msg, ok = d.stream(p.NetNs, flow, msg, p.WireLen > p.Len)
		if !ok {
			ev.partial = true
			return true
		}
	}
	ev.NetNsID = p.NetNs
	ev.PktType = tracers.PacketTypeName(p.PktType)
	var h dnsmessage.Header
	var parser dnsmessage.Parser
	h, err := parser.Start(msg)
	if err != nil {
		return false
	}
	ev.ID = fmt.Sprintf("%04x", h.ID)
	q, err := parser.Question()
	if err == nil {
		ev.Name, ev.QType = q.Name.String(), typeName(q.Type)
	}
	src, _ := netip.ParseAddr(ev.SrcIP)
	dst, _ := netip.ParseAddr(ev.DstIP)
	if !h.Response {
		ev.Qr, ev.Nameserver = "Q", ev.DstIP
		if len(d.queries) >= maxPendingQueries {
			clear(d.queries) // unanswered ones; at worst a latency is not known
		}
		d.queries[queryKey{p.NetNs, h.ID, netip.AddrPortFrom(src, ev.SrcPort)}] = p.Timestamp
		return true
	}
	ev.Qr, ev.Nameserver, ev.Rcode = "R", ev.SrcIP, rcodeName(h.RCode)
	key := queryKey{p.NetNs, h.ID, netip.AddrPortFrom(dst, ev.DstPort)}
	if t, ok := d.queries[key]; ok {
		ev.Latency = p.Timestamp - t
		delete(d.queries, key)
	}
	_ = parser.SkipAllQuestions()
	ev.Addresses = []string{}
	for {
		a, err := parser.Answer()
		if err != nil {
			break
		}
		ev.NumAnswers++
		switch r := a.Body.(type) {
		case *dnsmessage.AResource:
			ev.Addresses = append(ev.Addresses, netip.AddrFrom4(r.A).String())
		case *dnsmessage.AAAAResource:
			ev.Addresses = append(ev.Addresses, netip.AddrFrom16(r.AAAA).String())
		}
	}
	return true
}

// parsePacket reads the IP and UDP or TCP headers of pkt into ev and
// returns the payload: a DNS message over UDP; over TCP, bytes of the
// connection's stream (flow), which frames messages by their length.
func parsePacket(pkt []byte, ev *Event) (payload []byte, flow flowKey, ok bool) {
	if len(pkt) < 1 {
		return nil, flow, false
	}
	var l4 byte
	var rest []byte
	var src, dst netip.Addr
	switch pkt[0] >> 4 {
	case 4:
		ihl := int(pkt[0]&0xf) * 4
		if ihl < 20 || len(pkt) < ihl {
			return nil, flow, false
		}
		l4 = pkt[9]
		src, dst = netip.AddrFrom4([4]byte(pkt[12:16])), netip.AddrFrom4([4]byte(pkt[16:20]))
		rest = pkt[ihl:]
		if total := int(binary.BigEndian.Uint16(pkt[2:])); total >= ihl && total-ihl < len(rest) {
			rest = rest[:total-ihl] // no Ethernet padding
		}
	case 6:
		if len(pkt) < 40 {
			return nil, flow, false
		}
		l4 = pkt[6]
		src, dst = netip.AddrFrom16([16]byte(pkt[8:24])), netip.AddrFrom16([16]byte(pkt[24:40]))
		rest = pkt[40:]
		if n := int(binary.BigEndian.Uint16(pkt[4:])); n < len(rest) {
			rest = rest[:n]
		}
	default:
		return nil, flow, false
	}
	ev.SrcIP, ev.DstIP = src.String(), dst.String()
	if len(rest) < 8 {
		return nil, flow, false
	}
	ev.SrcPort, ev.DstPort = binary.BigEndian.Uint16(rest[0:]), binary.BigEndian.Uint16(rest[2:])
	flow = flowKey{src: netip.AddrPortFrom(src, ev.SrcPort), dst: netip.AddrPortFrom(dst, ev.DstPort)}
	switch l4 {
	case 17:
		ev.Protocol = "UDP"
		return rest[8:], flow, true
	case 6:
		if len(rest) < 20 {
			return nil, flow, false
		}
		off := int(rest[12]>>4) * 4
		if off < 20 || len(rest) < off {
			return nil, flow, false
		}
		ev.Protocol = "TCP"
		return rest[off:], flow, true
	}
	return nil, flow, false
}

// typeName is the query type without dnsmessage's "Type" prefix.
func typeName(t dnsmessage.Type) string {
	s := t.String()
	if len(s) > 4 && s[:4] == "Type" {
		return s[4:]
	}
	return s
}

var rcodes = map[dnsmessage.RCode]string{
	dnsmessage.RCodeSuccess: "NoError", dnsmessage.RCodeFormatError: "FormErr", dnsmessage.RCodeServerFailure: "ServFail",
	dnsmessage.RCodeNameError: "NXDomain", dnsmessage.RCodeNotImplemented: "NotImp", dnsmessage.RCodeRefused: "Refused",
}

func rcodeName(r dnsmessage.RCode) string {
	if s, ok := rcodes[r]; ok {
		return s
	}
	return fmt.Sprint(int(r))
}
