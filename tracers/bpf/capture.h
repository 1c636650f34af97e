/* Shared by the packet gadgets (trace dns, trace sni), whose socket filter
 * tracers.RunCapture loads once per network namespace: the packet header
 * they send, reading a packet's IP and transport headers, and the process
 * behind a packet.
 *
 * A socket filter runs where the packet is, not where its process is, and
 * may not ask for the current task. So the process is recorded earlier,
 * in process context: when a TCP or UDP socket hands a packet to a device
 * (tp_btf/net_dev_queue, in the sending system call), its local port and
 * network namespace are noted with the current task in port_owners. The
 * filter looks its packet's local port up there. */
#ifndef IG_CAPTURE_H
#define IG_CAPTURE_H

#include "common.h"

#define ETH_HLEN 14
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#ifndef IG_AF_INET
#define IG_AF_INET 2
#define IG_AF_INET6 10
#endif
#define PACKET_OUTGOING 4
#define LOOPBACK_IFINDEX 1
#define IG_TCP_SYN_SENT 2
#define IG_TCP_TIME_WAIT 6
#define IG_TCP_NEW_SYN_RECV 12

const volatile __u64 netns_id = 0; /* the namespace this copy watches */

/* Mirrored by tracers.PacketHeader: every captured packet starts so. */
struct ig_packet {
	struct event_header hdr; /* the local socket's process when owned; else only the time */
	__u64 netns;
	__u32 len;      /* bytes captured, from the IP header on */
	__u32 wire_len; /* the packet's length from its IP header */
	__u8 pkt_type;  /* PACKET_HOST (0), PACKET_OUTGOING (4)... */
	__u8 owned;     /* hdr is the process's */
	__u8 pad[6];
};

/* IG_PACKET_TYPE declares a gadget's packet, struct name: the header,
 * then up to max bytes (a power of two) from the IP header on; a per-CPU
 * scratch copy to build it in (too big for the stack); and a reference
 * for bpf2go to generate its Go type. */
#define IG_PACKET_TYPE(name, max)                                               \
	struct name {                                                            \
		struct ig_packet p;                                              \
		__u8 data[max];                                                  \
	};                                                                       \
	struct {                                                                 \
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);                         \
		__uint(max_entries, 1);                                          \
		__type(key, __u32);                                              \
		__type(value, struct name);                                      \
	} scratch SEC(".maps");                                                  \
	const struct name *const name##_type __attribute__((unused)) = 0

/* A local port in a network namespace. TCP keys name the remote port too:
 * one listening port serves many processes' connections. */
struct ig_port_key {
	__u64 netns;
	__u16 port;  /* host order */
	__u16 rport; /* host order; 0 for UDP */
	__u8 proto;
	__u8 pad[3];
};

struct ig_port_owner {
	struct event_header hdr;
	__u8 skip; /* the process is filtered out (--pid, --comm, -c) */
	__u8 pad[7];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct ig_port_key);
	__type(value, struct ig_port_owner);
} port_owners SEC(".maps");

/* ig_tcp_payload is the number of TCP payload bytes in an skb on its way
 * to a device, whose headers are all set. */
static __always_inline __s64 ig_tcp_payload(struct sk_buff *skb)
{
	unsigned char *head = skb->head;
	__u16 th = skb->transport_header;
	__u8 doff = 0;
	bpf_probe_read_kernel(&doff, 1, head + th + 12);
	__s64 from_data = (__s64)th - (__s64)(skb->data - head);
	return (__s64)skb->len - from_data - (doff >> 4) * 4;
}

/* IG_PORT_OWNER_PROGRAM declares the program that fills port_owners: the
 * current task is a UDP packet's sender (UDP sends within the system
 * call), and a TCP connection's when it sends the SYN (connect) or its
 * first bytes. Bare acknowledgements are left alone: the kernel sends
 * them from interrupts, on behalf of whoever. Request and time-wait
 * sockets are not full sockets and have no process. */
#define IG_PORT_OWNER_PROGRAM                                                    \
	SEC("tp_btf/net_dev_queue")                                              \
	int BPF_PROG(ig_port_owner, struct sk_buff *skb)                         \
	{                                                                        \
		struct sock *sk = skb->sk;                                       \
		if (!sk)                                                         \
			return 0;                                                \
		__u16 family = sk->__sk_common.skc_family;                       \
		__u8 state = sk->__sk_common.skc_state;                          \
		if ((family != IG_AF_INET && family != IG_AF_INET6) ||           \
		    state == IG_TCP_NEW_SYN_RECV || state == IG_TCP_TIME_WAIT)   \
			return 0;                                                \
		__u16 proto = sk->sk_protocol;                                   \
		struct ig_port_key key = {                                       \
			.netns = sk->__sk_common.skc_net.net->ns.inum,           \
			.port = sk->__sk_common.skc_num,                         \
			.proto = proto,                                          \
		};                                                               \
		__u64 flags = BPF_ANY;                                           \
		if (proto == IPPROTO_TCP) {                                      \
			key.rport = __builtin_bswap16(sk->__sk_common.skc_dport); \
			if (state != IG_TCP_SYN_SENT) {                          \
				if (ig_tcp_payload(skb) <= 0)                    \
					return 0;                                \
				flags = BPF_NOEXIST;                             \
			}                                                        \
		} else if (proto != IPPROTO_UDP) {                               \
			return 0;                                                \
		}                                                                \
		if (flags == BPF_NOEXIST && bpf_map_lookup_elem(&port_owners, &key)) \
			return 0;                                                \
		struct ig_port_owner o = {.skip = ig_skip_current()};            \
		ig_header_current(&o.hdr);                                       \
		bpf_map_update_elem(&port_owners, &key, &o, flags);              \
		return 0;                                                        \
	}

/* ig_packet_l4 finds the transport header of skb (IPv4 or IPv6, from a
 * packet socket: the Ethernet header first). IPv6 extension headers are
 * not followed. */
static __always_inline bool ig_packet_l4(struct __sk_buff *skb, __u8 *l4, __u32 *l4_off)
{
	__u16 eth_proto = __builtin_bswap16(skb->protocol);
	if (eth_proto == ETH_P_IP) {
		__u8 vihl;
		if (bpf_skb_load_bytes(skb, ETH_HLEN, &vihl, 1) < 0 ||
		    bpf_skb_load_bytes(skb, ETH_HLEN + 9, l4, 1) < 0)
			return false;
		*l4_off = ETH_HLEN + (vihl & 0xf) * 4;
	} else if (eth_proto == ETH_P_IPV6) {
		if (bpf_skb_load_bytes(skb, ETH_HLEN + 6, l4, 1) < 0)
			return false;
		*l4_off = ETH_HLEN + 40;
	} else {
		return false;
	}
	return *l4 == IPPROTO_UDP || *l4 == IPPROTO_TCP;
}

/* ig_packet_owner fills p's header with the process of the local socket
 * with port lport (host order) talking to rport, and says whether the
 * packet passes the filters: a known process's were decided when it was
 * recorded; without one, --pid and --comm cannot match. */
static __always_inline bool ig_packet_owner(struct ig_packet *p, __u8 l4, __u16 lport, __u16 rport)
{
	struct ig_port_key key = {.netns = netns_id, .port = lport, .proto = l4};
	if (l4 == IPPROTO_TCP)
		key.rport = rport;
	struct ig_port_owner *o = bpf_map_lookup_elem(&port_owners, &key);
	__u64 now = bpf_ktime_get_boot_ns();
	if (o) {
		if (o->skip)
			return false;
		p->hdr = o->hdr;
		p->owned = 1;
	} else {
		__builtin_memset(&p->hdr, 0, sizeof(p->hdr));
		p->owned = 0;
		if (filter_pid || filter_by_comm)
			return false;
	}
	p->hdr.timestamp = now;
	return true;
}

/* IG_PACKET_SUBMIT sends packet pkt (a struct with a struct ig_packet p
 * first and __u8 data[max] after, max a power of two) with the bytes of
 * skb from its IP header on, at most max of them. Before 6.12 the helpers
 * refuse a size that may be 0, and the verifier forgets a check once the
 * compiler has moved the length around: n + 1 is in [1, max] by
 * construction. */
#define IG_PACKET_SUBMIT(skb, pkt, max)                                          \
	do {                                                                     \
		(pkt)->p.netns = netns_id;                                       \
		(pkt)->p.pkt_type = (skb)->pkt_type;                             \
		__u32 len = (skb)->len > ETH_HLEN ? (skb)->len - ETH_HLEN : 0;   \
		(pkt)->p.wire_len = len;                                         \
		if (len > (max))                                                 \
			len = (max);                                             \
		if (len < 1)                                                     \
			return 0;                                                \
		__u32 n = (len - 1) & ((max) - 1);                               \
		if (bpf_skb_load_bytes(skb, ETH_HLEN, (pkt)->data, n + 1) < 0)   \
			return 0;                                                \
		(pkt)->p.len = n + 1;                                            \
		ig_submit(pkt, offsetof(typeof(*(pkt)), data) + n + 1);          \
	} while (0)

#endif
