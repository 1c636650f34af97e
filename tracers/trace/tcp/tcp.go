// Package tcp is the trace tcp gadget: TCP connects with their outcome,
// accepts and closes, each with its process and container, and at close
// the connection's duration and bytes.
package tcp

import (
	"context"
	"errors"
	"unsafe"

	"github.com/urfave/cli/v2"

	"github.com/ig-tracer/ig/output"
	"github.com/ig-tracer/ig/tracers"
)

// Event is one connect, accept or close. JSON names follow Inspektor
// Gadget's trace tcp; error, latency, duration, sent and received are ig's.
type Event struct {
	tracers.Event
	tracers.Connection
	Operation  string `json:"operation" column:"op,width:7" desc:"connect (its outcome: established or failed), accept, or close"`
	Err        int32  `json:"err" column:"errno,width:5,right" desc:"connect: the errno of a failed connect (ECONNREFUSED, ETIMEDOUT...); 0 otherwise"`
	Error      string `json:"error" column:"error,width:12" desc:"the errno's name; empty when none"`
	Latency    uint64 `json:"latency" desc:"connect: nanoseconds from the connect call to its outcome (the handshake); 0 for the others" unit:"ns"`
	LatencyUs  uint64 `json:"-" column:"lat(us),width:8,right" desc:"the latency, in microseconds"`
	Duration   uint64 `json:"duration" desc:"close: nanoseconds since the connect or the handshake began; 0 when ig did not see it begin" unit:"ns"`
	DurationMs uint64 `json:"-" column:"dur(ms),width:8,right" desc:"the duration, in milliseconds"`
	Sent       uint64 `json:"sent" column:"sent,width:10,right" desc:"close: bytes sent and acknowledged over the connection's life" unit:"bytes"`
	Received   uint64 `json:"received" column:"recv,width:10,right" desc:"close: bytes received over the connection's life" unit:"bytes"`
	Fd         int32  `json:"fd" column:"fd,width:4,right" desc:"connect: the descriptor connect was called with (for a connect begun before ig started, the one ig found holding the socket; -1 when there is none: a SYN sent by sendto with MSG_FASTOPEN or by io_uring, a socket no process holds); accept: the listening socket's; close: -1, as in IG"`
	AcceptFd   int32  `json:"accept_fd" column:"accept_fd,width:9,right" desc:"accept: the descriptor accept returned for the new connection; -1 for connect and close, as in IG"`
}

var schema = output.NewSchema[Event]()

func init() {
	tracers.Register(&tracers.Gadget{
		Category:    "trace",
		Name:        "tcp",
		Description: "Trace TCP connects (established or failed, with the errno), accepts and closes (with duration and bytes)",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "connect-only", Usage: "only connects"},
			&cli.BoolFlag{Name: "accept-only", Usage: "only accepts"},
			&cli.BoolFlag{Name: "failure-only", Usage: "only failed connects"},
		},
		Schema:  schema,
		Columns: tracers.Fixed("container", "pid", "comm", "op", "ip", "src", "dst", "error"),
		Run:     run,
	})
}

func run(ctx context.Context, env *tracers.Env) error {
	connectOnly, acceptOnly, failureOnly := env.Args.Bool("connect-only"), env.Args.Bool("accept-only"), env.Args.Bool("failure-only")
	if connectOnly && acceptOnly {
		return errors.New("--connect-only and --accept-only: one or the other")
	}
	if acceptOnly && failureOnly {
		return errors.New("--accept-only and --failure-only: only connects fail")
	}
	spec, err := loadTcp()
	if err != nil {
		return err
	}
	d := &decoder{clock: tracers.NewClock()}
	return tracers.RunStream[Event](ctx, env, spec, map[string]any{
		"connect_only": connectOnly, "accept_only": acceptOnly, "failure_only": failureOnly,
	}, tracers.StreamSpec[Event]{Decode: d.decode, NetNs: func(ev *Event) uint64 { return ev.NetNsID }})
}

type decoder struct {
	clock   tracers.Clock
	strings tracers.Interner
}

var operations = [...]string{"connect", "accept", "close"}

func (d *decoder) decode(raw []byte, ev *Event) bool {
	e, _, ok := tracers.View[tcpTcpEvent](raw, unsafe.Sizeof(tcpTcpEvent{}))
	if !ok || int(e.Op) >= len(operations) {
		return false
	}
	if !d.clock.DecodeSockHeader(raw, e.Owner != 0, &ev.Event, &d.strings) {
		return false
	}
	ev.Operation = operations[e.Op]
	ends := &e.Ends
	ev.SetConnection(ends.Family, ends.Saddr, ends.Daddr, ends.Lport, ends.Dport, e.Netns)
	ev.Err, ev.Error = tracers.Errno(-int64(e.Error))
	ev.Latency, ev.LatencyUs = e.LatencyNs, e.LatencyNs/1000
	ev.Duration, ev.DurationMs = e.DurationNs, e.DurationNs/1000000
	ev.Sent, ev.Received = e.Sent, e.Received
	ev.Fd, ev.AcceptFd = e.Fd, e.AcceptFd
	return true
}
