//go:build ignore

/* trace dns: DNS messages over UDP and TCP port 53, from a socket filter
 * on a packet socket per network namespace (tracers.RunCapture): the
 * packet from its IP header on, up to 512 bytes, for Go to parse. A
 * socket filter only looks: it returns 0, and the packet socket keeps
 * nothing. */
#include "common.h"

#define ETH_HLEN 14
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define DNS_PORT 53
#define PACKET_OUTGOING 4
#define LOOPBACK_IFINDEX 1
#define MAX_CAPTURE 512

const volatile __u64 netns_id = 0; /* the namespace this copy watches */

struct dns_packet {
	__u64 timestamp;
	__u64 netns;
	__u32 len;      /* bytes in data */
	__u32 wire_len; /* the packet's length from its IP header */
	__u8 pkt_type;  /* PACKET_HOST (0), PACKET_OUTGOING (4)... */
	__u8 pad[7];
	__u8 data[MAX_CAPTURE];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct dns_packet);
} scratch SEC(".maps");

const struct dns_packet *const dns_packet_type __attribute__((unused)) = 0;

SEC("socket")
int dns_filter(struct __sk_buff *skb)
{
	/* Loopback shows each packet twice, sent and received: the sent one. */
	if (skb->ifindex == LOOPBACK_IFINDEX && skb->pkt_type != PACKET_OUTGOING)
		return 0;
	__u16 eth_proto = __builtin_bswap16(skb->protocol);
	__u32 l4_off;
	__u8 l4;
	if (eth_proto == ETH_P_IP) {
		__u8 vihl;
		if (bpf_skb_load_bytes(skb, ETH_HLEN, &vihl, 1) < 0 ||
		    bpf_skb_load_bytes(skb, ETH_HLEN + 9, &l4, 1) < 0)
			return 0;
		l4_off = ETH_HLEN + (vihl & 0xf) * 4;
	} else if (eth_proto == ETH_P_IPV6) {
		/* Extension headers are not followed: DNS packets have none. */
		if (bpf_skb_load_bytes(skb, ETH_HLEN + 6, &l4, 1) < 0)
			return 0;
		l4_off = ETH_HLEN + 40;
	} else {
		return 0;
	}
	if (l4 != IPPROTO_UDP && l4 != IPPROTO_TCP)
		return 0;
	__u16 ports[2];
	if (bpf_skb_load_bytes(skb, l4_off, ports, sizeof(ports)) < 0)
		return 0;
	if (ports[0] != __builtin_bswap16(DNS_PORT) && ports[1] != __builtin_bswap16(DNS_PORT))
		return 0;
	if (l4 == IPPROTO_TCP) {
		/* Only segments that carry bytes: not the handshake's, nor
		 * bare acknowledgements. */
		__u8 doff;
		if (bpf_skb_load_bytes(skb, l4_off + 12, &doff, 1) < 0)
			return 0;
		if (skb->len <= l4_off + (doff >> 4) * 4)
			return 0;
	}

	__u32 zero = 0;
	struct dns_packet *p = bpf_map_lookup_elem(&scratch, &zero);
	if (!p)
		return 0;
	p->timestamp = bpf_ktime_get_boot_ns();
	p->netns = netns_id;
	p->pkt_type = skb->pkt_type;
	__u32 len = skb->len > ETH_HLEN ? skb->len - ETH_HLEN : 0;
	p->wire_len = len;
	if (len > MAX_CAPTURE)
		len = MAX_CAPTURE;
	if (len < 1)
		return 0;
	/* Before 6.12 the helpers refuse a size that may be 0, and the
	 * verifier forgets the check above once the compiler has moved len
	 * around: n + 1 is in [1, 512] by construction. */
	__u32 n = (len - 1) & (MAX_CAPTURE - 1);
	if (bpf_skb_load_bytes(skb, ETH_HLEN, p->data, n + 1) < 0)
		return 0;
	p->len = n + 1;
	/* Only what was captured goes to the ring buffer. */
	ig_submit(p, offsetof(struct dns_packet, data) + n + 1);
	return 0;
}
