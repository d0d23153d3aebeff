/*
 * The hand-off table: a take returns what was published on the same object
 * since the wait began, whole, and nothing else, with writers racing; a
 * hand-off's stamp tells the waiter when it was made, to the clock's jitter.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "agent/clock.h"
/* The table itself, to lay out a torn publication (the archive's copy is not linked then). */
#include "agent/handoff.c"
#include "tests/unit/harness.h"

/* Sleeps `ns`, a wait long enough that the stamp's age is measured. */
static void nap(long ns)
{
	struct timespec ts = { 0, ns };

	while (nanosleep(&ts, &ts) != 0)
		;
}

static void test_stamp(void)
{
	uint64_t before, stamp, after, now, when;

	weft_clock_init();
	nap(2000000);
	before = weft_clock_now();
	stamp = weft_stamp();
	after = weft_clock_now();
	nap(3000000);
	now = weft_clock_now();
	when = weft_stamp_clock(stamp, now);
	/* Between the two clock reads around the stamp, give or take 20 us. */
	expect_true(when + 20000 >= before);
	expect_true(when <= after + 20000);
	expect_true(now - when >= 3000000);
	/* Never after `now`: a stamp from "the future" (another core's skew) is now. */
	expect_true(weft_stamp_clock(stamp, before) <= before);
	expect_true(weft_stamp_clock(weft_stamp() + 1000000000, now) <= now);
}

static void test_take(void)
{
	static int a, b;
	uint64_t when = 0, since = weft_handoff_wait(&a), first;

	expect_int(weft_handoff_take(&a, since, &when), 0); /* nothing published */
	expect_int(when, 0);                                /* left alone */
	weft_handoff_publish(&a, 42);
	expect_int(weft_handoff_take(&a, since, &when), 42);
	expect_true(when >= since); /* when it was published */
	first = when;
	expect_int(weft_handoff_take(&a, weft_stamp() + 1000, &when), 0); /* before the wait */
	expect_int(weft_handoff_take(&b, 0, &when), 0);                   /* another object */
	/* Published again with no wait begun since: the first one stands. */
	weft_handoff_publish(&a, 42);
	expect_int(weft_handoff_take(&a, since, &when), 42);
	expect_int(when, first);
	/* A wait began: the next publication is new, and serves it. */
	since = weft_handoff_wait(&a);
	weft_handoff_publish(&a, 42);
	expect_int(weft_handoff_take(&a, since, &when), 42);
	expect_true(when >= since && when > first);
	/* Another span is new too. */
	first = when;
	weft_handoff_publish(&a, 43);
	expect_int(weft_handoff_take(&a, since, &when), 43);
	expect_true(when > first);
	weft_handoff_publish(&a, 0);
	expect_int(weft_handoff_take(&a, 0, &when), 0); /* no span: nothing to link */
}

/*
 * Two objects that share a slot, found by trying: a publication on the
 * second overwrites the first's.
 */
static char objects[1 << 16];
static const void *obj_x, *obj_y;

static void find_colliding(void)
{
	uint64_t when;

	obj_x = &objects[0];
	for (size_t i = 8; i < sizeof(objects); i += 8) {
		weft_handoff_publish(obj_x, 1);
		weft_handoff_publish(&objects[i], 2);
		if (!weft_handoff_take(obj_x, 0, &when)) {
			obj_y = &objects[i];
			return;
		}
	}
}

/*
 * Two threads publish as fast as they can on two objects that share a slot,
 * each a new span every time (its high bits say which thread), and take
 * from both between publications: a take returns only a span published on
 * its own object, with that publication's stamp — never a mix of two
 * publications' fields (one span seen with two stamps, or one stamp with two
 * spans) — and some takes succeed.
 */
static _Atomic int stop;
static _Atomic long taken, wrong;
static uint64_t concurrent_since;

/* A take from `obj` (owner: the writer whose spans it holds), checked against the last one seen. */
static void take_checked(const void *obj, uint64_t owner, uint64_t last[2])
{
	uint64_t when, span = weft_handoff_take(obj, concurrent_since, &when);

	if (!span)
		return;
	atomic_fetch_add(&taken, 1);
	if (span >> 40 != owner || (span == last[0]) != (when == last[1]))
		atomic_fetch_add(&wrong, 1);
	last[0] = span;
	last[1] = when;
}

static void *writer(void *arg)
{
	const void *obj = arg == obj_x ? obj_x : obj_y;
	uint64_t base = (uint64_t)(arg == obj_x ? 1 : 2) << 40, i = 0;
	uint64_t last_x[2] = { 0, 0 }, last_y[2] = { 0, 0 };

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		weft_handoff_publish(obj, base + ++i);
		take_checked(obj_x, 1, last_x);
		take_checked(obj_y, 2, last_y);
	}
	return NULL;
}

static void test_concurrent(void)
{
	pthread_t th[2];

	find_colliding();
	expect_true(obj_y != NULL);
	if (!obj_y)
		return;
	concurrent_since = weft_stamp(); /* after the search's publications */
	pthread_create(&th[0], NULL, writer, (void *)obj_x);
	pthread_create(&th[1], NULL, writer, (void *)obj_y);
	nap(300000000);
	atomic_store(&stop, 1);
	pthread_join(th[0], NULL);
	pthread_join(th[1], NULL);
	expect_true(taken > 0);
	expect_int(wrong, 0);
}

/*
 * A slot whose fields come from two publications (writers interleaved, or a
 * reader between a writer's stores) is never taken: each field changed
 * alone, under the check of the publication before.
 */
static void test_torn(void)
{
	static int obj;
	struct slot *sl = slot_of(&obj);
	uint64_t when, since = weft_handoff_wait(&obj), span, stamp;

	weft_handoff_publish(&obj, 77);
	expect_int(weft_handoff_take(&obj, since, &when), 77);
	span = weft_load_relaxed(&sl->span);
	stamp = weft_load_relaxed(&sl->stamp);
	weft_store_relaxed(&sl->span, 78); /* another writer's span */
	expect_int(weft_handoff_take(&obj, since, &when), 0);
	weft_store_relaxed(&sl->span, span);
	weft_store_relaxed(&sl->stamp, stamp + 1); /* another writer's stamp */
	expect_int(weft_handoff_take(&obj, since, &when), 0);
	weft_store_relaxed(&sl->stamp, stamp);
	expect_int(weft_handoff_take(&obj, since, &when), 77); /* whole again */
	/* A publisher finding the torn slot writes a whole publication. */
	weft_store_relaxed(&sl->stamp, stamp + 1);
	weft_handoff_publish(&obj, 77);
	expect_int(weft_handoff_take(&obj, since, &when), 77);
}

int main(void)
{
	test_stamp();
	test_take();
	test_torn();
	test_concurrent();
	return harness_done();
}
