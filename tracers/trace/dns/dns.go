// Package dns is the trace dns gadget: DNS queries and responses, over
// UDP and TCP, in the host's network namespace and each container's.
package dns

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"

	"github.com/urfave/cli/v2"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/ig-tracer/ig/output"
	"github.com/ig-tracer/ig/tracers"
)

// Event is one DNS message. JSON names follow Inspektor Gadget's trace dns.
type Event struct {
	tracers.Event
	NetNsID    uint64   `json:"netnsid" column:"netns,width:10,right" desc:"the network namespace the message was seen in (inode number)"`
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
	Rcode      string   `json:"rcode" column:"rcode,width:10" desc:"a response's result: NoError, NXDomain, ServFail...; empty for a query; Unanswered for a query shown again because no response came within --dns-timeout"`
	Latency    uint64   `json:"latency" desc:"a response: nanoseconds since its query was seen (0 when it was not); an unanswered query: how long ig waited" unit:"ns"`
	NumAnswers int      `json:"numAnswers" column:"answers,width:7,right" desc:"the answers in a response"`
	Addresses  []string `json:"addresses" desc:"the IPv4 and IPv6 addresses among the answers"`
	Cwd        string   `json:"cwd" column:"cwd,width:30" desc:"with --paths: the working directory of the message's process (pid), as it sees it, when it sent on its socket (read once per process, again after a chdir or exec); empty without --paths or when the process is not known. Over 512 bytes, its end, starting with …"`
	ExePath    string   `json:"exepath" column:"exepath,width:30" desc:"with --paths: the executable of the message's process, as it sees it; empty without --paths or when the process is not known. Over 512 bytes, its end, starting with …"`

	partial bool // a TCP segment of a message not whole yet: no event
}

var schema = output.NewSchema[Event]()

func init() {
	tracers.Register(&tracers.Gadget{
		Category:    "trace",
		Name:        "dns",
		Description: "Trace DNS queries and responses (UDP and TCP port 53) in the host's and the containers' network namespaces",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "paths", Usage: "show the working directory and executable of each message's process (cwd, exepath)"},
			&cli.StringFlag{Name: "dns-timeout", Value: "5s", Usage: "show a query again, as Unanswered, when no response has come after `DURATION` (0: never)"},
		},
		Schema:  schema,
		Columns: tracers.Fixed("container", "proto", "id", "qr", "type", "nameserver", "qtype", "name", "rcode", "answers"),
		Run:     run,
	})
}

func run(ctx context.Context, env *tracers.Env) error {
	if err := tracers.PacketProcesses(env); err != nil {
		return err
	}
	if err := tracers.PacketPaths(env, "paths"); err != nil {
		return err
	}
	spec, err := loadDns()
	if err != nil {
		return err
	}
	timeout, err := time.ParseDuration(env.Args.String("dns-timeout"))
	if err != nil || timeout < 0 {
		return fmt.Errorf("--dns-timeout %s: not a duration (500ms, 5s; 0 to report none)", env.Args.String("dns-timeout"))
	}
	d := newDecoder(tracers.NewClock(), timeout)
	err = tracers.RunCapture[Event](ctx, env, spec, map[string]any{"want_paths": env.Args.Bool("paths")}, tracers.CaptureSpec[Event]{
		Program: "dns_filter", Decode: d.decode, Loaded: func(p *tracers.Program) { d.paths = tracers.NewPathsReader(p) }, NetNs: func(ev *Event) uint64 { return ev.NetNsID },
		Skip: func(ev *Event) bool { return ev.partial }, Expired: d.expired,
	})
	if d.unfollowed > 0 {
		env.Warnf("%d queries were not followed to their answer: more than %d were waiting at once", d.unfollowed, maxPendingQueries)
	}
	return err
}

type decoder struct {
	clock tracers.Clock
	names tracers.Interner
	paths *tracers.PathsReader // nil: none (unit tests)
	// Queries waiting for their response, and the order they came in,
	// for those not answered within timeout (0: none is reported).
	queries    map[queryKey]pendingQuery
	order      []sent
	timeout    time.Duration
	unfollowed uint64 // queries let go unanswered because too many were waiting
	serial     uint64
	streams    tracers.Streams // TCP: the bytes of messages not whole yet
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

// pendingQuery is a query seen, as it was shown.
type pendingQuery struct {
	serial uint64 // which of the sends of one query key this is
	time   uint64 // kernel boot time
	ev     Event
}

func newDecoder(clock tracers.Clock, timeout time.Duration) *decoder {
	return &decoder{clock: clock, queries: map[queryKey]pendingQuery{}, timeout: timeout}
}

// sent is one send of a query, in the order they came in.
type sent struct {
	key    queryKey
	serial uint64
}

// pending notes query ev, seen at boot time t, until its response.
func (d *decoder) pending(k queryKey, t uint64, ev *Event) {
	if len(d.queries) >= maxPendingQueries {
		if k, _, ok := d.oldest(); ok {
			delete(d.queries, k)
			d.unfollowed++
		}
	}
	d.serial++
	d.queries[k] = pendingQuery{serial: d.serial, time: t, ev: *ev}
	d.order = append(d.order, sent{k, d.serial})
}

// oldest is the query waiting longest. Sends answered since, or sent
// again since (a retry, waiting from then), are passed over in the order.
func (d *decoder) oldest() (queryKey, pendingQuery, bool) {
	for len(d.order) > 0 {
		s := d.order[0]
		if q, ok := d.queries[s.key]; ok && q.serial == s.serial {
			return s.key, q, true
		}
		d.order = d.order[1:]
	}
	return queryKey{}, pendingQuery{}, false
}

// expired fills ev with a query that has waited longer than the timeout
// for its response: shown again, with rcode Unanswered and the time
// waited as its latency.
func (d *decoder) expired(ev *Event) bool {
	if d.timeout == 0 {
		return false
	}
	now := tracers.BootTime()
	k, q, ok := d.oldest()
	if !ok || now < q.time+uint64(d.timeout) {
		return false
	}
	delete(d.queries, k)
	*ev = q.ev
	ev.Rcode, ev.Latency, ev.Timestamp = unanswered, now-q.time, d.clock.Wall(now)
	return true
}

// unanswered is the rcode of a query reported for want of a response.
const unanswered = "Unanswered"

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
	ev.Cwd, ev.ExePath = d.paths.Paths(p.Pid, p.Paths)
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
		d.pending(queryKey{p.NetNs, h.ID, pk.Src}, p.Timestamp, ev)
		return true
	}
	ev.Qr, ev.Nameserver, ev.Rcode = "R", ev.SrcIP, rcodeName(h.RCode)
	key := queryKey{p.NetNs, h.ID, pk.Dst}
	if q, ok := d.queries[key]; ok {
		ev.Latency = p.Timestamp - q.time
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
