#include "agent/clock.h"

#ifdef __x86_64__
#include <cpuid.h>
#endif

int64_t weft_clock_offset;
bool weft_stamp_tsc;
uint64_t weft_stamp_q32;

/* The TSC and the monotonic clock read together at start: the rate's origin. */
static uint64_t tsc0, ns0;
/* The baseline (ns since the origin) of the rate published last. */
static uint64_t q32_baseline;

/* The rate is first published over this long a baseline. */
#define WEFT_STAMP_RATE_AFTER_NS 10000000u

static void publish(uint64_t ns, uint64_t tsc);

/*
 * The monotonic clock and the TSC read as close together as the thread
 * manages in a few tries (a preemption between the two would skew the
 * rate): whether they were close (4096 ticks at most).
 */
static bool read_pair(uint64_t *ns, uint64_t *tsc)
{
#ifdef __x86_64__
	for (int i = 0; i < 4; i++) {
		uint64_t a = __builtin_ia32_rdtsc();

		*ns = weft_clock_now();
		*tsc = __builtin_ia32_rdtsc();
		if (*tsc - a < 4096)
			return true;
	}
	return false;
#else
	*ns = *tsc = weft_clock_now();
	return true;
#endif
}

struct weft_stamp_base weft_stamp_base_fill(struct weft_stamp_cache *c)
{
	struct weft_stamp_base b = { 0, 0, __atomic_load_n(&weft_stamp_q32, __ATOMIC_RELAXED), 0 };

	if (!weft_stamp_tsc) {
		b.ns = b.stamp = weft_clock_now();
		return b;
	}
#ifdef __x86_64__
	if (read_pair(&b.ns, &b.stamp)) {
		weft_stamp_cache_store(c, b.ns, b.stamp);
		if (__builtin_expect(!b.q, 0) && b.stamp > tsc0 && b.ns > ns0) {
			publish(b.ns, b.stamp);
			b.q = __atomic_load_n(&weft_stamp_q32, __ATOMIC_RELAXED);
		}
	}
#else
	(void)c;
	read_pair(&b.ns, &b.stamp);
#endif
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
		for (int i = 0; i < 16 && !read_pair(&ns0, &tsc0); i++)
			;
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

uint64_t weft_stamp_span_slow(uint64_t ticks)
{
	uint64_t ns, tsc;
	bool tight;

	if (!weft_stamp_tsc)
		return ticks;
	/* A loose pair (a preemption between its reads) converts, but publishes no rate. */
	tight = read_pair(&ns, &tsc);
	if (tsc <= tsc0 || ns <= ns0)
		return 0;
	if (tight)
		publish(ns, tsc);
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
	uint64_t ns, tsc;

	if (!weft_stamp_tsc)
		return;
	if (read_pair(&ns, &tsc) && tsc > tsc0 && ns > ns0)
		publish(ns, tsc);
}
