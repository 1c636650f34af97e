package tcp

import (
	"testing"
	"unsafe"

	"github.com/ig-tracer/ig/tracers"
)

func TestHeaderLayout(t *testing.T) {
	if got := unsafe.Sizeof(tcpConnStats{}.Hdr); got != uintptr(tracers.HeaderSize) {
		t.Fatalf("struct event_header is %d bytes in C, %d in tracers.RawHeader", got, tracers.HeaderSize)
	}
}

func TestRow(t *testing.T) {
	d := decoder{clock: tracers.NewClock()}
	var k tcpConnKey
	var v tcpConnStats
	v.Hdr.Pid = 42
	copy(v.Hdr.Comm[:], "curl\x00")
	v.Sent, v.Received = 1000, 20
	k.Ends.Family, k.Ends.Lport, k.Ends.Dport = 2, 40000, 443
	copy(k.Ends.Saddr[:], []byte{10, 0, 0, 1})
	copy(k.Ends.Daddr[:], []byte{1, 1, 1, 1})
	var row Stats
	if !d.row(&k, &v, &row) {
		t.Fatal("row dropped")
	}
	if row.Pid != 42 || row.Comm != "curl" || row.IPVersion != 2 || row.IP != 4 ||
		row.SrcText != "10.0.0.1:40000" || row.DstText != "1.1.1.1:443" ||
		row.Src != (tracers.L4Endpoint{Addr: "10.0.0.1", Version: 4, Port: 40000, Proto: 6}) ||
		row.Sent != 1000 || row.Received != 20 {
		t.Errorf("got %+v", row)
	}

	k.Ends.Family = 10
	k.Ends.Saddr, k.Ends.Daddr = [16]byte{15: 1}, [16]byte{15: 1}
	row = Stats{}
	d.row(&k, &v, &row)
	if row.IPVersion != 10 || row.IP != 6 || row.SrcText != "[::1]:40000" || row.Dst.Addr != "::1" || row.Dst.Version != 6 {
		t.Errorf("IPv6: got %+v", row)
	}
}
