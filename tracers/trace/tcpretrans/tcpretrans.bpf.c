//go:build ignore

/* trace tcpretrans: TCP retransmissions.
 *   tracepoint  tcp/tcp_retransmit_skb: every segment retransmitted
 *               (RETRANS).
 *   kprobe      the same, and tcp_send_loss_probe: tail-loss probes
 *               (LOSS), which no tracepoint reports.
 * Retransmissions are sent from timers in softirq as often as not: the
 * process is the socket's owner, recorded at connect and accept
 * (bpf/sock.h), and a connection made before ig started is attributed by
 * its network namespace. */
#include "sock.h"

enum { IG_RETRANS = 0, IG_LOSS = 1 };

struct retrans_event {
	struct event_header hdr; /* the owner's; zero but the time when none is known */
	struct ig_sock_ends ends;
	__u64 netns;
	__u16 tcpflags; /* the retransmitted segment's; 0 for a loss probe */
	__u8 state;     /* the connection's TCP state */
	__u8 type;      /* IG_RETRANS or IG_LOSS */
	__u8 owner;     /* hdr is the process's */
	__u8 pad[3];
};

const struct retrans_event *const retrans_event_type __attribute__((unused)) = 0;

static __always_inline void emit(struct sock *sk, struct sk_buff *skb, __u8 type)
{
	__u64 key = (__u64)sk, now = bpf_ktime_get_boot_ns();
	struct ig_sock_owner *o = bpf_map_lookup_elem(&sock_owners, &key);
	struct retrans_event e = {};
	e.netns = ig_sock_netns(sk);
	if (!ig_sock_reported(o, e.netns) || !ig_sock_read_ends(sk, &e.ends))
		return;
	e.owner = ig_sock_header(&e.hdr, o, now);
	e.state = BPF_CORE_READ(sk, __sk_common.skc_state);
	e.type = type;
	if (skb) {
		/* TCP_SKB_CB(skb): the control block in skb->cb. */
		struct tcp_skb_cb *cb = (void *)skb + bpf_core_field_offset(struct sk_buff, cb);
		/* A __u8 until 6.17, a __u16 since (AccECN): read at its size. */
		e.tcpflags = BPF_CORE_READ_BITFIELD_PROBED(cb, tcp_flags);
	}
	ig_submit(&e, sizeof(e));
}

/* The tracefs layout (a stable ABI) of tcp_retransmit_skb's first fields,
 * the same before 6.x (tcp_event_sk_skb) and after (its own event). */
struct retransmit_ctx {
	__u64 common;
	const void *skbaddr;
	const void *skaddr;
};

SEC("tracepoint/tcp/tcp_retransmit_skb")
int retransmit(struct retransmit_ctx *ctx)
{
	emit((struct sock *)ctx->skaddr, (struct sk_buff *)ctx->skbaddr, IG_RETRANS);
	return 0;
}

SEC("kprobe/tcp_send_loss_probe")
int BPF_KPROBE(loss_probe, struct sock *sk)
{
	emit(sk, NULL, IG_LOSS);
	return 0;
}

/* The owners: recorded at connect and accept, forgotten at close. */
IG_SOCK_OWNER_PROGRAMS
