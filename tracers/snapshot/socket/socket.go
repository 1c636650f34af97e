// Package socket is the snapshot socket gadget: every TCP, UDP and unix
// socket of the host's network namespace and of each container's, with
// the process that holds it open.
package socket

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/ig-tracer/ig/output"
	"github.com/ig-tracer/ig/tracers"
)

// Socket is one socket. JSON names follow Inspektor Gadget's snapshot
// socket; the process fields (pid, comm...), path and type are ig's.
type Socket struct {
	tracers.Event
	Protocol string             `json:"protocol" column:"protocol,width:8" desc:"TCP, UDP or UNIX"`
	Src      tracers.L4Endpoint `json:"src" desc:"the local end (TCP, UDP)"`
	Dst      tracers.L4Endpoint `json:"dst" desc:"the remote end (TCP, UDP); 0.0.0.0 or :: and port 0 when not connected"`
	SrcText  string             `json:"-" column:"src,width:24" desc:"the local address and port; a unix socket's path"`
	DstText  string             `json:"-" column:"dst,width:24" desc:"the remote address and port"`
	Status   string             `json:"status" column:"status,width:12" desc:"TCP: its state (LISTEN, ESTABLISHED...); UDP: ACTIVE when connected, INACTIVE otherwise; unix: LISTEN, CONNECTED or UNCONNECTED"`
	Inode    uint64             `json:"inodeNumber" column:"inode,width:10,right" desc:"the socket's inode number (as in /proc/PID/fd); 0 for sockets no descriptor refers to (TCP request and time-wait sockets)"`
	NetNsID  uint64             `json:"netnsid" column:"netns,width:10,right" desc:"the socket's network namespace (inode number)"`
	Path     string             `json:"path" desc:"a unix socket's path (@ for an abstract name); empty otherwise"`
	Type     string             `json:"type" desc:"a unix socket's type: STREAM, DGRAM or SEQPACKET; empty otherwise"`
}

var schema = output.NewSchema[Socket]()

func init() {
	tracers.Register(&tracers.Gadget{
		Category:    "snapshot",
		Name:        "socket",
		Description: "List the TCP, UDP and unix sockets of the host and of every container, with their processes",
		Flags: append(tracers.SnapshotFlags(),
			&cli.StringFlag{Name: "proto", Value: "all", Usage: "only sockets of `PROTOCOL`: tcp, udp, unix or all",
				Action: func(_ *cli.Context, v string) error { _, err := parseProto(v); return err }},
		),
		Schema:  schema,
		Columns: tracers.Fixed("container", "pid", "comm", "protocol", "src", "dst", "status", "inode"),
		Run:     run,
	})
}

type protos struct{ tcp, udp, unix bool }

func parseProto(s string) (protos, error) {
	switch strings.ToLower(s) {
	case "all", "":
		return protos{true, true, true}, nil
	case "tcp":
		return protos{tcp: true}, nil
	case "udp":
		return protos{udp: true}, nil
	case "unix":
		return protos{unix: true}, nil
	}
	return protos{}, fmt.Errorf("--proto %s: want tcp, udp, unix or all", s)
}

func run(ctx context.Context, env *tracers.Env) error {
	want, err := parseProto(env.Args.String("proto"))
	if err != nil {
		return err
	}
	if _, err := tracers.SnapshotSorter(env); err != nil { // said before anything is loaded
		return err
	}
	// Sockets and their processes: from iterators, or, without them,
	// from sock_diag and /proc.
	list := func(want protos) ([]Socket, error) { return diagSockets(want) }
	var owners map[uint64]tracers.Event
	if env.Variant == "netlink" {
		env.Logf("snapshot socket: asking sock_diag, and /proc for the processes")
		owners = procSocketOwners()
	} else {
		spec, err := loadSocket()
		if err != nil {
			return err
		}
		p, err := tracers.Load(spec, env, nil)
		env.LoadedAll()
		if err != nil {
			return err
		}
		defer p.Close()
		if owners, err = socketOwners(p); err != nil {
			return err
		}
		list = func(want protos) ([]Socket, error) { return iterSockets(p, want) }
	}
	var rows []Socket
	for _, ns := range tracers.NetNamespaces(env) {
		err := tracers.InNetns(ns.Pid, func() error {
			got, err := list(want)
			if err == nil && want.unix {
				var us []Socket
				us, err = unixSockets()
				got = append(got, us...)
			}
			rows = append(rows, got...)
			return err
		})
		if err != nil {
			if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ESRCH) {
				env.Logf("snapshot socket: %s: gone (%v)", ns.What, err)
				continue // a container that stopped meanwhile
			}
			return fmt.Errorf("%s: %w", ns.What, err)
		}
	}
	now := time.Now().UnixNano()
	for i := range rows {
		if o, ok := owners[rows[i].Inode]; ok && rows[i].Inode != 0 {
			rows[i].Event = o
		} else {
			rows[i].Timestamp = now // no process holds it: when it was listed
		}
	}
	slices.SortStableFunc(rows, func(a, b Socket) int {
		if a.NetNsID != b.NetNsID {
			return cmpU64(a.NetNsID, b.NetNsID)
		}
		if a.Protocol != b.Protocol {
			return strings.Compare(a.Protocol, b.Protocol)
		}
		return cmpU64(uint64(a.Src.Port), uint64(b.Src.Port))
	})
	return tracers.PrintSnapshotNet(env, rows, func(s *Socket) uint64 { return s.NetNsID })
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// iterSockets lists the TCP and UDP sockets of the current thread's
// network namespace with the iterators.
func iterSockets(p *tracers.Program, want protos) ([]Socket, error) {
	var rows []Socket
	for _, it := range []struct {
		on   bool
		prog string
	}{{want.tcp, "snapshot_tcp"}, {want.udp, "snapshot_udp"}} {
		if !it.on {
			continue
		}
		data, err := p.RunIterator(it.prog)
		if err != nil {
			return nil, err
		}
		size := int(unsafe.Sizeof(socketSocketRecord{}))
		if len(data)%size != 0 {
			return nil, fmt.Errorf("%s wrote %d bytes, not a whole number of %d-byte records", it.prog, len(data), size)
		}
		for off := 0; off < len(data); off += size {
			r := (*socketSocketRecord)(unsafe.Pointer(&data[off]))
			rows = append(rows, inetSocket(r))
		}
	}
	return rows, nil
}

func inetSocket(r *socketSocketRecord) Socket {
	var s Socket
	e := &r.Ends
	_, s.Src, s.Dst = tracers.SockEndpoints(e.Family, e.Saddr, e.Daddr, e.Lport, e.Dport)
	s.SrcText, s.DstText = s.Src.String(), s.Dst.String()
	s.Inode, s.NetNsID, s.Uid = r.Inode, r.Netns, r.Uid
	if r.Protocol == tracers.IPProtoTCP {
		s.Protocol, s.Status = "TCP", tracers.TCPState(r.State)
	} else {
		s.Protocol = "UDP"
		s.Src.Proto, s.Dst.Proto = 17, 17
		s.Status = "INACTIVE"
		if r.State == 1 { // TCP_ESTABLISHED: connected
			s.Status = "ACTIVE"
		}
	}
	return s
}

// unixSockets reads the unix sockets of the current thread's network
// namespace from /proc/thread-self/net/unix, the kernel's own listing
// (every kernel has it; the unix iterator came in 5.17).
func unixSockets() ([]Socket, error) {
	f, err := os.Open("/proc/thread-self/net/unix")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	netns, err := threadNetns()
	if err != nil {
		return nil, err
	}
	var rows []Socket
	sc := bufio.NewScanner(f)
	sc.Scan() // the header
	for sc.Scan() {
		// Num RefCount Protocol Flags Type St Inode [Path]
		fields := strings.Fields(sc.Text())
		if len(fields) < 7 {
			continue
		}
		s := Socket{Protocol: "UNIX", NetNsID: netns}
		flags, _ := strconv.ParseUint(fields[3], 16, 32)
		typ, _ := strconv.ParseUint(fields[4], 16, 16)
		state, _ := strconv.ParseUint(fields[5], 16, 8)
		s.Inode, _ = strconv.ParseUint(fields[6], 10, 64)
		if len(fields) > 7 {
			s.Path = strings.Join(fields[7:], " ")
		}
		s.SrcText = s.Path
		s.Type = unixTypes[typ]
		switch {
		case flags&(1<<16) != 0: // __SO_ACCEPTCON: listening
			s.Status = "LISTEN"
		case state == 3: // SS_CONNECTED
			s.Status = "CONNECTED"
		default:
			s.Status = "UNCONNECTED"
		}
		rows = append(rows, s)
	}
	return rows, sc.Err()
}

var unixTypes = map[uint64]string{1: "STREAM", 2: "DGRAM", 5: "SEQPACKET"}

func threadNetns() (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/thread-self/ns/net", &st); err != nil {
		return 0, err
	}
	return st.Ino, nil
}

// socketOwners maps socket inodes to the first process found holding
// each, as the task-file iterator finds them.
func socketOwners(p *tracers.Program) (map[uint64]tracers.Event, error) {
	data, err := p.RunIterator("socket_owners")
	if err != nil {
		return nil, err
	}
	size := int(unsafe.Sizeof(socketSocketOwner{}))
	if len(data)%size != 0 {
		return nil, fmt.Errorf("socket_owners wrote %d bytes, not a whole number of %d-byte records", len(data), size)
	}
	clock := tracers.NewClock()
	var names tracers.Interner
	owners := map[uint64]tracers.Event{}
	for off := 0; off < len(data); off += size {
		o := (*socketSocketOwner)(unsafe.Pointer(&data[off]))
		if _, seen := owners[o.Inode]; !seen {
			var ev tracers.Event
			clock.FromHeader((*tracers.RawHeader)(unsafe.Pointer(&o.Hdr)), &ev, &names)
			owners[o.Inode] = ev
		}
	}
	return owners, nil
}
