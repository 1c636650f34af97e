// Package bind is the trace bind gadget: every bind of an IPv4 or IPv6
// socket with its protocol, address, port, socket options, bound device and
// result.
package bind

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unsafe"

	"github.com/urfave/cli/v2"

	"github.com/ig-tracer/ig/output"
	"github.com/ig-tracer/ig/tracers"
)

// Event is one bind. JSON names follow Inspektor Gadget's trace bind.
type Event struct {
	tracers.Event
	Protocol  string `json:"proto" column:"proto,width:5" desc:"the socket's protocol (TCP, UDP, SCTP, MPTCP...; its number when unnamed); empty when the fd was no IPv4 or IPv6 socket"`
	Addr      string `json:"addr" column:"addr,width:24" desc:"the address asked for, as passed (0.0.0.0 and :: are any address)"`
	Port      uint16 `json:"port" column:"port,width:5,right" desc:"the port: as passed, or the one the kernel picked when port 0 was asked for and the bind succeeded"`
	Options   string `json:"opts" column:"opts,width:5" desc:"socket options set at the bind, one letter each, a dot when unset: r SO_REUSEPORT, R SO_REUSEADDR, N IP_BIND_ADDRESS_NO_PORT, T IP_TRANSPARENT, F IP_FREEBIND; empty when the fd was no IPv4 or IPv6 socket"`
	Interface string `json:"if" column:"if,width:12" desc:"the device the socket is bound to (SO_BINDTODEVICE), by name in the socket's network namespace at bind time (its index when the name was not found); empty when none"`
	Ret       int64  `json:"ret" column:"ret,width:4,right" desc:"the syscall's result: 0, or minus the errno"`
	Err       int32  `json:"err" column:"errno,width:5,right" desc:"the errno, 0 on success"`
	Error     string `json:"error" column:"err,width:10" desc:"the errno's name (EADDRINUSE), empty on success"`
}

var schema = output.NewSchema[Event]()

// maxPorts is the size of ports[] in bind.bpf.c.
const maxPorts = 64

func init() {
	tracers.Register(&tracers.Gadget{
		Category:    "trace",
		Name:        "bind",
		Description: "Trace sockets binding to an address and port (bind of IPv4 and IPv6 sockets)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "ports", Aliases: []string{"P"}, Usage: "only binds to these `PORTS` (comma-separated, at most 64)",
				Action: func(_ *cli.Context, v string) error { _, err := parsePorts(v); return err }},
			&cli.BoolFlag{Name: "ignore-errors", Value: true, Usage: "show only binds that succeeded (--ignore-errors=false shows failed ones too)"},
		},
		Schema:  schema,
		Columns: tracers.Fixed("container", "pid", "comm", "proto", "addr", "port", "opts", "if", "err"),
		Run:     run,
	})
}

func run(ctx context.Context, env *tracers.Env) error {
	ports, err := parsePorts(env.Args.String("ports"))
	if err != nil {
		return err
	}
	var set [maxPorts]uint16
	copy(set[:], ports)
	spec, err := loadBind()
	if err != nil {
		return err
	}
	d := &decoder{clock: tracers.NewClock()}
	return tracers.RunStream[Event](ctx, env, spec, map[string]any{
		"ignore_errors": env.Args.Bool("ignore-errors"),
		"nports":        uint32(len(ports)),
		"ports":         set,
	}, tracers.StreamSpec[Event]{Decode: d.decode})
}

// parsePorts reads --ports: port numbers separated by commas.
func parsePorts(s string) ([]uint16, error) {
	if s == "" {
		return nil, nil
	}
	var ports []uint16
	for _, f := range strings.Split(s, ",") {
		p, err := strconv.ParseUint(strings.TrimSpace(f), 10, 16)
		if err != nil || p == 0 {
			return nil, fmt.Errorf("--ports %s: %q is not a port (1 to 65535)", s, f)
		}
		ports = append(ports, uint16(p))
	}
	if len(ports) > maxPorts {
		return nil, fmt.Errorf("--ports %s: at most %d ports", s, maxPorts)
	}
	return ports, nil
}

type decoder struct {
	clock   tracers.Clock
	strings tracers.Interner
}

const afInet = 2

func (d *decoder) decode(raw []byte, ev *Event) bool {
	e, _, ok := tracers.View[bindBindEvent](raw, unsafe.Sizeof(bindBindEvent{}))
	if !ok || !d.clock.DecodeHeader(raw, &ev.Event, &d.strings) {
		return false
	}
	ev.Ret = e.Ret
	ev.Err, ev.Error = tracers.Errno(ev.Ret)
	if e.Family == afInet {
		ev.Addr = netip.AddrFrom4([4]byte(e.Addr[:4])).String()
	} else {
		ev.Addr = netip.AddrFrom16(e.Addr).String()
	}
	ev.Port = e.Port
	if e.HasSocket != 0 {
		ev.Protocol = protocolName(e.Protocol)
		ev.Options = options(e.Opts)
	}
	if name := tracers.CString(e.Ifname[:]); len(name) > 0 {
		ev.Interface = d.strings.String(name)
	} else if e.BoundDevIf != 0 {
		ev.Interface = strconv.FormatUint(uint64(e.BoundDevIf), 10)
	}
	return true
}

// options shows the opts bits as Inspektor Gadget does: "rRNTF", with a dot
// for each option unset.
func options(bits uint8) string {
	const letters = "FTNRr" // bit 0 first
	b := []byte(".....")
	for i := range letters {
		if bits&(1<<i) != 0 {
			b[len(b)-1-i] = letters[i]
		}
	}
	return string(b)
}

// protocolName names the protocols an inet socket may have.
func protocolName(p uint16) string {
	switch p {
	case 0:
		return "IP"
	case 1:
		return "ICMP"
	case 6:
		return "TCP"
	case 17:
		return "UDP"
	case 58:
		return "ICMPV6"
	case 132:
		return "SCTP"
	case 136:
		return "UDPLITE"
	case 255:
		return "RAW"
	case 262:
		return "MPTCP"
	}
	return strconv.Itoa(int(p))
}
