/*
 * A thread's cached clock base (agent/clock.h: weft_stamp_base_cached):
 * the clock is read when the cache is empty or older than WEFT_STAMP_SHORT
 * ticks, and not otherwise; the first base taken once the TSC's rate can be
 * measured publishes it; a base taken from the cache tells the time the
 * clock tells, to the rate's error; a stamp converted against it is where
 * a fresh base would put it; and a signal handler that comes between a
 * refill's two reads (and reads the cache itself) does not leave a skewed
 * pair behind.
 */
#include <signal.h>
#include <string.h>
#include <sys/time.h>
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

static struct weft_stamp_cache cache;
static volatile sig_atomic_t alarms;

/* Takes a base from the cache the interrupted code is using, then spins 200 us. */
static void on_alarm(int sig)
{
	uint64_t until = weft_clock_now() + 200000;

	(void)sig;
	(void)weft_stamp_base_cached(&cache);
	while (weft_clock_now() < until)
		;
	alarms++;
}

/*
 * Refills the cache over and over under a 1 kHz timer whose handler takes
 * 200 us: a pair cached with the handler between its clock read and its
 * TSC read would make the next base from the cache ~200 us early.
 */
static void test_handler_between(void)
{
	struct itimerval it = { { 0, 1000 }, { 0, 1000 } };
	struct sigaction sa;
	uint64_t end, before;
	struct weft_stamp_base b;
	long early = 0, rounds = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
	end = weft_clock_now() + 300 * 1000 * 1000;
	while (weft_clock_now() < end) {
		cache.stamp = 0; /* empty: the next base refills it */
		(void)weft_stamp_base_cached(&cache);
		before = weft_clock_now();
		b = weft_stamp_base_cached(&cache);
		if (b.ns + 20000 < before)
			early++;
		rounds++;
	}
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	expect_true(alarms > 50);
	expect_true(rounds > 1000);
	expect_int(early, 0);
}

int main(void)
{
	struct weft_stamp_cache c = { 0, 0 };
	struct weft_stamp_base b, fresh;
	uint64_t before, after, stamp, last, start;
	int back = 0, young = 0;

	start = weft_clock_now();
	weft_clock_init();
	if (!weft_stamp_tsc) {
		/* No TSC stamps: every base is a clock read, the cache is left alone. */
		b = weft_stamp_base_cached(&c);
		expect_int(c.stamp, 0);
		expect_int(b.ns, b.stamp);
		return harness_done();
	}
	/*
	 * Before the rate can be published (its origin is younger than 10 ms)
	 * the clock is read and there is no rate; once it can, the first base
	 * taken publishes it, with no refresh from the exporter (which would
	 * come with its first walk, half a second after the start: until then
	 * every base read the clock).
	 */
	before = weft_clock_now();
	b = weft_stamp_base_cached(&c);
	after = weft_clock_now();
	expect_true(b.ns >= before && b.ns <= after);
	if (after - start < 9 * 1000 * 1000) { /* else a loaded machine held this thread up */
		expect_int(b.q, 0);
		expect_int(weft_stamp_q32, 0);
	}
	nap(20 * 1000 * 1000);
	for (int i = 0; i < 4 && !weft_stamp_q32; i++)
		b = weft_stamp_base_cached(&c); /* a loose pair (a preemption) publishes nothing */
	assert_true(weft_stamp_q32 != 0);
	expect_int(b.q, weft_stamp_q32);
	c.stamp = 0;

	/* Empty: a clock read, cached. */
	before = weft_clock_now();
	b = weft_stamp_base_cached(&c);
	after = weft_clock_now();
	expect_true(b.ns >= before && b.ns <= after);
	expect_int(c.ns, b.ns);
	expect_int(c.stamp, b.stamp);

	/*
	 * Young: no clock read (the cache is unchanged), and the time is the
	 * clock's (tried a few times: a preemption past 2^24 ticks refills).
	 */
	for (int i = 0; i < 5 && !young; i++) {
		stamp = c.stamp;
		before = weft_clock_now();
		b = weft_stamp_base_cached(&c);
		after = weft_clock_now();
		young = c.stamp == stamp;
	}
	expect_true(young);
	expect_true(b.stamp > stamp);
	expect_true(near(b.ns, before + (after - before) / 2, 20000 + (after - before)));
	/* A stamp converted against it lands where a fresh base puts it. */
	fresh = weft_stamp_base();
	expect_true(near(weft_stamp_at(&b, stamp), weft_stamp_at(&fresh, stamp), 20000));

	/* Old (past WEFT_STAMP_SHORT ticks, 16.8 ms even at 1 GHz): read again, and cached. */
	stamp = c.stamp;
	nap(40 * 1000 * 1000);
	b = weft_stamp_base_cached(&c);
	expect_true(c.stamp != stamp);
	expect_int(c.stamp, b.stamp);
	expect_int(c.ns, b.ns);

	/*
	 * Across windows: times never go back by more than the rate's error
	 * over one window (a refill puts the clock's own time in place of
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

	test_handler_between();
	return harness_done();
}
