//go:build ignore

/* advise seccomp-profile: the system calls each mount namespace made, as
 * one byte per system call number (a byte store needs no atomic, which
 * the 5.10 verifier would refuse for an OR), added up in the kernel at
 * every system call's entry. */
#include "common.h"

#define MAX_SYSCALLS 512

struct syscall_set {
	__u8 seen[MAX_SYSCALLS];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct syscall_set);
} syscalls_by_mntns SEC(".maps");

static const struct syscall_set empty_set = {};

SEC("tracepoint/raw_syscalls/sys_enter")
int ig_record_syscall(struct trace_event_raw_sys_enter *ctx)
{
	long id = ctx->id;
	if (id < 0 || id >= MAX_SYSCALLS || ig_skip_current())
		return 0;
	__u64 mntns = task_mntns_id((struct task_struct *)bpf_get_current_task());
	struct syscall_set *set = ig_lookup_or_init(&syscalls_by_mntns, &mntns, &empty_set);
	if (!set) {
		ig_count_lost();
		return 0;
	}
	set->seen[id] = 1;
	return 0;
}
