// Package sni is the trace sni gadget: the server name (SNI) of every TLS
// ClientHello, on any TCP port, in the host's network namespace and each
// container's.
package sni

import (
	"context"
	"encoding/binary"

	"github.com/ig-tracer/ig/output"
	"github.com/ig-tracer/ig/tracers"
)

// Event is one ClientHello with a server name. JSON names follow
// Inspektor Gadget's trace sni, with the connection's ends added.
type Event struct {
	tracers.Event
	NetNsID   uint64             `json:"netnsid" column:"netns,width:10,right" desc:"the network namespace the hello was seen in (inode number)"`
	IPVersion uint8              `json:"ipversion" column:"ip,width:2,right" desc:"the IP version: 4 or 6"`
	Src       tracers.L4Endpoint `json:"src" desc:"the client's end"`
	Dst       tracers.L4Endpoint `json:"dst" desc:"the server's end"`
	SrcText   string             `json:"-" column:"src,width:24" desc:"the client's address and port"`
	DstText   string             `json:"-" column:"dst,width:24" desc:"the server's address and port"`
	Name      string             `json:"name" column:"name,width:30" desc:"the server name the client asked for"`
	partial   bool               // a segment of a hello not whole yet: no event
}

var schema = output.NewSchema[Event]()

func init() {
	tracers.Register(&tracers.Gadget{
		Category:    "trace",
		Name:        "sni",
		Description: "Trace the server names (SNI) of TLS ClientHellos on any TCP port, in the host's and the containers' network namespaces",
		Schema:      schema,
		Columns:     tracers.Fixed("container", "pid", "comm", "ip", "src", "dst", "name"),
		Run:         run,
	})
}

func run(ctx context.Context, env *tracers.Env) error {
	if err := tracers.PacketProcesses(env); err != nil {
		return err
	}
	spec, err := loadSni()
	if err != nil {
		return err
	}
	d := &decoder{clock: tracers.NewClock()}
	return tracers.RunCapture[Event](ctx, env, spec, nil, tracers.CaptureSpec[Event]{
		Program: "sni_filter", Decode: d.decode, NetNs: func(ev *Event) uint64 { return ev.NetNsID },
		Skip: func(ev *Event) bool { return ev.partial || ev.Name == "" },
	})
}

type decoder struct {
	clock   tracers.Clock
	names   tracers.Interner
	streams tracers.Streams // hellos over several segments
}

func (d *decoder) decode(raw []byte, ev *Event) bool {
	h, pkt, ok := d.clock.DecodePacket(raw, &ev.Event, &d.names)
	if !ok {
		return false
	}
	p, ok := tracers.ParsePacket(pkt)
	if !ok || p.Proto != tracers.IPProtoTCP {
		return false
	}
	hello, _, done := d.streams.Add(h.NetNs, &p, h.WireLen > h.Len, tlsRecord)
	if !done {
		ev.partial = true
		return true
	}
	ev.NetNsID = h.NetNs
	ev.IPVersion = 4
	if p.Src.Addr().Is6() {
		ev.IPVersion = 6
	}
	ev.Src = tracers.L4Endpoint{Addr: p.Src.Addr().String(), Version: ev.IPVersion, Port: p.Src.Port(), Proto: tracers.IPProtoTCP}
	ev.Dst = tracers.L4Endpoint{Addr: p.Dst.Addr().String(), Version: ev.IPVersion, Port: p.Dst.Port(), Proto: tracers.IPProtoTCP}
	ev.SrcText, ev.DstText = ev.Src.String(), ev.Dst.String()
	ev.Name = ServerName(hello)
	return true
}

// tlsRecord measures a TLS handshake record at the start of buf (type
// 22, version 3.x): its length with its 5-byte header; -1 for anything
// else.
func tlsRecord(buf []byte) int {
	if len(buf) >= 1 && buf[0] != 0x16 || len(buf) >= 2 && buf[1] != 3 {
		return -1
	}
	if len(buf) < 5 {
		return 0
	}
	return 5 + int(binary.BigEndian.Uint16(buf[3:]))
}

// ServerName is the host name of the server_name extension of the TLS
// ClientHello that rec holds (a handshake record, perhaps cut short), or
// "" when it has none or rec is not one. Any number of extensions is
// read, in any order; every length is checked against the bytes there
// are.
func ServerName(rec []byte) string {
	if tlsRecord(rec) < 0 || len(rec) < 5 {
		return ""
	}
	b := reader(rec[5:])
	if typ, ok := b.u8(); !ok || typ != 1 { // ClientHello
		return ""
	}
	if _, ok := b.bytes(3); !ok { // its length: the record's bounds rule
		return ""
	}
	if _, ok := b.bytes(2 + 32); !ok { // legacy version, random
		return ""
	}
	if _, ok := b.vector(1); !ok { // session id
		return ""
	}
	if _, ok := b.vector(2); !ok { // cipher suites
		return ""
	}
	if _, ok := b.vector(1); !ok { // compression methods
		return ""
	}
	exts, ok := b.vector(2)
	if !ok {
		// Cut short: read the extensions there are.
		exts, ok = b.rest(2)
		if !ok {
			return ""
		}
	}
	for len(exts) >= 4 {
		typ := binary.BigEndian.Uint16(exts)
		data, ok := exts.vector16At(2)
		if !ok {
			return ""
		}
		exts = exts[4+len(data):]
		if typ == 0 { // server_name
			return hostName(data)
		}
	}
	return ""
}

// hostName reads a server_name extension's list for its host_name entry.
func hostName(data reader) string {
	list, ok := data.vector(2)
	if !ok {
		return ""
	}
	for len(list) >= 3 {
		typ := list[0]
		name, ok := list.vector16At(1)
		if !ok {
			return ""
		}
		list = list[3+len(name):]
		if typ == 0 {
			return string(name)
		}
	}
	return ""
}

// reader reads a TLS message's fields, each bounds-checked.
type reader []byte

func (r *reader) u8() (byte, bool) {
	if len(*r) < 1 {
		return 0, false
	}
	v := (*r)[0]
	*r = (*r)[1:]
	return v, true
}

func (r *reader) bytes(n int) (reader, bool) {
	if len(*r) < n {
		return nil, false
	}
	v := (*r)[:n]
	*r = (*r)[n:]
	return v, true
}

// vector reads a length of size bytes (1 or 2), then that many bytes.
func (r *reader) vector(size int) (reader, bool) {
	if len(*r) < size {
		return nil, false
	}
	n := int((*r)[0])
	if size == 2 {
		n = int(binary.BigEndian.Uint16(*r))
	}
	if len(*r) < size+n {
		return nil, false
	}
	v := (*r)[size : size+n]
	*r = (*r)[size+n:]
	return v, true
}

// rest reads a length of size bytes and returns what there is of the
// bytes it announces.
func (r *reader) rest(size int) (reader, bool) {
	if len(*r) < size {
		return nil, false
	}
	v := (*r)[size:]
	*r = nil
	return v, true
}

// vector16At is the vector whose 2-byte length is at off.
func (r reader) vector16At(off int) (reader, bool) {
	if len(r) < off+2 {
		return nil, false
	}
	n := int(binary.BigEndian.Uint16(r[off:]))
	if len(r) < off+2+n {
		return nil, false
	}
	return r[off+2 : off+2+n], true
}
