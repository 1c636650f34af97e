//go:build ignore

/* advise network-policy: the connections of each network namespace,
 * counted in the kernel by (namespace, direction, protocol, peer, port).
 *   sock/inet_sock_set_state  TCP: a connect (CLOSE -> SYN_SENT, egress:
 *                             the peer is the destination, the port its
 *                             port) and an accepted handshake (SYN_RECV ->
 *                             ESTABLISHED, in softirq, ingress: the peer
 *                             is the client, the port the local one).
 *   net/net_dev_queue         UDP egress: a datagram a UDP socket hands to
 *                             a device of its own network namespace (not
 *                             again when a bridge or veth passes it on in
 *                             another), its destination read from the IP
 *                             and UDP headers (sendto needs no connect).
 * Attribution is by the socket's network namespace: a handshake completes
 * in softirq, where the current task is whoever was interrupted. UDP
 * received is not seen (no tracepoint gives its socket). */
#include "sock.h"

#define IG_IPPROTO_UDP 17
#define IG_TCP_NEW_SYN_RECV 12
enum ig_direction { IG_EGRESS = 0, IG_INGRESS = 1 };

struct conn_key {
	__u64 netns;
	__u8 addr[16]; /* the peer; IPv4 in the first 4 bytes */
	__u16 family;
	__u16 port;    /* egress: the peer's; ingress: the local one (host order) */
	__u8 proto;    /* IPPROTO_TCP, IPPROTO_UDP */
	__u8 direction;
	__u8 pad[2];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct conn_key);
	__type(value, __u64);
} conns SEC(".maps");

static const __u64 zero_count = 0;

static __always_inline void count(struct conn_key *k)
{
	if (ig_netns_skipped(k->netns))
		return;
	__u64 *n = ig_lookup_or_init(&conns, k, &zero_count);
	if (!n) {
		ig_count_lost();
		return;
	}
	__sync_fetch_and_add(n, 1);
}

SEC("tracepoint/sock/inet_sock_set_state")
int ig_tcp_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	if (BPF_CORE_READ(ctx, protocol) != IG_IPPROTO_TCP)
		return 0;
	int from = BPF_CORE_READ(ctx, oldstate), to = BPF_CORE_READ(ctx, newstate);
	struct conn_key k = {.proto = IG_IPPROTO_TCP};
	if (to == TCP_SYN_SENT) {
		k.direction = IG_EGRESS;
		k.port = BPF_CORE_READ(ctx, dport);
	} else if (from == TCP_SYN_RECV && to == TCP_ESTABLISHED) {
		k.direction = IG_INGRESS;
		k.port = BPF_CORE_READ(ctx, sport);
	} else {
		return 0;
	}
	k.family = BPF_CORE_READ(ctx, family);
	if (k.family == IG_AF_INET)
		BPF_CORE_READ_INTO((__u32 *)k.addr, ctx, daddr);
	else if (k.family == IG_AF_INET6)
		BPF_CORE_READ_INTO(&k.addr, ctx, daddr_v6);
	else
		return 0;
	k.netns = ig_sock_netns((struct sock *)BPF_CORE_READ(ctx, skaddr));
	count(&k);
	return 0;
}

SEC("tracepoint/net/net_dev_queue")
int ig_udp_send(struct trace_event_raw_net_dev_template *ctx)
{
	struct sk_buff *skb = (struct sk_buff *)BPF_CORE_READ(ctx, skbaddr);
	struct sock *sk = BPF_CORE_READ(skb, sk);
	if (!sk)
		return 0;
	/* Request and time-wait sockets are not full sockets: their
	 * sk_protocol is not to be read. */
	__u8 state = BPF_CORE_READ(sk, __sk_common.skc_state);
	if (state == IG_TCP_NEW_SYN_RECV || state == TCP_TIME_WAIT)
		return 0;
	if (BPF_CORE_READ(sk, sk_protocol) != IG_IPPROTO_UDP)
		return 0;
	struct conn_key k = {.proto = IG_IPPROTO_UDP, .direction = IG_EGRESS};
	k.netns = ig_sock_netns(sk);
	if (BPF_CORE_READ(skb, dev, nd_net.net, ns.inum) != k.netns)
		return 0;
	unsigned char *head = BPF_CORE_READ(skb, head);
	__u16 nh = BPF_CORE_READ(skb, network_header), th = BPF_CORE_READ(skb, transport_header);
	__u8 version = 0;
	bpf_probe_read_kernel(&version, 1, head + nh);
	version >>= 4;
	if (version == 4) {
		__u8 proto = 0;
		bpf_probe_read_kernel(&proto, 1, head + nh + 9);
		if (proto != IG_IPPROTO_UDP)
			return 0;
		k.family = IG_AF_INET;
		bpf_probe_read_kernel(k.addr, 4, head + nh + 16);
	} else if (version == 6) {
		__u8 next = 0;
		bpf_probe_read_kernel(&next, 1, head + nh + 6);
		if (next != IG_IPPROTO_UDP)
			return 0;
		k.family = IG_AF_INET6;
		bpf_probe_read_kernel(k.addr, 16, head + nh + 24);
	} else {
		return 0;
	}
	__u16 port = 0;
	bpf_probe_read_kernel(&port, 2, head + th + 2);
	k.port = __builtin_bswap16(port);
	count(&k);
	return 0;
}
