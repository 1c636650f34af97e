/* Block request tracking, shared by top block-io and profile block-io: who
 * issued each request and when it went to the device, keyed by the
 * request's address, from the block tracepoints (tp_btf: their raw
 * arguments carry the request itself, the tracefs ones do not).
 *
 * The process is the one current at block_rq_insert, else at
 * block_rq_issue: the submitter for most requests; writeback, readahead
 * completion and requests dispatched later by the block layer show the
 * kernel thread (kworker, kblockd) that issued them. */
#ifndef IG_BLOCK_H
#define IG_BLOCK_H

#include "common.h"

/* Before 5.11 block_rq_insert, _issue and _merge passed (queue, request),
 * since (request). ig sets this from the kernel's BTF; the verifier drops
 * the other branch, so ctx[1] is never read where there is no ctx[1]. */
const volatile bool rq_second_arg = false;

struct ig_block_req {
	__u64 issued_ns; /* 0 until issued */
	__u64 mntns_id;
	__u32 pid;
	__u8 comm[TASK_COMM_LEN];
	__u8 pad[4];
};

/* Requests in flight. LRU: a request ig does not see leave (freed
 * otherwise) must not fill the map for good. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct ig_block_req);
} block_reqs SEC(".maps");

static __always_inline __u64 ig_block_rq(__u64 *ctx)
{
	return rq_second_arg ? ctx[1] : ctx[0];
}

/* ig_block_track records the request's issuer (the first time it is seen)
 * and, at issue, its start. The filters apply to the issuer: a request
 * inserted by a process that passed them is timed even when a kworker
 * issues it, so they are checked only for a request not seen before. */
static __always_inline int ig_block_track(__u64 *ctx, bool issue)
{
	__u64 rq = ig_block_rq(ctx);
	struct ig_block_req *r = bpf_map_lookup_elem(&block_reqs, &rq);
	if (!r || (!issue && r->issued_ns)) {
		/* New, or a request struct reused for another I/O (blk-mq
		 * keeps them): the current task is its issuer. */
		if (ig_skip_current())
			return 0;
		struct ig_block_req n = {};
		n.pid = bpf_get_current_pid_tgid() >> 32;
		n.mntns_id = task_mntns_id((struct task_struct *)bpf_get_current_task());
		bpf_get_current_comm(n.comm, sizeof(n.comm));
		bpf_map_update_elem(&block_reqs, &rq, &n, BPF_ANY);
		r = bpf_map_lookup_elem(&block_reqs, &rq);
		if (!r)
			return 0;
	}
	if (issue)
		r->issued_ns = bpf_ktime_get_ns(); /* a requeued request starts again */
	return 0;
}

struct request___rq_disk {
	struct gendisk *rq_disk;
} __attribute__((preserve_access_index));

#define IG_REQ_OP_MASK 0xff
#define IG_REQ_OP_WRITE 1

/* What block_rq_complete says of a tracked request. */
struct ig_block_done {
	struct ig_block_req req;
	__u64 latency_ns;
	__u32 major;
	__u32 minor;
	__u32 bytes;
	bool write;
};

/* ig_block_complete fills d for a request issued while tracing and stops
 * tracking it; false for one not tracked (filtered out, or issued before ig
 * attached). block_rq_complete(rq, error, nr_bytes) has always had these
 * arguments. It runs in whatever context the device completes in (often an
 * interrupt), so it does not look at the current task. */
static __always_inline bool ig_block_complete(__u64 *ctx, struct ig_block_done *d)
{
	__u64 rq = ctx[0];
	struct ig_block_req *r = bpf_map_lookup_elem(&block_reqs, &rq);
	if (!r)
		return false;
	if (!r->issued_ns) /* inserted, never issued: nothing to time */
		return false;
	d->req = *r;
	bpf_map_delete_elem(&block_reqs, &rq);
	d->latency_ns = bpf_ktime_get_ns() - d->req.issued_ns;
	d->bytes = (__u32)ctx[2];

	struct request *req = (struct request *)rq;
	struct gendisk *disk;
	/* 5.17 dropped request.rq_disk for the queue's disk. */
	if (bpf_core_field_exists(struct request___rq_disk, rq_disk))
		disk = BPF_CORE_READ((struct request___rq_disk *)req, rq_disk);
	else
		disk = BPF_CORE_READ(req, q, disk);
	if (disk) {
		d->major = BPF_CORE_READ(disk, major);
		d->minor = BPF_CORE_READ(disk, first_minor);
	}
	d->write = (BPF_CORE_READ(req, cmd_flags) & IG_REQ_OP_MASK) == IG_REQ_OP_WRITE;
	return true;
}

/* Both gadgets track requests with these programs; each adds its own
 * block_rq_complete. */
SEC("tp_btf/block_rq_insert")
int block_rq_insert(__u64 *ctx)
{
	return ig_block_track(ctx, false);
}

SEC("tp_btf/block_rq_issue")
int block_rq_issue(__u64 *ctx)
{
	return ig_block_track(ctx, true);
}

/* A request merged into another is freed without completing: forget it,
 * or the next request in its memory would get its issuer. */
SEC("tp_btf/block_rq_merge")
int block_rq_merge(__u64 *ctx)
{
	__u64 rq = ig_block_rq(ctx);
	bpf_map_delete_elem(&block_reqs, &rq);
	return 0;
}

#endif /* IG_BLOCK_H */
