//go:build ignore

/* trace tcp: TCP connects (with their outcome), accepts and closes.
 *   sock/inet_sock_set_state  every state change: a connect starts
 *                             (CLOSE -> SYN_SENT, in the connecting
 *                             process), succeeds (-> ESTABLISHED) or fails
 *                             (-> CLOSE, with the socket's error), a
 *                             server-side handshake begins, a connection
 *                             closes.
 *   syscalls accept, accept4  the accepting process, at the syscall's exit:
 *                             the socket behind the returned descriptor.
 * Handshakes complete and connections close in softirq as often as not:
 * the process is the one recorded as the socket's owner (bpf/sock.h) at
 * connect or accept. A connection ig did not see begin has no owner: its
 * close is attributed by the socket's network namespace. */
#include "sock.h"

/* TCP_ESTABLISHED, TCP_SYN_SENT... are vmlinux.h's (enum, stable ABI). */
enum ig_tcp_op { IG_TCP_CONNECT = 0, IG_TCP_ACCEPT = 1, IG_TCP_CLOSE = 2 };

struct tcp_event {
	struct event_header hdr; /* the owner's; zero but the time when none is known */
	struct ig_sock_ends ends;
	__u64 netns;
	__u64 latency_ns;  /* connect: from the connect call to its outcome */
	__u64 duration_ns; /* close: since the connect or the handshake began; 0 when ig did not see it */
	__u64 sent;        /* close: bytes sent and acknowledged */
	__u64 received;    /* close: bytes received */
	__s32 error;       /* connect: the errno of a failed connect; 0 otherwise */
	__s32 fd;          /* connect: its descriptor; accept: the listener's; close: -1 (as IG) */
	__s32 accept_fd;   /* accept: the descriptor it returned; -1 otherwise */
	__u8 op;
	__u8 owner; /* hdr is the process's */
	__u8 pad[2];
};

const volatile bool connect_only = false;
const volatile bool accept_only = false;
const volatile bool failure_only = false;

const struct tcp_event *const tcp_event_type __attribute__((unused)) = 0;

/* The event is built here, not on the 512-byte stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tcp_event);
} scratch SEC(".maps");

/* payload gives the data bytes a closing connection sent (once each, not
 * its retransmissions) and received. The kernel's received count takes
 * the peer's FIN as a byte: it was received when the connection closes
 * from CLOSE_WAIT, LAST_ACK or CLOSING, or from FIN_WAIT2 once the socket
 * is done (SOCK_DONE, which the FIN sets; a FIN_WAIT2 timeout does not). */
#define IG_SOCK_DONE 1
static __always_inline void payload(struct sock *sk, int from, __u64 *sent, __u64 *received)
{
	struct tcp_sock *tp = (struct tcp_sock *)sk;
	*sent = BPF_CORE_READ(tp, bytes_sent) - BPF_CORE_READ(tp, bytes_retrans);
	__u64 got = BPF_CORE_READ(tp, bytes_received);
	bool fin = from == TCP_CLOSE_WAIT || from == TCP_LAST_ACK || from == TCP_CLOSING ||
		   (from == TCP_FIN_WAIT2 && (BPF_CORE_READ(sk, __sk_common.skc_flags) & (1UL << IG_SOCK_DONE)));
	if (fin && got > 0)
		got--;
	*received = got;
}

static __always_inline bool wanted(__u8 op, __s32 error)
{
	if (connect_only && op != IG_TCP_CONNECT)
		return false;
	if (accept_only && op != IG_TCP_ACCEPT)
		return false;
	if (failure_only && error == 0)
		return false;
	return true;
}

/* emit sends an event of sk: with the owner's header, or without a
 * process, when the filters let it by. */
static __always_inline void emit(struct sock *sk, __u8 op, struct ig_sock_owner *o, __u64 now,
				 __s32 error, bool closing, int closing_from, __s32 fd, __s32 accept_fd)
{
	if (!wanted(op, error))
		return;
	__u64 netns = ig_sock_netns(sk);
	if (!ig_sock_reported(o, netns))
		return;
	__u32 zero = 0;
	struct tcp_event *e = bpf_map_lookup_elem(&scratch, &zero);
	if (!e)
		return;
	__builtin_memset(e, 0, sizeof(*e));
	if (!ig_sock_read_ends(sk, &e->ends))
		return;
	e->owner = ig_sock_header(&e->hdr, o, now);
	e->netns = netns;
	e->op = op;
	e->error = error;
	e->fd = fd;
	e->accept_fd = accept_fd;
	if (o && o->start_ns && op == IG_TCP_CONNECT)
		e->latency_ns = now - o->start_ns;
	if (closing) {
		if (o && o->start_ns)
			e->duration_ns = now - o->start_ns;
		payload(sk, closing_from, &e->sent, &e->received);
	}
	ig_submit(e, sizeof(*e));
}

SEC("tracepoint/sock/inet_sock_set_state")
int set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	if (BPF_CORE_READ(ctx, protocol) != IG_IPPROTO_TCP)
		return 0;
	struct sock *sk = (struct sock *)BPF_CORE_READ(ctx, skaddr);
	int from = BPF_CORE_READ(ctx, oldstate), to = BPF_CORE_READ(ctx, newstate);
	__u64 key = (__u64)sk, now = bpf_ktime_get_boot_ns();

	if (ig_sock_track_start(sk, from, to, now))
		return 0;
	struct ig_sock_owner *o = bpf_map_lookup_elem(&sock_owners, &key);
	/* A connect's descriptor is its owner's, recorded at connect (sock.h);
	 * a close has none, as in IG. */
	__s32 fd = o ? o->fd : -1;
	if (from == TCP_SYN_SENT && to == TCP_ESTABLISHED) {
		emit(sk, IG_TCP_CONNECT, o, now, 0, false, 0, fd, -1);
		return 0;
	}
	if (to != TCP_CLOSE)
		return 0;
	if (from == TCP_SYN_SENT) {
		emit(sk, IG_TCP_CONNECT, o, now, ig_sock_connect_error(sk), false, 0, fd, -1);
	} else if (from != TCP_LISTEN && from != TCP_SYN_RECV) {
		emit(sk, IG_TCP_CLOSE, o, now, 0, true, from, -1, -1);
	}
	bpf_map_delete_elem(&sock_owners, &key);
	return 0;
}

/* At accept's exit the registers saved at entry still hold its first
 * argument, the listener's descriptor; the owner holds the one returned. */
static __always_inline void accepted(struct sock *sk, struct ig_sock_owner *o, __u64 now)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__s32 listener = BPF_CORE_READ(ig_current_regs(task), di);
	emit(sk, IG_TCP_ACCEPT, o, now, 0, false, 0, listener, o ? o->fd : -1);
}

IG_SOCK_OWNER_ACCEPTS(accepted)
IG_SOCK_OWNER_SEED
