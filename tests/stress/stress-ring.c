/*
 * Rings and the thread registry under churn, with exact accounting.
 *
 * Producers are shaped like weft's application threads: each allocates its
 * state (weft_registry_alloc, which carries the ring), sets it up, publishes
 * it (weft_registry_push), records events into its own ring, and leaves with
 * weft_registry_exit, never touching the state again. A few long-lived
 * producers push as fast as they can until told to stop; a spawner keeps
 * starting short-lived threads that push a few hundred events and exit.
 *
 * The main thread is the exporter and runs the registry's consumer protocol
 * (weft_registry_cycle, which exporter/exporter.c runs too):
 * take newly published states; snapshot `exited` (acquire) for every state
 * *before* draining; drain every ring; free exactly the states found exited
 * in the snapshot. Because the snapshot precedes the drain, a state's final
 * drain sees every event its thread pushed, so at free time:
 *
 *	consumed(state) + weft_ring_dropped(state) == events the thread tried
 *
 * holds exactly, for every state. The test also checks that every consumed
 * record is intact (all 64 bytes derived from the state's serial number and
 * the event's sequence number) and arrives in order without repeats, that
 * every state is freed exactly once, and that the registry and its pending
 * exit count end empty. Run it under TSan and ASan too (see meson.build).
 *
 * Runs for WEFT_STRESS_SECONDS (default 4) or until MAX_STATES states have
 * been registered, whichever is first.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/clock.h"
#include "agent/event.h"
#include "agent/registry.h"
#include "agent/ring.h"
#include "tests/unit/harness.h"

enum {
	N_LONG = 3,     /* long-lived producers */
	N_BATCH = 4,    /* short-lived threads alive at once */
	LONG_CAP = 256, /* ring capacities: small, so rings fill and drop */
	SHORT_CAP = 64,
	MAX_SHORT_EVENTS = 400,
	MAX_STATES = 60000,
};

/*
 * What the test knows about one registered state, indexed by its serial
 * number (stored as the state's tid). The owner writes its part before
 * weft_registry_exit, whose release store of `exited` publishes it to the
 * consumer; `sentinel_ok` is written after exit and read only after join.
 */
struct rec {
	/* Owner. */
	uint64_t attempted; /* pushes tried */
	uint64_t pushed;    /* pushes that returned true */
	bool sentinel_ok;   /* weft_self pointed at weft_thread_dead after exit */
	/* Consumer. */
	uint64_t consumed;
	uint64_t next_seq; /* lowest sequence number the next record may carry */
	uint64_t bad;      /* corrupted records */
	uint64_t order;    /* records out of order or repeated */
	uint32_t taken;
	uint32_t freed;
	uint64_t dropped; /* the ring's count at free time */
};

static struct rec recs[MAX_STATES];
static _Atomic uint32_t next_serial = N_LONG; /* 0 .. N_LONG - 1: the long-lived ones */
static atomic_bool stop;

/* Every byte of a record depends on (serial, seq), so a torn or stale slot shows. */
static void make_event(uint32_t serial, uint64_t seq, struct weft_event *ev)
{
	uint64_t k = ((uint64_t)serial << 40) ^ seq;

	ev->h.type = (uint8_t)(WEFT_EV_WAIT + (seq & 0xff));
	ev->h.kind = (uint8_t)serial;
	ev->h.flags = (uint16_t)(serial >> 8);
	ev->h.result = (int32_t)(uint32_t)(k * 2654435761u);
	ev->h.t0 = seq;
	ev->u.raw[0] = k * 0x9e3779b97f4a7c15ull;
	ev->u.raw[1] = serial;
	ev->u.raw[2] = ~k;
	ev->u.raw[3] = k ^ 0x5555aaaa5555aaaaull;
	ev->u.raw[4] = (k << 17) | (k >> 47);
	ev->u.raw[5] = k * 0xff51afd7ed558ccdull + seq;
}

/* Allocates, fills and publishes a state, as the agent does when it first sees a thread. */
static struct weft_thread *register_self(uint32_t cap, enum weft_thread_origin origin,
					 uint32_t serial)
{
	struct weft_thread *t = weft_registry_alloc(cap);

	if (t && weft_registry_ring(t) < 0) {
		weft_registry_free(t);
		t = NULL;
	}

	/* Not assert_true: the harness counters belong to the main thread. */
	if (!t) {
		fprintf(stderr, "weft_registry_alloc(%u) failed\n", cap);
		abort();
	}
	t->origin = origin;
	t->tid = (pid_t)serial;
	t->self = pthread_self();
	t->start_ns = weft_clock_now();
	t->span = (uint64_t)serial + 1;
	weft_self_set(t);
	weft_registry_push(t);
	return t;
}

static void push_events(struct weft_thread *t, uint32_t serial, uint64_t *seq, uint64_t n)
{
	struct rec *r = &recs[serial];
	struct weft_event ev;

	for (uint64_t i = 0; i < n; i++) {
		make_event(serial, *seq, &ev);
		r->attempted++;
		if (weft_ring_push(&t->ring, &ev))
			r->pushed++;
		(*seq)++;
		/* Now and then let the consumer in, so rings both fill and empty. */
		if ((*seq & 31) == 0)
			sched_yield();
	}
}

static void leave(struct weft_thread *t, uint32_t serial)
{
	weft_registry_exit(t, weft_clock_now());
	/* From here on the state may be freed at any moment: only our own record is touched. */
	recs[serial].sentinel_ok = weft_self == &weft_thread_dead;
}

static void *short_thread(void *arg)
{
	uint32_t serial = atomic_fetch_add_explicit(&next_serial, 1, memory_order_relaxed);
	uint64_t seq = 0;
	struct weft_thread *t = register_self(SHORT_CAP, WEFT_THREAD_CREATED, serial);

	push_events(t, serial, &seq, (serial * 7919u) % MAX_SHORT_EVENTS);
	leave(t, serial);
	return NULL;
}

static void *long_thread(void *arg)
{
	uint32_t serial = (uint32_t)(uintptr_t)arg;
	uint64_t seq = 0;
	struct weft_thread *t = register_self(LONG_CAP, WEFT_THREAD_ADOPTED, serial);

	while (!atomic_load_explicit(&stop, memory_order_relaxed))
		push_events(t, serial, &seq, 1024);
	leave(t, serial);
	return NULL;
}

/*
 * Starts short-lived threads in batches until told to stop; it alone hands out
 * serials past N_LONG, at most N_BATCH per check, so none reaches MAX_STATES.
 */
static void *spawner(void *arg)
{
	uint64_t *spawned = arg;

	while (!atomic_load_explicit(&stop, memory_order_relaxed) &&
	       atomic_load_explicit(&next_serial, memory_order_relaxed) < MAX_STATES - N_BATCH) {
		pthread_t th[N_BATCH];
		int n = 0;

		for (int i = 0; i < N_BATCH; i++)
			if (pthread_create(&th[n], NULL, short_thread, NULL) == 0)
				n++;
		for (int i = 0; i < n; i++)
			pthread_join(th[i], NULL);
		*spawned += (uint64_t)n;
	}
	return NULL;
}

/* --- The consumer: exporter/exporter.c's cycle() ----------------------------------------- */

static struct weft_registry_reader reader; /* the consumer's private list */
static uint64_t total_consumed, total_dropped, total_freed, cycles;

static void on_taken(struct weft_thread *t, void *arg)
{
	recs[t->tid].taken++;
}

static void on_event(struct weft_thread *t, const struct weft_event *ev, void *arg)
{
	uint32_t serial = (uint32_t)t->tid;
	struct rec *r = &recs[serial];
	struct weft_event want;

	make_event(serial, ev->h.t0, &want);
	if (memcmp(&want, ev, sizeof(want)) != 0)
		r->bad++;
	if (ev->h.t0 < r->next_seq)
		r->order++;
	r->next_seq = ev->h.t0 + 1;
	r->consumed++;
	total_consumed++;
}

static void on_drained(struct weft_thread *t, uint64_t new_drops, void *arg)
{
	total_dropped += new_drops;
}

/* A state found exited before its last drain: nothing is left in its ring. */
static void on_exited(struct weft_thread *t, void *arg)
{
	struct rec *r = &recs[t->tid];

	r->dropped = weft_ring_dropped(&t->ring);
	expect_int(r->consumed + r->dropped, r->attempted);
	expect_int(r->consumed, r->pushed);
	expect_true(weft_load_relaxed(&t->end_ns) >= t->start_ns);
	r->freed++;
	total_freed++;
}

static const struct weft_registry_visitor visitor = {
	.taken = on_taken,
	.event = on_event,
	.drained = on_drained,
	.exited = on_exited,
};

/* The exporter's cycle: agent/registry.c's consumer protocol, which this test checks. */
static void cycle(void)
{
	weft_registry_cycle(&reader, &visitor, NULL);
	cycles++;
}

static double seconds_from_env(void)
{
	const char *s = getenv("WEFT_STRESS_SECONDS");
	double v = s ? strtod(s, NULL) : 0;

	return v > 0 ? v : 4.0;
}

int main(void)
{
	pthread_t longs[N_LONG], sp;
	uint64_t spawned = 0, attempted = 0, pushed = 0;
	uint64_t deadline = weft_clock_now() + (uint64_t)(seconds_from_env() * 1e9);
	uint32_t n_states;

	for (int i = 0; i < N_LONG; i++)
		assert_int(pthread_create(&longs[i], NULL, long_thread, (void *)(uintptr_t)i), 0);
	assert_int(pthread_create(&sp, NULL, spawner, &spawned), 0);

	while (weft_clock_now() < deadline &&
	       atomic_load_explicit(&next_serial, memory_order_relaxed) < MAX_STATES - N_BATCH) {
		cycle();
		/* Sometimes be slow, as an exporter busy encoding is. */
		if ((cycles & 255) == 0) {
			struct timespec ts = { 0, 200000 };
			nanosleep(&ts, NULL);
		}
	}
	atomic_store_explicit(&stop, true, memory_order_relaxed);
	/* Keep consuming while the producers wind down, as the exporter would. */
	assert_int(pthread_join(sp, NULL), 0);
	for (int i = 0; i < N_LONG; i++)
		assert_int(pthread_join(longs[i], NULL), 0);

	/* Every thread has exited: one cycle takes, drains and frees everything that is left. */
	cycle();
	expect_true(reader.threads == NULL);
	expect_true(weft_registry_take() == NULL);
	expect_int(weft_load_relaxed(&weft_registry_pending_exits), 0);

	n_states = atomic_load(&next_serial);
	assert_true(n_states <= MAX_STATES);
	{
		uint64_t bad = 0, order = 0, not_once = 0, sentinel = 0, sum_dropped = 0;

		for (uint32_t i = 0; i < n_states; i++) {
			struct rec *r = &recs[i];

			attempted += r->attempted;
			pushed += r->pushed;
			bad += r->bad;
			order += r->order;
			sum_dropped += r->dropped;
			not_once += r->taken != 1 || r->freed != 1;
			sentinel += !r->sentinel_ok;
		}
		expect_int(bad, 0);
		expect_int(order, 0);
		expect_int(not_once, 0);
		expect_int(sentinel, 0);
		expect_int(total_consumed, pushed);
		expect_int(total_consumed + total_dropped, attempted);
		expect_int(sum_dropped, total_dropped);
		expect_int(total_freed, spawned + N_LONG);
		expect_int(n_states, spawned + N_LONG);
	}
	expect_true(spawned > 0);
	printf("%" PRIu64 " threads, %" PRIu64 " cycles, %" PRIu64 " events: %" PRIu64
	       " consumed, %" PRIu64 " dropped\n",
	       spawned + N_LONG, cycles, attempted, total_consumed, total_dropped);
	return harness_done();
}
