//go:build ignore

/* trace bind: every bind(2) of an IPv4 or IPv6 socket, from the syscall
 * tracepoints (no kprobe on inet_bind needed). The arguments are saved at
 * entry; at exit the address comes from the caller's sockaddr, still mapped,
 * and the rest from the socket behind the fd (protocol, options, bound
 * device, and the port the kernel picked for port 0). */
#include "common.h"
#include <bpf/bpf_endian.h>

#define AF_INET 2
#define AF_INET6 10
#define EBADF 9
#define ENOTSOCK 88
#define IFNAMSIZ 16
#define MAX_PORTS 64
#define NETDEV_HASHENTRIES 256 /* 1 << NETDEV_HASHBITS */
#define NETDEV_CHAIN 16        /* devices looked at in one hash chain */

/* opts bits, as Inspektor Gadget (and bcc's bindsnoop) number them. */
#define OPT_FREEBIND 1
#define OPT_TRANSPARENT 2
#define OPT_BIND_ADDRESS_NO_PORT 4
#define OPT_REUSEADDR 8
#define OPT_REUSEPORT 16

struct bind_event {
	struct event_header hdr;
	__s64 ret;
	__u8 addr[16]; /* IPv4 in the first 4 bytes */
	__u32 bound_dev_if;
	__u16 port; /* host order */
	__u16 protocol;
	__u16 family;
	__u8 opts;
	__u8 has_socket; /* 0: the fd was no IPv4/IPv6 socket (EBADF, ENOTSOCK, EINVAL): protocol, opts and device unknown */
	__u8 ifname[IFNAMSIZ]; /* the bound device's name in the socket's network namespace */
};

struct bind_args {
	__u64 addr; /* user pointer to the sockaddr */
	__u32 fd;
	__u32 addrlen;
};

const volatile bool ignore_errors = true;
const volatile __u32 nports = 0; /* --ports: how many of ports[] are set; 0 means every port */
const volatile __u16 ports[MAX_PORTS] = {};

IG_PENDING_BY_THREAD(struct bind_args);

/* Only cast to, never a map's value: this keeps the type in the object's
 * BTF, for bpf2go (-type bind_event). */
const struct bind_event *const bind_event_type __attribute__((unused)) = 0;

/* Before 6.6 the inet options were bitfields of inet_sock; since, they are
 * bits of inet_flags, numbered by an anonymous enum (which CO-RE cannot
 * name, so its values are written here; the kernel fixes them explicitly). */
struct inet_sock___old {
	__u8 freebind : 1;
	__u8 transparent : 1;
	__u8 bind_address_no_port : 1;
} __attribute__((preserve_access_index));
#define INET_FLAGS_FREEBIND 11
#define INET_FLAGS_TRANSPARENT 15
#define INET_FLAGS_BIND_ADDRESS_NO_PORT 18

static __always_inline __u8 inet_opts(struct sock *sk)
{
	__u8 opts = 0;
	if (bpf_core_field_exists(struct inet_sock, inet_flags)) {
		__u64 f = BPF_CORE_READ((struct inet_sock *)sk, inet_flags);
		if (f & (1ULL << INET_FLAGS_FREEBIND))
			opts |= OPT_FREEBIND;
		if (f & (1ULL << INET_FLAGS_TRANSPARENT))
			opts |= OPT_TRANSPARENT;
		if (f & (1ULL << INET_FLAGS_BIND_ADDRESS_NO_PORT))
			opts |= OPT_BIND_ADDRESS_NO_PORT;
	} else {
		struct inet_sock___old *old = (void *)sk;
		if (BPF_CORE_READ_BITFIELD_PROBED(old, freebind))
			opts |= OPT_FREEBIND;
		if (BPF_CORE_READ_BITFIELD_PROBED(old, transparent))
			opts |= OPT_TRANSPARENT;
		if (BPF_CORE_READ_BITFIELD_PROBED(old, bind_address_no_port))
			opts |= OPT_BIND_ADDRESS_NO_PORT;
	}
	if (BPF_CORE_READ_BITFIELD_PROBED(sk, __sk_common.skc_reuse))
		opts |= OPT_REUSEADDR;
	if (BPF_CORE_READ_BITFIELD_PROBED(sk, __sk_common.skc_reuseport))
		opts |= OPT_REUSEPORT;
	return opts;
}

/* dev_name copies the name of device ifindex of the socket's network
 * namespace, as dev_get_by_index would find it: the name is the one at bind
 * time, in the right namespace, which user space could only guess later. */
/* Only the fields read: with the whole struct net_device, clang emits
 * forward declarations of its pointees in an order that changes from one
 * build to the next, and make bpf would not give the same object twice. */
struct net_device___ig {
	int ifindex;
	char name[IFNAMSIZ];
	struct hlist_node index_hlist;
} __attribute__((preserve_access_index));

static __always_inline void dev_name(struct sock *sk, __u32 ifindex, __u8 *name)
{
	struct net *net = BPF_CORE_READ(sk, __sk_common.skc_net.net);
	struct hlist_head *heads = BPF_CORE_READ(net, dev_index_head);
	struct hlist_node *n = NULL;
	bpf_probe_read_kernel(&n, sizeof(n), &heads[ifindex & (NETDEV_HASHENTRIES - 1)].first);
	__u64 off = bpf_core_field_offset(struct net_device___ig, index_hlist);
	for (int i = 0; i < NETDEV_CHAIN && n; i++) {
		struct net_device___ig *dev = (void *)n - off;
		if (BPF_CORE_READ(dev, ifindex) == (int)ifindex) {
			BPF_CORE_READ_STR_INTO((char(*)[IFNAMSIZ])name, dev, name);
			return;
		}
		n = BPF_CORE_READ(n, next);
	}
}

static __always_inline bool port_wanted(__u16 port)
{
	if (nports == 0)
		return true;
	for (int i = 0; i < MAX_PORTS; i++) {
		if (i >= nports)
			break;
		if (ports[i] == port)
			return true;
	}
	return false;
}

SEC("tracepoint/syscalls/sys_enter_bind")
int enter_bind(struct trace_event_raw_sys_enter *ctx)
{
	if (ig_skip_current())
		return 0;
	__u32 tid = ig_current_tid();
	struct bind_args args = {
		.fd = (__u32)ctx->args[0],
		.addr = ctx->args[1],
		.addrlen = (__u32)ctx->args[2],
	};
	bpf_map_update_elem(&pending, &tid, &args, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_bind")
int exit_bind(struct trace_event_raw_sys_exit *ctx)
{
	__u32 tid = ig_current_tid();
	struct bind_args *args = bpf_map_lookup_elem(&pending, &tid);
	if (!args)
		return 0;
	long ret = ctx->ret;
	if (ignore_errors && ret != 0)
		goto out;

	struct bind_event e = {};
	struct sockaddr_in6 sa = {}; /* big enough for either family */
	__u32 len = args->addrlen;
	if (len > sizeof(sa))
		len = sizeof(sa);
	if (bpf_probe_read_user(&sa, len, (void *)args->addr))
		goto out;
	/* Only inet sockets: unix, netlink and packet binds are not ports. */
	if (sa.sin6_family == AF_INET) {
		struct sockaddr_in *in = (void *)&sa;
		__builtin_memcpy(e.addr, &in->sin_addr, 4);
		e.port = bpf_ntohs(in->sin_port);
	} else if (sa.sin6_family == AF_INET6) {
		__builtin_memcpy(e.addr, &sa.sin6_addr, 16);
		e.port = bpf_ntohs(sa.sin6_port);
	} else {
		goto out;
	}
	e.family = sa.sin6_family;

	if (ret != -EBADF && ret != -ENOTSOCK) {
		struct file *f = ig_fd_file(args->fd);
		struct socket *sock = f ? BPF_CORE_READ(f, private_data) : NULL;
		struct sock *sk = sock ? BPF_CORE_READ(sock, sk) : NULL;
		__u16 family = sk ? BPF_CORE_READ(sk, __sk_common.skc_family) : 0;
		/* An inet address passed to another kind of socket (it fails):
		 * its sock is no inet_sock, whose fields would be garbage. */
		if (family == AF_INET || family == AF_INET6) {
			e.has_socket = 1;
			e.protocol = BPF_CORE_READ(sk, sk_protocol);
			e.opts = inet_opts(sk);
			e.bound_dev_if = BPF_CORE_READ(sk, __sk_common.skc_bound_dev_if);
			if (e.bound_dev_if)
				dev_name(sk, e.bound_dev_if, e.ifname);
			/* Port 0 asks the kernel for one: show the one it gave. */
			if (ret == 0 && e.port == 0)
				e.port = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
		}
	}
	if (!port_wanted(e.port))
		goto out;

	ig_header_current(&e.hdr);
	e.ret = ret;
	ig_submit(&e, sizeof(e));
out:
	bpf_map_delete_elem(&pending, &tid);
	return 0;
}
