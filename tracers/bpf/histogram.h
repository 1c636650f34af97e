/* Log2 histograms, shared by the summary gadgets (profile block-io,
 * profile tcprtt): slot i counts values v with 2^i <= v < 2^(i+1); slot 0
 * also counts 0. The Go side turns the slots into intervals
 * (output.Log2Histogram), up to the last slot that counted any. */
#ifndef IG_HISTOGRAM_H
#define IG_HISTOGRAM_H

/* 2^26 us is over a minute: anything slower is counted in the last slot. */
#define IG_HIST_SLOTS 27

struct ig_hist {
	__u64 slots[IG_HIST_SLOTS];
	__u64 count; /* values added */
	__u64 sum;   /* their sum, for the average */
};

/* floor(log2(v)), 0 for v == 0. */
static __always_inline __u32 ig_log2(__u64 v)
{
	__u32 r = 0, shift;
	shift = (v > 0xFFFFFFFFULL) << 5; v >>= shift; r |= shift;
	shift = (v > 0xFFFF) << 4; v >>= shift; r |= shift;
	shift = (v > 0xFF) << 3; v >>= shift; r |= shift;
	shift = (v > 0xF) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	r |= (v >> 1);
	return r;
}

/* Adds one to slot's counter, atomically, at a constant offset: 5.10's
 * verifier refuses an atomic add at a computed offset into a map value
 * ("misaligned access off (0x0; 0xffffffffffffffff)", however the index
 * is bounded), and clang folds plain per-slot cases back into one
 * computed address; inline asm with the offset as an immediate it cannot
 * fold. */
#define IG_HIST_SLOT(n)                                                                      \
	case n:                                                                              \
		asm volatile("lock *(u64 *)(%0 + %1) += %2" ::"r"(h),                        \
			     "i"(__builtin_offsetof(struct ig_hist, slots) + (n) * 8), "r"(one) \
			     : "memory");                                                    \
		break;

static __always_inline void ig_hist_inc_slot(struct ig_hist *h, __u32 slot)
{
	__u64 one = 1;
	switch (slot) {
	IG_HIST_SLOT(0)
	IG_HIST_SLOT(1)
	IG_HIST_SLOT(2)
	IG_HIST_SLOT(3)
	IG_HIST_SLOT(4)
	IG_HIST_SLOT(5)
	IG_HIST_SLOT(6)
	IG_HIST_SLOT(7)
	IG_HIST_SLOT(8)
	IG_HIST_SLOT(9)
	IG_HIST_SLOT(10)
	IG_HIST_SLOT(11)
	IG_HIST_SLOT(12)
	IG_HIST_SLOT(13)
	IG_HIST_SLOT(14)
	IG_HIST_SLOT(15)
	IG_HIST_SLOT(16)
	IG_HIST_SLOT(17)
	IG_HIST_SLOT(18)
	IG_HIST_SLOT(19)
	IG_HIST_SLOT(20)
	IG_HIST_SLOT(21)
	IG_HIST_SLOT(22)
	IG_HIST_SLOT(23)
	IG_HIST_SLOT(24)
	IG_HIST_SLOT(25)
	IG_HIST_SLOT(26)
	}
}
#undef IG_HIST_SLOT
_Static_assert(IG_HIST_SLOTS == 27, "ig_hist_inc_slot has a case per slot");

/* Adds v to h; safe from every CPU at once. */
static __always_inline void ig_hist_add(struct ig_hist *h, __u64 v)
{
	__u32 slot = ig_log2(v);
	if (slot >= IG_HIST_SLOTS)
		slot = IG_HIST_SLOTS - 1;
	ig_hist_inc_slot(h, slot);
	__sync_fetch_and_add(&h->count, 1);
	__sync_fetch_and_add(&h->sum, v);
}

#endif
