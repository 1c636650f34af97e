//go:build ignore

/* snapshot socket: the TCP and UDP sockets of the network namespace the
 * iterator is opened in (ig opens one in the host's and in each
 * container's), and the processes that hold sockets open.
 *   iter/tcp, iter/udp  one socket_record per socket: TCP's listening,
 *                       established, request and time-wait sockets alike
 *                       (all begin with a struct sock_common).
 *   iter/task_file      one socket_owner per socket descriptor: the
 *                       process (its header) and the socket's inode. */
#include "sock.h"

#define IG_IPPROTO_UDP 17

struct socket_record {
	struct ig_sock_ends ends;
	__u64 netns;
	__u64 inode; /* 0 for request and time-wait sockets, which have no file */
	__u32 uid;
	__u8 protocol;
	__u8 state;
	__u8 pad[2];
};

struct socket_owner {
	struct event_header hdr;
	__u64 inode;
};

const struct socket_record *const socket_record_type __attribute__((unused)) = 0;
const struct socket_owner *const socket_owner_type __attribute__((unused)) = 0;

static __always_inline void record(struct seq_file *seq, struct sock_common *skc, __u8 protocol, __u32 uid)
{
	struct socket_record r = {};
	r.ends.family = BPF_CORE_READ(skc, skc_family);
	if (r.ends.family == IG_AF_INET) {
		BPF_CORE_READ_INTO((__u32 *)r.ends.saddr, skc, skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)r.ends.daddr, skc, skc_daddr);
	} else if (r.ends.family == IG_AF_INET6) {
		BPF_CORE_READ_INTO(&r.ends.saddr, skc, skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&r.ends.daddr, skc, skc_v6_daddr.in6_u.u6_addr8);
	} else {
		return;
	}
	/* skc_num: the local port, host order, in every kind of sock. */
	r.ends.lport = BPF_CORE_READ(skc, skc_num);
	r.ends.dport = __builtin_bswap16(BPF_CORE_READ(skc, skc_dport));
	r.state = BPF_CORE_READ(skc, skc_state);
	r.protocol = protocol;
	r.uid = uid;
	r.netns = BPF_CORE_READ(skc, skc_net.net, ns.inum);
	if (r.state != TCP_TIME_WAIT && r.state != TCP_NEW_SYN_RECV)
		r.inode = BPF_CORE_READ((struct sock *)skc, sk_socket, file, f_inode, i_ino);
	bpf_seq_write(seq, &r, sizeof(r));
}

SEC("iter/tcp")
int snapshot_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	if (skc)
		record(ctx->meta->seq, skc, IG_IPPROTO_TCP, ctx->uid);
	return 0;
}

SEC("iter/udp")
int snapshot_udp(struct bpf_iter__udp *ctx)
{
	struct udp_sock *udp = ctx->udp_sk;
	if (udp)
		record(ctx->meta->seq, (struct sock_common *)udp, IG_IPPROTO_UDP, ctx->uid);
	return 0;
}

SEC("iter/task_file")
int socket_owners(struct bpf_iter__task_file *ctx)
{
	struct file *f = ctx->file;
	struct task_struct *task = ctx->task;
	if (!f || !task)
		return 0;
	struct inode *ino = BPF_CORE_READ(f, f_inode);
	if (!ino || (BPF_CORE_READ(ino, i_mode) & IG_S_IFMT) != IG_S_IFSOCK)
		return 0;
	struct socket_owner o = {};
	ig_header_task(&o.hdr, task);
	o.inode = BPF_CORE_READ(ino, i_ino);
	bpf_seq_write(ctx->meta->seq, &o, sizeof(o));
	return 0;
}
