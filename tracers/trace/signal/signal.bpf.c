//go:build ignore

/* trace signal: signals sent with kill, tkill and tgkill (with the syscall's
 * result, so a failed one shows too), and every other signal the kernel
 * generates (SIGSEGV, SIGCHLD, the OOM killer's SIGKILL, sigqueue ...).
 * The syscalls' arguments are saved at entry and the event built at exit.
 * A signal a traced kill syscall generates is left to that syscall's event,
 * so it is reported once. */
#include "common.h"

struct signal_event {
	struct event_header hdr;
	__s64 ret;    /* the syscall's result; 0 for a signal the kernel generated */
	__s32 tpid;   /* the target as the sender named it (kill: may be <= 0) */
	__s32 sig;
	__u8 syscall; /* enum source */
	__u8 pad[7];
};

enum source {
	SRC_KERNEL = 0, /* signal/signal_generate outside a traced kill syscall */
	SRC_KILL = 1,
	SRC_TKILL = 2,
	SRC_TGKILL = 3,
};

/* Only cast to, never a map's value: keeps the type in the BTF for bpf2go. */
const struct signal_event *const signal_event_type __attribute__((unused)) = 0;

const volatile __s32 target_signal = 0; /* --signal: 0 is every signal */
const volatile bool failed_only = false;

struct sig_args {
	__s32 tpid;
	__s32 sig;
	__u8 syscall;
};

IG_PENDING_BY_THREAD(struct sig_args);

static __always_inline int enter(__s32 tpid, __s32 sig, __u8 syscall)
{
	if (ig_skip_current())
		return 0;
	if (target_signal && sig != target_signal)
		return 0;
	__u32 tid = ig_current_tid();
	struct sig_args args = {.tpid = tpid, .sig = sig, .syscall = syscall};
	bpf_map_update_elem(&pending, &tid, &args, BPF_ANY);
	return 0;
}

static __always_inline void submit(__s32 tpid, __s32 sig, __u8 syscall, long ret)
{
	struct signal_event e = {};
	ig_header_current(&e.hdr);
	e.ret = ret;
	e.tpid = tpid;
	e.sig = sig;
	e.syscall = syscall;
	ig_submit(&e, sizeof(e));
}

static __always_inline int leave(long ret)
{
	__u32 tid = ig_current_tid();
	struct sig_args *args = bpf_map_lookup_elem(&pending, &tid);
	if (!args)
		return 0;
	if (!failed_only || ret < 0)
		submit(args->tpid, args->sig, args->syscall, ret);
	bpf_map_delete_elem(&pending, &tid);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_kill")
int enter_kill(struct trace_event_raw_sys_enter *ctx)
{
	return enter((__s32)ctx->args[0], (__s32)ctx->args[1], SRC_KILL);
}

SEC("tracepoint/syscalls/sys_enter_tkill")
int enter_tkill(struct trace_event_raw_sys_enter *ctx)
{
	return enter((__s32)ctx->args[0], (__s32)ctx->args[1], SRC_TKILL);
}

SEC("tracepoint/syscalls/sys_enter_tgkill")
int enter_tgkill(struct trace_event_raw_sys_enter *ctx)
{
	/* tgkill(tgid, tid, sig): the thread is the target */
	return enter((__s32)ctx->args[1], (__s32)ctx->args[2], SRC_TGKILL);
}

SEC("tracepoint/syscalls/sys_exit_kill")
int exit_kill(struct trace_event_raw_sys_exit *ctx)
{
	return leave(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_tkill")
int exit_tkill(struct trace_event_raw_sys_exit *ctx)
{
	return leave(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_tgkill")
int exit_tgkill(struct trace_event_raw_sys_exit *ctx)
{
	return leave(ctx->ret);
}

/* Every signal the kernel generates; current is whoever caused it (the
 * faulting task for SIGSEGV, the exiting child for SIGCHLD). */
SEC("tracepoint/signal/signal_generate")
int signal_generate(struct trace_event_raw_signal_generate *ctx)
{
	/* Not loaded with -k (only the syscalls) nor -f (no syscall failed). */
	if (ig_skip_current())
		return 0;
	__s32 sig = ctx->sig;
	if (target_signal && sig != target_signal)
		return 0;
	__u32 tid = ig_current_tid();
	if (bpf_map_lookup_elem(&pending, &tid))
		return 0; /* inside a traced kill syscall: its exit reports it */
	submit(ctx->pid, sig, SRC_KERNEL, 0);
	return 0;
}
