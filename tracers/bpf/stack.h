/* Stacks: one stack map per object, named "stacks" (tracers.StackMapName),
 * and the helpers that take a stack into it. An event holds the stack's id;
 * ig reads the instruction pointers by id and names them. The same stack
 * gets the same id; a stack whose bucket holds another one gets no id
 * (negative, -EEXIST): ig counts it as lost. A streaming gadget never
 * empties the map: an event still in the ring buffer may name an id, and
 * a freed id may come to name another stack.
 * A gadget may set IG_STACK_ENTRIES before including this header. */
#ifndef IG_STACK_H
#define IG_STACK_H

#include "common.h"

#define IG_MAX_STACK_DEPTH 127 /* tracers.MaxStackDepth */
#ifndef IG_STACK_ENTRIES
#define IG_STACK_ENTRIES 10240
#endif

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, IG_STACK_ENTRIES);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, IG_MAX_STACK_DEPTH * sizeof(__u64));
} stacks SEC(".maps");

/* The kernel stack where ctx was taken, innermost first; negative when
 * none was stored. Stacks are compared whole, not by hash alone
 * (BPF_F_FAST_STACK_CMP), so that an id never names two stacks. */
static __always_inline __s32 ig_kernel_stack(void *ctx)
{
	return bpf_get_stackid(ctx, &stacks, 0);
}

/* The current task's user stack (its registers at its entry into the
 * kernel), innermost first; negative when none was stored (a kernel
 * thread has none). */
static __always_inline __s32 ig_user_stack(void *ctx)
{
	return bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
}

/* A user stack as IG's ustack carries it: beside the stack's id, what
 * tells the executable again (its inode and modification time) and the
 * task's pid in the first two levels of pid namespaces (the host's, and
 * the one below it). Mirrored by tracers.UserStackOrigin. */
struct ig_user_stack {
	__u64 exe_inode;
	__u64 mtime_sec;
	__u32 mtime_nsec;
	__s32 stack_id; /* id in stacks; negative: none */
	__u32 pid_level0;
	__u32 pidns_level0;
	__u32 pid_level1; /* 0 when the task is in the host's pid namespace */
	__u32 pidns_level1;
};

/* struct inode's modification time, by kernel: i_mtime (a timespec64)
 * until 6.6, __i_mtime in 6.7 to 6.10, i_mtime_sec and i_mtime_nsec
 * from 6.11. */
struct inode___mtime_until_6_6 {
	struct timespec64 i_mtime;
} __attribute__((preserve_access_index));
struct inode___mtime_6_7 {
	struct timespec64 __i_mtime;
} __attribute__((preserve_access_index));
struct inode___mtime_6_11 {
	__s64 i_mtime_sec;
	__u32 i_mtime_nsec;
} __attribute__((preserve_access_index));

static __always_inline void ig_inode_mtime(struct inode *inode, __u64 *sec, __u32 *nsec)
{
	if (bpf_core_field_exists(struct inode___mtime_6_11, i_mtime_sec)) {
		struct inode___mtime_6_11 *i = (void *)inode;
		*sec = BPF_CORE_READ(i, i_mtime_sec);
		*nsec = BPF_CORE_READ(i, i_mtime_nsec);
	} else if (bpf_core_field_exists(struct inode___mtime_6_7, __i_mtime)) {
		struct inode___mtime_6_7 *i = (void *)inode;
		*sec = BPF_CORE_READ(i, __i_mtime.tv_sec);
		*nsec = BPF_CORE_READ(i, __i_mtime.tv_nsec);
	} else {
		struct inode___mtime_until_6_6 *i = (void *)inode;
		*sec = BPF_CORE_READ(i, i_mtime.tv_sec);
		*nsec = BPF_CORE_READ(i, i_mtime.tv_nsec);
	}
}

/* ig_upid reads level level of pid: its number there and that pid
 * namespace's inode. struct pid's numbers[] is declared with one element
 * before 6.x, so the element is found by its size, not by index. */
static __always_inline void ig_upid(struct pid *pid, __u32 level, __u32 *nr, __u32 *ns)
{
	struct upid *u = (void *)pid + bpf_core_field_offset(struct pid, numbers) +
			 level * bpf_core_type_size(struct upid);
	*nr = BPF_CORE_READ(u, nr);
	*ns = BPF_CORE_READ(u, ns, ns.inum);
}

/* ig_current_user_stack fills s with the current task's user stack. */
static __always_inline void ig_current_user_stack(void *ctx, struct ig_user_stack *s)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	s->stack_id = ig_user_stack(ctx);
	s->exe_inode = 0;
	s->mtime_sec = 0;
	s->mtime_nsec = 0;
	struct inode *inode = BPF_CORE_READ(task, mm, exe_file, f_inode);
	if (inode) {
		s->exe_inode = BPF_CORE_READ(inode, i_ino);
		ig_inode_mtime(inode, &s->mtime_sec, &s->mtime_nsec);
	}
	struct pid *pid = BPF_CORE_READ(task, thread_pid);
	ig_upid(pid, 0, &s->pid_level0, &s->pidns_level0);
	s->pid_level1 = 0;
	s->pidns_level1 = 0;
	if (BPF_CORE_READ(pid, level) >= 1)
		ig_upid(pid, 1, &s->pid_level1, &s->pidns_level1);
}

#endif /* IG_STACK_H */
