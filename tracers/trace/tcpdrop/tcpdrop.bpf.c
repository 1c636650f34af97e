//go:build ignore

/* trace tcpdrop: TCP packets the kernel dropped, with its reason.
 *   skb/kfree_skb  every packet freed, with the reason since 5.17; those
 *                  of a TCP socket and a reason other than "not dropped"
 *                  (SKB_CONSUMED, 5.18+) or "not specified" are reported.
 * The socket is the packet's (skb->sk: the sender's, or the receiver's
 * when the kernel found it early), or since 6.12 the one it was received
 * for (rx_sk): before 6.12 most receive-side drops have none. A packet
 * with no socket (a segment to a port nothing listens on) is not
 * reported, as by Inspektor Gadget. The process
 * is the socket's owner, recorded at connect and accept (bpf/sock.h);
 * without one the drop is attributed by network namespace. The kernel
 * stack of each drop is taken: it says where the packet was dropped. */
#include "sock.h"
#include "stack.h"

struct drop_event {
	struct event_header hdr; /* the owner's; zero but the time when none is known */
	struct ig_sock_ends ends;
	__u64 netns;
	__u32 reason;   /* enum skb_drop_reason: ig names it from the kernel's BTF */
	__u16 tcpflags; /* the dropped segment's; 0 when its TCP header is not set yet */
	__u8 state;     /* the socket's TCP state */
	__u8 owner;     /* hdr is the process's */
	__s32 kernel_stack; /* id in stacks; negative: none (no room) */
	__u32 pad;
};

const struct drop_event *const drop_event_type __attribute__((unused)) = 0;

/* The TCP header's flags byte: after the ports, sequence and ack numbers
 * and the data offset. */
#define IG_TCP_FLAGS_OFFSET 13

SEC("tracepoint/skb/kfree_skb")
int kfree_skb(struct trace_event_raw_kfree_skb *ctx)
{
	int reason = BPF_CORE_READ(ctx, reason);
	int not_specified = bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_NOT_SPECIFIED);
	/* SKB_CONSUMED (a packet freed, not dropped) and NOT_SPECIFIED are
	 * below or at NOT_SPECIFIED. */
	if (reason <= not_specified)
		return 0;
	struct sk_buff *skb = BPF_CORE_READ(ctx, skbaddr);
	struct sock *sk = BPF_CORE_READ(skb, sk);
	/* A packet received has no skb->sk until TCP queues it: since 6.12
	 * the tracepoint gives the socket it was for (rx_sk). */
	if (!sk && bpf_core_field_exists(ctx->rx_sk))
		sk = BPF_CORE_READ(ctx, rx_sk);
	if (!sk || !ig_sock_is_tcp(sk))
		return 0;
	__u64 key = (__u64)sk, now = bpf_ktime_get_boot_ns();
	struct ig_sock_owner *o = bpf_map_lookup_elem(&sock_owners, &key);
	struct drop_event e = {};
	e.netns = ig_sock_netns(sk);
	if (!ig_sock_reported(o, e.netns) || !ig_sock_read_ends(sk, &e.ends))
		return 0;
	e.owner = ig_sock_header(&e.hdr, o, now);
	e.reason = reason;
	e.state = BPF_CORE_READ(sk, __sk_common.skc_state);
	__u16 th = BPF_CORE_READ(skb, transport_header);
	if (th != (__u16)~0U) {
		__u8 flags = 0;
		unsigned char *head = BPF_CORE_READ(skb, head);
		bpf_probe_read_kernel(&flags, 1, head + th + IG_TCP_FLAGS_OFFSET);
		e.tcpflags = flags;
	}
	e.kernel_stack = ig_kernel_stack(ctx);
	ig_submit(&e, sizeof(e));
	return 0;
}

/* The owners: recorded at connect and accept, forgotten at close. */
IG_SOCK_OWNER_PROGRAMS
