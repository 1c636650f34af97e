//go:build ignore

/* trace dns: DNS messages over UDP and TCP port 53, from a socket filter
 * on a packet socket per network namespace (tracers.RunCapture): the
 * packet from its IP header on, up to 512 bytes, for Go to parse, with
 * the process of the client's socket where it is local (capture.h) and,
 * with --paths, its working directory and executable. A
 * socket filter only looks: it returns 0, and the packet socket keeps
 * nothing. */
#define IG_PROC_PATHS
#include "capture.h"

#define DNS_PORT 53
#define MAX_CAPTURE 512

IG_PACKET_TYPE(dns_packet, MAX_CAPTURE);

IG_PORT_OWNER_PROGRAM

SEC("socket")
int dns_filter(struct __sk_buff *skb)
{
	/* Loopback shows each packet twice, sent and received: the sent one. */
	bool loopback = skb->ifindex == LOOPBACK_IFINDEX;
	if (loopback && skb->pkt_type != PACKET_OUTGOING)
		return 0;
	__u8 l4;
	__u32 l4_off;
	if (!ig_packet_l4(skb, &l4, &l4_off))
		return 0;
	__u16 ports[2];
	if (bpf_skb_load_bytes(skb, l4_off, ports, sizeof(ports)) < 0)
		return 0;
	__u16 sport = __builtin_bswap16(ports[0]), dport = __builtin_bswap16(ports[1]);
	if (sport != DNS_PORT && dport != DNS_PORT)
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
	struct dns_packet *pkt = bpf_map_lookup_elem(&scratch, &zero);
	if (!pkt)
		return 0;
	/* The process is the client's: the sender of a query, the receiver of
	 * a response, when it is local; else the local server's. */
	bool outgoing = skb->pkt_type == PACKET_OUTGOING;
	bool from_client = dport == DNS_PORT;
	__u16 lport = outgoing ? sport : dport, rport = outgoing ? dport : sport;
	if (loopback && !from_client) {
		lport = dport;
		rport = sport;
	}
	if (!ig_packet_owner(&pkt->p, l4, lport, rport))
		return 0;
	ig_packet_paths(&pkt->p);
	IG_PACKET_SUBMIT(skb, pkt, MAX_CAPTURE);
	return 0;
}
