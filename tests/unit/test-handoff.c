/*
 * The hand-off table: a take returns what was published on the same object
 * since the wait began, whole, and nothing else, with writers racing, up to
 * the newest WEFT_HANDOFF_MAX producers (a fan-in); a
 * hand-off's stamp tells the waiter when it was made, to the clock's jitter.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "agent/clock.h"
/* The table itself, to lay out a torn publication (the archive's copy is not linked then). */
#include "agent/handoff.c"
#include "tests/unit/harness.h"

/* A wait on `object` begins now: its stamp (as a hook's wait's start). */
static uint64_t wait_on(const void *object)
{
	uint64_t since = weft_stamp();

	weft_handoff_wait(object, since);
	return since;
}

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
	/*
	 * `now` is read just before the conversion, as its callers do; a thread
	 * preempted between the two (a loaded machine) would see the stamp that
	 * much older: measured again then.
	 */
	for (int tries = 0;; tries++) {
		uint64_t later;

		now = weft_clock_now();
		when = weft_stamp_clock(stamp, now);
		later = weft_clock_now();
		if (later - now < 20000 || tries == 100)
			break;
	}
	/* Between the two clock reads around the stamp, give or take 20 us. */
	expect_true(when + 20000 >= before);
	expect_true(when <= after + 20000);
	expect_true(now - when >= 3000000);
	/* Never after `now`: a stamp from "the future" (another core's skew) is now. */
	expect_true(weft_stamp_clock(stamp, before) <= before);
	expect_true(weft_stamp_clock(weft_stamp() + 1000000000, now) <= now);
}

/*
 * Stamps as times (the waits' start and end, agent/wait.h): against one base
 * the same stamp is the same time (a wait's end and the task it starts must
 * agree); an age within the published rate's range and a longer one both
 * come out to the clock's jitter; the rate is published once the start is
 * 10 ms old.
 */
static void test_stamp_base(void)
{
	uint64_t before, stamp, after, t, t_short, long_before, long_stamp;
	struct weft_stamp_base b;

	weft_clock_init();
	if (weft_stamp_tsc)
		expect_int(weft_stamp_q32, 0); /* not measured yet */
	long_before = weft_clock_now();
	long_stamp = weft_stamp();
	nap(12000000);
	before = weft_clock_now();
	stamp = weft_stamp();
	after = weft_clock_now();
	nap(1000000);
	/*
	 * A measurement over more than 10 ms publishes the rate (from a pair
	 * not interrupted between its reads: a few tries on a loaded machine).
	 */
	expect_true(weft_stamp_span_slow(1000) <= 1000000);
	for (int i = 0; i < 8 && !weft_stamp_q32; i++)
		(void)weft_stamp_span_slow(1000);
	expect_true(weft_stamp_q32 != 0);
	b = weft_stamp_base();
	t = weft_stamp_at(&b, stamp);
	expect_true(t + 20000 >= before);
	expect_true(t <= after + 20000);
	expect_true(b.ns - t >= 1000000);
	expect_int(weft_stamp_at(&b, stamp), t);
	t_short = t;
	/* A stamp at or after the base is the base's time. */
	expect_int(weft_stamp_at(&b, b.stamp), b.ns);
	expect_int(weft_stamp_at(&b, b.stamp + 5000), b.ns);
	/* 13 ms: past the published rate's range on any TSC of 1.3 GHz or more. */
	t = weft_stamp_at(&b, long_stamp);
	expect_true(b.ns - t >= 13000000);
	expect_true(t + 20000 >= long_before);
	expect_true(t <= before);
	expect_true(weft_stamp_span(0) == 0);
	/*
	 * Continuous and increasing across WEFT_STAMP_SHORT, where the
	 * published rate gives way to the base's own: the stamps just either
	 * side of it are a nanosecond or so apart, never in the wrong order.
	 */
	{
		uint64_t near = b.stamp - WEFT_STAMP_SHORT, prev = 0;

		for (uint64_t s = near - 4; s <= near + 4; s++) {
			uint64_t at = weft_stamp_at(&b, s);

			expect_true(at >= prev);
			expect_true(at - prev <= 2 || prev == 0);
			prev = at;
		}
	}
	/* The same stamp against the same base: the same time, the published rate changed or not.
	 */
	{
		uint64_t a = weft_stamp_at(&b, long_stamp), saved = weft_stamp_q32;

		weft_stamp_q32 = saved / 2;
		expect_int(weft_stamp_at(&b, long_stamp), a);
		expect_int(weft_stamp_at(&b, stamp), t_short);
		weft_stamp_q32 = saved;
	}
	/* Republished over a baseline twice as long, no sooner. */
	if (weft_stamp_tsc) {
		uint64_t q = weft_stamp_q32;

		weft_stamp_refresh();
		expect_int(weft_stamp_q32, q);
		nap(30000000);
		weft_stamp_refresh();
		/* A new measurement: within 0.1% of the first. */
		expect_true(weft_stamp_q32 < q + q / 1000 && weft_stamp_q32 + q / 1000 > q);
	}
}

/* This thread's publications, as a hook's are: with its memo. */
static _Thread_local struct weft_handoff_memo memo;

static void publish(const void *object, uint64_t span, bool all)
{
	weft_handoff_publish(&memo, object, span, all);
}

/* The oldest span handed off on `object` since `since` (*when: its stamp), or 0. */
static uint64_t take1(const void *object, uint64_t since, uint64_t *when)
{
	uint64_t spans[WEFT_HANDOFF_MAX];

	return weft_handoff_take(object, since, spans, when) ? spans[0] : 0;
}

static void test_take(void)
{
	static int a, b;
	uint64_t when = 0, since = wait_on(&a), first, spans[WEFT_HANDOFF_MAX];

	expect_int(take1(&a, since, &when), 0); /* nothing published */
	expect_int(when, 0);                    /* left alone */
	/* Published twice, no wait begun and not taken between: the first stands. */
	publish(&a, 42, false);
	publish(&a, 42, false);
	expect_int(weft_handoff_take(&a, since, spans, &when), 1);
	expect_int(spans[0], 42);
	expect_true(when >= since); /* when it was published */
	first = when;
	expect_int(take1(&a, weft_stamp() + 1000, &when), 0); /* before the wait */
	expect_int(take1(&b, 0, &when), 0);                   /* another object */
	/* Taken: another waiter woken with it finds no other, and shares it. */
	expect_int(take1(&a, since, &when), 42);
	expect_int(when, first);
	/* Taken: the next signal is a new hand-off. */
	publish(&a, 42, false);
	expect_int(take1(&a, since, &when), 42);
	expect_true(when > first);
	/* A wait began: only what came since, oldest first, each its own. */
	since = wait_on(&a);
	publish(&a, 43, false);
	first = weft_stamp();
	publish(&a, 44, false);
	expect_int(weft_handoff_take(&a, since, spans, &when), 2);
	expect_int(spans[0], 43);
	expect_int(spans[1], 44);
	expect_true(when >= since && when < first);
	/* A broadcast is every waiter's: never claimed. */
	since = wait_on(&a);
	publish(&a, 45, true);
	publish(&a, 46, false);
	expect_int(weft_handoff_take(&a, since, spans, &when), 2); /* 45 and 46 */
	expect_int(weft_handoff_take(&a, since, spans, &when), 1); /* 46 was claimed */
	expect_int(spans[0], 45);
	publish(&a, 0, false); /* no span: nothing to link */
	expect_int(weft_handoff_take(&a, since, spans, &when), 1);
}

/*
 * A fan-in: more producers hand off to one waiter than a slot keeps; it
 * gets the newest WEFT_HANDOFF_MAX, oldest first, each span once.
 */
static void test_fan_in(void)
{
	static int c;
	uint64_t since = wait_on(&c), spans[WEFT_HANDOFF_MAX], when;

	for (uint64_t p = 1; p <= WEFT_HANDOFF_MAX + 1; p++)
		publish(&c, 100 + p, false);
	expect_int(weft_handoff_take(&c, since, spans, &when), WEFT_HANDOFF_MAX);
	for (int i = 0; i < WEFT_HANDOFF_MAX; i++)
		expect_int(spans[i], 102 + (uint64_t)i);
	/* A producer that hands off again is linked once. */
	since = wait_on(&c);
	publish(&c, 7, false);
	publish(&c, 8, false);
	publish(&c, 7, false);
	expect_int(weft_handoff_take(&c, since, spans, &when), 2);
	expect_int(spans[0], 7);
	expect_int(spans[1], 8);
}

/*
 * A signal with no waiter glibc counts publishes only while a wait has
 * begun on the object and not yet taken its hand-offs: a waiter woken and
 * reacquiring the mutex still receives a fan-in's later results.
 */
/*
 * Two waiters on one object, woken one after the other: each takes the
 * signal that woke it, not the other's (claimed), though both were made
 * after both waits began.
 */
static void test_claims(void)
{
	static int d;
	uint64_t s1 = wait_on(&d), s2 = wait_on(&d);
	uint64_t spans[WEFT_HANDOFF_MAX], when;

	publish(&d, 6, false);
	expect_int(weft_handoff_take(&d, s1, spans, &when), 1);
	expect_int(spans[0], 6);
	publish(&d, 7, false);
	expect_int(weft_handoff_take(&d, s2, spans, &when), 1);
	expect_int(spans[0], 7);
}

/*
 * A waiter on a CPU whose TSC runs ahead of the signaller's: the wait began
 * first, so the signal that follows is its hand-off, though the signaller's
 * clock reads earlier than the wait's start (fails with publications
 * stamped by the signaller's clock alone).
 */
static void test_skew(void)
{
	static int e;
	uint64_t since = weft_stamp() + 1000000, spans[WEFT_HANDOFF_MAX], when = 0;

	weft_handoff_wait(&e, since);
	publish(&e, 9, false);
	expect_int(weft_handoff_take(&e, since, spans, &when), 1);
	expect_int(spans[0], 9);
	expect_true(when > since);
}

/*
 * Two waits begun out of stamp order (the second on a CPU whose TSC is
 * behind): a broadcast after both is newer than each, and both take it.
 */
static void test_skew_two(void)
{
	static int e;
	uint64_t now = weft_stamp(), first = now + 2000000, second = now + 1000000;
	uint64_t spans[WEFT_HANDOFF_MAX], when = 0;

	weft_handoff_wait(&e, first);
	weft_handoff_wait(&e, second);
	publish(&e, 7, true);
	expect_int(weft_handoff_take(&e, first, spans, &when), 1);
	expect_int(spans[0], 7);
	expect_int(weft_handoff_take(&e, second, spans, &when), 1);
	expect_int(spans[0], 7);
	expect_true(when > first);
}

/*
 * Two objects that share a slot, found by trying: publications on the
 * second overwrite the first's.
 */
static char objects[1 << 16];
static const void *obj_x, *obj_y;

static void find_colliding(void)
{
	uint64_t when;

	obj_x = &objects[0];
	for (size_t i = 8; i < sizeof(objects); i += 8) {
		publish(obj_x, 1, false);
		for (uint64_t p = 2; p < 2 + WEFT_HANDOFF_MAX; p++)
			publish(&objects[i], p, false);
		if (!take1(obj_x, 0, &when)) {
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
	uint64_t when, spans[WEFT_HANDOFF_MAX];
	int n = weft_handoff_take(obj, concurrent_since, spans, &when);

	if (!n)
		return;
	atomic_fetch_add(&taken, 1);
	for (int i = 0; i < n; i++)
		if (spans[i] >> 40 != owner)
			atomic_fetch_add(&wrong, 1);
	if ((spans[0] == last[0]) != (when == last[1]))
		atomic_fetch_add(&wrong, 1);
	last[0] = spans[0];
	last[1] = when;
}

static void *writer(void *arg)
{
	const void *obj = arg == obj_x ? obj_x : obj_y;
	uint64_t base = (uint64_t)(arg == obj_x ? 1 : 2) << 40, i = 0;
	uint64_t last_x[2] = { 0, 0 }, last_y[2] = { 0, 0 };

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		publish(obj, base + ++i, false);
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
	struct weft_handoff_slot *sl = slot_of(&obj);
	uint64_t when, since = wait_on(&obj), span, stamp;
	struct weft_handoff_entry *e;

	publish(&obj, 77, false);
	e = &sl->entry[(weft_load_relaxed(&sl->next) - 1) % WEFT_HANDOFF_MAX];
	expect_int(take1(&obj, since, &when), 77);
	span = weft_load_relaxed(&e->span);
	stamp = weft_load_relaxed(&e->stamp);
	weft_store_relaxed(&e->span, 78); /* another writer's span */
	expect_int(take1(&obj, since, &when), 0);
	weft_store_relaxed(&e->span, span);
	weft_store_relaxed(&e->stamp, stamp + 1); /* another writer's stamp */
	expect_int(take1(&obj, since, &when), 0);
	weft_store_relaxed(&e->stamp, stamp);
	expect_int(take1(&obj, since, &when), 77); /* whole again */
	/* A publisher finding the torn entry writes a whole publication. */
	weft_store_relaxed(&e->stamp, stamp + 1);
	publish(&obj, 77, false);
	expect_int(take1(&obj, since, &when), 77);
}

/*
 * The memo: a signal its entry serves writes nothing; one after the entry
 * was claimed, after a wait began, or once other publications took its
 * place in the slot, publishes anew.
 */
static void test_memo(void)
{
	static int obj;
	struct weft_handoff_slot *sl = slot_of(&obj);
	struct weft_handoff_memo other = { 0 };
	uint64_t since = wait_on(&obj), next, when, spans[WEFT_HANDOFF_MAX];

	publish(&obj, 50, false);
	next = weft_load_relaxed(&sl->next);
	publish(&obj, 50, false); /* served */
	expect_int(weft_load_relaxed(&sl->next), next);
	publish(&obj, 50, true); /* a broadcast is not a signal */
	expect_int(weft_load_relaxed(&sl->next), next + 1);
	publish(&obj, 50, false); /* the search finds the signal's entry */
	expect_int(weft_load_relaxed(&sl->next), next + 1);
	expect_int(weft_handoff_take(&obj, since, spans, &when), 1); /* claims it */
	publish(&obj, 50, false);
	expect_int(weft_load_relaxed(&sl->next), next + 2);
	since = wait_on(&obj);
	publish(&obj, 50, false); /* older than the wait */
	expect_int(weft_load_relaxed(&sl->next), next + 3);
	/* Another thread's publications fill the slot: the memo's entry is gone. */
	for (uint64_t p = 0; p < WEFT_HANDOFF_MAX; p++)
		weft_handoff_publish(&other, &obj, 60 + p, false);
	publish(&obj, 50, false);
	expect_int(weft_load_relaxed(&sl->next), next + 4 + WEFT_HANDOFF_MAX);
	expect_int(weft_handoff_take(&obj, since, spans, &when), WEFT_HANDOFF_MAX);
	expect_int(spans[WEFT_HANDOFF_MAX - 1], 50);
	/* Another object whose slot is the same: its own publication. */
	if (!obj_y)
		find_colliding();
	expect_true(obj_y != NULL);
	next = weft_load_relaxed(&slot_of(obj_y)->next);
	publish(obj_x, 51, false);
	publish(obj_y, 51, false);
	expect_int(weft_load_relaxed(&slot_of(obj_y)->next), next + 2);
}

/*
 * The memo's entry stands only while it is the slot's newest: a newer
 * entry stamped before the newest wait (another CPU's TSC behind) is where
 * a waiter's take stops, so the signal publishes anew, as the search does.
 */
static void test_memo_skew(void)
{
	static int obj;
	struct weft_handoff_slot *sl = slot_of(&obj);
	struct weft_handoff_memo other = { 0 };
	struct weft_handoff_entry *e;
	uint64_t since = wait_on(&obj), next, stamp, when;

	publish(&obj, 70, false);
	weft_handoff_publish(&other, &obj, 71, false);
	next = weft_load_relaxed(&sl->next);
	e = &sl->entry[(next - 1) % WEFT_HANDOFF_MAX];
	stamp = since - 1; /* 71's, whole, from a CPU behind */
	weft_store_relaxed(&e->stamp, stamp);
	weft_store_relaxed(&e->check, check_of((uint64_t)(uintptr_t)&obj, 71, stamp));
	publish(&obj, 70, false);
	expect_int(weft_load_relaxed(&sl->next), next + 1);
	expect_int(take1(&obj, since, &when), 70);
}

/*
 * A signal handler's publication made while its thread writes the memo
 * (simulated: `writing` set) publishes, and leaves the memo alone.
 */
static void test_memo_handler(void)
{
	static int obj;
	struct weft_handoff_memo inner = { .writing = true };
	uint64_t since = wait_on(&obj), when;

	weft_handoff_publish(&inner, &obj, 80, false);
	expect_true(inner.entry == NULL && inner.object == NULL);
	expect_int(take1(&obj, since, &when), 80);
}

int main(void)
{
	test_stamp();
	test_stamp_base();
	test_take();
	test_fan_in();
	test_claims();
	test_skew();
	test_skew_two();
	test_torn();
	test_memo();
	test_memo_skew();
	test_memo_handler();
	test_concurrent();
	return harness_done();
}
