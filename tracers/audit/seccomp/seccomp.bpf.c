//go:build ignore

/* audit seccomp. The kprobe variant: audit_seccomp, which the kernel calls
 * for each seccomp action it logs, in the task that made the system call.
 * The audit-netlink variant reads the same records from the kernel's
 * audit multicast group, in Go, and only needs this object to remember
 * the mount namespace of processes that exited (a seccomp kill ends the
 * process before ig reads its record). The kprobe variant takes the
 * task's user stack (where it made the system call); the audit-netlink
 * variant has none: no tracepoint fires in the task's context for every
 * action. */
#include "stack.h"

struct seccomp_event {
	struct event_header hdr;
	__u64 syscall;
	__u32 code; /* the action and its data (SECCOMP_RET_*) */
	__u32 pad;
	struct ig_user_stack ustack;
};

const struct seccomp_event *const seccomp_event_type __attribute__((unused)) = 0;

SEC("kprobe/audit_seccomp")
int BPF_KPROBE(ig_audit_seccomp, unsigned long syscall, long signr, int code)
{
	if (ig_skip_current())
		return 0;
	struct seccomp_event ev = {.syscall = syscall, .code = code};
	ig_header_current(&ev.hdr);
	ig_current_user_stack(ctx, &ev.ustack);
	ig_submit(&ev, sizeof(ev));
	return 0;
}

/* A process that exited: its mount namespace, for the records that come
 * after it (pid -> mount namespace number). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u64);
} exited SEC(".maps");

SEC("tracepoint/sched/sched_process_exit")
int ig_note_exit(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	__u64 mntns = task_mntns_id(task);
	bpf_map_update_elem(&exited, &pid, &mntns, BPF_ANY);
	return 0;
}
