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

struct open_event {
	struct event_header hdr;
	__s64 ret; /* fd, or -errno */
	__u32 flags;
	__u32 mode;
	__u8 path_truncated; /* the path was longer than path[]: path holds its start */
	__u8 pad[3];
	__u8 path[]; /* up to PATH_MAX bytes: only what the path takes is sent */
};

struct open_args {
	__u64 path; /* user pointer */
	__u32 flags;
	__u32 mode;
};

const volatile bool failed_only = false;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32); /* tid */
	__type(value, struct open_args);
} pending SEC(".maps");

/* Too big for the BPF stack: one scratch event per CPU, with room for the
 * longest path after its fixed part. */
/* Only cast to, never a map's value: this keeps the type in the object's
 * BTF, for bpf2go (-type open_event). */
const struct open_event *const open_event_type __attribute__((unused)) = 0;

struct open_scratch {
	__u8 buf[sizeof(struct open_event) + PATH_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct open_scratch);
} scratch SEC(".maps");

static __always_inline int enter(const char *path, __u64 flags, __u64 mode)
{
	if (ig_skip_current())
		return 0;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct open_args args = {
		.path = (__u64)path,
		.flags = (__u32)flags,
		/* mode is only meaningful when a file may be created */
		.mode = (flags & (O_CREAT | __O_TMPFILE)) ? (__u32)mode : 0,
	};
	bpf_map_update_elem(&pending, &tid, &args, BPF_ANY);
	return 0;
}

static __always_inline int leave(long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct open_args *args = bpf_map_lookup_elem(&pending, &tid);
	if (!args)
		return 0;
	if (failed_only && ret >= 0)
		goto out;

	__u32 zero = 0;
	struct open_scratch *s = bpf_map_lookup_elem(&scratch, &zero);
	if (!s)
		goto out;
	struct open_event *e = (struct open_event *)s->buf;
	ig_header_current(&e->hdr);
	e->ret = ret;
	e->flags = args->flags;
	e->mode = args->mode;
	e->path_truncated = 0;
	long len = ig_read_user_str(e->path, PATH_MAX, (const char *)args->path, &e->path_truncated);
	if (len <= 0) {
		e->path[0] = 0;
		len = 1;
	}
	if (len > PATH_MAX)
		len = PATH_MAX;
	ig_submit(e, offsetof(struct open_event, path) + len);
out:
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
