// Package tcpretrans is the trace tcpretrans gadget: TCP retransmissions,
// with the connection, its state, the segment's flags and its process.
package tcpretrans

import (
	"context"
	"unsafe"

	"github.com/ig-tracer/ig/output"
	"github.com/ig-tracer/ig/tracers"
)

// Event is one retransmission. JSON names follow Inspektor Gadget's trace
// tcpretrans.
type Event struct {
	tracers.Event
	tracers.Connection
	State    string `json:"state" column:"state,width:11" desc:"the connection's TCP state (ESTABLISHED, SYN_SENT...)"`
	TCPFlags string `json:"tcpflags" column:"tcpflags,width:12" desc:"the retransmitted segment's TCP flags (PSH|ACK); empty for a loss probe"`
	Type     string `json:"type" column:"type,width:7" desc:"RETRANS: a segment retransmitted; LOSS: a tail-loss probe (the kprobe variant only)"`
}

var schema = output.NewSchema[Event]()

func init() {
	tracers.Register(&tracers.Gadget{
		Category:    "trace",
		Name:        "tcpretrans",
		Description: "Trace TCP retransmissions (and tail-loss probes, where kprobes are available)",
		Schema:      schema,
		Columns:     tracers.Fixed("container", "pid", "comm", "ip", "src", "dst", "state", "tcpflags", "type"),
		Run:         run,
	})
}

func run(ctx context.Context, env *tracers.Env) error {
	spec, err := loadTcpretrans()
	if err != nil {
		return err
	}
	d := &decoder{clock: tracers.NewClock()}
	return tracers.RunStream[Event](ctx, env, spec, nil,
		tracers.StreamSpec[Event]{Decode: d.decode, NetNs: func(ev *Event) uint64 { return ev.NetNsID }})
}

type decoder struct {
	clock   tracers.Clock
	strings tracers.Interner
	flags   tracers.TCPFlags
}

var types = [...]string{"RETRANS", "LOSS"}

func (d *decoder) decode(raw []byte, ev *Event) bool {
	e, _, ok := tracers.View[tcpretransRetransEvent](raw, unsafe.Sizeof(tcpretransRetransEvent{}))
	if !ok || int(e.Type) >= len(types) || !d.clock.DecodeSockHeader(raw, e.Owner != 0, &ev.Event, &d.strings) {
		return false
	}
	ends := &e.Ends
	ev.SetConnection(ends.Family, ends.Saddr, ends.Daddr, ends.Lport, ends.Dport, e.Netns)
	ev.State = tracers.TCPState(e.State)
	if e.Tcpflags != 0 {
		ev.TCPFlags = d.flags.Name(e.Tcpflags)
	}
	ev.Type = types[e.Type]
	return true
}
