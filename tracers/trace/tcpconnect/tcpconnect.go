// Package tcpconnect is the trace tcpconnect gadget: TCP connect attempts
// with their outcome and, with --latency, how long the handshake took.
package tcpconnect

import (
	"context"
	"fmt"
	"time"
	"unsafe"

	"github.com/urfave/cli/v2"

	"github.com/ig-tracer/ig/output"
	"github.com/ig-tracer/ig/tracers"
)

// Event is one connect attempt. JSON names follow Inspektor Gadget's trace
// tcpconnect; err, error and netns are ig's.
type Event struct {
	tracers.Event
	tracers.Connection
	Latency   uint64 `json:"latency" desc:"nanoseconds from the connect call to the outcome: the handshake, or until it was refused or timed out" unit:"ns"`
	LatencyUs uint64 `json:"-" column:"lat(us),width:8,right" desc:"the latency, in microseconds"`
	Err       int32  `json:"err" column:"errno,width:5,right" desc:"the errno of a failed connect (ECONNREFUSED, ETIMEDOUT...); 0 when established"`
	Error     string `json:"error" column:"error,width:12" desc:"the errno's name; empty when established"`
}

var schema = output.NewSchema[Event]()

func init() {
	tracers.Register(&tracers.Gadget{
		Category:    "trace",
		Name:        "tcpconnect",
		Description: "Trace TCP connect attempts, at their outcome (established, refused, timed out), with the handshake's latency",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "latency", Usage: "show the handshake's latency"},
			&cli.DurationFlag{Name: "min", Usage: "only connects whose handshake took at least `DURATION` (10ms, 1.5s; implies --latency)"},
		},
		Schema:  schema,
		Columns: columns,
		Run:     run,
	})
}

// columns: the latency only with --latency or --min, as Inspektor Gadget.
func columns(args tracers.Args) []string {
	cols := []string{"container", "pid", "comm", "ip", "src", "dst", "error"}
	if args.Bool("latency") || args.String("min") != "" && args.String("min") != "0s" {
		cols = append(cols, "lat(us)")
	}
	return cols
}

func run(ctx context.Context, env *tracers.Env) error {
	minLatency, err := time.ParseDuration(orZero(env.Args.String("min")))
	if err != nil || minLatency < 0 {
		return fmt.Errorf("--min %s: not a duration (10ms, 1.5s)", env.Args.String("min"))
	}
	spec, err := loadTcpconnect()
	if err != nil {
		return err
	}
	d := &decoder{clock: tracers.NewClock()}
	return tracers.RunStream[Event](ctx, env, spec, map[string]any{"min_latency_ns": uint64(minLatency)},
		tracers.StreamSpec[Event]{Decode: d.decode, NetNs: func(ev *Event) uint64 { return ev.NetNsID }})
}

func orZero(s string) string {
	if s == "" {
		return "0s"
	}
	return s
}

type decoder struct {
	clock   tracers.Clock
	strings tracers.Interner
}

func (d *decoder) decode(raw []byte, ev *Event) bool {
	e, _, ok := tracers.View[tcpconnectConnectEvent](raw, unsafe.Sizeof(tcpconnectConnectEvent{}))
	if !ok {
		return false
	}
	if !d.clock.DecodeSockHeader(raw, e.Owner != 0, &ev.Event, &d.strings) {
		return false
	}
	ends := &e.Ends
	ev.SetConnection(ends.Family, ends.Saddr, ends.Daddr, ends.Lport, ends.Dport, e.Netns)
	ev.Latency, ev.LatencyUs = e.LatencyNs, e.LatencyNs/1000
	ev.Err, ev.Error = tracers.Errno(-int64(e.Error))
	return true
}
