/*
 * agent/lockorder.c: the held-lock stack, edges, and an inversion recorded
 * once per pair — in order, out of order, past the stack's depth, and when
 * two threads add the two orders of many pairs at the same moment.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/lockorder.h"
#include "agent/ring.h"
#include "tests/unit/harness.h"

/* The LOCKORDER events drained: the first few kept, all counted. */
static struct weft_event events[16];
static size_t n_events;

static void collect(const struct weft_event *ev, void *arg)
{
	(void)arg;
	if (ev->h.type != WEFT_EV_LOCKORDER)
		return;
	if (n_events < 16)
		events[n_events] = *ev;
	n_events++;
}

/* How many LOCKORDER events `t` recorded since the last call (events[]: the first). */
static size_t inversions(struct weft_thread *t)
{
	n_events = 0;
	weft_ring_drain(&t->ring, collect, NULL);
	return n_events;
}

#define L(x)  ((const void *)(uintptr_t)(x))
#define PC(x) ((const void *)(uintptr_t)(0x1000 + (x)))

static void take(struct weft_thread *t, uintptr_t lock, int site)
{
	weft_lockorder_acquired(t, L(lock), PC(site));
}

static void test_pairs(struct weft_thread *t1, struct weft_thread *t2)
{
	/* a then b, then b then a: one inversion, the first order forward. */
	take(t1, 0xa0, 1);
	take(t1, 0xb0, 2);
	weft_lockorder_released(t1, L(0xb0));
	weft_lockorder_released(t1, L(0xa0));
	expect_int(t1->n_held, 0);
	expect_int((int)inversions(t1), 0);
	take(t2, 0xb0, 3);
	take(t2, 0xa0, 4);
	weft_lockorder_released(t2, L(0xa0));
	weft_lockorder_released(t2, L(0xb0));
	expect_int((int)inversions(t2), 1);
	expect_true(events[0].u.order.first == 0xa0 && events[0].u.order.second == 0xb0);
	expect_true(events[0].u.order.pc_forward == 0x1002 &&
		    events[0].u.order.pc_reverse == 0x1004);
	/* The same pair again, in either order: never again. */
	take(t1, 0xb0, 5);
	take(t1, 0xa0, 6);
	weft_lockorder_released(t1, L(0xa0));
	weft_lockorder_released(t1, L(0xb0));
	take(t2, 0xa0, 7);
	take(t2, 0xb0, 8);
	weft_lockorder_released(t2, L(0xb0));
	weft_lockorder_released(t2, L(0xa0));
	expect_int((int)(inversions(t1) + inversions(t2)), 0);
}

static void test_out_of_order(struct weft_thread *t1, struct weft_thread *t2)
{
	/* e, f; e released first; g taken with f alone held: e→g is no edge. */
	take(t1, 0xe0, 1);
	take(t1, 0xf0, 2);
	weft_lockorder_released(t1, L(0xe0));
	expect_int(t1->n_held, 1);
	expect_true(t1->held[0] == 0xf0);
	take(t1, 0x70, 3);
	weft_lockorder_released(t1, L(0x70));
	weft_lockorder_released(t1, L(0xf0));
	take(t2, 0x70, 4);
	take(t2, 0xe0, 5);
	weft_lockorder_released(t2, L(0xe0));
	weft_lockorder_released(t2, L(0x70));
	expect_int((int)(inversions(t1) + inversions(t2)), 0);
	/* f→g was recorded: g then f is one. */
	take(t2, 0x70, 6);
	take(t2, 0xf0, 7);
	weft_lockorder_released(t2, L(0xf0));
	weft_lockorder_released(t2, L(0x70));
	expect_int((int)inversions(t2), 1);
	/* A lock released that was never seen taken changes nothing. */
	take(t1, 0x11, 1);
	weft_lockorder_released(t1, L(0x99));
	expect_int(t1->n_held, 1);
	weft_lockorder_released(t1, L(0x11));
	expect_int(t1->n_held, 0);
}

static void test_destroyed(struct weft_thread *t1, struct weft_thread *t2)
{
	/* a→b; a destroyed, its address reused by another lock taken after b: no inversion. */
	take(t1, 0x5a0, 1);
	take(t1, 0x5b0, 2);
	weft_lockorder_released(t1, L(0x5b0));
	weft_lockorder_released(t1, L(0x5a0));
	weft_lockorder_destroyed(L(0x5a0));
	take(t2, 0x5b0, 3);
	take(t2, 0x5a0, 4);
	weft_lockorder_released(t2, L(0x5a0));
	weft_lockorder_released(t2, L(0x5b0));
	expect_int((int)(inversions(t1) + inversions(t2)), 0);
	/* The new lock's own orders still count: a (new) then b is the inversion now. */
	take(t1, 0x5a0, 5);
	take(t1, 0x5b0, 6);
	weft_lockorder_released(t1, L(0x5b0));
	weft_lockorder_released(t1, L(0x5a0));
	expect_int((int)inversions(t1), 1);
}

static void test_recursive_and_deep(struct weft_thread *t)
{
	/* A recursive lock taken twice: no edge with itself, two holds. */
	take(t, 0x200, 1);
	take(t, 0x200, 2);
	expect_int(t->n_held, 2);
	weft_lockorder_released(t, L(0x200));
	weft_lockorder_released(t, L(0x200));
	expect_int(t->n_held, 0);
	/* Deeper than the stack: counted, and back to empty, out of order too. */
	for (int i = 0; i < WEFT_HELD_MAX + 4; i++)
		take(t, 0x300 + (uintptr_t)i * 16, i);
	expect_int(t->n_held, WEFT_HELD_MAX);
	expect_int(t->n_untracked, 4);
	/* Taken while some are untracked: no edge (0x300→0x9000 would be one). */
	take(t, 0x9000, 30);
	weft_lockorder_released(t, L(0x9000));
	weft_lockorder_released(t, L(0x300)); /* a tracked one, first */
	expect_int(t->n_held, WEFT_HELD_MAX - 1);
	expect_int(t->n_untracked, 4);
	for (int i = WEFT_HELD_MAX + 4; i-- > 1;)
		weft_lockorder_released(t, L(0x300 + (uintptr_t)i * 16));
	expect_int(t->n_held, 0);
	expect_int(t->n_untracked, 0);
	expect_int((int)inversions(t), 0);
	take(t, 0x9000, 1);
	take(t, 0x300, 2);
	weft_lockorder_released(t, L(0x300));
	weft_lockorder_released(t, L(0x9000));
	expect_int((int)inversions(t), 0);
}

/* A table that fills: each probe is bounded, and the overflow counted. */
static void test_full(struct weft_thread *t)
{
	take(t, 0x777000, 1);
	for (uintptr_t i = 0; i < WEFT_LOCKORDER_EDGES + 100; i++) {
		take(t, 0x800000 + i * 16, 2);
		weft_lockorder_released(t, L(0x800000 + i * 16));
	}
	weft_lockorder_released(t, L(0x777000));
	expect_true(atomic_load(&weft_lockorder_full) > 0);
	expect_int((int)inversions(t), 0);
	atomic_store(&weft_lockorder_full, 0);
}

/* Two threads, each taking every pair of a block in its own order, at once. */
#define PAIRS 2000

static atomic_int go;
static struct weft_thread *racers[2];

static void *race(void *arg)
{
	int me = (int)(uintptr_t)arg;
	struct weft_thread *t = racers[me];

	weft_self_set(t);
	while (!atomic_load(&go))
		;
	for (uintptr_t p = 0; p < PAIRS; p++) {
		uintptr_t x = 0x10000 + p * 32, y = x + 16;

		take(t, me ? y : x, 1);
		take(t, me ? x : y, 2);
		weft_lockorder_released(t, L(me ? x : y));
		weft_lockorder_released(t, L(me ? y : x));
	}
	return NULL;
}

static void test_race(void)
{
	pthread_t th[2];

	for (int i = 0; i < 2; i++) {
		racers[i] = weft_registry_alloc(4096);
		assert_true(racers[i] != NULL);
	}
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, race, (void *)(uintptr_t)i);
	atomic_store(&go, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	/* Every pair exactly once, whoever saw it. */
	expect_int((int)(inversions(racers[0]) + inversions(racers[1])), PAIRS);
}

int main(void)
{
	struct weft_thread *t1 = weft_registry_alloc(256), *t2 = weft_registry_alloc(256);

	assert_true(t1 != NULL && t2 != NULL);
	weft_self_set(t1);
	test_pairs(t1, t2);
	test_out_of_order(t1, t2);
	test_destroyed(t1, t2);
	test_recursive_and_deep(t1);
	test_race();
	expect_int((int)atomic_load(&weft_lockorder_full), 0);
	test_full(t1); /* last: it leaves the table full */
	weft_registry_free(t2);
	weft_registry_free(racers[0]);
	weft_registry_free(racers[1]);
	return harness_done();
}
