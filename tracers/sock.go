package tracers

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/ig-tracer/ig/output"
)

// Address families, as the kernel numbers them.
const (
	AFInet  = 2
	AFInet6 = 10
)

// SockAddr is the address the kernel keeps for a socket of family (struct
// ig_sock_ends of bpf/sock.h: IPv4 in the first 4 bytes); "" for another
// family.
func SockAddr(family uint16, b [16]byte) string {
	switch family {
	case AFInet:
		return netip.AddrFrom4([4]byte(b[:4])).String()
	case AFInet6:
		return netip.AddrFrom16(b).String()
	}
	return ""
}

// IPVersion is 4 or 6 for an IPv4 or IPv6 address family, 0 otherwise.
func IPVersion(family uint16) uint8 {
	switch family {
	case AFInet:
		return 4
	case AFInet6:
		return 6
	}
	return 0
}

// ParseFamily reads a --family flag: "4" or "6" (the kernel's AF_INET or
// AF_INET6), or "" for both (0).
func ParseFamily(s string) (uint16, error) {
	switch s {
	case "":
		return 0, nil
	case "4":
		return AFInet, nil
	case "6":
		return AFInet6, nil
	}
	return 0, fmt.Errorf("--family %s: want 4 or 6", s)
}

// L4Endpoint is one end of a connection as Inspektor Gadget prints it in
// JSON. Its Kubernetes fields are those IG fills from the API server (the
// pod or service an address is); ig, asking none, leaves them empty.
type L4Endpoint struct {
	Addr      string          `json:"addr" desc:"the IP address"`
	Version   uint8           `json:"version" desc:"the IP version: 4 or 6"`
	Namespace string          `json:"namespace" desc:"the Kubernetes namespace of the pod or service the address is: always empty, ig asks no Kubernetes API server"`
	PodName   string          `json:"podname" desc:"the name of that pod or service: always empty"`
	Kind      string          `json:"kind" desc:"pod, svc or raw (neither) in IG: always empty"`
	PodLabels output.JSONText `json:"podlabels" desc:"that pod's labels: always null"`
	Port      uint16          `json:"port" desc:"the port"`
	Proto     uint16          `json:"proto" desc:"the transport protocol's number (6: TCP)"`
}

// String is addr:port, [addr]:port for IPv6.
func (e L4Endpoint) String() string {
	if e.Version == 6 {
		return fmt.Sprintf("[%s]:%d", e.Addr, e.Port)
	}
	return fmt.Sprintf("%s:%d", e.Addr, e.Port)
}

// IPProtoTCP is TCP's protocol number, as L4Endpoint.Proto shows it.
const IPProtoTCP = 6

// SockEndpoints turns struct ig_sock_ends of bpf/sock.h (the bpf2go
// copy's fields) into the IP version and the local and remote endpoints
// of a TCP socket.
func SockEndpoints(family uint16, saddr, daddr [16]byte, lport, dport uint16) (version uint8, src, dst L4Endpoint) {
	version = IPVersion(family)
	src = L4Endpoint{Addr: SockAddr(family, saddr), Version: version, Port: lport, Proto: IPProtoTCP}
	dst = L4Endpoint{Addr: SockAddr(family, daddr), Version: version, Port: dport, Proto: IPProtoTCP}
	return version, src, dst
}

// DecodeSockHeader decodes the header of an event about a socket: the
// process's when the socket's owner was known (bpf/sock.h
// ig_sock_header), else only the time, with no process and mount
// namespace 0, so that the stream attributes it by network namespace.
func (c Clock) DecodeSockHeader(raw []byte, owned bool, ev *Event, names *Interner) bool {
	if owned {
		return c.DecodeHeader(raw, ev, names)
	}
	h, _, ok := View[RawHeader](raw, uintptr(HeaderSize))
	if ok {
		ev.Timestamp = c.Wall(h.Timestamp)
	}
	return ok
}

// tcpStates are the kernel's TCP states (include/net/tcp_states.h), by
// number, named as Inspektor Gadget names them.
var tcpStates = [...]string{"", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT",
	"CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING", "NEW_SYN_RECV", "BOUND_INACTIVE"}

// TCPState names a TCP state; its number when the kernel has a new one.
func TCPState(s uint8) string {
	if int(s) < len(tcpStates) && tcpStates[s] != "" {
		return tcpStates[s]
	}
	return strconv.Itoa(int(s))
}

// tcpFlagBits are the TCP header flags, lowest bit first.
var tcpFlagBits = []NamedBits{
	{Bits: 0x01, Name: "FIN"}, {Bits: 0x02, Name: "SYN"}, {Bits: 0x04, Name: "RST"}, {Bits: 0x08, Name: "PSH"},
	{Bits: 0x10, Name: "ACK"}, {Bits: 0x20, Name: "URG"}, {Bits: 0x40, Name: "ECE"}, {Bits: 0x80, Name: "CWR"},
}

// TCPFlags names TCP header flags as Inspektor Gadget does ("PSH|ACK"),
// memoized: one per decoder, which is not safe for concurrent use.
type TCPFlags struct {
	bits  BitNames
	names map[uint16]string
}

// Name is flags' names joined by "|".
func (t *TCPFlags) Name(flags uint16) string {
	if s, ok := t.names[flags]; ok {
		return s
	}
	if t.names == nil || len(t.names) > 256 {
		t.names, t.bits.Names = map[uint16]string{}, tcpFlagBits
	}
	s := strings.Join(t.bits.Of(uint64(flags)), "|")
	t.names[flags] = s
	return s
}

// Connection is what the TCP gadgets show of a socket: its ends and its
// network namespace. JSON names are Inspektor Gadget's.
type Connection struct {
	IPVersion uint8      `json:"ipversion" column:"ip,width:2,right" desc:"the IP version: 4 or 6"`
	Src       L4Endpoint `json:"src" desc:"the local end"`
	Dst       L4Endpoint `json:"dst" desc:"the remote end"`
	SrcText   string     `json:"-" column:"src,width:24" desc:"the local address and port"`
	DstText   string     `json:"-" column:"dst,width:24" desc:"the remote address and port"`
	NetNsID   uint64     `json:"netnsid" column:"netns,width:10,right" desc:"the socket's network namespace (inode number)"`
}

// SetConnection fills c from struct ig_sock_ends of bpf/sock.h (the bpf2go
// copy's fields) and the socket's network namespace.
func (c *Connection) SetConnection(family uint16, saddr, daddr [16]byte, lport, dport uint16, netns uint64) {
	c.IPVersion, c.Src, c.Dst = SockEndpoints(family, saddr, daddr, lport, dport)
	c.SrcText, c.DstText = c.Src.String(), c.Dst.String()
	c.NetNsID = netns
}
