//go:build ignore

/* trace oomkill: the OOM killer's victims. The event's header is the
 * victim's (pid, comm, mount namespace: its container), the t* fields the
 * task that ran the OOM killer (the trigger).
 *
 * Two variants, one object:
 * - tp_btf (6.8+, where mark_victim passes the victim's task_struct): all
 *   at the kill, from the victim's task.
 * - tracepoint: oom/mark_victim only gives the victim's pid (and, 6.8+, its
 *   RSS), in the trigger's context; the event is sent when the victim
 *   exits (sched/sched_process_exit), from its own context. */
#include "common.h"

#define PAGE_SHIFT 12

struct oomkill_event {
	struct event_header hdr; /* the victim */
	__u64 pages;             /* the victim's resident pages (anon, file, shmem); 0 when unknown */
	__u64 memcg_limit;       /* the victim's memory cgroup: max, in pages */
	__u64 memcg_usage;       /* and usage, in pages */
	__u32 tpid;              /* the trigger */
	__u32 tuid;
	__u32 tgid;
	__u8 tcomm[TASK_COMM_LEN];
	__u8 pad[4];
};

/* Only cast to, never a map's value: keeps the type in the BTF for bpf2go. */
const struct oomkill_event *const oomkill_event_type __attribute__((unused)) = 0;

static __always_inline void trigger_current(struct oomkill_event *e)
{
	__u64 uid_gid = bpf_get_current_uid_gid();
	e->tpid = bpf_get_current_pid_tgid() >> 32;
	e->tuid = (__u32)uid_gid;
	e->tgid = uid_gid >> 32;
	bpf_get_current_comm(e->tcomm, sizeof(e->tcomm));
}

/* The task's memory cgroup (cgroup v1 and v2 alike): its limit and usage. */
static __always_inline void memcg_of(struct task_struct *task, struct oomkill_event *e)
{
	/* its index depends on the kernel's config */
	if (!bpf_core_enum_value_exists(enum cgroup_subsys_id, memory_cgrp_id))
		return;
	int id = bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);
	struct cgroup_subsys_state *css = BPF_CORE_READ(task, cgroups, subsys[id]);
	if (!css)
		return;
	/* css is mem_cgroup's first member */
	struct mem_cgroup *memcg = (struct mem_cgroup *)css;
	e->memcg_limit = BPF_CORE_READ(memcg, memory.max);
	e->memcg_usage = BPF_CORE_READ(memcg, memory.usage.counter);
}

/* ---- tp_btf variant ---- */


/* mm->rss_stat before 6.2: one struct of atomic counters (6.2 made it an
 * array of percpu_counter, whose count is the sum but for per-CPU batches). */
struct mm_rss_stat___old {
	atomic_long_t count[4];
} __attribute__((preserve_access_index));
struct mm_struct___old {
	struct mm_rss_stat___old rss_stat;
} __attribute__((preserve_access_index));

static __always_inline __u64 rss_counter(struct mm_struct *mm, int i)
{
	__s64 n;
	if (bpf_core_type_exists(struct mm_rss_stat___old))
		n = BPF_CORE_READ((struct mm_struct___old *)mm, rss_stat.count[i].counter);
	else
		n = BPF_CORE_READ(mm, rss_stat[i].count);
	return n > 0 ? n : 0;
}

SEC("tp_btf/mark_victim")
int BPF_PROG(mark_victim_btf, struct task_struct *victim)
{
	/* The event is the victim's: it is what the filters look at. */
	if (ig_skip_task(victim))
		return 0;
	struct oomkill_event e = {};
	ig_header_task(&e.hdr, victim);
	trigger_current(&e);
	struct mm_struct *mm = BPF_CORE_READ(victim, mm);
	if (mm) {
		/* the indices have not changed since 4.5 (MM_SWAPENTS is 2) */
		e.pages = rss_counter(mm, MM_FILEPAGES) + rss_counter(mm, MM_ANONPAGES) + rss_counter(mm, MM_SHMEMPAGES);
	}
	memcg_of(victim, &e);
	ig_submit(&e, sizeof(e));
	return 0;
}

/* ---- tracepoint variant ---- */

/* What the trigger's context knows, kept until the victim exits. */
struct victim {
	__u64 pages;
	__u32 tpid;
	__u32 tuid;
	__u32 tgid;
	__u8 tcomm[TASK_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH); /* a victim that never exits is pushed out */
	__uint(max_entries, 1024);
	__type(key, __u32); /* the victim's pid (its thread id, as mark_victim gives it) */
	__type(value, struct victim);
} victims SEC(".maps");

SEC("tracepoint/oom/mark_victim")
int mark_victim(struct trace_event_raw_mark_victim *ctx)
{
	/* No filter here: current is the trigger, and the event is the
	 * victim's; victim_exit filters. */
	struct oomkill_event t = {};
	trigger_current(&t);
	struct victim v = {.tpid = t.tpid, .tuid = t.tuid, .tgid = t.tgid};
	__builtin_memcpy(v.tcomm, t.tcomm, sizeof(v.tcomm));
	/* 6.8 added the victim's RSS, in kB, to the tracepoint */
	if (bpf_core_field_exists(ctx->anon_rss))
		v.pages = (BPF_CORE_READ(ctx, anon_rss) + BPF_CORE_READ(ctx, file_rss) +
			   BPF_CORE_READ(ctx, shmem_rss)) >> (PAGE_SHIFT - 10);
	__u32 pid = ctx->pid;
	bpf_map_update_elem(&victims, &pid, &v, BPF_ANY);
	return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int victim_exit(void *ctx)
{
	/* The victim's entry goes at its first thread's exit, filtered or
	 * not, so a pid used again never finds it; the lookup in an almost
	 * always empty map costs what the filter would. */
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid, tgid = pid_tgid >> 32;
	__u32 key = tid;
	struct victim *v = bpf_map_lookup_elem(&victims, &key);
	if (!v) {
		key = tgid;
		v = bpf_map_lookup_elem(&victims, &key);
	}
	if (!v)
		return 0;
	struct oomkill_event e = {};
	e.pages = v->pages;
	e.tpid = v->tpid;
	e.tuid = v->tuid;
	e.tgid = v->tgid;
	__builtin_memcpy(e.tcomm, v->tcomm, sizeof(e.tcomm));
	bpf_map_delete_elem(&victims, &key);
	if (ig_skip_current())
		return 0;
	ig_header_current(&e.hdr);
	memcg_of((struct task_struct *)bpf_get_current_task(), &e);
	ig_submit(&e, sizeof(e));
	return 0;
}
