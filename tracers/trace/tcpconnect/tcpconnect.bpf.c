//go:build ignore

/* trace tcpconnect: TCP connect attempts, reported at their outcome (the
 * handshake completed, refused, or timed out), with the time the handshake
 * took. From sock/inet_sock_set_state: CLOSE -> SYN_SENT in the
 * connecting process records it as the socket's owner (bpf/sock.h); the
 * outcome, in softirq as often as not, is reported with that process.
 * The source port is chosen after SYN_SENT, so the attempt itself cannot
 * be reported with it. */
#include "sock.h"

struct connect_event {
	struct event_header hdr;
	struct ig_sock_ends ends;
	__u64 netns;
	__u64 latency_ns; /* from the connect call to the outcome */
	__s32 error;      /* the errno of a failed connect; 0 when established */
	__u8 owner;       /* hdr is the process's */
	__u8 pad[3];
};

const volatile __u64 min_latency_ns = 0;

const struct connect_event *const connect_event_type __attribute__((unused)) = 0;

SEC("tracepoint/sock/inet_sock_set_state")
int set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	if (BPF_CORE_READ(ctx, protocol) != IG_IPPROTO_TCP)
		return 0;
	struct sock *sk = (struct sock *)BPF_CORE_READ(ctx, skaddr);
	int from = BPF_CORE_READ(ctx, oldstate), to = BPF_CORE_READ(ctx, newstate);
	__u64 key = (__u64)sk, now = bpf_ktime_get_boot_ns();

	if (to == TCP_SYN_SENT) { /* connect(2), in the connecting process */
		ig_sock_own(sk, now);
		return 0;
	}
	if (from != TCP_SYN_SENT || (to != TCP_ESTABLISHED && to != TCP_CLOSE))
		return 0;
	struct ig_sock_owner *o = bpf_map_lookup_elem(&sock_owners, &key);
	struct connect_event e = {};
	e.netns = ig_sock_netns(sk);
	if (!ig_sock_reported(o, e.netns) || !ig_sock_read_ends(sk, &e.ends))
		goto out;
	e.owner = ig_sock_header(&e.hdr, o, now);
	if (o && o->start_ns)
		e.latency_ns = now - o->start_ns;
	if (e.latency_ns < min_latency_ns)
		goto out;
	if (to == TCP_CLOSE)
		e.error = ig_sock_connect_error(sk);
	ig_submit(&e, sizeof(e));
out:
	bpf_map_delete_elem(&sock_owners, &key);
	return 0;
}
