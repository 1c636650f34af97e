package workloads

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

func init() { Table["trace dns"] = traceDNS }

// dnsEvent has the fields of trace dns the workload checks.
type dnsEvent struct {
	Qr         string   `json:"qr"`
	Name       string   `json:"name"`
	QType      string   `json:"qtype"`
	Rcode      string   `json:"rcode"`
	Protocol   string   `json:"protocol"`
	Nameserver string   `json:"nameserver"`
	Addresses  []string `json:"addresses"`
	Latency    uint64   `json:"latency"`
}

// serveDNS answers every A query on 127.0.0.1:53 (UDP) with addr, until
// the returned stop.
func serveDNS(addr [4]byte) (stop func(), err error) {
	c, err := net.ListenPacket("udp", "127.0.0.1:53")
	if err != nil {
		return nil, err
	}
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			var p dnsmessage.Parser
			h, err := p.Start(buf[:n])
			if err != nil {
				continue
			}
			q, err := p.Question()
			if err != nil {
				continue
			}
			b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true})
			b.StartQuestions()
			b.Question(q)
			if q.Type == dnsmessage.TypeA {
				b.StartAnswers()
				b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 60},
					dnsmessage.AResource{A: addr})
			}
			if out, err := b.Finish(); err == nil {
				c.WriteTo(out, from)
			}
		}
	}()
	return func() { c.Close() }, nil
}

// trace dns: a query for a name only this run knows, to a DNS server this
// process runs on 127.0.0.1, and its response with the address and a
// latency.
func traceDNS(r *Run, h Host) (string, error) {
	if err := LoopbackUp(); err != nil {
		return "", err
	}
	stop, err := serveDNS([4]byte{192, 0, 2, 53})
	if err != nil {
		return "", err
	}
	defer stop()
	// Without kernel BTF ig falls back to the variant that knows no process.
	return AlsoVariant(r, "socket-filter-no-btf", false, checkDNS)
}

// checkDNS looks up a name of its own and checks the response: this
// process's, but for the variant that knows no process (pid 0).
func checkDNS(r *Run) (string, error) {
	name := "ig-" + r.Tag + ".test."
	resolver := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "udp", "127.0.0.1:53")
	}}
	if err := r.Start(true); err != nil {
		return "", err
	}
	ev, err := r.Await("the response for "+name, r.AttachTimeout, func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		resolver.LookupNetIP(ctx, "ip4", strings.TrimSuffix(name, "."))
		cancel()
	}, func(e Event) bool {
		// A response whose query was sent while ig attached has no
		// latency (its query was not seen): the next lookup's counts. A
		// latency never measured still fails, as a wait that times out.
		var d dnsEvent
		return e.DecodeRaw(&d) == nil && d.Name == name && d.Qr == "R" && d.QType == "A" && d.Latency > 0
	})
	if err != nil {
		return "", err
	}
	if err := r.StopClean(); err != nil {
		return "", err
	}
	var d dnsEvent
	if err := ev.DecodeRaw(&d); err != nil {
		return "", err
	}
	var p Problems
	p.Check("rcode", d.Rcode, "NoError")
	p.Check("protocol", d.Protocol, "UDP")
	p.Check("nameserver", d.Nameserver, "127.0.0.1")
	p.Check("addresses", strings.Join(d.Addresses, ","), netip.AddrFrom4([4]byte{192, 0, 2, 53}).String())
	p.Check("latency above 0", d.Latency > 0, true)
	pid := os.Getpid()
	if r.Variant() == "socket-filter-no-btf" {
		pid = 0
	}
	p.Check("pid", ev.Pid, pid)
	if len(p) > 0 {
		return "", errors.New(strings.Join(p, "; "))
	}
	return fmt.Sprintf("the response for %s: %s, in %d us, pid %d", name, d.Addresses[0], d.Latency/1000, ev.Pid), nil
}
