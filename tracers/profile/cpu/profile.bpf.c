//go:build ignore

/* profile cpu: a perf_event program that the CPU clock fires -F times a
 * second on every CPU; each sample counts one under (process, stacks). */
/* Each distinct stack once: ig empties the map after each report, when
 * no sample names its ids any more. */
#define IG_STACK_ENTRIES 16384
#include "stack.h"

const volatile bool user_stacks = true;
const volatile bool kernel_stacks = true;

/* Mirrored by the Go side (bpf2go's profileSampleKey). */
struct sample_key {
	__u64 mntns_id;
	__u32 pid;
	__s32 user_stack_id;   /* negative: none (kernel thread, -K, or lost) */
	__s32 kernel_stack_id; /* negative: none (-U, or lost) */
	__u8 comm[TASK_COMM_LEN];
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct sample_key);
	__type(value, __u64);
} counts SEC(".maps");

SEC("perf_event")
int ig_profile_cpu(struct bpf_perf_event_data *ctx)
{
	if (ig_skip_current())
		return 0;
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	if (pid_tgid == 0)
		return 0; /* the idle task: nothing ran */

	struct sample_key key = {};
	key.pid = pid_tgid >> 32;
	key.mntns_id = task_mntns_id((struct task_struct *)bpf_get_current_task());
	bpf_get_current_comm(key.comm, sizeof(key.comm));
	key.user_stack_id = user_stacks ? ig_user_stack(ctx) : -1;
	key.kernel_stack_id = kernel_stacks ? ig_kernel_stack(ctx) : -1;

	__u64 zero = 0;
	__u64 *n = ig_lookup_or_init(&counts, &key, &zero);
	if (n)
		__sync_fetch_and_add(n, 1);
	return 0;
}
