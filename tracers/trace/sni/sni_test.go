package sni

import (
	"crypto/tls"
	"net"
	"strings"
	"testing"

	"github.com/ig-tracer/ig/tracers"
	"github.com/ig-tracer/ig/tracers/packettest"
)

// goHello is the ClientHello record Go's crypto/tls sends for name.
func goHello(t testing.TB, name string) []byte {
	client, server := net.Pipe()
	defer server.Close()
	go func() {
		tls.Client(client, &tls.Config{ServerName: name}).Handshake()
		client.Close()
	}()
	var rec []byte
	buf := make([]byte, 1<<16)
	for tlsRecord(rec) <= 0 || len(rec) < tlsRecord(rec) {
		n, err := server.Read(buf)
		if err != nil {
			t.Fatalf("reading the hello: %v", err)
		}
		rec = append(rec, buf[:n]...)
	}
	return rec
}

func TestServerName(t *testing.T) {
	for _, c := range []struct {
		what  string
		hello []byte
		want  string
	}{
		{"Go's crypto/tls", goHello(t, "go.example.test"), "go.example.test"},
		{"30 extensions, the name last", packettest.ClientHello("many.example.test", 30, true, 32), "many.example.test"},
		{"a post-quantum key share before the name", packettest.ClientHello("pq.example.test", 3, true, 1216), "pq.example.test"},
		{"an empty server name", packettest.ClientHello("", 0, false, 32), ""},
		{"not TLS", []byte("GET / HTTP/1.1\r\n"), ""},
	} {
		if got := ServerName(c.hello); got != c.want {
			t.Errorf("%s: %q, want %q", c.what, got, c.want)
		}
	}
	// Cut anywhere, a hello gives its name only if the name is in.
	hello := packettest.ClientHello("cut.example.test", 25, true, 64)
	for n := range hello {
		if got := ServerName(hello[:n]); got != "" && got != "cut.example.test" {
			t.Fatalf("cut at %d: %q", n, got)
		}
	}
}

// segments cuts hello into TCP segments of at most size bytes, as the
// socket filter would send them: records of consecutive segments.
func segments(hello []byte, size int) [][]byte {
	var out [][]byte
	for seq := 0; seq < len(hello); seq += size {
		end := min(seq+size, len(hello))
		out = append(out, packettest.Record(packettest.IPv4(hello[seq:end], tracers.IPProtoTCP, 50000, 443, uint32(1000+seq)), 9, 1))
	}
	return out
}

// A hello over several segments is one event, at its last segment, with
// both ends; the segments before make none.
func TestDecodeSegments(t *testing.T) {
	hello := packettest.ClientHello("split.example.test", 22, true, 1216)
	d := &decoder{}
	segs := segments(hello, 1000)
	if len(segs) < 2 {
		t.Fatalf("%d segments", len(segs))
	}
	for i, rec := range segs {
		var ev Event
		if !d.decode(rec, &ev) {
			t.Fatalf("segment %d not decoded", i)
		}
		last := i == len(segs)-1
		if ev.partial == last || (last && (ev.Name != "split.example.test" || ev.Dst.Port != 443 || ev.Src.Port != 50000 ||
			ev.NetNsID != 9 || ev.IPVersion != 4 || ev.DstText != "127.0.0.1:443")) {
			t.Fatalf("segment %d of %d: %+v", i, len(segs), ev)
		}
	}
}

// FuzzDecode: whatever the socket filter hands over, one segment or
// several of one flow, decoding neither panics nor reads out of bounds.
// The seed corpus is in testdata/fuzz/FuzzDecode; make test runs it for
// a bounded time.
func FuzzDecode(f *testing.F) {
	f.Add(packettest.ClientHello("fuzz.example.test", 2, false, 32), uint16(4096))
	f.Add(packettest.ClientHello("fuzz.example.test", 25, true, 1216), uint16(700))
	f.Add(goHello(f, "go.example.test"), uint16(100))
	f.Fuzz(func(t *testing.T, hello []byte, size uint16) {
		if len(hello) > 16<<10 {
			hello = hello[:16<<10]
		}
		d := &decoder{}
		for _, rec := range segments(hello, max(int(size), len(hello)/64, 1)) {
			var ev Event
			d.decode(rec, &ev)
			if !ev.partial && ev.Name != "" && !strings.Contains(string(hello), ev.Name) {
				t.Fatalf("name %q is not in the hello", ev.Name)
			}
		}
		ServerName(hello)
	})
}
