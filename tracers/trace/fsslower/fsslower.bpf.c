//go:build ignore

/* trace fsslower: reads, writes, opens and fsyncs on one filesystem type that
 * take longer than a threshold.
 * Two variants, one object:
 *   fentry      fentry/fexit on vfs_read, vfs_write and vfs_open: the
 *               latency of the VFS call (fsyncs: of the system call, below);
 *   tracepoint  the syscall tracepoints, the file found from the descriptor
 *               (ig_fd_file): the latency of the whole system call.
 * Both filter by the file's filesystem type (its superblock's
 * file_system_type name) in the kernel, at entry, so other files cost one
 * string compare. */
#include "common.h"

#define FS_NAME_MAX 32

enum fs_op {
	FS_OP_READ,
	FS_OP_WRITE,
	FS_OP_OPEN,
	FS_OP_FSYNC,
};

struct fs_event {
	struct event_header hdr;
	__u64 bytes;      /* read or written; 0 for opens and fsyncs */
	__s64 offset;     /* file offset of a read or write */
	__u64 latency_ns;
	__u8 op;          /* enum fs_op */
	__u8 pad[7];
	__u8 file[IG_NAME_MAX]; /* the dentry's name */
};

const volatile __u64 min_lat_ns = 0;
const volatile char fs_type[FS_NAME_MAX] = {};

/* Only cast to: keeps the type in the object's BTF for bpf2go. */
const struct fs_event *const fs_event_type __attribute__((unused)) = 0;

/* An operation under way, from entry to exit. */
struct start {
	__u64 ts;
	__s64 offset;
	__u64 file; /* struct file *; 0 for an open on the tracepoints: its fd comes at exit */
};

/* Keyed by thread and operation: one operation of each kind at a time per
 * thread is enough, and a nested one of another kind does not end it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u64); /* tid << 8 | op */
	__type(value, struct start);
} pending SEC(".maps");

static __always_inline __u64 pending_key(__u8 op)
{
	return (bpf_get_current_pid_tgid() & 0xffffffff) << 8 | op;
}

/* fs_matches says whether dentry's filesystem is of type fs_type. */
static __always_inline bool fs_matches(struct dentry *dentry)
{
	char name[FS_NAME_MAX];
	const char *p = BPF_CORE_READ(dentry, d_sb, s_type, name);
	if (!p || bpf_probe_read_kernel_str(name, sizeof(name), p) <= 0)
		return false;
	for (int i = 0; i < FS_NAME_MAX; i++) {
		if (name[i] != fs_type[i])
			return false;
		if (!name[i])
			break;
	}
	return true;
}

static __always_inline void begin(struct file *file, __u8 op, __s64 offset)
{
	__u64 key = pending_key(op);
	struct start s = {.ts = bpf_ktime_get_ns(), .offset = offset, .file = (__u64)file};
	bpf_map_update_elem(&pending, &key, &s, BPF_ANY);
}

/* begin_file starts an operation on file, when it is on fs_type. */
static __always_inline void begin_file(struct file *file, __u8 op, __s64 offset)
{
	if (file && fs_matches(BPF_CORE_READ(file, f_path.dentry)))
		begin(file, op, offset);
}

/* finish ends operation op of the current thread with result ret (bytes,
 * an fd, or -errno) and reports it when it was slow enough. */
static __always_inline void finish(__u8 op, long ret)
{
	__u64 key = pending_key(op);
	struct start *s = bpf_map_lookup_elem(&pending, &key);
	if (!s)
		return;
	__u64 latency = bpf_ktime_get_ns() - s->ts;
	struct file *file = (struct file *)s->file;
	__s64 offset = s->offset;
	bpf_map_delete_elem(&pending, &key);
	if (latency <= min_lat_ns)
		return;
	if (!file) { /* an open seen on the tracepoints: the file is the new fd's */
		if (ret < 0)
			return;
		file = ig_fd_file(ret);
		if (!file || !fs_matches(BPF_CORE_READ(file, f_path.dentry)))
			return;
	}
	struct fs_event e = {};
	ig_header_current(&e.hdr);
	e.op = op;
	e.latency_ns = latency;
	e.offset = offset;
	if ((op == FS_OP_READ || op == FS_OP_WRITE) && ret > 0)
		e.bytes = ret;
	const unsigned char *name = BPF_CORE_READ(file, f_path.dentry, d_name.name);
	bpf_probe_read_kernel_str(e.file, sizeof(e.file), name);
	ig_submit(&e, sizeof(e));
}

/* --- fentry variant: the VFS calls --- */

/* pos_arg is *pos of vfs_read and vfs_write, argument n: 5.10's verifier
 * refuses an fentry program that reads an argument pointing to anything but
 * a struct (loff_t *pos), so it is read from the trampoline's argument array
 * with a helper, which it allows. NULL (a stream) is offset 0. */
static __always_inline __s64 pos_arg(unsigned long long *ctx, int n)
{
	loff_t *pos = NULL;
	loff_t v = 0;
	bpf_probe_read_kernel(&pos, sizeof(pos), ctx + n);
	if (pos)
		bpf_probe_read_kernel(&v, sizeof(v), pos);
	return v;
}

SEC("fentry/vfs_read")
int BPF_PROG(vfs_read_entry, struct file *file, char *buf, size_t count, loff_t *pos)
{
	if (!ig_skip_current())
		begin_file(file, FS_OP_READ, pos_arg(ctx, 3));
	return 0;
}

SEC("fexit/vfs_read")
int BPF_PROG(vfs_read_exit, struct file *file, char *buf, size_t count, loff_t *pos, ssize_t ret)
{
	finish(FS_OP_READ, ret);
	return 0;
}

SEC("fentry/vfs_write")
int BPF_PROG(vfs_write_entry, struct file *file, const char *buf, size_t count, loff_t *pos)
{
	if (!ig_skip_current())
		begin_file(file, FS_OP_WRITE, pos_arg(ctx, 3));
	return 0;
}

SEC("fexit/vfs_write")
int BPF_PROG(vfs_write_exit, struct file *file, const char *buf, size_t count, loff_t *pos, ssize_t ret)
{
	finish(FS_OP_WRITE, ret);
	return 0;
}

/* The file is not set up yet at vfs_open's entry: the filesystem is the path's. */
SEC("fentry/vfs_open")
int BPF_PROG(vfs_open_entry, const struct path *path, struct file *file)
{
	if (!ig_skip_current() && fs_matches(BPF_CORE_READ(path, dentry)))
		begin(file, FS_OP_OPEN, 0);
	return 0;
}

SEC("fexit/vfs_open")
int BPF_PROG(vfs_open_exit, const struct path *path, struct file *file, int ret)
{
	finish(FS_OP_OPEN, ret);
	return 0;
}

/* --- tracepoint variant: the system calls ---
 * The fentry variant uses the fsync and fdatasync ones too: on 7.3, fsync(2)
 * reaches neither vfs_fsync nor vfs_fsync_range out of line (the 7.3 guest
 * saw no fentry on either fire), so fsyncs are timed at the system call by
 * both variants. */

/* enter_fd starts an operation on descriptor fd; offset -1: the file's
 * position (read, write, readv, writev). */
static __always_inline int enter_fd(__u64 fd, __u8 op, __s64 offset)
{
	if (ig_skip_current())
		return 0;
	struct file *file = ig_fd_file(fd);
	if (!file)
		return 0;
	if (offset < 0)
		offset = BPF_CORE_READ(file, f_pos);
	begin_file(file, op, offset);
	return 0;
}

static __always_inline int enter_open(void)
{
	if (!ig_skip_current())
		begin(NULL, FS_OP_OPEN, 0);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_read")
int enter_read(struct trace_event_raw_sys_enter *ctx) { return enter_fd(ctx->args[0], FS_OP_READ, -1); }
SEC("tracepoint/syscalls/sys_enter_readv")
int enter_readv(struct trace_event_raw_sys_enter *ctx) { return enter_fd(ctx->args[0], FS_OP_READ, -1); }
SEC("tracepoint/syscalls/sys_enter_pread64")
int enter_pread64(struct trace_event_raw_sys_enter *ctx) { return enter_fd(ctx->args[0], FS_OP_READ, ctx->args[3]); }
SEC("tracepoint/syscalls/sys_enter_write")
int enter_write(struct trace_event_raw_sys_enter *ctx) { return enter_fd(ctx->args[0], FS_OP_WRITE, -1); }
SEC("tracepoint/syscalls/sys_enter_writev")
int enter_writev(struct trace_event_raw_sys_enter *ctx) { return enter_fd(ctx->args[0], FS_OP_WRITE, -1); }
SEC("tracepoint/syscalls/sys_enter_pwrite64")
int enter_pwrite64(struct trace_event_raw_sys_enter *ctx) { return enter_fd(ctx->args[0], FS_OP_WRITE, ctx->args[3]); }
SEC("tracepoint/syscalls/sys_enter_fsync")
int enter_fsync(struct trace_event_raw_sys_enter *ctx) { return enter_fd(ctx->args[0], FS_OP_FSYNC, 0); }
SEC("tracepoint/syscalls/sys_enter_fdatasync")
int enter_fdatasync(struct trace_event_raw_sys_enter *ctx) { return enter_fd(ctx->args[0], FS_OP_FSYNC, 0); }
SEC("tracepoint/syscalls/sys_enter_open")
int enter_open_(struct trace_event_raw_sys_enter *ctx) { return enter_open(); }
SEC("tracepoint/syscalls/sys_enter_openat")
int enter_openat(struct trace_event_raw_sys_enter *ctx) { return enter_open(); }
SEC("tracepoint/syscalls/sys_enter_openat2")
int enter_openat2(struct trace_event_raw_sys_enter *ctx) { return enter_open(); }

#define EXIT(name, op) \
	SEC("tracepoint/syscalls/sys_exit_" #name) \
	int exit_##name(struct trace_event_raw_sys_exit *ctx) { finish(op, ctx->ret); return 0; }
EXIT(read, FS_OP_READ)
EXIT(readv, FS_OP_READ)
EXIT(pread64, FS_OP_READ)
EXIT(write, FS_OP_WRITE)
EXIT(writev, FS_OP_WRITE)
EXIT(pwrite64, FS_OP_WRITE)
EXIT(fsync, FS_OP_FSYNC)
EXIT(fdatasync, FS_OP_FSYNC)
EXIT(open, FS_OP_OPEN)
EXIT(openat, FS_OP_OPEN)
EXIT(openat2, FS_OP_OPEN)
