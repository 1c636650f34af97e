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
	d := &decoder{clock: tracers.NewClock(), queries: map[queryKey]uint64{}}
	return tracers.RunCapture[Event](ctx, env, spec, nil, tracers.CaptureSpec[Event]{
		Program: "dns_filter", Decode: d.decode, NetNs: func(ev *Event) uint64 { return ev.NetNsID },
		Skip: func(ev *Event) bool { return ev.partial },
	})
}

type decoder struct {
	clock   tracers.Clock
	names   tracers.Interner
	queries map[queryKey]uint64 // a query's time, until its response
	streams tracers.Streams     // TCP: the bytes of messages not whole yet
}

// tcpMessage measures a DNS message over TCP: its 2-byte length first.
func tcpMessage(buf []byte) int {
	if len(buf) < 2 {
		return 0
	}
	return 2 + int(binary.BigEndian.Uint16(buf))
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
	pk, ok := tracers.ParsePacket(pkt)
	if !ok || (pk.Proto != tracers.IPProtoUDP && pk.Proto != tracers.IPProtoTCP) {
		return false
	}
	setAddresses(ev, &pk)
	msg := pk.Payload
	if pk.Proto == tracers.IPProtoTCP {
		// A message over TCP follows its 2-byte length and may span
		// segments: kept per connection until whole.
		var done bool
		msg, _, done = d.streams.Add(p.NetNs, &pk, p.WireLen > p.Len, tcpMessage)
		if !done {
			ev.partial = true
			return true
		}
		msg = msg[min(2, len(msg)):]
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
	if !h.Response {
		ev.Qr, ev.Nameserver = "Q", ev.DstIP
		if len(d.queries) >= maxPendingQueries {
			clear(d.queries) // unanswered ones; at worst a latency is not known
		}
		d.queries[queryKey{p.NetNs, h.ID, pk.Src}] = p.Timestamp
		return true
	}
	ev.Qr, ev.Nameserver, ev.Rcode = "R", ev.SrcIP, rcodeName(h.RCode)
	key := queryKey{p.NetNs, h.ID, pk.Dst}
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

// setAddresses copies a packet's ends into ev.
func setAddresses(ev *Event, p *tracers.Packet) {
	ev.SrcIP, ev.DstIP = p.Src.Addr().String(), p.Dst.Addr().String()
	ev.SrcPort, ev.DstPort = p.Src.Port(), p.Dst.Port()
	ev.Protocol = p.Protocol()
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
