package tcprtt

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ig-tracer/ig/output"
)

type args map[string]string

func (a args) Bool(name string) bool     { return a[name] == "true" }
func (a args) String(name string) string { return a[name] }
func (a args) Int(string) int            { return 0 }
func (a args) StringSlice(name string) []string {
	if a[name] == "" {
		return nil
	}
	return strings.Split(a[name], ",")
}

func TestParse(t *testing.T) {
	c, err := parse(args{"byraddr": "true", "lport": "80", "laddr": "10.1.2.3", "raddr": "fe80::1", "milliseconds": "true"})
	if err != nil {
		t.Fatal(err)
	}
	if !c.byRemote || c.byLocal || !c.ms || c.lport != 80 || c.rport != 0 {
		t.Errorf("config %+v", c)
	}
	laddr := c.consts["filter_laddr"].([16]byte)
	if c.consts["filter_laddr_family"] != uint16(2) || !bytes.Equal(laddr[:4], []byte{10, 1, 2, 3}) {
		t.Errorf("laddr: %v %v", c.consts["filter_laddr_family"], laddr)
	}
	raddr := c.consts["filter_raddr"].([16]byte)
	if c.consts["filter_raddr_family"] != uint16(10) || raddr[0] != 0xfe || raddr[1] != 0x80 || raddr[15] != 1 {
		t.Errorf("raddr: %v %v", c.consts["filter_raddr_family"], raddr)
	}
	if c.consts["filter_lport"] != uint16(80) {
		t.Errorf("lport const %v", c.consts["filter_lport"])
	}

	for in, want := range map[string]string{
		"byladdr=true byraddr=true": "--byladdr and --byraddr",
		"lport=0":                   "--lport 0: not a port",
		"rport=x":                   "--rport x: not a port",
		"laddr=10.0.0":              "--laddr 10.0.0: not an IPv4 or IPv6 address",
		"raddr=fe80::1%eth0":        "--raddr fe80::1%eth0: not an IPv4 or IPv6 address",
	} {
		a := args{}
		for _, kv := range strings.Fields(in) {
			k, v, _ := strings.Cut(kv, "=")
			a[k] = v
		}
		if _, err := parse(a); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: got %v, want %q...", in, err, want)
		}
	}
}

func TestWriteText(t *testing.T) {
	var b bytes.Buffer
	rows := []Report{{Histogram: output.Log2Histogram("us", []uint64{0, 0, 3}), Address: "10.0.0.2", AddressType: addressRemote, Average: 5.5}}
	if err := (&config{}).writeText(&b, rows); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), "Remote Address = 10.0.0.2 [AVG 5.50]\n") || !strings.Contains(b.String(), "4 -> 7") {
		t.Errorf("got\n%s", b.String())
	}
}
