//go:build ignore

/* trace mount: mount and umount, and the new mount API (fsopen, fsconfig,
 * fsmount, move_mount, open_tree, mount_setattr), with their strings, flags,
 * result and latency. The arguments are saved at syscall entry and the event
 * is built at exit, when the result is known; the caller's strings are still
 * mapped then. Which argument goes in which string slot is the call's
 * (see mount.go). */
#include "common.h"

enum call {
	CALL_MOUNT,
	CALL_UMOUNT,
	CALL_FSOPEN,
	CALL_FSCONFIG,
	CALL_FSMOUNT,
	CALL_MOVE_MOUNT,
	CALL_OPEN_TREE,
	CALL_MOUNT_SETATTR,
};

/* String slots and the most read into each, NUL included. */
#define SLOT_PATH 4096 /* slots 0 and 1: paths */
#define SLOT_NAME 256  /* slot 2: a file system type or an fsconfig key */
#define SLOT_DATA 4096 /* slot 3: mount data (at most a page) or an fsconfig value */
#define DATA_MASK (16384 - 1)

/* fsconfig commands whose value is a string */
#define FSCONFIG_SET_STRING 1
#define FSCONFIG_SET_PATH 3
#define FSCONFIG_SET_PATH_EMPTY 4

struct mount_event {
	struct event_header hdr;
	__s64 ret;
	__u64 latency; /* ns from entry to exit */
	__u64 flags;
	__u64 attr_set; /* fsmount's attr_flags; mount_setattr's attr_set */
	__u64 attr_clr;
	__u64 propagation;
	__s64 arg0; /* the call's first descriptor argument, or fsconfig's aux */
	__s64 arg1;
	__u32 call;
	__u32 cmd; /* fsconfig's command */
	__u16 size[4]; /* bytes of each string slot in data, NUL included; 0: none */
	__u8 cut; /* bit i: slot i was longer than read */
	__u8 pad[3];
	__u32 cursor; /* where the next string goes; in map memory on purpose, see ig_read_path */
	__u8 data[];
};

/* The start of the user's struct mount_attr. Our own type, not vmlinux.h's:
 * that one is relocated against the kernel's, which has none before 5.12. */
struct user_mount_attr {
	__u64 attr_set;
	__u64 attr_clr;
	__u64 propagation;
};

struct mount_args {
	__u64 ts;
	__u64 args[5];
	__u32 call;
};

IG_PENDING_BY_THREAD(struct mount_args);

/* Only cast to, never a map's value: this keeps the type in the object's
 * BTF, for bpf2go (-type mount_event). */
const struct mount_event *const mount_event_type __attribute__((unused)) = 0;

struct mount_scratch {
	__u8 buf[sizeof(struct mount_event) + DATA_MASK + 1 + SLOT_PATH];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mount_scratch);
} scratch SEC(".maps");

static __always_inline int enter(enum call call, __u64 a0, __u64 a1, __u64 a2, __u64 a3, __u64 a4)
{
	if (ig_skip_current())
		return 0;
	__u32 tid = ig_current_tid();
	struct mount_args a = {.ts = bpf_ktime_get_ns(), .args = {a0, a1, a2, a3, a4}, .call = call};
	bpf_map_update_elem(&pending, &tid, &a, BPF_ANY);
	return 0;
}

/* read_str appends the user string at src to e->data as slot slot. */
static __always_inline void read_str(struct mount_event *e, int slot, __u64 src, __u32 max)
{
	if (!src)
		return;
	__u8 cut = 0;
	long n = ig_read_user_str(&e->data[e->cursor & DATA_MASK], max, (const void *)src, &cut);
	if (n <= 0)
		return;
	e->cursor += n;
	e->size[slot & 3] = n;
	if (cut)
		e->cut |= 1 << slot;
}

static __always_inline int leave(long ret)
{
	__u32 tid = ig_current_tid();
	struct mount_args *a = bpf_map_lookup_elem(&pending, &tid);
	if (!a)
		return 0;
	__u32 zero = 0;
	struct mount_scratch *s = bpf_map_lookup_elem(&scratch, &zero);
	if (!s)
		goto out;
	struct mount_event *e = (struct mount_event *)s->buf;
	ig_header_current(&e->hdr);
	e->ret = ret;
	e->latency = bpf_ktime_get_ns() - a->ts;
	e->call = a->call;
	e->flags = 0;
	e->attr_set = e->attr_clr = e->propagation = 0;
	e->arg0 = e->arg1 = 0;
	e->cmd = 0;
	e->cut = 0;
	e->cursor = 0;
	for (int i = 0; i < 4; i++)
		e->size[i] = 0;

	/* Slots in order 0, 1, 2, 3: each string starts where the last ended. */
	switch (a->call) {
	case CALL_MOUNT: /* mount(source, target, fstype, flags, data) */
		read_str(e, 0, a->args[0], SLOT_PATH);
		read_str(e, 1, a->args[1], SLOT_PATH);
		read_str(e, 2, a->args[2], SLOT_NAME);
		read_str(e, 3, a->args[4], SLOT_DATA);
		e->flags = a->args[3];
		break;
	case CALL_UMOUNT: /* umount2(target, flags) */
		read_str(e, 1, a->args[0], SLOT_PATH);
		e->flags = a->args[1];
		break;
	case CALL_FSOPEN: /* fsopen(fsname, flags) */
		read_str(e, 2, a->args[0], SLOT_NAME);
		e->flags = a->args[1];
		break;
	case CALL_FSCONFIG: /* fsconfig(fd, cmd, key, value, aux) */
		e->arg0 = (int)a->args[0];
		e->cmd = a->args[1];
		e->arg1 = (int)a->args[4];
		read_str(e, 2, a->args[2], SLOT_NAME);
		if (e->cmd == FSCONFIG_SET_STRING || e->cmd == FSCONFIG_SET_PATH || e->cmd == FSCONFIG_SET_PATH_EMPTY)
			read_str(e, 3, a->args[3], SLOT_DATA);
		break;
	case CALL_FSMOUNT: /* fsmount(fs_fd, flags, attr_flags) */
		e->arg0 = (int)a->args[0];
		e->flags = a->args[1];
		e->attr_set = a->args[2];
		break;
	case CALL_MOVE_MOUNT: /* move_mount(from_dfd, from_path, to_dfd, to_path, flags) */
		e->arg0 = (int)a->args[0];
		e->arg1 = (int)a->args[2];
		read_str(e, 0, a->args[1], SLOT_PATH);
		read_str(e, 1, a->args[3], SLOT_PATH);
		e->flags = a->args[4];
		break;
	case CALL_OPEN_TREE: /* open_tree(dfd, path, flags) */
		e->arg0 = (int)a->args[0];
		read_str(e, 0, a->args[1], SLOT_PATH);
		e->flags = a->args[2];
		break;
	case CALL_MOUNT_SETATTR: { /* mount_setattr(dfd, path, flags, attr, size) */
		e->arg0 = (int)a->args[0];
		read_str(e, 1, a->args[1], SLOT_PATH);
		e->flags = a->args[2];
		struct user_mount_attr attr = {};
		if (a->args[3] && a->args[4] >= sizeof(attr) &&
		    bpf_probe_read_user(&attr, sizeof(attr), (void *)a->args[3]) == 0) {
			e->attr_set = attr.attr_set;
			e->attr_clr = attr.attr_clr;
			e->propagation = attr.propagation;
		}
		break;
	}
	}
	ig_submit(e, offsetof(struct mount_event, data) + (e->cursor & DATA_MASK));
out:
	bpf_map_delete_elem(&pending, &tid);
	return 0;
}

/* Each program reads only the arguments its syscall has: the kernel refuses
 * to attach one that reads past its tracepoint's fields (EACCES). */
#define SYSCALL(name, call, ...)                                     \
	SEC("tracepoint/syscalls/sys_enter_" #name)                  \
	int enter_##name(struct trace_event_raw_sys_enter *ctx)      \
	{                                                            \
		return enter(call, __VA_ARGS__);                     \
	}                                                            \
	SEC("tracepoint/syscalls/sys_exit_" #name)                   \
	int exit_##name(struct trace_event_raw_sys_exit *ctx)        \
	{                                                            \
		return leave(ctx->ret);                              \
	}

#define A(i) ctx->args[i]
SYSCALL(mount, CALL_MOUNT, A(0), A(1), A(2), A(3), A(4))
SYSCALL(umount, CALL_UMOUNT, A(0), A(1), 0, 0, 0)
SYSCALL(fsopen, CALL_FSOPEN, A(0), A(1), 0, 0, 0)
SYSCALL(fsconfig, CALL_FSCONFIG, A(0), A(1), A(2), A(3), A(4))
SYSCALL(fsmount, CALL_FSMOUNT, A(0), A(1), A(2), 0, 0)
SYSCALL(move_mount, CALL_MOVE_MOUNT, A(0), A(1), A(2), A(3), A(4))
SYSCALL(open_tree, CALL_OPEN_TREE, A(0), A(1), A(2), 0, 0)
SYSCALL(mount_setattr, CALL_MOUNT_SETATTR, A(0), A(1), A(2), A(3), A(4))
