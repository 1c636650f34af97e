//go:build ignore

/* top block-io: block I/O per process and device, added up in the kernel
 * (stats) and drained by ig every interval. */
#include "block.h"

struct blockio_key {
	__u64 mntns_id;
	__u32 pid;
	__u32 major;
	__u32 minor;
	__u8 write;
	__u8 pad[3];
	__u8 comm[TASK_COMM_LEN];
};

struct blockio_value {
	__u64 bytes;
	__u64 us;
	__u64 ops;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct blockio_key);
	__type(value, struct blockio_value);
} stats SEC(".maps");

SEC("tp_btf/block_rq_complete")
int block_rq_complete(__u64 *ctx)
{
	struct ig_block_done d = {};
	if (!ig_block_complete(ctx, &d))
		return 0;
	struct blockio_key k = {
		.mntns_id = d.req.mntns_id,
		.pid = d.req.pid,
		.major = d.major,
		.minor = d.minor,
		.write = d.write,
	};
	__builtin_memcpy(k.comm, d.req.comm, TASK_COMM_LEN);
	struct blockio_value zero = {};
	struct blockio_value *v = ig_lookup_or_init(&stats, &k, &zero);
	if (!v)
		return 0;
	__sync_fetch_and_add(&v->bytes, d.bytes);
	__sync_fetch_and_add(&v->us, d.latency_ns / 1000);
	__sync_fetch_and_add(&v->ops, 1);
	return 0;
}
