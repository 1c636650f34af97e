package tracers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cilium/ebpf/ringbuf"

	"github.com/ig-tracer/ig/output"
)

// Common is implemented by every gadget event type through the embedded Event.
func (e *Event) Common() *Event { return e }

// eventPtr is a pointer to a gadget's event type T, which embeds Event.
type eventPtr[T any] interface {
	*T
	Common() *Event
}

// Decoder turns one ring-buffer record into ev. It returns false for a
// record it cannot decode (counted as malformed). It is called through Into,
// on a zeroed ev, so it sets only what the record holds.
type Decoder[T any] func(raw []byte, ev *T) bool

// Into zeroes ev and decodes raw into it: no field of the previous event is
// left over, whatever the decoder leaves unset. Stream decodes every record
// so.
func (d Decoder[T]) Into(raw []byte, ev *T) bool {
	var zero T
	*ev = zero
	return d(raw, ev)
}

// StreamSpec is what a streaming gadget hands to Stream (its schema and
// columns are the Gadget's, in Env).
type StreamSpec[T any] struct {
	Decode Decoder[T]
	// Skip, when set, says that a decoded record makes no event of its
	// own (a segment of a message that continues in the next).
	Skip func(*T) bool
	// NetNs, when set, gives the network namespace of an event that has no
	// process (mount namespace 0: work done in softirq for a socket whose
	// owner ig did not see): such an event is attributed, and filtered, by
	// it (Env.NetContainer).
	NetNs func(*T) uint64
	// Expired, when set, is asked at each pause of the ring buffer (at
	// least every pollInterval while idle) for events of the gadget's own
	// making, which no record brings: a query whose answer has not come in
	// time. It fills ev with one and returns true while there are some.
	Expired func(ev *T) bool
	// Source, when set, is where records come from instead of the
	// program's ring buffer (the kernel's audit records, over netlink).
	Source func(p *Program) (RecordSource, error)
	// Loaded, when set, is called with the program loaded, before the
	// first record: for the gadget to find its maps (a stack map).
	Loaded func(p *Program)
}

// pollInterval bounds how long an event waits in the ring buffer when too few
// have come to wake ig (see IG_WAKEUP_BYTES in bpf/common.h). Until the first
// event, ig looks every firstPollInterval: the first event is the one a user
// waits for, and an idle ring buffer costs nothing to look at.
const (
	pollInterval      = 20 * time.Millisecond
	firstPollInterval = 2 * time.Millisecond
)

// Stream prints the events of p until ctx ends (Ctrl-C, SIGTERM, --timeout),
// then reports lost events. The caller closes p.
func Stream[T any, PT eventPtr[T]](ctx context.Context, env *Env, p *Program, s StreamSpec[T]) error {
	printer, err := output.NewPrinter[T](env.Stdout, env.Schema, env.Format, env.Columns)
	if err != nil {
		return err
	}
	if s.Loaded != nil {
		s.Loaded(p)
	}
	var rd RecordSource
	if s.Source != nil {
		rd, err = s.Source(p)
	} else {
		rd, err = ringbuf.NewReader(p.Coll.Maps["events"])
		if err != nil {
			err = fmt.Errorf("open ring buffer: %w", err)
		}
	}
	if err != nil {
		return err
	}
	defer rd.Close()

	printer.Header()
	if err := printer.Flush(); err != nil {
		return outputError(err)
	}

	// On Ctrl-C, SIGTERM or --timeout: detach first, so nothing new comes in,
	// then wake the reader to drain what is already in the ring buffer.
	stop := make(chan struct{})
	stopOnce := sync.OnceFunc(func() { close(stop) })
	defer stopOnce()
	go func() {
		select {
		case <-ctx.Done():
			p.Detach()
			rd.Flush()
		case <-stop:
		}
	}()
	lost := newLostReporter(env, p)
	watching := make(chan struct{})
	go func() {
		lost.watch(stop)
		close(watching)
	}()

	var (
		rec       ringbuf.Record
		ev        T
		received  uint64
		malformed uint64
		held      heldEvents
		leftOut   = map[uint64]bool{} // network namespaces the kernel let by and ig left out (-v)
	)
	var show func(last bool) bool
	// emit decodes, enriches and prints one record. It returns false, and
	// prints nothing, when the event's container is not known yet and it
	// may still wait (last is false).
	emit := func(raw []byte, last bool) bool {
		if !s.Decode.Into(raw, &ev) {
			malformed++
			return true
		}
		if s.Skip != nil && s.Skip(&ev) {
			return true
		}
		return show(last)
	}
	// show attributes, filters and prints ev, as emit says.
	show = func(last bool) bool {
		fillNames(PT(&ev).Common())
		if s.NetNs != nil && PT(&ev).Common().MountNsID == 0 {
			e := PT(&ev).Common()
			rt, k8s, accepted, settled := env.NetContainer(s.NetNs(&ev))
			if !settled && !last {
				return false
			}
			e.Runtime, e.K8s = rt, k8s
			if accepted {
				printer.Print(&ev)
			} else if netns := s.NetNs(&ev); env.Verbose && !leftOut[netns] && len(leftOut) < 1024 {
				leftOut[netns] = true
				env.Logf("network namespace %d: not selected; its events are left out", netns)
			}
			return true
		}
		settled := true
		if env.Enrich != nil {
			settled = env.Enrich(PT(&ev).Common())
			if !settled && !last {
				return false
			}
		}
		if env.Accept != nil {
			e := PT(&ev).Common()
			pass := env.Accept(e)
			// Containers' verdicts come with the collection's changes,
			// which also forget them when the container goes; what is
			// learned here is for namespaces that are no container's
			// (the host's, above all, under -c).
			if settled && e.Runtime.RuntimeName == "" {
				p.LearnVerdict(e.MountNsID, e.MountNsSerial, pass)
			}
			if !pass {
				return true
			}
		}
		printer.Print(&ev)
		return true
	}
	poll := func() time.Time {
		if received == 0 {
			return time.Now().Add(firstPollInterval)
		}
		return time.Now().Add(pollInterval)
	}
	rd.SetDeadline(poll())
	for {
		err := rd.ReadInto(&rec)
		// While events wait, ask again at each pause of the ring buffer
		// and every 256 records, not at every record: the head's answer
		// only changes with a refresh.
		if n := held.len(); n > 0 && (err != nil || n%256 == 0) {
			held.release(time.Now(), false, emit)
		}
		if err != nil {
			// The ring buffer is empty: show what we have, then wait again.
			stopped := ctx.Err() != nil && (errors.Is(err, ringbuf.ErrFlushed) || errors.Is(err, os.ErrDeadlineExceeded))
			if stopped {
				held.release(time.Now(), true, emit)
			}
			lost.print(printer)
			for s.Expired != nil {
				var zero T
				if ev = zero; !s.Expired(&ev) {
					break
				}
				show(true)
			}
			if err := printer.Flush(); err != nil {
				return outputError(err)
			}
			if stopped {
				break // stopped and drained
			}
			if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, ringbuf.ErrFlushed) {
				rd.SetDeadline(poll())
				continue
			}
			return fmt.Errorf("read ring buffer: %w", err)
		}
		received++
		if received%1024 == 0 {
			lost.print(printer) // the ring buffer may never be empty while events are lost
		}
		if held.len() > 0 || !emit(rec.RawSample, false) {
			held.push(rec.RawSample, time.Now())
		}
	}
	if malformed > 0 {
		env.Warnf("%d malformed events dropped", malformed)
	}
	stopOnce()
	<-watching
	lost.final(received)
	lost.print(printer)
	if err := printer.Flush(); err != nil {
		return outputError(err)
	}
	return nil
}

// outputError treats a closed pipe (ig ... | head) as a normal end.
func outputError(err error) error {
	if errors.Is(err, syscall.EPIPE) {
		return nil
	}
	return fmt.Errorf("write output: %w", err)
}

// lostReporter says on stderr when events were lost, as it happens and at
// the end; in the JSON stream too, as Inspektor Gadget does, as lines
// {"type":"warn","message":"lost N samples"} whose Ns add up to the loss.
type lostReporter struct {
	env      *Env
	p        *Program
	reported uint64        // the loss said on stderr
	unshown  atomic.Uint64 // of which not yet written to stdout (print)
}

func newLostReporter(env *Env, p *Program) *lostReporter { return &lostReporter{env: env, p: p} }

func (l *lostReporter) watch(stop <-chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if n := l.p.Lost(); n > l.reported {
				l.env.Warnf("lost %d events (ring buffer full); %d lost so far", n-l.reported, n)
				l.unshown.Add(n - l.reported)
				l.reported = n
			}
		}
	}
}

func (l *lostReporter) final(received uint64) {
	n := l.p.Lost()
	if n > l.reported {
		l.unshown.Add(n - l.reported)
		l.reported = n
	}
	if n > 0 {
		l.env.Warnf("lost %d events in all (ring buffer full), %d received", n, received)
	} else {
		l.env.Logf("%d events received, none lost", received)
	}
}

// print writes the loss not yet in the output stream into it, as one
// message (JSON modes only). It is called by the goroutine that prints the
// events, between two of them, so the line never splits another.
func (l *lostReporter) print(p interface{ Warn(string) }) {
	if l.unshown.Load() == 0 {
		return
	}
	if n := l.unshown.Swap(0); n > 0 {
		p.Warn(fmt.Sprintf("lost %d samples", n))
	}
}
