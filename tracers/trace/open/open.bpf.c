//go:build ignore

/* trace open: open, openat and openat2, with the path as passed and the result.
 * The arguments are saved at syscall entry and the event is built at exit,
 * when the result is known; the user's path buffer is still mapped then. */
#include "common.h"

#define PATH_MAX 4096
#ifndef O_CREAT
#define O_CREAT 0100
#endif
#ifndef __O_TMPFILE
#define __O_TMPFILE 020000000
#endif

/* With full_path, the opened file's path from the kernel follows the path
 * as passed. */
#define DATA_MASK (16384 - 1) /* the path (PATH_MAX) and the full path's components (IG_PATH_MAX) */

struct open_event {
	struct event_header hdr;
	__s64 ret; /* fd, or -errno */
	__u32 flags;
	__u32 mode;
	__u32 path_len; /* bytes of the path as passed in path[], its NUL included */
	__u32 cursor;   /* the end of path[]; in map memory on purpose, see ig_read_path */
	__u8 path_truncated; /* the path was longer than PATH_MAX: path holds its start */
	__u8 full;           /* path[] holds the full path's components after the path */
	__u8 full_truncated; /* ig_read_path stopped short of the root */
	__u8 pad[5];
	__u8 path[]; /* the path as passed, then with full_path the full path's components, leaf first */
};

struct open_args {
	__u64 path; /* user pointer */
	__u32 flags;
	__u32 mode;
};

const volatile bool failed_only = false;
const volatile bool full_path = false;

IG_PENDING_BY_THREAD(struct open_args);

/* Too big for the BPF stack: one scratch event per CPU, with room for the
 * longest path after its fixed part. */
/* Only cast to, never a map's value: this keeps the type in the object's
 * BTF, for bpf2go (-type open_event). */
const struct open_event *const open_event_type __attribute__((unused)) = 0;

struct open_scratch {
	__u8 buf[sizeof(struct open_event) + DATA_MASK + 1 + IG_NAME_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct open_scratch);
} scratch SEC(".maps");

/* mode is only meaningful when a file may be created */
static __always_inline __u32 creation_mode(__u64 flags, __u64 mode)
{
	return (flags & (O_CREAT | __O_TMPFILE)) ? (__u32)mode : 0;
}

static __always_inline int enter(const char *path, __u64 flags, __u64 mode)
{
	if (ig_skip_current())
		return 0;
	__u32 tid = ig_current_tid();
	struct open_args args = {
		.path = (__u64)path,
		.flags = (__u32)flags,
		.mode = creation_mode(flags, mode),
	};
	bpf_map_update_elem(&pending, &tid, &args, BPF_ANY);
	return 0;
}

/* emit sends the event of one open: its arguments and its result. */
static __always_inline void emit(const char *path, __u32 flags, __u32 mode, long ret)
{
	if (failed_only && ret >= 0)
		return;
	__u32 zero = 0;
	struct open_scratch *s = bpf_map_lookup_elem(&scratch, &zero);
	if (!s)
		return;
	struct open_event *e = (struct open_event *)s->buf;
	ig_header_current(&e->hdr);
	e->ret = ret;
	e->flags = flags;
	e->mode = mode;
	e->path_truncated = 0;
	long len = ig_read_user_str(e->path, PATH_MAX, path, &e->path_truncated);
	if (len <= 0) {
		e->path[0] = 0;
		len = 1;
	}
	if (len > PATH_MAX)
		len = PATH_MAX;
	e->path_len = len;
	e->cursor = len;
	e->full = 0;
	e->full_truncated = 0;
	if (full_path && ret >= 0) {
		struct file *f = ig_fd_file(ret);
		if (f) {
			e->full = 1;
			e->full_truncated = ig_read_path(&f->f_path, e->path, &e->cursor, DATA_MASK);
		}
	}
	ig_submit(e, offsetof(struct open_event, path) + (e->cursor & DATA_MASK));
}

static __always_inline int leave(long ret)
{
	__u32 tid = ig_current_tid();
	struct open_args *args = bpf_map_lookup_elem(&pending, &tid);
	if (!args)
		return 0;
	emit((const char *)args->path, args->flags, args->mode, ret);
	bpf_map_delete_elem(&pending, &tid);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_open")
int enter_open(struct trace_event_raw_sys_enter *ctx)
{
	return enter((const char *)ctx->args[0], ctx->args[1], ctx->args[2]);
}

SEC("tracepoint/syscalls/sys_enter_openat")
int enter_openat(struct trace_event_raw_sys_enter *ctx)
{
	return enter((const char *)ctx->args[1], ctx->args[2], ctx->args[3]);
}

SEC("tracepoint/syscalls/sys_enter_openat2")
int enter_openat2(struct trace_event_raw_sys_enter *ctx)
{
	struct open_how *how = (struct open_how *)ctx->args[2];
	__u64 flags = 0, mode = 0;
	bpf_probe_read_user(&flags, sizeof(flags), &how->flags);
	bpf_probe_read_user(&mode, sizeof(mode), &how->mode);
	return enter((const char *)ctx->args[1], flags, mode);
}

SEC("tracepoint/syscalls/sys_exit_open")
int exit_open(struct trace_event_raw_sys_exit *ctx)
{
	return leave(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_openat")
int exit_openat(struct trace_event_raw_sys_exit *ctx)
{
	return leave(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_openat2")
int exit_openat2(struct trace_event_raw_sys_exit *ctx)
{
	return leave(ctx->ret);
}


/* The tp_btf variant: one program on the raw tracepoint of every syscall's
 * exit. It costs far less per open than the tracepoint variant: no perf
 * record is built for it, and nothing is kept between entry and exit, since
 * the arguments are still in the registers the syscall was entered with
 * (as a tracer sees them at entry: only ptrace could have changed them).
 * It runs for every syscall, so the syscall number is checked first.
 * x86_64 numbers and registers, like the rest of ig's eBPF. */
#define NR_open 2
#define NR_openat 257
#define NR_openat2 437

SEC("tp_btf/sys_exit")
int BPF_PROG(exit_any, struct pt_regs *regs, long ret)
{
	long id = regs->orig_ax;
	if (id != NR_openat && id != NR_open && id != NR_openat2)
		return 0;
	if (ig_skip_current())
		return 0;
	if (id == NR_openat) {
		emit((const char *)regs->si, regs->dx, creation_mode(regs->dx, regs->r10), ret);
	} else if (id == NR_open) {
		emit((const char *)regs->di, regs->si, creation_mode(regs->si, regs->dx), ret);
	} else {
		struct open_how *how = (struct open_how *)regs->dx;
		__u64 flags = 0, mode = 0;
		bpf_probe_read_user(&flags, sizeof(flags), &how->flags);
		bpf_probe_read_user(&mode, sizeof(mode), &how->mode);
		emit((const char *)regs->si, flags, creation_mode(flags, mode), ret);
	}
	return 0;
}
