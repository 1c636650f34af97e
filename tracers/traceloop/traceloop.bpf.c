//go:build ignore

/* traceloop: a flight recorder of system calls. Each recorded mount
 * namespace (a container, or the host's) has its own overwritable perf
 * buffer, in the buffers hash of maps: the kernel keeps writing over the
 * oldest records, and ig reads a buffer only when it dumps it. At a system
 * call's entry, a record with its six arguments, then one per argument that
 * is a string (a path: which ones, string_args says per system call); at
 * its exit, a record with the return value. */
#include "common.h"

#define TL_MAX_SYSCALLS 512
#define TL_ARGS 6
#define TL_STR_MAX 256 /* bytes of a string argument kept, with its NUL */

enum { TL_ENTER = 0, TL_EXIT = 1, TL_STRING = 2 };

struct tl_record {
	struct event_header h;
	__s32 nr;     /* system call number */
	__u8 kind;    /* TL_ENTER, TL_EXIT or TL_STRING */
	__u8 arg;     /* TL_STRING: which argument */
	__u16 cpu;
	__u64 values[TL_ARGS]; /* TL_ENTER: the arguments; TL_EXIT: values[0] is the return value */
};

struct tl_string {
	struct event_header h;
	__s32 nr;
	__u8 kind;
	__u8 arg;
	__u16 cpu;
	__u8 str[TL_STR_MAX];
};

/* sent on failures when a recorded namespace's first process (the pid 1
 * of its pid namespace: a container's) exits with a non-zero code */
struct tl_failure {
	__u64 mntns_id;
	__u32 pid;
	__s32 exit_code; /* as wait(2) gives it: status << 8, or the signal */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 1024);
	__type(key, __u64); /* mount namespace */
	__array(values, struct {
		__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
		__uint(key_size, sizeof(__u32));
		__uint(value_size, sizeof(__u32));
	});
} buffers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} failures SEC(".maps");

/* per system call number: bit i set when argument i is a string (ig reads
 * the system calls' formats from tracefs) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TL_MAX_SYSCALLS);
	__type(key, __u32);
	__type(value, __u8);
} string_args SEC(".maps");

/* --syscall-filters: the system calls recorded (1), when filter_syscalls */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TL_MAX_SYSCALLS);
	__type(key, __u32);
	__type(value, __u8);
} syscall_filter SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tl_string);
} scratch SEC(".maps");

const volatile bool filter_syscalls = false;
const volatile __u32 ig_tgid = 0; /* ig itself: its own system calls are not recorded */

/* tl_buffer returns the current task's namespace's buffer, or NULL: not
 * recorded, filtered out, or ig itself */
static __always_inline void *tl_buffer(long nr)
{
	if (nr < 0 || nr >= TL_MAX_SYSCALLS)
		return NULL;
	if ((bpf_get_current_pid_tgid() >> 32) == ig_tgid)
		return NULL;
	if (filter_syscalls) {
		__u32 key = nr;
		__u8 *wanted = bpf_map_lookup_elem(&syscall_filter, &key);
		if (!wanted || !*wanted)
			return NULL;
	}
	__u64 mntns = task_mntns_id((struct task_struct *)bpf_get_current_task());
	void *buffer = bpf_map_lookup_elem(&buffers, &mntns);
	if (!buffer || ig_skip_current())
		return NULL;
	return buffer;
}

SEC("raw_tracepoint/sys_enter")
int ig_traceloop_enter(struct bpf_raw_tracepoint_args *ctx)
{
	long nr = ctx->args[1];
	void *buffer = tl_buffer(nr);
	if (!buffer)
		return 0;
	struct pt_regs *regs = (struct pt_regs *)ctx->args[0];
	struct tl_record r = {};
	ig_header_current(&r.h);
	r.nr = nr;
	r.kind = TL_ENTER;
	r.cpu = bpf_get_smp_processor_id();
	r.values[0] = PT_REGS_PARM1_CORE_SYSCALL(regs);
	r.values[1] = PT_REGS_PARM2_CORE_SYSCALL(regs);
	r.values[2] = PT_REGS_PARM3_CORE_SYSCALL(regs);
	r.values[3] = PT_REGS_PARM4_CORE_SYSCALL(regs);
	r.values[4] = PT_REGS_PARM5_CORE_SYSCALL(regs);
	r.values[5] = BPF_CORE_READ(regs, r9); /* PARM6 has no _CORE_SYSCALL form here */
	/* a full buffer overwrites its oldest records: no loss to count */
	bpf_perf_event_output(ctx, buffer, BPF_F_CURRENT_CPU, &r, sizeof(r));

	__u32 key = nr;
	__u8 *strings = bpf_map_lookup_elem(&string_args, &key);
	if (!strings || !*strings)
		return 0;
	__u32 zero = 0;
	struct tl_string *s = bpf_map_lookup_elem(&scratch, &zero);
	if (!s)
		return 0;
	__builtin_memcpy(&s->h, &r.h, sizeof(r.h));
	s->nr = nr;
	s->kind = TL_STRING;
	s->cpu = r.cpu;
#pragma unroll
	for (int i = 0; i < TL_ARGS; i++) {
		if (!(*strings & (1 << i)))
			continue;
		s->arg = i;
		long n = bpf_probe_read_user_str(s->str, sizeof(s->str), (const void *)r.values[i]);
		if (n <= 0) {
			s->str[0] = 0;
			n = 1;
		}
		__u64 size = offsetof(struct tl_string, str) + (n & (TL_STR_MAX - 1));
		if (n >= TL_STR_MAX)
			size = sizeof(*s);
		bpf_perf_event_output(ctx, buffer, BPF_F_CURRENT_CPU, s, size);
	}
	return 0;
}

SEC("raw_tracepoint/sys_exit")
int ig_traceloop_exit(struct bpf_raw_tracepoint_args *ctx)
{
	struct pt_regs *regs = (struct pt_regs *)ctx->args[0];
	long nr = BPF_CORE_READ(regs, orig_ax);
	void *buffer = tl_buffer(nr);
	if (!buffer)
		return 0;
	struct tl_record r = {};
	ig_header_current(&r.h);
	r.nr = nr;
	r.kind = TL_EXIT;
	r.cpu = bpf_get_smp_processor_id();
	r.values[0] = ctx->args[1];
	bpf_perf_event_output(ctx, buffer, BPF_F_CURRENT_CPU, &r, sizeof(r));
	return 0;
}

/* a container's first process ends: tell ig when it failed, so that ig
 * dumps the container's buffer while it still can */
SEC("tracepoint/sched/sched_process_exit")
int ig_traceloop_process_exit(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__s32 code = BPF_CORE_READ(task, exit_code);
	if (code == 0 || BPF_CORE_READ(task, pid) != BPF_CORE_READ(task, tgid))
		return 0;
	struct pid *pid = BPF_CORE_READ(task, thread_pid);
	unsigned int level = BPF_CORE_READ(pid, level);
	struct upid upid = {};
	bpf_core_read(&upid, sizeof(upid), &pid->numbers[level & 31]);
	if (upid.nr != 1)
		return 0;
	struct tl_failure f = {.mntns_id = task_mntns_id(task), .pid = BPF_CORE_READ(task, tgid), .exit_code = code};
	if (!bpf_map_lookup_elem(&buffers, &f.mntns_id))
		return 0;
	bpf_perf_event_output(ctx, &failures, BPF_F_CURRENT_CPU, &f, sizeof(f));
	return 0;
}
