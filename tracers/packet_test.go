package tracers_test

import (
	"testing"

	"github.com/ig-tracer/ig/tracers"
	"github.com/ig-tracer/ig/tracers/packettest"
)

// lengthPrefixed measures a message that starts with its 1-byte length.
func lengthPrefixed(b []byte) int {
	if len(b) < 1 {
		return 0
	}
	return 1 + int(b[0])
}

func segment(t *testing.T, payload string, seq uint32) *tracers.Packet {
	p, ok := tracers.ParsePacket(packettest.IPv4([]byte(payload), tracers.IPProtoTCP, 1000, 443, seq))
	if !ok || p.Seq != seq || string(p.Payload) != payload || p.Src.Port() != 1000 || p.Dst.Port() != 443 {
		t.Fatalf("segment %q at %d parsed as %+v, %v", payload, seq, p, ok)
	}
	return &p
}

// A message over three segments, one of them sent twice, comes out whole
// once; a gap starts the flow again; a cut segment ends it with what
// there is.
func TestStreams(t *testing.T) {
	var s tracers.Streams
	if _, _, done := s.Add(1, segment(t, "\x05ab", 100), false, lengthPrefixed); done {
		t.Fatal("done after 3 of 6 bytes")
	}
	if _, _, done := s.Add(1, segment(t, "\x05ab", 100), false, lengthPrefixed); done {
		t.Fatal("a retransmission made a message")
	}
	if msg, whole, done := s.Add(1, segment(t, "cdeXX", 103), false, lengthPrefixed); !done || !whole || string(msg) != "\x05abcde" {
		t.Fatalf("whole message: %q %v %v", msg, whole, done)
	}

	s.Add(2, segment(t, "\x05ab", 100), false, lengthPrefixed)
	if _, _, done := s.Add(2, segment(t, "\x02xy", 200), false, lengthPrefixed); !done {
		t.Fatal("after a gap, a whole message in one segment was not taken")
	}
	if msg, whole, done := s.Add(3, segment(t, "\x09abc", 1), true, lengthPrefixed); !done || whole || string(msg) != "\x09abc" {
		t.Fatalf("cut segment: %q %v %v", msg, whole, done)
	}
	if _, _, done := s.Add(3, segment(t, "\x09", 5), false, func([]byte) int { return -1 }); done {
		t.Fatal("a flow that cannot start a message made one")
	}
}
