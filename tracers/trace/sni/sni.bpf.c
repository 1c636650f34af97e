//go:build ignore

/* trace sni: TLS ClientHellos on any TCP port, from a socket filter on a
 * packet socket per network namespace (tracers.RunCapture). A segment
 * that starts a ClientHello record is sent whole (up to MAX_CAPTURE
 * bytes from its IP header); when the record goes on past it (a large
 * hello: post-quantum key shares), its flow is noted and the segments
 * that carry the rest are sent too, for Go to put together and parse. */
#include "capture.h"

#define MAX_CAPTURE 4096
#define TLS_HANDSHAKE 0x16
#define TLS_CLIENT_HELLO 0x01

IG_PACKET_TYPE(sni_packet, MAX_CAPTURE);

/* One direction of a connection. */
struct sni_flow {
	__u64 netns;
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u32 pad;
};

/* Flows in the middle of a ClientHello -> the record's bytes still to
 * come. LRU: a flow whose rest never came ages out. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct sni_flow);
	__type(value, __u32);
} sni_flows SEC(".maps");

IG_PORT_OWNER_PROGRAM

SEC("socket")
int sni_filter(struct __sk_buff *skb)
{
	/* Loopback shows each packet twice, sent and received: the sent one. */
	if (skb->ifindex == LOOPBACK_IFINDEX && skb->pkt_type != PACKET_OUTGOING)
		return 0;
	__u8 l4;
	__u32 l4_off;
	if (!ig_packet_l4(skb, &l4, &l4_off) || l4 != IPPROTO_TCP)
		return 0;
	__u16 ports[2];
	__u8 doff;
	if (bpf_skb_load_bytes(skb, l4_off, ports, sizeof(ports)) < 0 ||
	    bpf_skb_load_bytes(skb, l4_off + 12, &doff, 1) < 0)
		return 0;
	__u32 payload_off = l4_off + (doff >> 4) * 4;
	if (skb->len <= payload_off)
		return 0; /* no payload: a handshake segment or an acknowledgement */
	__u32 payload = skb->len - payload_off;

	struct sni_flow flow = {.netns = netns_id, .sport = ports[0], .dport = ports[1]};
	int err;
	if (__builtin_bswap16(skb->protocol) == ETH_P_IP)
		err = bpf_skb_load_bytes(skb, ETH_HLEN + 12, flow.saddr, 4) |
		      bpf_skb_load_bytes(skb, ETH_HLEN + 16, flow.daddr, 4);
	else
		err = bpf_skb_load_bytes(skb, ETH_HLEN + 8, flow.saddr, 32);
	if (err < 0)
		return 0;

	/* A TLS record: type, version (3.x), length; then the handshake's type. */
	__u8 hdr[6] = {};
	bpf_skb_load_bytes(skb, payload_off, hdr, payload >= 6 ? 6 : 1);
	if (hdr[0] == TLS_HANDSHAKE && hdr[1] == 3 && hdr[5] == TLS_CLIENT_HELLO && payload >= 6) {
		__u32 record = 5 + ((__u32)hdr[3] << 8 | hdr[4]);
		if (record > payload) {
			__u32 rest = record - payload;
			bpf_map_update_elem(&sni_flows, &flow, &rest, BPF_ANY);
		}
	} else {
		__u32 *rest = bpf_map_lookup_elem(&sni_flows, &flow);
		if (!rest)
			return 0;
		if (payload >= *rest)
			bpf_map_delete_elem(&sni_flows, &flow);
		else
			*rest -= payload;
	}

	__u32 zero = 0;
	struct sni_packet *pkt = bpf_map_lookup_elem(&scratch, &zero);
	if (!pkt)
		return 0;
	/* The process is the local end's: the client's for a hello it sends. */
	__u16 sport = __builtin_bswap16(ports[0]), dport = __builtin_bswap16(ports[1]);
	bool outgoing = skb->pkt_type == PACKET_OUTGOING;
	if (!ig_packet_owner(&pkt->p, l4, outgoing ? sport : dport, outgoing ? dport : sport))
		return 0;
	IG_PACKET_SUBMIT(skb, pkt, MAX_CAPTURE);
	return 0;
}
