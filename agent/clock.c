#include "agent/clock.h"
#include "agent/hot.h"

#ifdef __x86_64__
#include <cpuid.h>
#endif

int64_t weft_clock_offset;
bool weft_stamp_tsc WEFT_HOT_DATA;
uint64_t weft_stamp_q32 WEFT_HOT_DATA;

/*
 * The TSC and the monotonic clock read together at start: the rate's origin,
 * and the ticks its pair spanned.
 */
static uint64_t tsc0, ns0, width0;
/* The baseline (ns since the origin) of the rate published last. */
static uint64_t q32_baseline;

/* The rate is first published over this long a baseline. */
#define WEFT_STAMP_RATE_AFTER_NS 10000000u

/* A pair whose reads span fewer ticks was not interrupted between them. */
#define PAIR_TIGHT 4096u

static void publish_pair(uint64_t ns, uint64_t tsc, uint64_t width);

/*
 * The monotonic clock and the TSC read as close together as the thread
 * manages in `tries` (a preemption between the two would skew the rate):
 * the closest pair, and the ticks from the TSC read before its clock read
 * to the one after (PAIR_TIGHT or more: none was tight).
 */
static uint64_t read_pair(uint64_t *ns, uint64_t *tsc, int tries)
{
#ifdef __x86_64__
	uint64_t best = UINT64_MAX;

	for (int i = 0; i < tries && best >= PAIR_TIGHT; i++) {
		uint64_t a, n, b;

		a = __builtin_ia32_rdtsc();
		n = weft_clock_now();
		b = __builtin_ia32_rdtsc();
		if (i == 0 || b - a < best) {
			best = b - a;
			*ns = n;
			*tsc = b;
		}
	}
	return best;
#else
	(void)tries;
	*ns = *tsc = weft_clock_now();
	return 0;
#endif
}

struct weft_stamp_base weft_stamp_base_fill(struct weft_stamp_cache *c)
{
	struct weft_stamp_base b = { 0, 0, __atomic_load_n(&weft_stamp_q32, __ATOMIC_RELAXED), 0 };
	uint64_t width;

	if (!weft_stamp_tsc) {
		b.ns = b.stamp = weft_clock_now();
		return b;
	}
	width = read_pair(&b.ns, &b.stamp, 4);
#ifdef __x86_64__
	if (width < PAIR_TIGHT)
		weft_stamp_cache_store(c, b.ns, b.stamp);
#else
	(void)c;
#endif
	if (__builtin_expect(!b.q, 0)) {
		publish_pair(b.ns, b.stamp, width);
		b.q = __atomic_load_n(&weft_stamp_q32, __ATOMIC_RELAXED);
	}
	return b;
}

void weft_clock_init(void)
{
	uint64_t m0 = weft_clock_now();
	uint64_t r = weft_clock_realtime();
	uint64_t m1 = weft_clock_now();

	weft_clock_offset = (int64_t)r - (int64_t)(m0 + (m1 - m0) / 2);
	weft_stamp_q32 = 1ull << 32; /* stamps are nanoseconds */
#ifdef __x86_64__
	unsigned int a, b, c, d;

	/* CPUID 0x80000007, EDX bit 8: the invariant TSC. */
	if (__get_cpuid(0x80000007, &a, &b, &c, &d) && (d & (1u << 8))) {
		/* The origin of every rate: a tight pair, if a few more tries give one. */
		width0 = read_pair(&ns0, &tsc0, 8);
		weft_stamp_q32 = 0;
		q32_baseline = 0;
		weft_stamp_tsc = true;
	}
#endif
}

/*
 * The rate from the origin to `ns`/`tsc` published if its baseline is long
 * enough and twice the published one's (several threads may publish at
 * once: each a good rate).
 */
static void publish(uint64_t ns, uint64_t tsc)
{
	uint64_t base = ns - ns0;

	if (base < WEFT_STAMP_RATE_AFTER_NS ||
	    base < 2 * __atomic_load_n(&q32_baseline, __ATOMIC_RELAXED))
		return;
	__atomic_store_n(&q32_baseline, base, __ATOMIC_RELAXED);
	__atomic_store_n(&weft_stamp_q32, (uint64_t)(((weft_u128)base << 32) / (tsc - tsc0)),
			 __ATOMIC_RELAXED);
}

/*
 * publish, from a pair whose reads spanned `width` ticks: one that was not
 * interrupted, its origin neither, or — where no clock read is ever that
 * quick (a clock source outside the vDSO: every read a system call) — one
 * whose and whose origin's spans are under 10 ppm of the baseline.
 */
static void publish_pair(uint64_t ns, uint64_t tsc, uint64_t width)
{
	if (tsc <= tsc0 || ns <= ns0)
		return;
	if (width >= PAIR_TIGHT || width0 >= PAIR_TIGHT) {
		uint64_t limit = (tsc - tsc0) / 100000u;

		if (width > limit || width0 > limit - width)
			return;
	}
	publish(ns, tsc);
}

uint64_t weft_stamp_span_slow(uint64_t ticks)
{
	uint64_t ns, tsc, width;

	if (!weft_stamp_tsc)
		return ticks;
	width = read_pair(&ns, &tsc, 4);
	if (tsc <= tsc0 || ns <= ns0)
		return 0;
	publish_pair(ns, tsc, width);
	return (uint64_t)((weft_u128)ticks * (ns - ns0) / (tsc - tsc0));
}

uint64_t weft_stamp_exact(struct weft_stamp_base *b)
{
	uint64_t e = 1ull << 32;

	if (weft_stamp_tsc && b->stamp > tsc0 && b->ns > ns0)
		e = (uint64_t)(((weft_u128)(b->ns - ns0) << 32) / (b->stamp - tsc0));
	else if (weft_stamp_tsc && b->q)
		e = b->q;
	b->exact = e ? e : 1;
	return b->exact;
}

void weft_stamp_refresh(void)
{
	uint64_t ns, tsc, width;

	if (!weft_stamp_tsc)
		return;
	width = read_pair(&ns, &tsc, 4);
	publish_pair(ns, tsc, width);
}
