// Package packettest builds captured packets for the packet gadgets' unit
// and fuzz tests: what their socket filter hands over, without a kernel.
package packettest

import (
	"encoding/binary"
	"unsafe"

	"github.com/ig-tracer/ig/tracers"
)

// IPv4 wraps payload in IPv4 and UDP or TCP headers (proto 17 or 6),
// 127.0.0.1 port sport to port dport; seq is a TCP segment's sequence
// number.
func IPv4(payload []byte, proto uint8, sport, dport uint16, seq uint32) []byte {
	var l4 []byte
	if proto == tracers.IPProtoUDP {
		l4 = binary.BigEndian.AppendUint16(nil, sport)
		l4 = binary.BigEndian.AppendUint16(l4, dport)
		l4 = binary.BigEndian.AppendUint16(l4, uint16(8+len(payload)))
		l4 = append(l4, 0, 0)
	} else {
		l4 = make([]byte, 20)
		binary.BigEndian.PutUint16(l4, sport)
		binary.BigEndian.PutUint16(l4[2:], dport)
		binary.BigEndian.PutUint32(l4[4:], seq)
		l4[12] = 5 << 4
	}
	l4 = append(l4, payload...)
	ip := make([]byte, 20)
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+len(l4)))
	ip[9] = proto
	copy(ip[12:], []byte{127, 0, 0, 1})
	copy(ip[16:], []byte{127, 0, 0, 1})
	return append(ip, l4...)
}

// Record is what a socket filter of bpf/capture.h sends for pkt: struct
// ig_packet (no process, sent: PACKET_OUTGOING) and the packet, 8-byte
// aligned as ring-buffer records are.
func Record(pkt []byte, netns uint64, ts uint64) []byte {
	var p tracers.PacketHeader
	p.Timestamp, p.NetNs, p.Len, p.WireLen, p.PktType = ts, netns, uint32(len(pkt)), uint32(len(pkt)), 4
	raw := unsafe.Slice((*byte)(unsafe.Pointer(&p)), tracers.PacketHeaderSize)
	out := make([]byte, 0, len(raw)+len(pkt)+8)
	return append(append(out, raw...), pkt...)
}

// Header is the struct ig_packet at the start of a record, to change.
func Header(record []byte) *tracers.PacketHeader {
	return (*tracers.PacketHeader)(unsafe.Pointer(&record[0]))
}

// ClientHello is a TLS 1.3 ClientHello record asking for server name,
// with extra extensions of no meaning (types 0xfe00 + i)
// before the server_name extension when nameLast, else after it, and
// keyShare bytes of key share (a post-quantum one is over 1,000).
func ClientHello(name string, extra int, nameLast bool, keyShare int) []byte {
	u16 := func(b []byte, v int) []byte { return binary.BigEndian.AppendUint16(b, uint16(v)) }
	ext := func(b []byte, typ int, data []byte) []byte {
		return append(u16(u16(b, typ), len(data)), data...)
	}
	sni := u16(nil, 3+len(name))
	sni = append(sni, 0)
	sni = append(u16(sni, len(name)), name...)
	var exts []byte
	if !nameLast {
		exts = ext(exts, 0, sni)
	}
	for i := 0; i < extra; i++ {
		exts = ext(exts, 0xfe00+i, []byte{byte(i)})
	}
	exts = ext(exts, 43, []byte{2, 3, 4}) // supported_versions: TLS 1.3
	share := u16(u16(u16(nil, 4+keyShare), 0x11ec), keyShare)
	exts = ext(exts, 51, append(share, make([]byte, keyShare)...))
	if nameLast {
		exts = ext(exts, 0, sni)
	}
	body := []byte{3, 3}                     // legacy version
	body = append(body, make([]byte, 32)...) // random
	body = append(body, 0)                   // no session id
	body = append(u16(body, 2), 0x13, 0x01)  // TLS_AES_128_GCM_SHA256
	body = append(body, 1, 0)                // null compression
	body = append(u16(body, len(exts)), exts...)
	hs := append([]byte{1, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}, body...)
	return append(u16([]byte{0x16, 3, 1}, len(hs)), hs...)
}
