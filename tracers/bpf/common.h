/* Shared by every ig eBPF program: the event header, the filters (mount
 * namespace, pid, comm), the ring buffer and the lost-event counter.
 * Each gadget's object gets its own copy of these maps; the Go side finds
 * them by name (events, lost_events, mntns_filter), so the names are fixed. */
#ifndef IG_COMMON_H
#define IG_COMMON_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#define TASK_COMM_LEN 16

/* Mirrored by tracers.RawHeader; keep the two in step (a test checks sizes). */
struct event_header {
	__u64 timestamp; /* bpf_ktime_get_boot_ns() */
	__u64 mntns_id;
	__u32 pid; /* thread group id */
	__u32 tid;
	__u32 ppid;
	__u32 uid;
	__u32 gid;
	__u8 comm[TASK_COMM_LEN];
	__u8 pcomm[TASK_COMM_LEN]; /* the parent's (real_parent) comm, as IG's proc.parent.comm */
	__u32 mntns_serial; /* see task_mntns_serial */
};

/* Filters, set by the loader before the program is loaded.
 * filter_mntns_mode: 0 every mount namespace; 1 by the verdicts of
 * mntns_filter (-c NAME, --containers): a namespace with verdict 0 is
 * skipped, one with verdict 1 passes, and one without a verdict passes too,
 * so that ig, which knows the containers, can decide and write the verdict
 * (a container that started a moment ago must not lose its first events). */
#define IG_MNTNS_ALL 0
#define IG_MNTNS_VERDICTS 1
const volatile __u8 filter_mntns_mode = IG_MNTNS_ALL;
const volatile __u32 filter_pid = 0;
const volatile bool filter_by_uid = false; /* -F uid:N */
const volatile __u32 filter_uid = 0;
const volatile bool filter_by_comm = false;
const volatile char filter_comm[TASK_COMM_LEN] = {};

/* Mirrored by the loader (mntNsVerdict). serial 0: the verdict holds for
 * whatever namespace has the number (ig holds containers' namespaces open,
 * so their numbers are not reused while it knows them); else only for the
 * namespace with that serial, since a freed number names the next
 * namespace made. */
struct mntns_verdict {
	__u32 serial;
	__u8 pass;
	__u8 pad[3];
};

/* Mount namespace number -> verdict; kept current by ig. LRU: a verdict
 * pushed out only costs ig a decision again. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, struct mntns_verdict);
} mntns_filter SEC(".maps");

/* max_entries (the size in bytes) is set by the loader. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} events SEC(".maps");

/* Events that did not fit in the ring buffer, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost_events SEC(".maps");

static __always_inline __u64 task_mntns_id(struct task_struct *task)
{
	return BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
}

/* The serial of a mount namespace never names another one, unlike its
 * number: mnt_namespace.seq until 6.17, ns_common.ns_id from 6.18. Its low
 * 32 bits are enough to tell a new namespace under an old number. */
struct mnt_namespace___seq {
	__u64 seq;
} __attribute__((preserve_access_index));
struct ns_common___id {
	__u64 ns_id;
} __attribute__((preserve_access_index));
struct mnt_namespace___id {
	struct ns_common___id ns;
} __attribute__((preserve_access_index));

static __always_inline __u32 task_mntns_serial(struct task_struct *task)
{
	void *ns = BPF_CORE_READ(task, nsproxy, mnt_ns);
	if (bpf_core_field_exists(struct mnt_namespace___seq, seq))
		return (__u32)BPF_CORE_READ((struct mnt_namespace___seq *)ns, seq);
	if (bpf_core_field_exists(struct ns_common___id, ns_id))
		return (__u32)BPF_CORE_READ((struct mnt_namespace___id *)ns, ns.ns_id);
	return 0;
}

static __always_inline bool ig_comm_matches(const char *comm)
{
	for (int i = 0; i < TASK_COMM_LEN; i++) {
		if (comm[i] != filter_comm[i])
			return false;
		if (comm[i] == 0)
			break;
	}
	return true;
}

/* ig_mntns_skipped: only a verdict for this very namespace skips it; one
 * without a verdict goes to ig, which decides and writes it. */
static __always_inline bool ig_mntns_skipped(struct task_struct *task)
{
	__u64 mntns = task_mntns_id(task);
	struct mntns_verdict *v = bpf_map_lookup_elem(&mntns_filter, &mntns);
	if (!v || v->pass)
		return false;
	return v->serial == 0 || v->serial == task_mntns_serial(task);
}

/* ig_skip_current_process says whether the current task is filtered out by
 * pid or mount namespace, the filters an exec does not change. */
static __always_inline bool ig_skip_current_process(void)
{
	if (filter_pid && (bpf_get_current_pid_tgid() >> 32) != filter_pid)
		return true;
	if (filter_by_uid && (__u32)bpf_get_current_uid_gid() != filter_uid)
		return true;
	if (filter_mntns_mode != IG_MNTNS_ALL &&
	    ig_mntns_skipped((struct task_struct *)bpf_get_current_task()))
		return true;
	return false;
}

/* ig_skip_current_comm says whether the current task's comm, as it is now, is
 * filtered out. Events show the comm ig_header_current reads: a gadget whose
 * event is built after the comm may have changed (exec) checks it then. */
static __always_inline bool ig_skip_current_comm(void)
{
	if (!filter_by_comm)
		return false;
	char comm[TASK_COMM_LEN];
	bpf_get_current_comm(comm, sizeof(comm));
	return !ig_comm_matches(comm);
}

/* ig_skip_current says whether the current task is filtered out. Call it first,
 * before any other work, so filtered tasks cost almost nothing. */
static __always_inline bool ig_skip_current(void)
{
	return ig_skip_current_process() || ig_skip_current_comm();
}

/* ig_skip_task is ig_skip_current for any task (iterators). */
static __always_inline bool ig_skip_task(struct task_struct *task)
{
	if (filter_pid && BPF_CORE_READ(task, tgid) != filter_pid)
		return true;
	if (filter_by_uid && BPF_CORE_READ(task, cred, uid.val) != filter_uid)
		return true;
	if (filter_mntns_mode != IG_MNTNS_ALL && ig_mntns_skipped(task))
		return true;
	if (filter_by_comm) {
		char comm[TASK_COMM_LEN];
		BPF_CORE_READ_STR_INTO(&comm, task, comm);
		if (!ig_comm_matches(comm))
			return true;
	}
	return false;
}

/* ig_task_mntns_serial is task_mntns_serial on a BTF pointer: direct loads. */
static __always_inline __u32 ig_btf_mntns_serial(struct mnt_namespace *ns)
{
	if (bpf_core_field_exists(struct mnt_namespace___seq, seq))
		return (__u32)((struct mnt_namespace___seq *)ns)->seq;
	if (bpf_core_field_exists(struct ns_common___id, ns_id))
		return (__u32)((struct mnt_namespace___id *)ns)->ns.ns_id;
	return 0;
}

/* ig_header_current fills the header from the running task. Where the kernel
 * has bpf_get_current_task_btf (5.11), the task's fields are plain loads
 * through its BTF pointer; before, each is a bpf_probe_read_kernel call,
 * which made the header most of an event's cost. The loader drops the
 * branch the kernel cannot run. */
static __always_inline void ig_header_current(struct event_header *h)
{
	h->timestamp = bpf_ktime_get_boot_ns();
	if (bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_get_current_task_btf)) {
		struct task_struct *task = bpf_get_current_task_btf();
		const struct cred *cred = task->cred;
		struct mnt_namespace *ns = task->nsproxy->mnt_ns;
		h->pid = task->tgid;
		h->tid = task->pid;
		h->uid = cred->uid.val;
		h->gid = cred->gid.val;
		h->mntns_id = ns->ns.inum;
		h->mntns_serial = ig_btf_mntns_serial(ns);
		struct task_struct *parent = task->real_parent;
		h->ppid = parent->tgid;
		__builtin_memcpy(h->comm, task->comm, TASK_COMM_LEN);
		__builtin_memcpy(h->pcomm, parent->comm, TASK_COMM_LEN);
	} else {
		struct task_struct *task = (struct task_struct *)bpf_get_current_task();
		__u64 pid_tgid = bpf_get_current_pid_tgid();
		__u64 uid_gid = bpf_get_current_uid_gid();
		h->pid = pid_tgid >> 32;
		h->tid = (__u32)pid_tgid;
		h->uid = (__u32)uid_gid;
		h->gid = uid_gid >> 32;
		h->mntns_id = task_mntns_id(task);
		h->mntns_serial = task_mntns_serial(task);
		struct task_struct *parent = BPF_CORE_READ(task, real_parent);
		h->ppid = BPF_CORE_READ(parent, tgid);
		bpf_get_current_comm(h->comm, sizeof(h->comm));
		BPF_CORE_READ_STR_INTO(&h->pcomm, parent, comm);
	}
}

/* ig_header_task fills the header from any task (iterators). */
static __always_inline void ig_header_task(struct event_header *h, struct task_struct *task)
{
	h->timestamp = bpf_ktime_get_boot_ns();
	h->mntns_id = task_mntns_id(task);
	h->mntns_serial = task_mntns_serial(task);
	h->pid = BPF_CORE_READ(task, tgid);
	h->tid = BPF_CORE_READ(task, pid);
	struct task_struct *parent = BPF_CORE_READ(task, real_parent);
	h->ppid = BPF_CORE_READ(parent, tgid);
	h->uid = BPF_CORE_READ(task, cred, uid.val);
	h->gid = BPF_CORE_READ(task, cred, gid.val);
	BPF_CORE_READ_STR_INTO(&h->comm, task, comm);
	BPF_CORE_READ_STR_INTO(&h->pcomm, parent, comm);
}

/* Waking the reader for every event costs an interrupt per event (on a VM, an
 * exit too), which was most of the overhead on the traced program. So events
 * are added quietly and the reader is woken only when the unread data crosses
 * IG_WAKEUP_BYTES; below that, ig picks events up on a short timer. */
#define IG_WAKEUP_BYTES (256 * 1024)

/* ig_count_lost counts one event lost: one that did not fit in the ring
 * buffer, or a row a top or profile gadget could not add to its full map.
 * ig reports the count (Program.Lost). */
static __always_inline void ig_count_lost(void)
{
	__u32 zero = 0;
	__u64 *lost = bpf_map_lookup_elem(&lost_events, &zero);
	if (lost)
		(*lost)++;
}

/* Adds *init under key to the hash map when absent and returns the
 * entry, or NULL (counted as lost) when the map is full. */
static __always_inline void *ig_lookup_or_init(void *map, const void *key, const void *init)
{
	void *v = bpf_map_lookup_elem(map, key);
	if (v)
		return v;
	if (bpf_map_update_elem(map, key, init, BPF_NOEXIST) && bpf_map_lookup_elem(map, key) == NULL) {
		ig_count_lost();
		return NULL;
	}
	return bpf_map_lookup_elem(map, key);
}

/* ig_submit copies size bytes of data into the ring buffer, counting the
 * event as lost when it does not fit. size must be bounded for the verifier. */
static __always_inline void ig_submit(void *data, __u64 size)
{
	__u64 unread = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	__u64 flags = BPF_RB_NO_WAKEUP;
	if (unread < IG_WAKEUP_BYTES && unread + size >= IG_WAKEUP_BYTES)
		flags = BPF_RB_FORCE_WAKEUP;
	if (bpf_ringbuf_output(&events, data, size, flags) == 0)
		return;
	ig_count_lost();
}

/* ig_read_user_str copies the NUL-terminated user string src into dst, at
 * most size bytes with the NUL, and returns what bpf_probe_read_user_str does
 * (the length with the NUL, or a negative error). When the string is longer,
 * dst holds its first size - 1 bytes and *cut is set to 1: a string of exactly
 * size - 1 bytes fills dst too, so the byte after them tells the two apart.
 * *cut is left alone otherwise. */
static __always_inline long ig_read_user_str(void *dst, __u32 size, const void *src, __u8 *cut)
{
	long n = bpf_probe_read_user_str(dst, size, src);
	if (n == size) {
		char next = 0;
		bpf_probe_read_user(&next, 1, (const char *)src + size - 1);
		if (next)
			*cut = 1;
	}
	return n;
}

/* IG_PENDING_BY_THREAD(type) declares the map "pending": what a syscall's
 * entry keeps for its exit (its arguments, when it started), by thread id
 * (ig_current_tid). A thread is in one syscall at a time, so one entry each;
 * the exit deletes it. */
#define IG_PENDING_BY_THREAD(value_type)          \
	struct {                                  \
		__uint(type, BPF_MAP_TYPE_HASH);  \
		__uint(max_entries, 10240);       \
		__type(key, __u32);               \
		__type(value, value_type);        \
	} pending SEC(".maps")

static __always_inline __u32 ig_current_tid(void)
{
	return (__u32)bpf_get_current_pid_tgid();
}

/* ig_task_fd_file is ig_fd_file for task, a BTF pointer (tp_btf, fentry,
 * bpf_get_current_task_btf): the walk to the descriptor table is plain
 * loads, and only the table's slot is read with a helper (the verifier
 * allows no arithmetic on BTF pointers). */
static __always_inline struct file *ig_task_fd_file(struct task_struct *task, __u64 fd)
{
	struct fdtable *fdt = task->files->fdt;
	if (!fdt || fd >= fdt->max_fds)
		return NULL;
	struct file **fds = fdt->fd;
	struct file *f = NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

/* ig_fd_file returns the open file behind descriptor fd of the current task
 * (its file table, read through BTF), or NULL when fd is not open. Syscall
 * tracepoints see descriptors; this is how they get to the file. */
static __always_inline struct file *ig_fd_file(__u64 fd)
{
	/* A constant at load time: the verifier drops the branch not taken. */
	if (bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_get_current_task_btf))
		return ig_task_fd_file(bpf_get_current_task_btf(), fd);
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

#define IG_NAME_MAX 256   /* a path component, with its NUL */
#define IG_PATH_MAX 4096  /* bytes of components kept per path */
#define IG_PATH_DEPTH 32  /* components walked per path */

/* bpf_rdonly_cast (6.2) turns a kernel address into a BTF pointer whose
 * fields are plain loads; weak, so that an object using it still loads
 * where the kernel lacks it (ig_kfunc_cast_ok is then false). */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;
#define ig_kfunc_cast_ok() (!!bpf_rdonly_cast)
#define ig_cast(ptr, type) ((type *)bpf_rdonly_cast((ptr), bpf_core_type_id_kernel(type)))

/* ig_read_path writes the components of path into data, leaf first, each
 * NUL-terminated; user space reverses them into "/a/b/c" (none means "/").
 * It crosses mount points up to the root of the task's mount tree, and
 * returns 0 when it got there, 1 when it stopped short (more than
 * IG_PATH_DEPTH steps, IG_PATH_MAX bytes, or a name it could not read): data
 * then holds the components nearest the leaf, and the path is cut.
 * *cursor is where writing starts and, on return, where it ended. It must live
 * in map memory, not on the stack: the verifier then treats it as unknown and
 * does not explore every possible offset (which blows its budget). Offsets are
 * masked with mask, so data must hold mask + 1 + IG_NAME_MAX bytes.
 * It is a real function, not inlined: the verifier then forgets the loop's
 * state on return, and two walks in a row do not multiply each other's cost. */
static __noinline __attribute__((unused)) int ig_read_path(const struct path *path, __u8 *data, __u32 *cursor, __u32 mask)
{
	struct dentry *dentry = BPF_CORE_READ(path, dentry);
	struct vfsmount *vfsmnt = BPF_CORE_READ(path, mnt);
	__u64 mnt_off = bpf_core_field_offset(struct mount, mnt);
	struct mount *mnt = (struct mount *)((void *)vfsmnt - mnt_off);
	__u32 end = *cursor + IG_PATH_MAX - IG_NAME_MAX;

	for (int i = 0; i < IG_PATH_DEPTH; i++) {
		struct dentry *root = BPF_CORE_READ(vfsmnt, mnt_root);
		struct dentry *parent = BPF_CORE_READ(dentry, d_parent);
		if (dentry == root || dentry == parent) {
			struct mount *mnt_parent = BPF_CORE_READ(mnt, mnt_parent);
			if (mnt == mnt_parent)
				return 0; /* the root of everything */
			/* Leave this mount for the directory it is mounted on. */
			dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
			mnt = mnt_parent;
			vfsmnt = (struct vfsmount *)((void *)mnt + mnt_off);
			continue;
		}
		if (*cursor > end)
			return 1;
		const unsigned char *name = BPF_CORE_READ(dentry, d_name.name);
		long n = bpf_probe_read_kernel_str(&data[*cursor & mask], IG_NAME_MAX, name);
		if (n <= 0)
			return 1;
		*cursor += n;
		dentry = parent;
	}
	/* Out of steps: the path is whole only if what is left is the root. */
	struct dentry *root = BPF_CORE_READ(vfsmnt, mnt_root);
	bool at_root = dentry == root || dentry == BPF_CORE_READ(dentry, d_parent);
	return !(at_root && mnt == BPF_CORE_READ(mnt, mnt_parent));
}

#ifndef PF_KTHREAD
#define PF_KTHREAD 0x00200000
#endif
/* x86_64 kernel stacks (THREAD_SIZE) without KASAN; only for kernels before
 * bpf_task_pt_regs (5.15). */
#define IG_THREAD_SIZE (4096 << 2)

/* ig_current_regs returns the user registers the kernel saved when task
 * (the current one) entered the kernel: at a syscall's exit they still hold
 * its arguments (di, si, dx, r10, r8, r9), so an exit tracepoint needs no
 * entry program to know them. Not for kernel threads. */
static __always_inline struct pt_regs *ig_current_regs(struct task_struct *task)
{
	/* A constant at load time: the verifier drops the branch not taken, so
	 * a kernel without these helpers never sees them. */
	if (bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_task_pt_regs))
		return (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	/* what task_pt_regs does on x86_64: the top of the task's stack */
	return (struct pt_regs *)(BPF_CORE_READ(task, stack) + IG_THREAD_SIZE) - 1;
}

/* ig_current_syscall returns the number of the system call the current task
 * is in (x86_64 numbers: tracers.SyscallName names them), from the user
 * registers the kernel saved at entry (orig_ax), or -1: a kernel thread, or
 * not in a system call (an exception saves -1 there too). For hooks that
 * fire deep inside a system call without seeing its number. */
static __always_inline long ig_current_syscall(void)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	if (BPF_CORE_READ(task, flags) & PF_KTHREAD)
		return -1;
	return BPF_CORE_READ(ig_current_regs(task), orig_ax);
}

char LICENSE[] SEC("license") = "GPL";

#endif /* IG_COMMON_H */
