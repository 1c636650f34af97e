package socket

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ig-tracer/ig/tracers"
)

// The netlink variant, for kernels without socket iterators (before 5.9,
// or without kernel BTF): the kernel's sock_diag interface lists TCP and
// UDP sockets, and /proc tells which process holds each.

// inetDiagReq is struct inet_diag_req_v2 (linux/inet_diag.h).
type inetDiagReq struct {
	Family   uint8
	Protocol uint8
	Ext      uint8
	Pad      uint8
	States   uint32
	ID       inetDiagSockID
}

// inetDiagSockID is struct inet_diag_sockid: ports and addresses in
// network order.
type inetDiagSockID struct {
	Sport  [2]byte
	Dport  [2]byte
	Src    [16]byte
	Dst    [16]byte
	If     uint32
	Cookie [2]uint32
}

// inetDiagMsg is struct inet_diag_msg, the head of each answer.
type inetDiagMsg struct {
	Family  uint8
	State   uint8
	Timer   uint8
	Retrans uint8
	ID      inetDiagSockID
	Expires uint32
	RQueue  uint32
	WQueue  uint32
	UID     uint32
	Inode   uint32
}

const sockDiagByFamily = 20 // SOCK_DIAG_BY_FAMILY

// diagSockets lists the TCP and UDP sockets (as want says) of the current
// thread's network namespace through sock_diag.
func diagSockets(want protos) ([]Socket, error) {
	netns, err := threadNetns()
	if err != nil {
		return nil, err
	}
	var rows []Socket
	for _, proto := range []struct {
		on     bool
		number uint8
		config string
	}{{want.tcp, unix.IPPROTO_TCP, "CONFIG_INET_TCP_DIAG"}, {want.udp, unix.IPPROTO_UDP, "CONFIG_INET_UDP_DIAG"}} {
		if !proto.on {
			continue
		}
		for _, family := range []uint8{unix.AF_INET, unix.AF_INET6} {
			got, err := inetDiag(family, proto.number, netns)
			if errors.Is(err, unix.ENOENT) {
				return nil, fmt.Errorf("the netlink variant: sock_diag has no %s sockets here: the kernel lacks %s, or it is a module not loaded", protoName(proto.number), proto.config)
			}
			if err != nil {
				return nil, fmt.Errorf("sock_diag (%s): %w", protoName(proto.number), err)
			}
			rows = append(rows, got...)
		}
	}
	return rows, nil
}

func protoName(p uint8) string {
	if p == unix.IPPROTO_TCP {
		return "TCP"
	}
	return "UDP"
}

// inetDiag dumps the sockets of one family and protocol, in every state.
func inetDiag(family, proto uint8, netns uint64) ([]Socket, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	req := inetDiagReq{Family: family, Protocol: proto, States: ^uint32(0)}
	hdr := unix.NlMsghdr{
		Len:   uint32(unix.SizeofNlMsghdr + unsafe.Sizeof(req)),
		Type:  sockDiagByFamily,
		Flags: unix.NLM_F_REQUEST | unix.NLM_F_DUMP,
		Seq:   1,
	}
	msg := append(unsafe.Slice((*byte)(unsafe.Pointer(&hdr)), unix.SizeofNlMsghdr),
		unsafe.Slice((*byte)(unsafe.Pointer(&req)), unsafe.Sizeof(req))...)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, err
	}
	var rows []Socket
	buf := make([]byte, 1<<16)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return nil, err
		}
		msgs, err := parseNetlink(buf[:n])
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return rows, nil
			case unix.NLMSG_ERROR:
				if len(m.Data) >= 4 {
					if errno := -int32(binary.NativeEndian.Uint32(m.Data)); errno != 0 {
						return nil, unix.Errno(errno)
					}
				}
				return rows, nil
			case sockDiagByFamily:
				if len(m.Data) < int(unsafe.Sizeof(inetDiagMsg{})) {
					continue
				}
				d := (*inetDiagMsg)(unsafe.Pointer(&m.Data[0]))
				rows = append(rows, diagSocket(d, proto, netns))
			}
		}
	}
}

// parseNetlink splits a netlink datagram into its messages.
func parseNetlink(b []byte) ([]netlinkMsg, error) {
	var out []netlinkMsg
	for len(b) >= unix.SizeofNlMsghdr {
		h := *(*unix.NlMsghdr)(unsafe.Pointer(&b[0]))
		if int(h.Len) < unix.SizeofNlMsghdr || int(h.Len) > len(b) {
			return nil, fmt.Errorf("netlink: a message of %d bytes in %d", h.Len, len(b))
		}
		out = append(out, netlinkMsg{h, b[unix.SizeofNlMsghdr:h.Len]})
		b = b[min(len(b), int(h.Len+3)&^3):]
	}
	return out, nil
}

type netlinkMsg struct {
	Header unix.NlMsghdr
	Data   []byte
}

// diagSocket is one sock_diag answer as a row, as inetSocket makes one
// from the iterator's record.
func diagSocket(d *inetDiagMsg, proto uint8, netns uint64) Socket {
	var r socketSocketRecord
	r.Ends.Family = uint16(d.Family) // AF_INET or AF_INET6, as the kernel numbers them
	r.Ends.Saddr, r.Ends.Daddr = d.ID.Src, d.ID.Dst
	r.Ends.Lport, r.Ends.Dport = binary.BigEndian.Uint16(d.ID.Sport[:]), binary.BigEndian.Uint16(d.ID.Dport[:])
	r.Inode, r.Netns, r.Uid, r.Protocol, r.State = uint64(d.Inode), netns, d.UID, proto, d.State
	return inetSocket(&r)
}

// procSocketOwners maps socket inodes to the first process found holding
// each, from the descriptors in /proc (every process, every namespace).
func procSocketOwners() map[uint64]tracers.Event {
	owners := map[uint64]tracers.Event{}
	now := time.Now().UnixNano()
	for _, pid := range tracers.ProcPIDs() {
		dir := "/proc/" + strconv.Itoa(pid)
		fds, err := os.ReadDir(dir + "/fd")
		if err != nil {
			continue // gone, or a kernel thread
		}
		var owner *tracers.Event
		for _, fd := range fds {
			link, err := os.Readlink(dir + "/fd/" + fd.Name())
			if err != nil || !strings.HasPrefix(link, "socket:[") {
				continue
			}
			inode, err := strconv.ParseUint(strings.TrimSuffix(link[len("socket:["):], "]"), 10, 64)
			if _, seen := owners[inode]; err != nil || seen {
				continue
			}
			if owner == nil {
				owner = &tracers.Event{}
				if !tracers.ReadProcTask(dir, owner) {
					break
				}
				owner.Pid, owner.Tid, owner.Timestamp = uint32(pid), uint32(pid), now
			}
			owners[inode] = *owner
		}
	}
	return owners
}
