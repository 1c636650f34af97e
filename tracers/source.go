package tracers

import (
	"os"
	"sync"
	"time"

	"github.com/cilium/ebpf/ringbuf"
)

// RecordSource is what Stream reads records from: the program's ring
// buffer, or a gadget's own (StreamSpec.Source), with the ring buffer
// reader's semantics: os.ErrDeadlineExceeded when nothing came before
// the deadline, ringbuf.ErrFlushed once Flush was called and every record
// before it was read.
type RecordSource interface {
	ReadInto(*ringbuf.Record) error
	SetDeadline(time.Time)
	Flush() error
	Close() error
}

// Feed is a RecordSource that a goroutine of the gadget's fills (a
// netlink socket's reader, say) with Push.
type Feed struct {
	records  chan []byte
	flushed  chan struct{}
	mu       sync.Mutex
	deadline time.Time
	closed   chan struct{}
	once     sync.Once
}

// NewFeed is a Feed holding up to size records that were not read yet;
// Push waits while it is full.
func NewFeed(size int) *Feed {
	return &Feed{records: make(chan []byte, size), flushed: make(chan struct{}, 1), closed: make(chan struct{})}
}

// Push adds a record; false once the feed is closed.
func (f *Feed) Push(record []byte) bool {
	select {
	case f.records <- record:
		return true
	case <-f.closed:
		return false
	}
}

// Closed is closed when the reader is done: the feeding goroutine stops.
func (f *Feed) Closed() <-chan struct{} { return f.closed }

func (f *Feed) ReadInto(r *ringbuf.Record) error {
	// What was pushed before a flush is read before it.
	select {
	case b := <-f.records:
		r.RawSample = b
		return nil
	default:
	}
	f.mu.Lock()
	deadline := f.deadline
	f.mu.Unlock()
	var timeout <-chan time.Time
	if !deadline.IsZero() {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		timeout = t.C
	}
	select {
	case b := <-f.records:
		r.RawSample = b
		return nil
	case <-f.flushed:
		return ringbuf.ErrFlushed
	case <-timeout:
		return os.ErrDeadlineExceeded
	case <-f.closed:
		return os.ErrClosed
	}
}

func (f *Feed) SetDeadline(t time.Time) {
	f.mu.Lock()
	f.deadline = t
	f.mu.Unlock()
}

func (f *Feed) Flush() error {
	select {
	case f.flushed <- struct{}{}:
	default:
	}
	return nil
}

func (f *Feed) Close() error {
	f.once.Do(func() { close(f.closed) })
	return nil
}
