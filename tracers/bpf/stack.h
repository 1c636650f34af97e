/* Stacks: one stack map per object, named "stacks" (tracers.StackMapName),
 * and the helpers that take a stack into it. An event holds the stack's id;
 * ig reads the instruction pointers by id and names them. The same stack
 * gets the same id; a stack whose bucket holds another one gets no id
 * (negative, -EEXIST): ig counts it as lost. A streaming gadget never
 * empties the map: an event still in the ring buffer may name an id, and
 * a freed id may come to name another stack.
 * A gadget may set IG_STACK_ENTRIES before including this header. */
#ifndef IG_STACK_H
#define IG_STACK_H

#include "common.h"

#define IG_MAX_STACK_DEPTH 127 /* tracers.MaxStackDepth */
#ifndef IG_STACK_ENTRIES
#define IG_STACK_ENTRIES 10240
#endif

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, IG_STACK_ENTRIES);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, IG_MAX_STACK_DEPTH * sizeof(__u64));
} stacks SEC(".maps");

/* The kernel stack where ctx was taken, innermost first; negative when
 * none was stored. Stacks are compared whole, not by hash alone
 * (BPF_F_FAST_STACK_CMP), so that an id never names two stacks. */
static __always_inline __s32 ig_kernel_stack(void *ctx)
{
	return bpf_get_stackid(ctx, &stacks, 0);
}

/* The current task's user stack (its registers at its entry into the
 * kernel), innermost first; negative when none was stored (a kernel
 * thread has none). */
static __always_inline __s32 ig_user_stack(void *ctx)
{
	return bpf_get_stackid(ctx, &stacks, BPF_F_USER_STACK);
}

#endif /* IG_STACK_H */
