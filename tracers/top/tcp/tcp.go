// Package tcp is the top tcp gadget: bytes sent and received per process
// and TCP connection, every interval.
package tcp

import (
	"context"
	"unsafe"

	"github.com/urfave/cli/v2"

	"github.com/ig-tracer/ig/output"
	"github.com/ig-tracer/ig/tracers"
)

// Stats is one row: a process's traffic on one connection during the
// interval. JSON names are Inspektor Gadget's.
type Stats struct {
	tracers.Event
	IPVersion uint16             `json:"ipversion" desc:"the connection's address family, as Inspektor Gadget prints it here: 2 (AF_INET, IPv4) or 10 (AF_INET6, IPv6)"`
	IP        uint8              `json:"-" column:"ip,width:2,right" desc:"the connection's IP version: 4 or 6"`
	Src       tracers.L4Endpoint `json:"src" desc:"the local end of the connection"`
	Dst       tracers.L4Endpoint `json:"dst" desc:"the remote end of the connection"`
	SrcText   string             `json:"-" column:"src,width:24" desc:"the local address and port"`
	DstText   string             `json:"-" column:"dst,width:24" desc:"the remote address and port"`
	Sent      uint64             `json:"sent" column:"sent,width:10,right" desc:"bytes sent during the interval: what the calls returned, not what they asked for" unit:"bytes"`
	Received  uint64             `json:"received" column:"recv,width:10,right" desc:"bytes received during the interval (copied to the process)" unit:"bytes"`
}

var schema = output.NewSchema[Stats]()

func init() {
	tracers.Register(&tracers.Gadget{
		Category:    "top",
		Name:        "tcp",
		Description: "Show bytes sent and received per process and TCP connection, every interval",
		Flags: append(tracers.IntervalFlags("-sent,-recv"),
			&cli.StringFlag{Name: "family", Aliases: []string{"f"}, Usage: "only connections of IP version `4|6`",
				Action: func(_ *cli.Context, v string) error { _, err := tracers.ParseFamily(v); return err }}),
		Schema:  schema,
		Columns: tracers.Fixed("container", "pid", "comm", "ip", "src", "dst", "sent", "recv"),
		Run:     run,
	})
}

func run(ctx context.Context, env *tracers.Env) error {
	family, err := tracers.ParseFamily(env.Args.String("family"))
	if err != nil {
		return err
	}
	spec, err := loadTcp()
	if err != nil {
		return err
	}
	d := decoder{clock: tracers.NewClock()}
	return tracers.RunInterval[Stats](ctx, env, spec,
		map[string]any{"filter_family": family},
		tracers.IntervalSpec[Stats, tcpConnKey, tcpConnStats]{Map: "stats", Row: d.row})
}

type decoder struct {
	clock   tracers.Clock
	strings tracers.Interner
}

func (d *decoder) row(k *tcpConnKey, v *tcpConnStats, row *Stats) bool {
	hdr := unsafe.Slice((*byte)(unsafe.Pointer(&v.Hdr)), unsafe.Sizeof(v.Hdr))
	if !d.clock.DecodeHeader(hdr, &row.Event, &d.strings) {
		return false
	}
	e := &k.Ends
	row.IPVersion = e.Family
	row.IP, row.Src, row.Dst = tracers.SockEndpoints(e.Family, e.Saddr, e.Daddr, e.Lport, e.Dport)
	row.SrcText, row.DstText = row.Src.String(), row.Dst.String()
	row.Sent, row.Received = v.Sent, v.Received
	return true
}
