//go:build ignore

/* trace capabilities: every capability check of a process (cap_capable), with
 * its verdict and the system call it happened in.
 * Two variants: the capability/cap_capable tracepoint (6.14+), which has the
 * verdict but not the check's options (audit, insetid); and a kprobe and
 * kretprobe on cap_capable, which have both. */
#include "common.h"

#define CAP_OPT_NOAUDIT (1 << 1)
#define CAP_OPT_INSETID (1 << 2)

struct cap_event {
	struct event_header hdr;
	__s64 syscall; /* the system call's number, -1 outside of one */
	__s32 cap;
	__s32 ret;     /* 0: allowed; -EPERM: denied */
	__s8 audit;    /* 1 audited, 0 not (CAP_OPT_NOAUDIT), -1 unknown (tracepoint) */
	__s8 insetid;  /* 1 with CAP_OPT_INSETID, 0 without, -1 unknown (tracepoint) */
	__u8 pad[6];
	__u64 caps;          /* the credentials' effective capabilities */
	__u64 current_userns; /* their user namespace's inode number */
	__u64 target_userns;  /* the namespace the capability is asked in */
};

const volatile bool audit_only = false;
const volatile bool unique = false;
/* The host's mount namespace (ig's own): with unique, its processes are told
 * apart by pid, every other namespace (a container) counts as one. */
const volatile __u64 host_mntns = 0;

/* Only cast to: keeps the type in the object's BTF for bpf2go. */
const struct cap_event *const cap_event_type __attribute__((unused)) = 0;

struct unique_key {
	__u64 mntns;
	__u32 pid; /* 0 outside the host's mount namespace */
	__s32 cap;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 10240);
	__type(key, struct unique_key);
	__type(value, __u8);
} seen SEC(".maps");

/* A check on credentials that are not the task's own (overlayfs copy-up
 * under the mounter's, a file's opener's) is not the process asking for a
 * capability: left out, as Inspektor Gadget does. */
static __always_inline bool foreign_cred(const struct cred *cred)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	return cred != BPF_CORE_READ(task, real_cred);
}

/* first_time says whether, with unique, this capability is new for the
 * process (on the host) or its mount namespace (a container). */
static __always_inline bool first_time(int cap)
{
	if (!unique)
		return true;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct unique_key key = {.mntns = task_mntns_id(task), .cap = cap};
	if (key.mntns == host_mntns)
		key.pid = bpf_get_current_pid_tgid() >> 32;
	if (bpf_map_lookup_elem(&seen, &key))
		return false;
	__u8 one = 1;
	bpf_map_update_elem(&seen, &key, &one, BPF_ANY);
	return true;
}

static __always_inline void emit(const struct cred *cred, const struct user_namespace *target, int cap, int ret,
				 __s8 audit, __s8 insetid)
{
	if (!first_time(cap))
		return;
	struct cap_event e = {};
	ig_header_current(&e.hdr);
	/* kernel_cap_t is a u64 since 6.3, two u32 before: the same 8 bytes. */
	bpf_core_read(&e.caps, sizeof(e.caps), &cred->cap_effective);
	e.current_userns = BPF_CORE_READ(cred, user_ns, ns.inum);
	e.target_userns = BPF_CORE_READ(target, ns.inum);
	e.syscall = ig_current_syscall();
	e.cap = cap;
	e.ret = ret;
	e.audit = audit;
	e.insetid = insetid;
	ig_submit(&e, sizeof(e));
}

SEC("tracepoint/capability/cap_capable")
int cap_capable_tp(struct trace_event_raw_cap_capable *ctx)
{
	if (ig_skip_current() || foreign_cred(ctx->cred))
		return 0;
	emit(ctx->cred, ctx->target_ns, ctx->cap, ctx->ret, -1, -1);
	return 0;
}

/* The kprobe variant: the check's arguments at entry, its verdict at return. */
struct cap_args {
	__u64 cred; /* const struct cred *: bpf2go takes no pointer */
	__u64 ns;   /* struct user_namespace * */
	__s32 cap;
	__u32 opts;
};

IG_PENDING_BY_THREAD(struct cap_args);

SEC("kprobe/cap_capable")
int BPF_KPROBE(cap_capable_enter, const struct cred *cred, struct user_namespace *ns, int cap, unsigned int opts)
{
	if (ig_skip_current() || foreign_cred(cred))
		return 0;
	if (audit_only && (opts & CAP_OPT_NOAUDIT))
		return 0;
	__u32 tid = ig_current_tid();
	struct cap_args args = {.cred = (__u64)cred, .ns = (__u64)ns, .cap = cap, .opts = opts};
	bpf_map_update_elem(&pending, &tid, &args, BPF_ANY);
	return 0;
}

SEC("kretprobe/cap_capable")
int BPF_KRETPROBE(cap_capable_exit, int ret)
{
	__u32 tid = ig_current_tid();
	struct cap_args *args = bpf_map_lookup_elem(&pending, &tid);
	if (!args)
		return 0;
	emit((const struct cred *)args->cred, (const struct user_namespace *)args->ns, args->cap, ret, !(args->opts & CAP_OPT_NOAUDIT), !!(args->opts & CAP_OPT_INSETID));
	bpf_map_delete_elem(&pending, &tid);
	return 0;
}
