package tracers

import "testing"

func TestSockAddr(t *testing.T) {
	var b [16]byte
	copy(b[:], []byte{127, 0, 0, 1})
	if got := SockAddr(AFInet, b); got != "127.0.0.1" {
		t.Errorf("IPv4: %q", got)
	}
	b = [16]byte{15: 1}
	if got := SockAddr(AFInet6, b); got != "::1" {
		t.Errorf("IPv6: %q", got)
	}
	if got := SockAddr(1, b); got != "" {
		t.Errorf("AF_UNIX: %q", got)
	}
	e := L4Endpoint{Addr: "::1", Version: 6, Port: 80}
	if e.String() != "[::1]:80" {
		t.Errorf("%s", e)
	}
	for s, want := range map[string]uint16{"": 0, "4": AFInet, "6": AFInet6} {
		if f, err := ParseFamily(s); err != nil || f != want {
			t.Errorf("ParseFamily(%q) = %d, %v", s, f, err)
		}
	}
	if _, err := ParseFamily("5"); err == nil {
		t.Error("--family 5 accepted")
	}
}
