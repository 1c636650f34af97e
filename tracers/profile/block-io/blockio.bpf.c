//go:build ignore

/* profile block-io: a log2 histogram of block I/O latency, from issue to
 * completion, in microseconds; one for everything, or one per disk and/or
 * per mount namespace (ig folds namespaces into containers and the host). */
#include "block.h"
#include "histogram.h"

const volatile bool per_disk = false;
const volatile bool per_mntns = false;

struct hist_key {
	__u64 mntns_id; /* 0 unless per_mntns */
	__u32 major;    /* 0:0 unless per_disk */
	__u32 minor;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct hist_key);
	__type(value, struct ig_hist);
} hists SEC(".maps");

SEC("tp_btf/block_rq_complete")
int block_rq_complete(__u64 *ctx)
{
	struct ig_block_done d = {};
	if (!ig_block_complete(ctx, &d))
		return 0;
	struct hist_key k = {};
	if (per_disk) {
		k.major = d.major;
		k.minor = d.minor;
	}
	if (per_mntns)
		k.mntns_id = d.req.mntns_id;
	static const struct ig_hist zero = {};
	struct ig_hist *h = ig_lookup_or_init(&hists, &k, &zero);
	if (!h)
		return 0;
	ig_hist_add(h, d.latency_ns / 1000);
	return 0;
}
