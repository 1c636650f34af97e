/* Reading a socket's addresses, ports and network namespace, and the
 * network-namespace filter, shared by the TCP gadgets (top tcp, profile
 * tcprtt). The Go side formats addresses with tracers.SockAddr. */
#ifndef IG_SOCK_H
#define IG_SOCK_H

#include "common.h"

#define IG_AF_INET 2
#define IG_AF_INET6 10
#define IG_IPPROTO_TCP 6

/* Local and remote ends of a socket; IPv4 addresses take the first 4 bytes
 * of saddr and daddr, the rest is zero. Ports in host order. */
struct ig_sock_ends {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 family;
	__u16 lport;
	__u16 dport;
	__u16 pad;
};

/* ig_sock_family is the socket's address family (AF_INET, AF_INET6...). */
static __always_inline __u16 ig_sock_family(struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_family);
}

/* ig_sock_is_tcp: sk_protocol is a plain field since 5.6 (a bitfield
 * before, which ig's 5.8 minimum leaves out). */
static __always_inline bool ig_sock_is_tcp(struct sock *sk)
{
	return BPF_CORE_READ(sk, sk_protocol) == IG_IPPROTO_TCP;
}

/* ig_sock_read_ends fills e from sk and returns false when sk is neither an
 * IPv4 nor an IPv6 socket. */
static __always_inline bool ig_sock_read_ends(struct sock *sk, struct ig_sock_ends *e)
{
	e->family = ig_sock_family(sk);
	/* inet_sport, not skc_num: a connection closed by both ends is
	 * unhashed and its skc_num zeroed while its last bytes may still be
	 * waiting to be read. */
	e->lport = __builtin_bswap16(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	e->dport = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (e->family == IG_AF_INET) {
		BPF_CORE_READ_INTO((__u32 *)e->saddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)e->daddr, sk, __sk_common.skc_daddr);
		return true;
	}
	if (e->family == IG_AF_INET6) {
		BPF_CORE_READ_INTO(&e->saddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&e->daddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
		return true;
	}
	return false;
}

/* ig_sock_netns is the number of the socket's network namespace: what
 * attributes work done in softirq, where the current task is whoever was
 * interrupted (tracers.Env.NetContainer). */
static __always_inline __u64 ig_sock_netns(struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
}

/* Network namespace number -> verdict, kept current by ig under -c and
 * --containers as mntns_filter is (serial always 0: ig holds containers'
 * network namespaces open). Only gadgets that attribute by network
 * namespace use it; the loader makes it only for them. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, struct mntns_verdict);
} netns_filter SEC(".maps");

/* ig_netns_skipped: only a verdict skips; a namespace without one (a
 * container that just started) is counted apart, for ig to decide. */
static __always_inline bool ig_netns_skipped(__u64 netns)
{
	if (filter_mntns_mode == IG_MNTNS_ALL)
		return false;
	struct mntns_verdict *v = bpf_map_lookup_elem(&netns_filter, &netns);
	return v && !v->pass;
}

/* What a socket's work in softirq (a handshake completed, a close on a
 * segment received) is attributed to: the process that connected or
 * accepted it, recorded in process context. Keyed by the struct sock
 * address; LRU, so sockets whose close ig never saw age out. */
struct ig_sock_owner {
	struct event_header hdr; /* the process's, when known */
	__u64 start_ns;          /* connect called, or handshake begun (server side) */
	__u8 known;              /* hdr is set */
	__u8 skip;               /* the process is filtered out: so are the socket's events */
	__u8 pad[2];
	__s32 fd; /* the process's descriptor of the socket: connect(2)'s, accept(2)'s, or found by the seed; -1 unknown */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct ig_sock_owner);
} sock_owners SEC(".maps");

/* ig_sock_own records the current task as sk's owner (connect, accept),
 * keeping the start time of an entry made before; skip when the filters
 * (pid, comm, mount namespace) leave the task out. */
static __always_inline struct ig_sock_owner *ig_sock_own(struct sock *sk, __u64 now)
{
	__u64 key = (__u64)sk;
	struct ig_sock_owner *o = bpf_map_lookup_elem(&sock_owners, &key);
	if (!o) {
		struct ig_sock_owner fresh = {.start_ns = now, .fd = -1};
		bpf_map_update_elem(&sock_owners, &key, &fresh, BPF_ANY);
		o = bpf_map_lookup_elem(&sock_owners, &key);
		if (!o)
			return NULL;
	}
	o->skip = ig_skip_current();
	if (!o->skip) {
		ig_header_current(&o->hdr);
		o->known = 1;
	}
	return o;
}

/* IG_SOCK_OWNER_SEED declares the iterator ig runs once before it
 * attaches (tracers.start): every TCP socket already open gets the first
 * process found holding it as its owner, so that a connection made
 * before ig started still has its process. Its start is unknown (0): no
 * duration or latency is computed from it. */
#define IG_S_IFMT 00170000
#define IG_S_IFSOCK 0140000
#define IG_SOCK_OWNER_SEED                                                       \
	SEC("iter/task_file")                                                    \
	int seed_owners(struct bpf_iter__task_file *ctx)                         \
	{                                                                        \
		struct file *f = ctx->file;                                      \
		struct task_struct *task = ctx->task;                            \
		if (!f || !task)                                                 \
			return 0;                                                \
		if ((BPF_CORE_READ(f, f_inode, i_mode) & IG_S_IFMT) != IG_S_IFSOCK) \
			return 0;                                                \
		struct socket *sock = BPF_CORE_READ(f, private_data);            \
		struct sock *sk = sock ? BPF_CORE_READ(sock, sk) : NULL;         \
		if (!sk || !ig_sock_is_tcp(sk))                                  \
			return 0;                                                \
		__u16 family = ig_sock_family(sk);                               \
		if (family != IG_AF_INET && family != IG_AF_INET6)               \
			return 0;                                                \
		__u64 key = (__u64)sk;                                           \
		struct ig_sock_owner o = {.fd = ctx->fd};                        \
		o.skip = ig_skip_task(task);                                     \
		if (!o.skip) {                                                   \
			ig_header_task(&o.hdr, task);                            \
			o.known = 1;                                             \
		}                                                                \
		bpf_map_update_elem(&sock_owners, &key, &o, BPF_NOEXIST);        \
		return 0;                                                        \
	}

/* ig_connect_fd is the descriptor connect(2) was called with when the
 * current task is in that call (its first argument, still in the registers
 * saved at entry), else -1: a SYN sent by sendto(MSG_FASTOPEN) or by
 * io_uring. No entry program: the SYN_SENT state change happens inside
 * the call. */
#define IG_NR_CONNECT 42 /* x86_64 */
static __always_inline __s32 ig_connect_fd(void)
{
	if (ig_current_syscall() != IG_NR_CONNECT)
		return -1;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	return BPF_CORE_READ(ig_current_regs(task), di);
}

/* ig_sock_track_start records the start of a connection on a state
 * change (sock/inet_sock_set_state): a connect (-> SYN_SENT, in the
 * connecting process, its owner), or a server-side handshake (LISTEN ->
 * SYN_RECV, a new child socket whose owner is known at accept). It
 * returns whether the change was one of those. */
static __always_inline bool ig_sock_track_start(struct sock *sk, int from, int to, __u64 now)
{
	if (to == TCP_SYN_SENT) {
		struct ig_sock_owner *o = ig_sock_own(sk, now);
		if (o)
			o->fd = ig_connect_fd();
		return true;
	}
	if (from == TCP_LISTEN && to == TCP_SYN_RECV) {
		__u64 key = (__u64)sk;
		struct ig_sock_owner fresh = {.start_ns = now, .fd = -1};
		bpf_map_update_elem(&sock_owners, &key, &fresh, BPF_ANY);
		return true;
	}
	return false;
}

/* ig_sock_track keeps the owners current for a gadget that only needs
 * them: starts recorded, the socket forgotten at close. */
static __always_inline void ig_sock_track(struct sock *sk, int from, int to)
{
	if (!ig_sock_track_start(sk, from, to, bpf_ktime_get_boot_ns()) && to == TCP_CLOSE) {
		__u64 key = (__u64)sk;
		bpf_map_delete_elem(&sock_owners, &key);
	}
}

/* ig_sock_accepted records the current task as the owner of the TCP
 * socket behind fd, which accept(2) returned, and returns the socket
 * (NULL for none) and its owner entry. */
static __always_inline struct sock *ig_sock_accepted(long fd, __u64 now, struct ig_sock_owner **o)
{
	if (fd < 0)
		return NULL;
	struct file *f = ig_fd_file(fd);
	struct socket *sock = f ? BPF_CORE_READ(f, private_data) : NULL;
	struct sock *sk = sock ? BPF_CORE_READ(sock, sk) : NULL;
	if (!sk || !ig_sock_is_tcp(sk))
		return NULL;
	__u16 family = ig_sock_family(sk);
	if (family != IG_AF_INET && family != IG_AF_INET6)
		return NULL;
	*o = ig_sock_own(sk, now);
	if (*o)
		(*o)->fd = fd;
	return sk;
}

/* IG_SOCK_OWNER_ACCEPTS declares the programs that record accepted
 * sockets' owners, at the exit of accept(2) and accept4(2); on_accept(sk,
 * owner, now) is called for each (a no-op for gadgets that only need the
 * owners). */
#define IG_SOCK_ACCEPT_EXIT(syscall, on_accept)                                 \
	SEC("tracepoint/syscalls/sys_exit_" #syscall)                            \
	int exit_##syscall(struct trace_event_raw_sys_exit *ctx)                 \
	{                                                                        \
		struct ig_sock_owner *o = NULL;                                  \
		__u64 now = bpf_ktime_get_boot_ns();                             \
		struct sock *sk = ig_sock_accepted(ctx->ret, now, &o);           \
		if (sk)                                                          \
			on_accept(sk, o, now);                                   \
		return 0;                                                        \
	}
#define IG_SOCK_OWNER_ACCEPTS(on_accept)                                         \
	IG_SOCK_ACCEPT_EXIT(accept4, on_accept)                                  \
	IG_SOCK_ACCEPT_EXIT(accept, on_accept)

/* ig_sock_connect_error is the errno of a connect that failed (SYN_SENT
 * -> CLOSE): the socket's error (ECONNREFUSED on a reset, ETIMEDOUT),
 * ECONNRESET when it has none. */
static __always_inline __s32 ig_sock_connect_error(struct sock *sk)
{
	int err = BPF_CORE_READ(sk, sk_err);
	return err ? err : 104; /* ECONNRESET */
}

static __always_inline void ig_sock_no_accept_event(struct sock *sk, struct ig_sock_owner *o, __u64 now) {}

/* IG_SOCK_OWNER_PROGRAMS declares the programs that keep sock_owners
 * current for a gadget whose events come from elsewhere (a retransmit, a
 * drop): state changes and accepts. */
#define IG_SOCK_OWNER_PROGRAMS                                                   \
	SEC("tracepoint/sock/inet_sock_set_state")                               \
	int set_state(struct trace_event_raw_inet_sock_set_state *ctx)           \
	{                                                                        \
		if (BPF_CORE_READ(ctx, protocol) != IG_IPPROTO_TCP)              \
			return 0;                                                \
		ig_sock_track((struct sock *)BPF_CORE_READ(ctx, skaddr),         \
			      BPF_CORE_READ(ctx, oldstate), BPF_CORE_READ(ctx, newstate)); \
		return 0;                                                        \
	}                                                                        \
	IG_SOCK_OWNER_ACCEPTS(ig_sock_no_accept_event)                          \
	IG_SOCK_OWNER_SEED

/* ig_sock_reported says whether an event of sk, whose owner is o (NULL
 * when none is recorded), passes the filters: an owner's were decided
 * when it was recorded; without one, only the container filters apply,
 * by network namespace, and --pid and --comm cannot match. */
static __always_inline bool ig_sock_reported(struct ig_sock_owner *o, __u64 netns)
{
	if (o && o->skip)
		return false;
	if (o && o->known)
		return true;
	return !filter_pid && !filter_by_comm && !ig_netns_skipped(netns);
}

/* ig_sock_header fills an event's header for work on a socket: the
 * owner's process, or only the time when none is known; it returns
 * whether the process is known. */
static __always_inline bool ig_sock_header(struct event_header *h, struct ig_sock_owner *o, __u64 now)
{
	bool known = o && o->known;
	if (known)
		*h = o->hdr;
	h->timestamp = now;
	return known;
}

#endif
