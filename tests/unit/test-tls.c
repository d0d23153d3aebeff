/*
 * The per-thread block (agent/guard.h) and the mutex hooks' unlock watch
 * (agent/lock.h): the gate that the mutex lock hook's fast path tests alone
 * must be open exactly for a registered, live thread observing the family,
 * outside the guard; and every lock whose hold is sampled must be in the
 * watch that the unlock hook's fast path tests alone.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "agent/agent.h"
#include "agent/lock.h"
#include "agent/registry.h"
#include "agent/wait.h"
#include "tests/unit/harness.h"

/* A thread's gate before it registers: closed for every family. */
static void *fresh_thread(void *arg)
{
	bool *open = arg;

	open[0] = weft_tls_open(WEFT_HOOK_MUTEX) || weft_tls_open(WEFT_HOOK_COND);
	open[1] = weft_self != NULL || weft_guard_active();
	return NULL;
}

static void test_gate(void)
{
	struct weft_thread *t = weft_registry_alloc(16);
	pthread_t th;
	bool other[2] = { true, true };

	assert_true(t != NULL);
	/* Not registered yet: every family passes through. */
	expect_true(weft_self == NULL);
	expect_true(!weft_tls_open(WEFT_HOOK_MUTEX));
	expect_true(!weft_tls_open(WEFT_HOOK_THREAD));

	/* Registered, observing mutexes and condvars only. */
	t->hooks = WEFT_HOOK_MUTEX | WEFT_HOOK_COND;
	weft_self_set(t);
	expect_true(weft_self == t);
	expect_true(weft_tls_open(WEFT_HOOK_MUTEX));
	expect_true(weft_tls_open(WEFT_HOOK_COND));
	expect_true(!weft_tls_open(WEFT_HOOK_RWLOCK));
	expect_true(!weft_tls_open(WEFT_HOOK_SEM));

	/* The guard closes it, nested, and leaving it reopens it. */
	weft_guard_enter();
	expect_true(weft_guard_active());
	expect_true(!weft_tls_open(WEFT_HOOK_MUTEX));
	weft_guard_enter();
	weft_guard_leave();
	expect_true(!weft_tls_open(WEFT_HOOK_MUTEX));
	weft_guard_leave();
	expect_true(!weft_guard_active());
	expect_true(weft_tls_open(WEFT_HOOK_MUTEX));

	/* Another thread's block is its own, closed until it registers. */
	assert_int(pthread_create(&th, NULL, fresh_thread, other), 0);
	assert_int(pthread_join(th, NULL), 0);
	expect_true(!other[0]);
	expect_true(!other[1]);
	expect_true(weft_tls_open(WEFT_HOOK_MUTEX));

	/* Ended: the sentinel observes nothing. */
	weft_self_set(&weft_thread_dead);
	expect_true(weft_self == &weft_thread_dead);
	expect_true(!weft_tls_open(WEFT_HOOK_MUTEX));
	expect_true(!weft_tls_open(WEFT_HOOK_COND));
	weft_self_set(NULL);
	expect_true(!weft_tls_open(WEFT_HOOK_MUTEX));
	weft_registry_free(t);
}

static void test_unlock_watch(void)
{
	struct weft_thread *t = weft_registry_alloc(16);
	int a, b;

	assert_true(t != NULL);
	t->hooks = WEFT_HOOK_MUTEX;
	weft_self_set(t);
	weft_cfg.hold_sample = 1;
	expect_true(weft_tls.unlock_watch == 0);

	/* A sampled hold puts its lock in the watch. */
	weft_lock_sample(t, WEFT_WAIT_MUTEX, &a);
	expect_true(t->hold_obj == (uintptr_t)&a);
	expect_true(weft_tls.unlock_watch == (uintptr_t)&a);

	/* A second sample while one is held keeps the first: so does the watch. */
	weft_lock_sample(t, WEFT_WAIT_MUTEX, &b);
	expect_true(t->hold_obj == (uintptr_t)&a);
	expect_true(weft_tls.unlock_watch == (uintptr_t)&a);

	/* The hold ends; the watch is left behind until a sync clears it. */
	weft_lock_released(t, &a, NULL);
	expect_true(t->hold_obj == 0);
	weft_lock_watch_sync();
	expect_true(weft_tls.unlock_watch == 0);

	/* Through weft_lock_acquired too, when the count drawn is reached. */
	t->hold_at[WEFT_WAIT_MUTEX] = 1;
	weft_lock_acquired(t, WEFT_WAIT_MUTEX, &b);
	expect_true(weft_tls.unlock_watch == (uintptr_t)&b);
	expect_int((int)weft_load_relaxed(&t->acquired[WEFT_WAIT_MUTEX]), 1);
	weft_lock_released(t, &b, NULL);
	weft_lock_watch_sync();

	/* One counted acquisition per call, none sampled before the count drawn. */
	t->hold_at[WEFT_WAIT_MUTEX] = 1001;
	for (int i = 0; i < 999; i++)
		expect_true(!weft_lock_count(t, WEFT_WAIT_MUTEX));
	expect_true(weft_lock_count(t, WEFT_WAIT_MUTEX));
	expect_int((int)weft_load_relaxed(&t->acquired[WEFT_WAIT_MUTEX]), 1001);
	/* Each kind has its own count: a mutex's acquisitions bring no rwlock's sample nearer. */
	t->hold_at[WEFT_WAIT_RWLOCK_READ] = 2;
	t->hold_at[WEFT_WAIT_MUTEX] = UINT64_MAX;
	expect_true(!weft_lock_count(t, WEFT_WAIT_RWLOCK_READ));
	expect_true(!weft_lock_count(t, WEFT_WAIT_MUTEX));
	expect_true(weft_lock_count(t, WEFT_WAIT_RWLOCK_READ));

	/*
	 * A count passed (a signal handler's acquisition between the add and
	 * the compare) still samples the next one; the sample draws the next
	 * count ahead, 1 to 2n - 1 acquisitions later.
	 */
	weft_cfg.hold_sample = 256;
	t->hold_at[WEFT_WAIT_MUTEX] = 1000;
	expect_true(weft_lock_count(t, WEFT_WAIT_MUTEX));
	weft_lock_sample(t, WEFT_WAIT_MUTEX, &a);
	expect_true(t->hold_at[WEFT_WAIT_MUTEX] > 1002);
	expect_true(t->hold_at[WEFT_WAIT_MUTEX] <= 1002 + 511);
	weft_lock_released(t, &a, NULL);
	weft_lock_watch_sync();
	weft_self_set(NULL);
	weft_registry_free(t);
}

/* The events in the ring, in order: their t0s, up to 8. */
struct seen {
	int n;
	uint64_t t0[8];
};

static void collect(const struct weft_event *ev, void *arg)
{
	struct seen *s = arg;

	if (s->n < 8)
		s->t0[s->n] = ev->h.t0;
	s->n++;
}

static struct seen drained(struct weft_thread *t)
{
	struct seen s = { 0, { 0 } };

	weft_ring_drain(&t->ring, collect, &s);
	return s;
}

static void record(struct weft_thread *t, uint64_t t0)
{
	struct weft_event ev = { .h = { .type = WEFT_EV_WAIT, .t0 = t0 } };

	weft_record(t, &ev);
}

static void test_deferred(void)
{
	struct weft_thread *t = weft_registry_alloc(16);
	int a, b;
	struct seen s;

	assert_true(t != NULL);
	t->hooks = WEFT_HOOK_MUTEX;
	weft_self_set(t);
	weft_cfg.hold_sample = 1;
	weft_tls.unlock_watch = 0;

	/* Held back while the lock is held: nothing in the ring, the lock in the watch. */
	weft_defer_begin(t, &a);
	record(t, 1);
	record(t, 2);
	weft_defer_end(t);
	expect_int(drained(t).n, 0);
	expect_true(weft_tls.unlock_watch == (uintptr_t)&a);
	/* The unlock's flush: both, in order; the watch cleared. */
	weft_deferred_flush(t);
	weft_lock_watch_sync();
	s = drained(t);
	expect_int(s.n, 2);
	expect_int(s.t0[0], 1);
	expect_int(s.t0[1], 2);
	expect_true(weft_tls.unlock_watch == 0);

	/* Any other record pushes the held ones first. */
	weft_defer_begin(t, &a);
	record(t, 3);
	weft_defer_end(t);
	record(t, 4);
	s = drained(t);
	expect_int(s.n, 2);
	expect_int(s.t0[0], 3);
	expect_int(s.t0[1], 4);

	/* More than WEFT_DEFERRED held: the oldest go out, order kept. */
	weft_defer_begin(t, &a);
	for (uint64_t i = 5; i < 5 + WEFT_DEFERRED + 1; i++)
		record(t, i);
	weft_defer_end(t);
	weft_deferred_flush(t);
	s = drained(t);
	expect_int(s.n, WEFT_DEFERRED + 1);
	for (int i = 0; i < WEFT_DEFERRED + 1; i++)
		expect_int(s.t0[i], 5 + (uint64_t)i);

	/* Records held for another lock go out before new ones are held. */
	weft_defer_begin(t, &a);
	record(t, 10);
	weft_defer_end(t);
	weft_lock_watch_sync(); /* the watch back on a, where the records wait */
	expect_true(weft_tls.unlock_watch == (uintptr_t)&a);
	weft_tls.unlock_watch = 0;
	weft_defer_begin(t, &b);
	record(t, 11);
	weft_defer_end(t);
	expect_int(drained(t).n, 1); /* 10 */
	expect_true(weft_tls.unlock_watch == (uintptr_t)&b);
	weft_deferred_flush(t);
	expect_int(drained(t).n, 1); /* 11 */

	/* The watch follows another lock's sampled hold: recorded at once. */
	weft_lock_watch_sync();
	weft_lock_sample(t, WEFT_WAIT_MUTEX, &b);
	weft_defer_begin(t, &a);
	record(t, 12);
	weft_defer_end(t);
	s = drained(t);
	expect_int(s.n, 1);
	expect_int(s.t0[0], 12);
	expect_true(weft_tls.unlock_watch == (uintptr_t)&b);
	weft_self_set(NULL);
	weft_registry_free(t);
}

/* The first WAIT drained, whole. */
static void first_wait(const struct weft_event *ev, void *arg)
{
	struct weft_event *out = arg;

	if (ev->h.type == WEFT_EV_WAIT && !out->h.type)
		*out = *ev;
}

/* A wait of about 2 ms on lock `a`, ended holding it: its record, once flushed. */
static struct weft_event held_wait(struct weft_thread *t, int *a, uint64_t *before, uint64_t *after)
{
	struct weft_event ev = { .h = { .type = 0 } };
	struct timespec ms2 = { 0, 2000000 };
	struct weft_wait w;

	*before = weft_clock_now();
	weft_wait_begin(&w, t, WEFT_WAIT_MUTEX, a, __builtin_return_address(0));
	nanosleep(&ms2, NULL);
	weft_wait_hold(&w, a);
	weft_wait_end_held(&w, 0);
	weft_defer_end(t);
	*after = weft_clock_now();
	/* Not blocked any more, nothing recorded inside the critical section. */
	expect_int(weft_load_relaxed(&t->wait_kind), 0);
	weft_ring_drain(&t->ring, first_wait, &ev);
	expect_int(ev.h.type, 0);
	expect_true(weft_tls.unlock_watch == (uintptr_t)a);
	weft_deferred_flush(t);
	weft_lock_watch_sync();
	weft_ring_drain(&t->ring, first_wait, &ev);
	return ev;
}

#define SLACK_NS 10000

/*
 * A lock wait ended holding the lock (weft_wait_end_held) takes its end's
 * stamp only; the record, pushed at the unlock, has times: within the wait
 * (give or take SLACK_NS), at least its 2 ms apart. A wait long enough to
 * be a span ends the whole way, and is held back all the same.
 */
static void test_end_held(void)
{
	struct weft_thread *t = weft_registry_alloc(16);
	uint64_t before, after, min_wait = weft_cfg.span_min_wait_ns;
	uint32_t depth = weft_cfg.stack_depth;
	struct weft_event ev;
	int a;

	assert_true(t != NULL);
	weft_clock_init();
	t->hooks = WEFT_HOOK_MUTEX;
	weft_self_set(t);
	weft_tls.unlock_watch = 0;
	weft_cfg.stack_depth = 0;
	for (int i = 0; i < 2; i++) {
		weft_cfg.span_min_wait_ns = i == 0 ? 1000000000 : 0;
		ev = held_wait(t, &a, &before, &after);
		expect_int(ev.h.type, WEFT_EV_WAIT);
		expect_int(ev.h.flags & WEFT_EVF_STAMPS, 0);
		expect_true(ev.u.wait.object == (uint64_t)(uintptr_t)&a);
		/* Stamps converted against a later base: a few ns either way. */
		expect_true(ev.h.t0 + SLACK_NS >= before && ev.h.t0 <= after);
		expect_true(ev.u.wait.t1 >= ev.h.t0 + 2000000 && ev.u.wait.t1 <= after + SLACK_NS);
	}
	weft_cfg.span_min_wait_ns = min_wait;
	weft_cfg.stack_depth = depth;
	weft_self_set(NULL);
	weft_registry_free(t);
}

int main(void)
{
	test_gate();
	test_unlock_watch();
	test_deferred();
	test_end_held();
	return harness_done();
}
