//go:build ignore

/* top tcp: bytes sent and received per process and TCP connection, added
 * up in the kernel and drained by ig every interval (tracers.RunInterval).
 * Only what was really moved counts (the return value), not what a call
 * asked for.
 *   tracepoint  sock/sock_send_length and sock/sock_recv_length (6.3+):
 *               fired in the calling process by sock_sendmsg and
 *               sock_recvmsg with the result.
 *   kprobe      tcp_sendmsg (entry for the socket, return for the bytes)
 *               and tcp_cleanup_rbuf (the bytes copied to the reader), as
 *               Inspektor Gadget does. */
#include "sock.h"

/* 0: both; else AF_INET or AF_INET6 (--family). */
const volatile __u16 filter_family = 0;

#define MSG_PEEK 2

struct conn_key {
	__u64 mntns_id;
	__u32 pid;
	__u32 pad;
	struct ig_sock_ends ends;
};

struct conn_stats {
	struct event_header hdr; /* of the thread that first moved bytes this interval */
	__u64 sent;
	__u64 received;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct conn_key);
	__type(value, struct conn_stats);
} stats SEC(".maps");

/* count adds bytes moved on sk by the current process. The caller has
 * checked ig_skip_current. */
static __always_inline void count(struct sock *sk, __s64 bytes, bool sent)
{
	if (bytes <= 0 || !sk || !ig_sock_is_tcp(sk))
		return;
	struct conn_key k = {};
	if (!ig_sock_read_ends(sk, &k.ends))
		return;
	if (filter_family && k.ends.family != filter_family)
		return;
	k.pid = bpf_get_current_pid_tgid() >> 32;
	k.mntns_id = task_mntns_id((struct task_struct *)bpf_get_current_task());
	struct conn_stats *s = bpf_map_lookup_elem(&stats, &k);
	if (!s) {
		struct conn_stats init = {};
		ig_header_current(&init.hdr);
		s = ig_lookup_or_init(&stats, &k, &init);
		if (!s)
			return;
	}
	if (sent)
		__sync_fetch_and_add(&s->sent, bytes);
	else
		__sync_fetch_and_add(&s->received, bytes);
}

SEC("tracepoint/sock/sock_send_length")
int sock_send_length(struct trace_event_raw_sock_msg_length *ctx)
{
	if (ig_skip_current())
		return 0;
	count((struct sock *)ctx->sk, ctx->ret, true);
	return 0;
}

SEC("tracepoint/sock/sock_recv_length")
int sock_recv_length(struct trace_event_raw_sock_msg_length *ctx)
{
	if (ig_skip_current())
		return 0;
	if (ctx->flags & MSG_PEEK) /* read again later */
		return 0;
	count((struct sock *)ctx->sk, ctx->ret, false);
	return 0;
}

/* tcp_sendmsg's socket, by thread, from entry to return. */
IG_PENDING_BY_THREAD(struct sock *);

SEC("kprobe/tcp_sendmsg")
int BPF_KPROBE(tcp_sendmsg_entry, struct sock *sk)
{
	if (ig_skip_current())
		return 0;
	__u32 tid = ig_current_tid();
	bpf_map_update_elem(&pending, &tid, &sk, BPF_ANY);
	return 0;
}

SEC("kretprobe/tcp_sendmsg")
int BPF_KRETPROBE(tcp_sendmsg_return, int ret)
{
	__u32 tid = ig_current_tid();
	struct sock **skp = bpf_map_lookup_elem(&pending, &tid);
	if (!skp)
		return 0;
	struct sock *sk = *skp;
	bpf_map_delete_elem(&pending, &tid);
	count(sk, ret, true);
	return 0;
}

SEC("kprobe/tcp_cleanup_rbuf")
int BPF_KPROBE(tcp_cleanup_rbuf, struct sock *sk, int copied)
{
	if (ig_skip_current())
		return 0;
	count(sk, copied, false);
	return 0;
}
