/* Shared by the packet gadgets (trace dns, trace sni), whose socket filter
 * tracers.RunCapture loads once per network namespace: the packet header
 * they send, reading a packet's IP and transport headers, and the process
 * behind a packet.
 *
 * A socket filter runs where the packet is, not where its process is, and
 * may not ask for the current task. So the process is recorded earlier,
 * in process context: when a TCP or UDP socket hands a packet to a device
 * (tp_btf/net_dev_queue, in the sending system call), its local port and
 * network namespace are noted with the current task in port_owners. The
 * filter looks its packet's local port up there. */
#ifndef IG_CAPTURE_H
#define IG_CAPTURE_H

#include "common.h"

#define ETH_HLEN 14
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#ifndef IG_AF_INET
#define IG_AF_INET 2
#define IG_AF_INET6 10
#endif
#define PACKET_OUTGOING 4
#define LOOPBACK_IFINDEX 1
#define IG_TCP_SYN_SENT 2
#define IG_TCP_TIME_WAIT 6
#define IG_TCP_NEW_SYN_RECV 12

const volatile __u64 netns_id = 0; /* the namespace this copy watches */

/* Mirrored by tracers.PacketHeader: every captured packet starts so. */
struct ig_packet {
	struct event_header hdr; /* the local socket's process when owned; else only the time */
	__u64 netns;
	__u32 len;      /* bytes captured, from the IP header on */
	__u32 wire_len; /* the packet's length from its IP header */
	__u8 pkt_type;  /* PACKET_HOST (0), PACKET_OUTGOING (4)... */
	__u8 owned;     /* hdr is the process's */
	__u8 pad[2];
	__u32 paths;    /* IG_PROC_PATHS: the walk of the process's paths in proc_paths; 0 none */
};

/* IG_PACKET_TYPE declares a gadget's packet, struct name: the header,
 * then up to max bytes (a power of two) from the IP header on; a per-CPU
 * scratch copy to build it in (too big for the stack); and a reference
 * for bpf2go to generate its Go type. */
#define IG_PACKET_TYPE(name, max)                                               \
	struct name {                                                            \
		struct ig_packet p;                                              \
		__u8 data[max];                                                  \
	};                                                                       \
	struct {                                                                 \
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);                         \
		__uint(max_entries, 1);                                          \
		__type(key, __u32);                                              \
		__type(value, struct name);                                      \
	} scratch SEC(".maps");                                                  \
	const struct name *const name##_type __attribute__((unused)) = 0

/* A local port in a network namespace. TCP keys name the remote port too:
 * one listening port serves many processes' connections. */
struct ig_port_key {
	__u64 netns;
	__u16 port;  /* host order */
	__u16 rport; /* host order; 0 for UDP */
	__u8 proto;
	__u8 pad[3];
};

struct ig_port_owner {
	struct event_header hdr;
	__u8 skip; /* the process is filtered out (--pid, --comm, -c) */
	__u8 pad[7];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct ig_port_key);
	__type(value, struct ig_port_owner);
} port_owners SEC(".maps");

/* ig_tcp_payload is the number of TCP payload bytes in an skb on its way
 * to a device, whose headers are all set. */
static __always_inline __s64 ig_tcp_payload(struct sk_buff *skb)
{
	unsigned char *head = skb->head;
	__u16 th = skb->transport_header;
	__u8 doff = 0;
	bpf_probe_read_kernel(&doff, 1, head + th + 12);
	__s64 from_data = (__s64)th - (__s64)(skb->data - head);
	return (__s64)skb->len - from_data - (doff >> 4) * 4;
}

#ifdef IG_PROC_PATHS
/* A gadget that defines IG_PROC_PATHS before including this file also
 * gets the working directory and executable of a packet's process (IG's
 * cwd and exepath), under want_paths (--paths). They are read where the
 * owner is recorded, in process context, once per process: proc_paths
 * keeps them by thread group, with what they were read from, and they
 * are read again only when that changed (a chdir, an exec, a pid used
 * again). A packet carries only the number of the walk its process's
 * paths came from (ig_packet.paths): ig reads the paths from proc_paths
 * once per walk (tracers.PathsReader), not a kilobyte per packet. */
const volatile bool want_paths = false;

#define IG_PROC_PATH 512 /* bytes of components kept per path, as IG */

/* Mirrored by tracers.ProcPaths. Components as ig_read_path writes them,
 * leaf first: the first IG_PROC_PATH bytes of what it wrote, *_len bytes
 * in all (more than IG_PROC_PATH: the last component kept may be partial,
 * and user space drops it). */
struct ig_proc_paths {
	__u64 exe_file; /* what they were read from: mm->exe_file, */
	__u64 pwd;      /* fs->pwd's dentry */
	__u64 pwd_mnt;  /* and mount */
	__u32 walk;     /* this walk's number, never 0 */
	__u16 cwd_len;
	__u16 exe_len;
	__u8 cwd_cut;   /* the walk stopped short of the root */
	__u8 exe_cut;
	__u8 pad[6];
	__u8 cwd[IG_PROC_PATH];
	__u8 exe[IG_PROC_PATH];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 2048);
	__type(key, __u32); /* thread group id */
	__type(value, struct ig_proc_paths);
} proc_paths SEC(".maps");

/* Where the walks are made: ig_read_path's whole budget (so that it stops
 * and says so rather than wrap), and its cursor in map memory. */
struct ig_paths_walk {
	__u32 cursor;
	__u8 buf[IG_PATH_MAX + IG_NAME_MAX];
	struct ig_proc_paths entry;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ig_paths_walk);
} paths_walk SEC(".maps");

/* ig_walk_path reads path into out (IG_PROC_PATH bytes), returning whether
 * it was cut; *len is how many bytes the walk wrote. */
static __always_inline __u8 ig_walk_path(struct ig_paths_walk *w, const struct path *path, __u8 *out, __u16 *len)
{
	w->cursor = 0;
	__u8 cut = ig_read_path(path, w->buf, &w->cursor, IG_PATH_MAX - 1);
	*len = w->cursor;
	bpf_probe_read_kernel(out, IG_PROC_PATH, w->buf);
	return cut;
}

/* ig_note_paths records the current process's paths unless proc_paths
 * has them already, read from the same executable and directory. */
static __always_inline void ig_note_paths(void)
{
	if (!want_paths)
		return;
	/* This runs for every packet a process sends: where the kernel has
	 * bpf_get_current_task_btf (5.11), the check is plain loads; the
	 * loader drops the branch the kernel cannot run. */
	__u64 exe, pwd, pwd_mnt;
	if (bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_get_current_task_btf)) {
		struct task_struct *t = bpf_get_current_task_btf();
		struct fs_struct *fs = t->fs;
		exe = (__u64)t->mm->exe_file;
		pwd = (__u64)fs->pwd.dentry;
		pwd_mnt = (__u64)fs->pwd.mnt;
	} else {
		struct task_struct *t = (struct task_struct *)bpf_get_current_task();
		exe = (__u64)BPF_CORE_READ(t, mm, exe_file);
		pwd = (__u64)BPF_CORE_READ(t, fs, pwd.dentry);
		pwd_mnt = (__u64)BPF_CORE_READ(t, fs, pwd.mnt);
	}
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct ig_proc_paths *known = bpf_map_lookup_elem(&proc_paths, &tgid);
	if (known && known->exe_file == exe && known->pwd == pwd && known->pwd_mnt == pwd_mnt)
		return;
	if (!pwd)
		return; /* no fs: an exiting task */
	__u32 zero = 0;
	struct ig_paths_walk *w = bpf_map_lookup_elem(&paths_walk, &zero);
	if (!w)
		return;
	/* The walks are rare: through bpf_probe_read_kernel, as trace exec's. */
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fs_struct *fs = BPF_CORE_READ(task, fs);
	struct file *exe_file = BPF_CORE_READ(task, mm, exe_file);
	struct ig_proc_paths *e = &w->entry;
	e->exe_file = exe;
	e->pwd = pwd;
	e->pwd_mnt = pwd_mnt;
	/* Tells walks of one process apart (ig caches by it): the clock's
	 * low bits, which two walks of a process do not share but by a 1 in
	 * 2^32 chance. */
	e->walk = (__u32)bpf_ktime_get_ns() | 1;
	e->cwd_cut = ig_walk_path(w, &fs->pwd, e->cwd, &e->cwd_len);
	e->exe_len = 0;
	e->exe_cut = 0;
	if (exe_file)
		e->exe_cut = ig_walk_path(w, &exe_file->f_path, e->exe, &e->exe_len);
	bpf_map_update_elem(&proc_paths, &tgid, e, BPF_ANY);
}

/* ig_packet_paths notes in p which walk of its process's paths there is
 * (0: none, or not --paths). */
static __always_inline void ig_packet_paths(struct ig_packet *p)
{
	__u32 pid = p->hdr.pid;
	struct ig_proc_paths *e = want_paths && p->owned ? bpf_map_lookup_elem(&proc_paths, &pid) : NULL;
	p->paths = e ? e->walk : 0;
}
#else
static __always_inline void ig_note_paths(void) {}
#endif

/* IG_PORT_OWNER_PROGRAM declares the program that fills port_owners: the
 * current task is a UDP packet's sender (UDP sends within the system
 * call), and a TCP connection's when it sends the SYN (connect) or its
 * first bytes. Bare acknowledgements are left alone: the kernel sends
 * them from interrupts, on behalf of whoever. Request and time-wait
 * sockets are not full sockets and have no process. */
#define IG_PORT_OWNER_PROGRAM                                                    \
	SEC("tp_btf/net_dev_queue")                                              \
	int BPF_PROG(ig_port_owner, struct sk_buff *skb)                         \
	{                                                                        \
		struct sock *sk = skb->sk;                                       \
		if (!sk)                                                         \
			return 0;                                                \
		__u16 family = sk->__sk_common.skc_family;                       \
		__u8 state = sk->__sk_common.skc_state;                          \
		if ((family != IG_AF_INET && family != IG_AF_INET6) ||           \
		    state == IG_TCP_NEW_SYN_RECV || state == IG_TCP_TIME_WAIT)   \
			return 0;                                                \
		__u16 proto = sk->sk_protocol;                                   \
		struct ig_port_key key = {                                       \
			.netns = sk->__sk_common.skc_net.net->ns.inum,           \
			.port = sk->__sk_common.skc_num,                         \
			.proto = proto,                                          \
		};                                                               \
		__u64 flags = BPF_ANY;                                           \
		if (proto == IPPROTO_TCP) {                                      \
			key.rport = __builtin_bswap16(sk->__sk_common.skc_dport); \
			if (state != IG_TCP_SYN_SENT) {                          \
				if (ig_tcp_payload(skb) <= 0)                    \
					return 0;                                \
				flags = BPF_NOEXIST;                             \
			}                                                        \
		} else if (proto != IPPROTO_UDP) {                               \
			return 0;                                                \
		}                                                                \
		if (flags == BPF_NOEXIST && bpf_map_lookup_elem(&port_owners, &key)) \
			return 0;                                                \
		struct ig_port_owner o = {.skip = ig_skip_current()};            \
		ig_header_current(&o.hdr);                                       \
		bpf_map_update_elem(&port_owners, &key, &o, flags);              \
		if (!o.skip)                                                     \
			ig_note_paths();                                         \
		return 0;                                                        \
	}

/* ig_packet_l4 finds the transport header of skb (IPv4 or IPv6, from a
 * packet socket: the Ethernet header first). IPv6 extension headers are
 * not followed. */
static __always_inline bool ig_packet_l4(struct __sk_buff *skb, __u8 *l4, __u32 *l4_off)
{
	__u16 eth_proto = __builtin_bswap16(skb->protocol);
	if (eth_proto == ETH_P_IP) {
		__u8 vihl;
		if (bpf_skb_load_bytes(skb, ETH_HLEN, &vihl, 1) < 0 ||
		    bpf_skb_load_bytes(skb, ETH_HLEN + 9, l4, 1) < 0)
			return false;
		*l4_off = ETH_HLEN + (vihl & 0xf) * 4;
	} else if (eth_proto == ETH_P_IPV6) {
		if (bpf_skb_load_bytes(skb, ETH_HLEN + 6, l4, 1) < 0)
			return false;
		*l4_off = ETH_HLEN + 40;
	} else {
		return false;
	}
	return *l4 == IPPROTO_UDP || *l4 == IPPROTO_TCP;
}

/* ig_packet_owner fills p's header with the process of the local socket
 * with port lport (host order) talking to rport, and says whether the
 * packet passes the filters: a known process's were decided when it was
 * recorded; without one, --pid and --comm cannot match. */
static __always_inline bool ig_packet_owner(struct ig_packet *p, __u8 l4, __u16 lport, __u16 rport)
{
	struct ig_port_key key = {.netns = netns_id, .port = lport, .proto = l4};
	if (l4 == IPPROTO_TCP)
		key.rport = rport;
	struct ig_port_owner *o = bpf_map_lookup_elem(&port_owners, &key);
	__u64 now = bpf_ktime_get_boot_ns();
	if (o) {
		if (o->skip)
			return false;
		p->hdr = o->hdr;
		p->owned = 1;
	} else {
		__builtin_memset(&p->hdr, 0, sizeof(p->hdr));
		p->owned = 0;
		if (filter_pid || filter_by_comm)
			return false;
	}
	p->hdr.timestamp = now;
	p->paths = 0;
	return true;
}

/* IG_PACKET_SUBMIT sends packet pkt (a struct with a struct ig_packet p
 * first and __u8 data[max] after, max a power of two) with the bytes of
 * skb from its IP header on, at most max of them. Before 6.12 the helpers
 * refuse a size that may be 0, and the verifier forgets a check once the
 * compiler has moved the length around: n + 1 is in [1, max] by
 * construction. */
#define IG_PACKET_SUBMIT(skb, pkt, max)                                          \
	do {                                                                     \
		(pkt)->p.netns = netns_id;                                       \
		(pkt)->p.pkt_type = (skb)->pkt_type;                             \
		__u32 len = (skb)->len > ETH_HLEN ? (skb)->len - ETH_HLEN : 0;   \
		(pkt)->p.wire_len = len;                                         \
		if (len > (max))                                                 \
			len = (max);                                             \
		if (len < 1)                                                     \
			return 0;                                                \
		__u32 n = (len - 1) & ((max) - 1);                               \
		if (bpf_skb_load_bytes(skb, ETH_HLEN, (pkt)->data, n + 1) < 0)   \
			return 0;                                                \
		(pkt)->p.len = n + 1;                                            \
		ig_submit(pkt, offsetof(typeof(*(pkt)), data) + n + 1);          \
	} while (0)

#endif
