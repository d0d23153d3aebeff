/*
 * Thread states: a recycled state comes back as a new one (zeroed, its ring
 * empty and back in its inline slots), states freed past the spare slots go
 * back to the allocator, several threads allocating and freeing at once never
 * receive the same state, and each exit returns its own pending count (the
 * exporter's wake-up at a multiple of the mark relies on it).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "agent/registry.h"
#include "tests/unit/harness.h"

enum { CAP = 64, MANY = 200, THREADS = 4, ROUNDS = 20000 };

static void test_recycled_is_new(void)
{
	struct weft_thread *t = weft_registry_alloc(CAP), *u;
	struct weft_event ev = { .h = { .type = WEFT_EV_NAME, .t0 = 1 } };

	assert_true(t != NULL);
	/* Dirty everything a thread's life writes, the full ring included. */
	t->tid = 1234;
	t->span = 99;
	t->exit_seen = true;
	t->consumer = t;
	for (int i = 0; i < 40; i++) {
		if (weft_ring_push_ex(&t->ring, &ev) == WEFT_PUSH_GROW) {
			assert_int(weft_registry_ring(t), 0);
			assert_int(weft_ring_push_ex(&t->ring, &ev), WEFT_PUSH_OK);
		}
	}
	weft_store_relaxed(&t->exited, 1);
	weft_registry_free(t);

	u = weft_registry_alloc(CAP);
	assert_true(u != NULL);
	expect_true(u == t); /* the spare slot served it */
	expect_int(u->tid, 0);
	expect_int(u->span, 0);
	expect_int(u->exit_seen, 0);
	expect_true(u->consumer == NULL);
	expect_int(weft_load_relaxed(&u->exited), 0);
	expect_true(weft_load_relaxed(&u->ring.slots) == NULL);
	expect_int(weft_ring_drain(&u->ring, NULL, NULL), 0);
	expect_int(weft_ring_push_ex(&u->ring, &ev), WEFT_PUSH_OK);
	expect_int(weft_ring_drain(&u->ring, NULL, NULL), 1);
	weft_registry_free(u);
}

/* More frees than spare slots: the rest go back to the allocator (ASan: no leak). */
static void test_many(void)
{
	struct weft_thread *t[MANY];

	for (int i = 0; i < MANY; i++) {
		t[i] = weft_registry_alloc(CAP);
		assert_true(t[i] != NULL);
		for (int j = 0; j < i; j++)
			expect_true(t[j] != t[i]);
	}
	for (int i = 0; i < MANY; i++)
		weft_registry_free(t[i]);
}

static _Atomic int failures;

/* Each state is marked as ours while we hold it: a second holder would see the mark. */
static void *churn(void *arg)
{
	uintptr_t me = (uintptr_t)arg;

	for (int i = 0; i < ROUNDS; i++) {
		struct weft_thread *t = weft_registry_alloc(CAP);

		if (!t)
			continue;
		if (t->start_routine != 0)
			atomic_fetch_add(&failures, 1); /* not zeroed, or held by another */
		t->start_routine = me;
		for (int k = 0; k < 8; k++)
			__asm__ volatile("" ::: "memory");
		if (t->start_routine != me)
			atomic_fetch_add(&failures, 1);
		t->start_routine = 0;
		weft_registry_free(t);
	}
	return NULL;
}

static void test_concurrent(void)
{
	pthread_t th[THREADS];

	for (uintptr_t i = 0; i < THREADS; i++)
		assert_int(pthread_create(&th[i], NULL, churn, (void *)(i + 1)), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	expect_int(atomic_load(&failures), 0);
}

static void test_exit_counts(void)
{
	struct weft_thread *t[3];
	uint32_t before = weft_load_relaxed(&weft_registry_pending_exits);

	for (int i = 0; i < 3; i++) {
		t[i] = weft_registry_alloc(CAP);
		assert_true(t[i] != NULL);
	}
	for (uint32_t i = 0; i < 3; i++)
		expect_int(weft_registry_exit(t[i], 10 + i), before + i + 1);
	expect_int(weft_load_relaxed(&weft_registry_pending_exits), before + 3);
	expect_int(weft_load_relaxed(&t[2]->end_ns), 12);
	for (int i = 0; i < 3; i++)
		weft_registry_free(t[i]);
}

int main(void)
{
	test_recycled_is_new();
	test_many();
	test_concurrent();
	test_exit_counts();
	return harness_done();
}
