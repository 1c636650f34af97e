package tracers

import (
	"encoding/binary"
	"net/netip"
)

// Packet is what ParsePacket reads of a captured packet: its IP and
// transport headers and the transport's payload.
type Packet struct {
	Src, Dst netip.AddrPort
	Proto    uint8  // IPProtoTCP or IPProtoUDP
	Seq      uint32 // TCP: the sequence number of the payload's first byte
	Payload  []byte // as captured: may be cut short
}

// IPProtoUDP is UDP's protocol number (IPProtoTCP is TCP's).
const IPProtoUDP = 17

// Protocol names p's transport as Inspektor Gadget does: "TCP" or "UDP".
func (p *Packet) Protocol() string {
	if p.Proto == IPProtoTCP {
		return "TCP"
	}
	return "UDP"
}

// ParsePacket reads a packet captured from its IP header on (IPv4 or
// IPv6 without extension headers, carrying TCP or UDP); false for any
// other, or one too short to hold its headers. Lengths in the headers
// are never trusted beyond the bytes there are.
func ParsePacket(pkt []byte) (p Packet, ok bool) {
	if len(pkt) < 1 {
		return p, false
	}
	var rest []byte
	var src, dst netip.Addr
	switch pkt[0] >> 4 {
	case 4:
		ihl := int(pkt[0]&0xf) * 4
		if ihl < 20 || len(pkt) < ihl {
			return p, false
		}
		p.Proto = pkt[9]
		src, dst = netip.AddrFrom4([4]byte(pkt[12:16])), netip.AddrFrom4([4]byte(pkt[16:20]))
		rest = pkt[ihl:]
		if total := int(binary.BigEndian.Uint16(pkt[2:])); total >= ihl && total-ihl < len(rest) {
			rest = rest[:total-ihl] // no Ethernet padding
		}
	case 6:
		if len(pkt) < 40 {
			return p, false
		}
		p.Proto = pkt[6]
		src, dst = netip.AddrFrom16([16]byte(pkt[8:24])), netip.AddrFrom16([16]byte(pkt[24:40]))
		rest = pkt[40:]
		if n := int(binary.BigEndian.Uint16(pkt[4:])); n < len(rest) {
			rest = rest[:n]
		}
	default:
		return p, false
	}
	if len(rest) < 8 {
		return p, false
	}
	p.Src = netip.AddrPortFrom(src, binary.BigEndian.Uint16(rest[0:]))
	p.Dst = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(rest[2:]))
	switch p.Proto {
	case IPProtoUDP:
		p.Payload = rest[8:]
		return p, true
	case IPProtoTCP:
		if len(rest) < 20 {
			return p, false
		}
		off := int(rest[12]>>4) * 4
		if off < 20 || len(rest) < off {
			return p, false
		}
		p.Seq = binary.BigEndian.Uint32(rest[4:])
		p.Payload = rest[off:]
		return p, true
	}
	return p, false
}

// FlowKey is one direction of a TCP connection in a network namespace.
type FlowKey struct {
	NetNs    uint64
	Src, Dst netip.AddrPort
}

// Streams puts TCP payloads back together, per flow and in sequence
// order, for the packet gadgets whose messages may span segments (DNS
// over TCP, a TLS ClientHello). A retransmitted segment is not added
// twice; a gap (a segment the capture missed) ends the flow.
type Streams struct {
	flows map[FlowKey]*stream
}

type stream struct {
	next uint32 // the sequence number the next segment should start at
	buf  []byte
}

// Bounds: flows at once, and bytes kept per flow.
const maxStreams, maxStreamBytes = 1024, 64 << 10

// Add adds p's payload to its flow and returns the first whole message:
// complete(buf) gives its length once buf holds it, 0 while it does not
// yet, and -1 when buf cannot be the start of one (the flow ends). When
// p was cut by the capture (truncated), what the flow has is all there
// will be: it is returned as it is, whole false.
func (s *Streams) Add(netns uint64, p *Packet, truncated bool, complete func([]byte) int) (msg []byte, whole, done bool) {
	if s.flows == nil {
		s.flows = map[FlowKey]*stream{}
	}
	k := FlowKey{netns, p.Src, p.Dst}
	f := s.flows[k]
	switch {
	case f == nil:
		f = &stream{next: p.Seq}
	case p.Seq != f.next && int32(p.Seq-f.next) < 0:
		return nil, false, false // sent again: had already
	case p.Seq != f.next:
		f = &stream{next: p.Seq} // a gap: start again from here
	}
	f.buf = append(f.buf, p.Payload...)
	f.next = p.Seq + uint32(len(p.Payload))
	n := complete(f.buf)
	switch {
	case n > 0 && n <= len(f.buf):
		delete(s.flows, k)
		return f.buf[:n], true, true
	case n < 0 || len(f.buf) > maxStreamBytes:
		delete(s.flows, k)
		return nil, false, false
	case truncated:
		delete(s.flows, k)
		return f.buf, false, true
	}
	if len(s.flows) >= maxStreams {
		clear(s.flows)
	}
	s.flows[k] = f
	return nil, false, false
}
