//go:build ignore

/* top file: reads and writes per process and file, added up in the kernel
 * and drained by ig every interval (tracers.RunInterval).
 *   tracepoint  the exits of read, write, pread64, pwrite64, readv, writev,
 *               preadv, pwritev, preadv2, pwritev2 and sendfile: the bytes
 *               done are the return value; the descriptor is the syscall's
 *               first argument, still in the saved user registers at exit
 *               (ig_current_regs), and the file comes from it (ig_fd_file).
 *   fexit       vfs_read and vfs_write: the file and the bytes done are the
 *               function's; it also sees reads and writes done inside the
 *               kernel, and does not see readv, writev or sendfile. */
#include "common.h"

#define S_IFMT 00170000
#define S_IFREG 0100000
#define S_IFSOCK 0140000

/* Regular files only, unless --all-files. */
const volatile bool all_files = false;

struct file_key {
	__u64 ino;
	__u32 dev;
	__u32 pid;
};

struct file_stats {
	struct event_header hdr; /* of the thread that first did I/O on the file this interval */
	__u64 reads;
	__u64 writes;
	__u64 rbytes;
	__u64 wbytes;
	__u8 type; /* 'R' regular, 'S' socket, 'O' other */
	__u8 path_cut;
	__u8 pad[6];
	__u32 cursor; /* ig_read_path's; in map memory on purpose */
	__u32 pad2;
	__u8 path[IG_PATH_MAX + IG_NAME_MAX];
};

/* A row is created with its path, walked once; later I/O only adds. No
 * preallocation: the rows are many kilobytes each, and few are used. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct file_key);
	__type(value, struct file_stats);
} stats SEC(".maps");

/* Where a new row is put together: too big for the BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct file_stats);
} scratch SEC(".maps");

/* What count needs of a file: its row's key and type, and whether to count it. */
static __always_inline bool file_id(struct file *file, struct file_key *key, __u16 *mode)
{
	/* Plain loads where the kernel can cast (6.2): half the cost. */
	if (ig_kfunc_cast_ok()) {
		struct file *f = ig_cast(file, struct file);
		struct inode *inode = f->f_inode;
		*mode = inode->i_mode & S_IFMT;
		key->ino = inode->i_ino;
		key->dev = inode->i_sb->s_dev;
	} else {
		struct inode *inode = BPF_CORE_READ(file, f_inode);
		*mode = BPF_CORE_READ(inode, i_mode) & S_IFMT;
		key->ino = BPF_CORE_READ(inode, i_ino);
		key->dev = BPF_CORE_READ(inode, i_sb, s_dev);
	}
	return all_files || *mode == S_IFREG;
}

static __always_inline void count(struct file *file, __s64 bytes, bool write)
{
	if (!file || bytes < 0)
		return;
	struct file_key key = {.pid = bpf_get_current_pid_tgid() >> 32};
	__u16 mode;
	if (!file_id(file, &key, &mode))
		return;
	struct file_stats *st = bpf_map_lookup_elem(&stats, &key);
	if (!st) {
		__u32 zero = 0;
		struct file_stats *n = bpf_map_lookup_elem(&scratch, &zero);
		if (!n)
			return;
		ig_header_current(&n->hdr);
		n->reads = n->writes = n->rbytes = n->wbytes = 0;
		n->type = mode == S_IFREG ? 'R' : mode == S_IFSOCK ? 'S' : 'O';
		n->cursor = 0;
		n->path_cut = ig_read_path(&file->f_path, n->path, &n->cursor, IG_PATH_MAX - 1);
		/* It fails when the map is full, or when another CPU added the
		 * row meanwhile: then this adds to that one. */
		bpf_map_update_elem(&stats, &key, n, BPF_NOEXIST);
		st = bpf_map_lookup_elem(&stats, &key);
		if (!st) { /* full (or drained by ig in between) */
			ig_count_lost();
			return;
		}
	}
	if (write) {
		__sync_fetch_and_add(&st->writes, 1);
		__sync_fetch_and_add(&st->wbytes, bytes);
	} else {
		__sync_fetch_and_add(&st->reads, 1);
		__sync_fetch_and_add(&st->rbytes, bytes);
	}
}

/* The descriptor a read or write syscall works on: its first argument. */
static __always_inline struct file *syscall_file(int arg)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct pt_regs *regs = ig_current_regs(task);
	__u64 fd = arg == 0 ? BPF_CORE_READ(regs, di) : BPF_CORE_READ(regs, si);
	return ig_fd_file(fd);
}

static __always_inline int syscall_exit(struct trace_event_raw_sys_exit *ctx, bool write)
{
	if (ctx->ret < 0 || ig_skip_current())
		return 0;
	count(syscall_file(0), ctx->ret, write);
	return 0;
}

#define READ_EXIT(name)                                                   \
	SEC("tracepoint/syscalls/sys_exit_" #name)                       \
	int name##_exit(struct trace_event_raw_sys_exit *ctx) { return syscall_exit(ctx, false); }
#define WRITE_EXIT(name)                                                  \
	SEC("tracepoint/syscalls/sys_exit_" #name)                       \
	int name##_exit(struct trace_event_raw_sys_exit *ctx) { return syscall_exit(ctx, true); }

READ_EXIT(read)
READ_EXIT(pread64)
READ_EXIT(readv)
READ_EXIT(preadv)
READ_EXIT(preadv2)
WRITE_EXIT(write)
WRITE_EXIT(pwrite64)
WRITE_EXIT(writev)
WRITE_EXIT(pwritev)
WRITE_EXIT(pwritev2)

/* sendfile(out_fd, in_fd, ...) reads its bytes from in_fd and writes them to out_fd. */
SEC("tracepoint/syscalls/sys_exit_sendfile64")
int sendfile64_exit(struct trace_event_raw_sys_exit *ctx)
{
	if (ctx->ret < 0 || ig_skip_current())
		return 0;
	count(syscall_file(1), ctx->ret, false);
	count(syscall_file(0), ctx->ret, true);
	return 0;
}

/* x86_64 system call numbers. */
#define NR_read 0
#define NR_write 1
#define NR_pread64 17
#define NR_pwrite64 18
#define NR_readv 19
#define NR_writev 20
#define NR_sendfile 40
#define NR_preadv 295
#define NR_pwritev 296
#define NR_preadv2 327
#define NR_pwritev2 328

/* One program at every syscall's exit, all its arguments at hand as plain
 * loads: cheaper per read or write than the syscalls' own tracepoints. */
SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit_any, struct pt_regs *regs, long ret)
{
	long nr = regs->orig_ax;
	bool write;
	switch (nr) {
	case NR_read: case NR_pread64: case NR_readv: case NR_preadv: case NR_preadv2:
		write = false;
		break;
	case NR_write: case NR_pwrite64: case NR_writev: case NR_pwritev: case NR_pwritev2:
		write = true;
		break;
	case NR_sendfile:
		if (ret < 0 || ig_skip_current())
			return 0;
		count(ig_fd_file(regs->si), ret, false);
		count(ig_fd_file(regs->di), ret, true);
		return 0;
	default:
		return 0;
	}
	if (ret < 0 || ig_skip_current())
		return 0;
	count(ig_fd_file(regs->di), ret, write);
	return 0;
}

SEC("fexit/vfs_read")
int BPF_PROG(vfs_read_exit, struct file *file, char *buf, size_t size, loff_t *pos, ssize_t ret)
{
	if (ret < 0 || ig_skip_current())
		return 0;
	count(file, ret, false);
	return 0;
}

SEC("fexit/vfs_write")
int BPF_PROG(vfs_write_exit, struct file *file, const char *buf, size_t size, loff_t *pos, ssize_t ret)
{
	if (ret < 0 || ig_skip_current())
		return 0;
	count(file, ret, true);
	return 0;
}
