//go:build ignore

/* profile tcprtt: a log2 histogram of TCP round-trip times (the smoothed
 * RTT the kernel keeps per socket), taken at every segment an established
 * socket receives; one for everything, or one per local or remote address.
 *   tp_btf      tcp_probe: the socket itself, so its network namespace.
 *   tracepoint  tcp/tcp_probe, which carries srtt but not the namespace.
 *   kprobe      tcp_rcv_established, which the tracepoint is called from.
 * Segments are received in softirq: the current task is whoever was
 * interrupted, so there is no process to filter by (the Go side refuses
 * --pid and --comm). The socket's network namespace says which container
 * a segment is for: -c, --containers and --per-container count per
 * namespace (per_netns), which the Go side folds into containers. */
#include "sock.h"
#include "histogram.h"

const volatile bool by_laddr = false;
const volatile bool by_raddr = false;
const volatile bool milliseconds = false;
const volatile bool per_netns = false;
/* Filters; 0 (family 0) means any. Ports in host order. */
const volatile __u16 filter_lport = 0;
const volatile __u16 filter_rport = 0;
const volatile __u16 filter_laddr_family = 0;
const volatile __u16 filter_raddr_family = 0;
const volatile __u8 filter_laddr[16] = {};
const volatile __u8 filter_raddr[16] = {};

struct hist_key {
	__u8 addr[16]; /* the local or remote address with by_laddr or by_raddr; else zero */
	__u16 family;  /* its family; 0 when not by address */
	__u8 pad[6];
	__u64 netns;   /* the socket's network namespace with per_netns; else zero */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct hist_key);
	__type(value, struct ig_hist);
} hists SEC(".maps");

/* Not __builtin_memcmp: filter_* are volatile constants the compiler must
 * not fold. */
static __always_inline bool addr_differs(const volatile __u8 *want, const __u8 *got)
{
	for (int i = 0; i < 16; i++)
		if (want[i] != got[i])
			return true;
	return false;
}

static __always_inline void add(struct ig_sock_ends *e, __u32 srtt_us, __u64 netns)
{
	if (e->family != IG_AF_INET && e->family != IG_AF_INET6)
		return;
	if (filter_lport && e->lport != filter_lport)
		return;
	if (filter_rport && e->dport != filter_rport)
		return;
	if (filter_laddr_family &&
	    (e->family != filter_laddr_family || addr_differs(filter_laddr, e->saddr)))
		return;
	if (filter_raddr_family &&
	    (e->family != filter_raddr_family || addr_differs(filter_raddr, e->daddr)))
		return;
	struct hist_key k = {};
	if (per_netns) {
		if (ig_netns_skipped(netns))
			return;
		k.netns = netns;
	}
	if (by_laddr) {
		__builtin_memcpy(k.addr, e->saddr, 16);
		k.family = e->family;
	} else if (by_raddr) {
		__builtin_memcpy(k.addr, e->daddr, 16);
		k.family = e->family;
	}
	static const struct ig_hist zero = {};
	struct ig_hist *h = ig_lookup_or_init(&hists, &k, &zero);
	if (!h)
		return;
	ig_hist_add(h, milliseconds ? srtt_us / 1000 : srtt_us);
}

/* tcp_probe's addresses are a sockaddr_in or sockaddr_in6: the family
 * first, the IPv4 address at 4, the IPv6 one at 8. */
static __always_inline void sockaddr_ip(const __u8 *sa, __u16 family, __u8 *out)
{
	if (family == IG_AF_INET)
		__builtin_memcpy(out, sa + 4, 4);
	else
		__builtin_memcpy(out, sa + 8, 16);
}

SEC("tracepoint/tcp/tcp_probe")
int tcp_probe(struct trace_event_raw_tcp_probe *ctx)
{
	struct ig_sock_ends e = {};
	__u8 sa[28];
	/* Read, not loaded: the fields' offsets are relocated (CO-RE), and
	 * the verifier refuses loads through a moved context pointer. */
	BPF_CORE_READ_INTO(&sa, ctx, saddr);
	e.family = *(__u16 *)sa;
	if (e.family != IG_AF_INET && e.family != IG_AF_INET6)
		return 0;
	sockaddr_ip(sa, e.family, e.saddr);
	BPF_CORE_READ_INTO(&sa, ctx, daddr);
	sockaddr_ip(sa, e.family, e.daddr);
	e.lport = BPF_CORE_READ(ctx, sport);
	e.dport = BPF_CORE_READ(ctx, dport);
	add(&e, BPF_CORE_READ(ctx, srtt), 0);
	return 0;
}

static __always_inline void add_sock(struct sock *sk)
{
	struct ig_sock_ends e = {};
	if (!ig_sock_read_ends(sk, &e))
		return;
	/* srtt_us is 8 times the smoothed RTT in microseconds; tcp_probe
	 * shows it shifted, so does this. */
	__u32 srtt = BPF_CORE_READ((struct tcp_sock *)sk, srtt_us) >> 3;
	add(&e, srtt, per_netns ? ig_sock_netns(sk) : 0);
}

SEC("tp_btf/tcp_probe")
int BPF_PROG(tcp_probe_btf, struct sock *sk, struct sk_buff *skb)
{
	add_sock(sk);
	return 0;
}

SEC("kprobe/tcp_rcv_established")
int BPF_KPROBE(tcp_rcv_established, struct sock *sk)
{
	add_sock(sk);
	return 0;
}
