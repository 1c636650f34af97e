package seccomp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ig-tracer/ig/tracers"
)

// The kernel's audit records, as its audit subsystem multicasts them to
// readers of the read-log group: beside auditd, which keeps its unicast
// copy, and without it (the kernel then also prints them to its log).
const (
	auditNlgrpReadlog = 1    // AUDIT_NLGRP_READLOG
	auditGet          = 1000 // AUDIT_GET
	auditSeccomp      = 1326 // AUDIT_SECCOMP
)

// auditSocket reads AUDIT_SECCOMP records into feed until the feed is
// closed, counting what it could not read.
type auditSocket struct {
	feed      *tracers.Feed
	overflows atomic.Uint64 // ENOBUFS: the socket's buffer overflowed, records were dropped
	lostStart uint32        // the kernel's count of audit records lost, at start
	lostKnown bool
}

func openAudit(env *tracers.Env) (*auditSocket, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_AUDIT)
	if err != nil {
		return nil, fmt.Errorf("open the kernel's audit socket (CONFIG_AUDIT): %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1 << (auditNlgrpReadlog - 1)}); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EPERM) {
			return nil, fmt.Errorf("read the kernel's audit records: needs CAP_AUDIT_READ (%w)", err)
		}
		return nil, fmt.Errorf("join the audit read-log group: %w", err)
	}
	// Bursts of records must not overflow the socket: a large buffer, and
	// a timeout so that the reader sees the feed close.
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4<<20)
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 100_000})
	a := &auditSocket{feed: tracers.NewFeed(4096)}
	a.lostStart, a.lostKnown = kernelAuditLost()
	env.Logf("audit seccomp: reading the kernel's audit records (netlink read-log group)")
	go a.read(fd)
	return a, nil
}

func (a *auditSocket) read(fd int) {
	defer unix.Close(fd)
	buf := make([]byte, 1<<16)
	for {
		select {
		case <-a.feed.Closed():
			return
		default:
		}
		n, _, err := unix.Recvfrom(fd, buf, 0)
		switch {
		case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.ENOBUFS):
			a.overflows.Add(1)
			continue
		case err != nil:
			return
		}
		for _, m := range netlinkMessages(buf[:n]) {
			if m.typ == auditSeccomp && !a.feed.Push(append([]byte(nil), m.data...)) {
				return
			}
		}
	}
}

type netlinkMessage struct {
	typ  uint16
	data []byte
}

// netlinkMessages splits a datagram into its messages. The audit
// subsystem's multicast copies count their header in their length, but
// their length is not padded to 4 bytes: the last one may end early.
func netlinkMessages(b []byte) []netlinkMessage {
	var out []netlinkMessage
	for len(b) >= unix.SizeofNlMsghdr {
		n := int(binary.NativeEndian.Uint32(b))
		if n < unix.SizeofNlMsghdr || n > len(b) {
			break
		}
		out = append(out, netlinkMessage{binary.NativeEndian.Uint16(b[4:]), b[unix.SizeofNlMsghdr:n]})
		b = b[min(len(b), (n+3)&^3):]
	}
	return out
}

// report says what was lost: records the socket could not hold, and
// those the kernel's audit subsystem lost meanwhile (its backlog full,
// its rate limit) as its own counter says.
func (a *auditSocket) report(env *tracers.Env) {
	if n := a.overflows.Load(); n > 0 {
		env.Warnf("the audit socket overflowed %d times: some seccomp records were lost", n)
	}
	if end, ok := kernelAuditLost(); ok && a.lostKnown && end > a.lostStart {
		env.Warnf("the kernel's audit subsystem lost %d records while ig ran (its backlog or rate limit); seccomp's may be among them", end-a.lostStart)
	}
}

// kernelAuditLost asks the audit subsystem (AUDIT_GET) how many records
// it has lost since boot.
func kernelAuditLost() (uint32, bool) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_AUDIT)
	if err != nil {
		return 0, false
	}
	defer unix.Close(fd)
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 200_000})
	req := make([]byte, unix.SizeofNlMsghdr)
	binary.NativeEndian.PutUint32(req, uint32(len(req)))
	binary.NativeEndian.PutUint16(req[4:], auditGet)
	binary.NativeEndian.PutUint16(req[6:], unix.NLM_F_REQUEST)
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, false
	}
	buf := make([]byte, 4096)
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return 0, false
		}
		for _, m := range netlinkMessages(buf[:n]) {
			// struct audit_status: mask, enabled, failure, pid,
			// rate_limit, backlog_limit, lost, ...
			if m.typ == auditGet && len(m.data) >= 28 {
				return binary.NativeEndian.Uint32(m.data[24:]), true
			}
		}
	}
	return 0, false
}
