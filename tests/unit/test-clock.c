/*
 * A thread's cached clock base (agent/clock.h: weft_stamp_base_cached):
 * the clock is read when the cache is empty, older than WEFT_STAMP_SHORT
 * ticks or being rewritten, and not otherwise; a base taken from the cache
 * tells the time the clock tells, to the rate's error, and a stamp converted
 * against it is where a fresh base would put it.
 */
#include <time.h>

#include "agent/clock.h"
#include "tests/unit/harness.h"

static void nap(long ns)
{
	struct timespec ts = { ns / 1000000000, ns % 1000000000 };

	while (nanosleep(&ts, &ts) != 0)
		;
}

/* |a - b| <= tol */
static int near(uint64_t a, uint64_t b, uint64_t tol)
{
	return (a > b ? a - b : b - a) <= tol;
}

int main(void)
{
	struct weft_stamp_cache c = { 0, 0 };
	struct weft_stamp_base b, fresh;
	uint64_t before, after, stamp, last;
	int back = 0;

	weft_clock_init();
	if (!weft_stamp_tsc) {
		/* No TSC stamps: every base is a clock read, the cache is left alone. */
		b = weft_stamp_base_cached(&c);
		expect_int(c.stamp, 0);
		expect_int(b.ns, b.stamp);
		return harness_done();
	}
	/* Before the rate is published (q 0) the clock is read, and nothing is cached. */
	b = weft_stamp_base_cached(&c);
	expect_int(b.q, weft_stamp_q32);
	if (!b.q)
		expect_int(c.stamp, 0);
	nap(20 * 1000 * 1000);
	weft_stamp_refresh();
	assert_true(weft_stamp_q32 != 0);

	/* Empty: a clock read, cached. */
	before = weft_clock_now();
	b = weft_stamp_base_cached(&c);
	after = weft_clock_now();
	expect_true(b.ns >= before && b.ns <= after);
	expect_int(c.ns, b.ns);
	expect_int(c.stamp, b.stamp);
	expect_int(b.q, weft_stamp_q32);

	/* Young: no clock read (the cache is unchanged), and the time is the clock's. */
	stamp = c.stamp;
	nap(1000 * 1000);
	before = weft_clock_now();
	b = weft_stamp_base_cached(&c);
	after = weft_clock_now();
	expect_int(c.stamp, stamp);
	expect_true(b.stamp > stamp);
	expect_true(near(b.ns, before + (after - before) / 2, 20000 + (after - before)));
	/* A stamp converted against it lands where a fresh base puts it. */
	fresh = weft_stamp_base();
	expect_true(near(weft_stamp_at(&b, stamp), weft_stamp_at(&fresh, stamp), 20000));

	/* Old (past WEFT_STAMP_SHORT ticks, 16.8 ms even at 1 GHz): read again, and cached. */
	nap(40 * 1000 * 1000);
	b = weft_stamp_base_cached(&c);
	expect_true(c.stamp != stamp);
	expect_int(c.stamp, b.stamp);
	expect_int(c.ns, b.ns);

	/* Being rewritten (a signal handler came in the middle): a clock read, the cache left. */
	stamp = c.stamp;
	c.stamp = WEFT_STAMP_CACHE_BUSY;
	before = weft_clock_now();
	b = weft_stamp_base_cached(&c);
	after = weft_clock_now();
	expect_int(c.stamp, WEFT_STAMP_CACHE_BUSY);
	expect_true(b.ns >= before && b.ns <= after);
	c.stamp = stamp;

	/*
	 * Across windows: times never go back by more than the rate's error
	 * over one window (a refresh puts the clock's own time in place of
	 * the extrapolated one), and follow the clock.
	 */
	last = 0;
	for (int i = 0; i < 200000; i++) {
		b = weft_stamp_base_cached(&c);
		if (b.ns + 2000 < last)
			back++;
		last = b.ns > last ? b.ns : last;
	}
	expect_int(back, 0);
	expect_true(near(last, weft_clock_now(), 100000));
	return harness_done();
}
