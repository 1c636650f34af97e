//go:build ignore

/* trace exec: every execve and execveat with its arguments, result, the
 * executable's path and (with --cwd) the working directory; the parent's
 * comm, thread and executable; whether both executables are on an overlayfs
 * upper layer; the audit login uid and session.
 * On success the arguments are read from the new program's memory
 * (mm->arg_start..arg_end), where the kernel has just copied them; on failure
 * from the caller's argv, which is still there.
 * The event shows the comm at exit: the new program's after a successful
 * exec, the caller's after a failed one. So --comm is checked at exit, on that
 * comm; --pid and the mount-namespace filter, which an exec does not change,
 * are checked at entry.
 * The file the caller asked to run (IG's file, fupper_layer, dev, inode) is
 * the executable, except when a script (or a binfmt_misc handler) got an
 * interpreter: by sched_process_exec the script's struct file is released,
 * so only the kprobe variant, on security_bprm_check, sees it (its first
 * call per exec is the file asked for). Without kprobes a script's file is
 * the path as passed, with no device or inode. */
#include "common.h"

#define ARGS_SIZE 8192        /* bytes of arguments kept, NULs included */
#define ARGS_MAX 64           /* arguments read from argv on failure */
#define ARG_LEN 1024          /* bytes read per argument on failure */
#define DATA_MASK (32768 - 1) /* args | exe | cwd | parent's exe all fit below 32 KiB */
#define OVERLAYFS_SUPER_MAGIC 0x794c7630
#define NO_LOGINUID 4294967295 /* (uid_t)-1: no login uid, or no CONFIG_AUDIT */
#define MAX_FILES 128          /* execs in flight whose file the kprobe keeps (exec.go); past it, an exec's file is as without the kprobe */

/* Where exec_event's file is (file_source). */
#define FILE_NONE 0       /* not known: the exec ended without sched_process_exec */
#define FILE_EXE 1        /* the same as exe, in every way (a binary; a failed exec) */
#define FILE_PASSED 2     /* the path as passed, a plain string: a script, without the kprobe */
#define FILE_COMPONENTS 3 /* path components from the kprobe, leaf first */

struct exec_event {
	struct event_header hdr;
	__s64 ret;
	__u32 args_size;
	__u16 exe_size;
	__u16 cwd_size;
	__u16 pexe_size;
	__u8 args_truncated;
	__u8 exe_components; /* 1: exe is path components, leaf first; 0: a plain path */
	__u8 exe_truncated;  /* the exe path did not fit */
	__u8 cwd_truncated;  /* the cwd path did not fit */
	__u8 pexe_truncated; /* the parent's exe path did not fit */
	__u8 upper_layer;    /* the executable is on an overlayfs upper layer (success only) */
	__u8 pupper_layer;   /* the parent's executable is */
	__u8 file_source;    /* FILE_*: where the file asked for is */
	__u8 file_truncated; /* its path did not fit */
	__u8 fupper_layer;   /* it is on an overlayfs upper layer */
	__u16 file_size;
	__u32 file_dev; /* its filesystem's device, the kernel's encoding; 0 when not known */
	__u64 file_ino; /* 0 when not known */
	__u32 ptid;          /* the parent's thread (real_parent->pid) */
	__u32 loginuid;      /* the audit login uid, NO_LOGINUID without one */
	__u32 sessionid;     /* the audit session, 0 without CONFIG_AUDIT */
	__u32 cursor; /* where the next part of data goes; in map memory on purpose, see ig_read_path */
	__u8 data[]; /* args, exe, cwd, the parent's exe, the file: only what they take is sent */
};

struct exec_args {
	__u64 filename; /* user pointers, kept for a failed exec */
	__u64 argv;
	/* from sched_process_exec: the path as passed, as the kernel copied it
	 * into the new program's memory (bprm->exec, AT_EXECFN) */
	__u64 execfn;
	__u64 file_ino; /* from the kprobe */
	__u32 file_dev;
	__u8 exec_seen;      /* sched_process_exec ran */
	__u8 interpreted;    /* the file asked for is not the executable (a script) */
	__u8 file_kept;      /* the kprobe kept the file (files) */
	__u8 fupper_layer;
};

/* The path of the file asked for, walked by the kprobe while it is held. */
struct exec_file {
	__u32 cursor; /* in map memory, for ig_read_path */
	__u8 truncated;
	__u8 data[IG_PATH_MAX + IG_NAME_MAX];
};

/* Only its first entry's fields are set before ig_read_path writes; the
 * value a new files entry starts from. */
struct exec_file file_init = {};

/* LRU: an exec that never reaches its syscall exit (killed on the way)
 * leaves its entry, which then ages out instead of filling the map. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MAX_FILES); /* 1 for the tracepoint variant (exec.go) */
	__type(key, __u32);             /* tgid, as pending */
	__type(value, struct exec_file);
} files SEC(".maps");

const volatile bool want_cwd = false;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32); /* tgid: a thread that execs becomes the leader */
	__type(value, struct exec_args);
} pending SEC(".maps");

/* Only cast to, never a map's value: this keeps the type in the object's
 * BTF, for bpf2go (-type exec_event). */
const struct exec_event *const exec_event_type __attribute__((unused)) = 0;

/* One scratch event per CPU, with room for its data after the fixed part
 * (a whole path past the mask, so that the verifier sees any copy fit).
 * Larger than a per-CPU array's value may be (32 KiB), so it is an array
 * indexed by CPU, sized to the possible CPUs at load time (exec.go): a
 * tracepoint's program is not migrated while it runs. */
struct exec_scratch {
	__u8 buf[sizeof(struct exec_event) + DATA_MASK + 1 + IG_PATH_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1); /* the possible CPUs, set at load time */
	__type(key, __u32);
	__type(value, struct exec_scratch);
} scratch SEC(".maps");

static __always_inline int enter(const char *filename, const char *const *argv)
{
	if (ig_skip_current_process())
		return 0;
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct exec_args args = {.filename = (__u64)filename, .argv = (__u64)argv};
	bpf_map_update_elem(&pending, &tgid, &args, BPF_ANY);
	return 0;
}

/* read_argv copies a failed exec's arguments from the caller's argv. */
static __always_inline void read_argv(struct exec_event *e, const char *const *argv)
{
	for (int i = 0; i < ARGS_MAX; i++) {
		const char *arg = NULL;
		if (bpf_probe_read_user(&arg, sizeof(arg), &argv[i]) || !arg)
			return;
		/* Keep the arguments that fit whole in the first ARGS_SIZE - 1
		 * bytes, as on success. This check also bounds the cursor for the
		 * verifier. */
		if (e->cursor >= ARGS_SIZE - 1) {
			e->args_truncated = 1;
			return;
		}
		__u8 cut = 0;
		long n = ig_read_user_str(&e->data[e->cursor & DATA_MASK], ARG_LEN, arg, &cut);
		if (n <= 0)
			return;
		if (cut || e->cursor + n > ARGS_SIZE - 1) {
			/* Drop it, so the list stays a prefix of whole arguments. */
			e->args_truncated = 1;
			return;
		}
		e->cursor += n;
	}
	const char *more = NULL;
	bpf_probe_read_user(&more, sizeof(more), &argv[ARGS_MAX]);
	if (more)
		e->args_truncated = 1;
}

/* has_upper_layer says whether inode is an overlayfs inode whose file is
 * on the upper layer (written or copied up in the container), as IG reads
 * it: struct ovl_inode is in no BTF, but its __upperdentry follows the
 * struct inode it embeds (vfs_inode), so it is read right after it. */
static __always_inline __u8 has_upper_layer(struct inode *inode)
{
	if (!inode || BPF_CORE_READ(inode, i_sb, s_magic) != OVERLAYFS_SUPER_MAGIC)
		return 0;
	struct dentry *upper = NULL;
	bpf_probe_read_kernel(&upper, sizeof(upper), (void *)inode + bpf_core_type_size(struct inode));
	return upper != NULL;
}

/* read_file sets the event's file: what the caller asked to run. */
static __always_inline void read_file(struct exec_event *e, struct exec_args *args, long ret, __u32 tgid)
{
	e->file_source = FILE_NONE;
	e->file_truncated = 0;
	e->fupper_layer = 0;
	e->file_dev = 0;
	e->file_ino = 0;
	e->file_size = 0;
	if (ret != 0) { /* the path as passed, which exe is then */
		e->file_source = FILE_EXE;
		return;
	}
	__u32 before = e->cursor;
	struct exec_file *f = args->file_kept ? bpf_map_lookup_elem(&files, &tgid) : NULL;
	if (f) {
		__u32 n = f->cursor;
		if (n > IG_PATH_MAX)
			n = IG_PATH_MAX;
		if (bpf_probe_read_kernel(&e->data[e->cursor & DATA_MASK], n, f->data) == 0)
			e->cursor += n;
		e->file_source = FILE_COMPONENTS;
		e->file_truncated = f->truncated;
		e->fupper_layer = args->fupper_layer;
		e->file_dev = args->file_dev;
		e->file_ino = args->file_ino;
	} else if (args->exec_seen && args->interpreted) {
		long n = ig_read_user_str(&e->data[e->cursor & DATA_MASK], IG_PATH_MAX,
					  (const char *)args->execfn, &e->file_truncated);
		if (n > 0)
			e->cursor += n;
		e->file_source = FILE_PASSED;
	} else if (args->exec_seen) {
		struct inode *inode = BPF_CORE_READ((struct task_struct *)bpf_get_current_task(), mm, exe_file, f_inode);
		e->file_source = FILE_EXE;
		e->fupper_layer = has_upper_layer(inode);
		e->file_dev = BPF_CORE_READ(inode, i_sb, s_dev);
		e->file_ino = BPF_CORE_READ(inode, i_ino);
	}
	e->file_size = e->cursor - before;
}

static __always_inline int leave(long ret)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct exec_args *args = bpf_map_lookup_elem(&pending, &tgid);
	if (!args)
		return 0;
	if (ig_skip_current_comm())
		goto out;
	__u32 cpu = bpf_get_smp_processor_id();
	struct exec_scratch *s = bpf_map_lookup_elem(&scratch, &cpu);
	if (!s)
		goto out;
	struct exec_event *e = (struct exec_event *)s->buf;

	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	ig_header_current(&e->hdr);
	e->ret = ret;
	e->args_truncated = 0;
	e->exe_truncated = 0;
	e->cwd_truncated = 0;
	e->cursor = 0;
	if (ret == 0) {
		__u64 start = BPF_CORE_READ(task, mm, arg_start);
		__u64 end = BPF_CORE_READ(task, mm, arg_end);
		__u64 len = end > start ? end - start : 0;
		if (len > ARGS_SIZE - 1) {
			len = ARGS_SIZE - 1;
			e->args_truncated = 1;
		}
		if (bpf_probe_read_user(e->data, len, (void *)start) == 0)
			e->cursor = len;
		e->args_size = e->cursor;
		struct file *exe = BPF_CORE_READ(task, mm, exe_file);
		e->exe_truncated = ig_read_path(&exe->f_path, e->data, &e->cursor, DATA_MASK);
		e->exe_components = 1;
	} else {
		read_argv(e, (const char *const *)args->argv);
		e->args_size = e->cursor;
		long n = ig_read_user_str(&e->data[e->cursor & (ARGS_SIZE - 1)], IG_PATH_MAX,
					  (const char *)args->filename, &e->exe_truncated);
		if (n > 0)
			e->cursor += n;
		e->exe_components = 0;
	}
	e->exe_size = e->cursor - e->args_size;
	e->cwd_size = 0;
	if (want_cwd) {
		struct fs_struct *fs = BPF_CORE_READ(task, fs);
		e->cwd_truncated = ig_read_path(&fs->pwd, e->data, &e->cursor, DATA_MASK);
		e->cwd_size = e->cursor - e->args_size - e->exe_size;
	}
	/* The exec changes none of these: the login uid and session are the
	 * caller's, and stay the program's. */
	e->upper_layer = ret == 0 ? has_upper_layer(BPF_CORE_READ(task, mm, exe_file, f_inode)) : 0;
	if (bpf_core_field_exists(task->loginuid))
		e->loginuid = BPF_CORE_READ(task, loginuid.val);
	else
		e->loginuid = NO_LOGINUID;
	e->sessionid = 0;
	if (bpf_core_field_exists(task->sessionid))
		e->sessionid = BPF_CORE_READ(task, sessionid);
	struct task_struct *parent = BPF_CORE_READ(task, real_parent);
	e->ptid = BPF_CORE_READ(parent, pid);
	e->pupper_layer = 0;
	e->pexe_size = 0;
	e->pexe_truncated = 0;
	struct file *pexe = BPF_CORE_READ(parent, mm, exe_file);
	if (pexe) { /* none for a kernel thread */
		e->pupper_layer = has_upper_layer(BPF_CORE_READ(pexe, f_inode));
		__u32 before = e->cursor;
		e->pexe_truncated = ig_read_path(&pexe->f_path, e->data, &e->cursor, DATA_MASK);
		e->pexe_size = e->cursor - before;
	}
	read_file(e, args, ret, tgid);
	ig_submit(e, offsetof(struct exec_event, data) + (e->cursor & DATA_MASK));
out:
	if (args->file_kept)
		bpf_map_delete_elem(&files, &tgid);
	bpf_map_delete_elem(&pending, &tgid);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_execve")
int enter_execve(struct trace_event_raw_sys_enter *ctx)
{
	return enter((const char *)ctx->args[0], (const char *const *)ctx->args[1]);
}

SEC("tracepoint/syscalls/sys_enter_execveat")
int enter_execveat(struct trace_event_raw_sys_enter *ctx)
{
	return enter((const char *)ctx->args[1], (const char *const *)ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_exit_execve")
int exit_execve(struct trace_event_raw_sys_exit *ctx)
{
	return leave(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_execveat")
int exit_execveat(struct trace_event_raw_sys_exit *ctx)
{
	return leave(ctx->ret);
}

/* The exec is past its point of no return, in the thread group's leader
 * (the tgid a thread that execs takes). A raw tracepoint: the tracefs one
 * does not give the struct linux_binprm. */
SEC("raw_tracepoint/sched_process_exec")
int exec_done(struct bpf_raw_tracepoint_args *ctx)
{
	struct linux_binprm *bprm = (struct linux_binprm *)ctx->args[2];
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct exec_args *args = bpf_map_lookup_elem(&pending, &tgid);
	if (!args)
		return 0;
	args->exec_seen = 1;
	args->execfn = BPF_CORE_READ(bprm, exec);
	/* interp starts as filename; a script or binfmt_misc handler changes it
	 * to its interpreter's (bprm_change_interp) */
	args->interpreted = BPF_CORE_READ(bprm, interp) != BPF_CORE_READ(bprm, filename);
	return 0;
}

/* The kprobe variant: the first check of an exec is of the file asked for,
 * held open here (a script, before its interpreter is checked). */
SEC("kprobe/security_bprm_check")
int BPF_KPROBE(bprm_check, struct linux_binprm *bprm)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct exec_args *args = bpf_map_lookup_elem(&pending, &tgid);
	if (!args || args->file_kept)
		return 0;
	if (bpf_map_update_elem(&files, &tgid, &file_init, BPF_ANY))
		return 0; /* full: the exit falls back to what sched_process_exec saw */
	struct exec_file *f = bpf_map_lookup_elem(&files, &tgid);
	if (!f)
		return 0;
	struct file *file = BPF_CORE_READ(bprm, file);
	struct inode *inode = BPF_CORE_READ(file, f_inode);
	f->cursor = 0;
	f->truncated = ig_read_path(&file->f_path, f->data, &f->cursor, IG_PATH_MAX - 1);
	args->file_dev = BPF_CORE_READ(inode, i_sb, s_dev);
	args->file_ino = BPF_CORE_READ(inode, i_ino);
	args->fupper_layer = has_upper_layer(inode);
	args->file_kept = 1;
	return 0;
}
