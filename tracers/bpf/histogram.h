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

/* Adds v to h; safe from every CPU at once. */
static __always_inline void ig_hist_add(struct ig_hist *h, __u64 v)
{
	__u32 slot = ig_log2(v);
	if (slot >= IG_HIST_SLOTS)
		slot = IG_HIST_SLOTS - 1;
	__sync_fetch_and_add(&h->slots[slot], 1);
	__sync_fetch_and_add(&h->count, 1);
	__sync_fetch_and_add(&h->sum, v);
}

#endif
