//go:build ignore

/* snapshot process: one record per process (or thread) from a task iterator.
 * A record is just the shared event header: it has every field we show. */
#include "common.h"

const volatile bool show_threads = false;

SEC("iter/task")
int snapshot_process(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	if (!task)
		return 0;
	if (!show_threads && BPF_CORE_READ(task, pid) != BPF_CORE_READ(task, tgid))
		return 0;
	if (ig_skip_task(task))
		return 0;
	struct event_header e = {};
	ig_header_task(&e, task);
	bpf_seq_write(seq, &e, sizeof(e));
	return 0;
}
