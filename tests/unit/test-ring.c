/*
 * The single-producer, single-consumer event ring: what one thread sees
 * (full ring, drop counter, FIFO order, wraparound of the slot index and of
 * the 64-bit counters, capacities 1, 2 and large), then one producer thread
 * against a concurrently draining consumer, with every byte of every record
 * checked and every event accounted for as consumed or dropped.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/event.h"
#include "agent/ring.h"
#include "tests/unit/harness.h"

/*
 * Fills all 64 bytes of a record from a sequence number, so that a torn or
 * stale slot differs from the expected record somewhere.
 */
static void make_event(uint64_t seq, struct weft_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->h.type = (uint8_t)(seq * 3 + 1);
	ev->h.kind = (uint8_t)(seq >> 8);
	ev->h.flags = (uint16_t)(seq >> 16);
	ev->h.result = (int32_t)(uint32_t)(seq * 2654435761u);
	ev->h.t0 = seq;
	ev->u.raw[0] = seq * 0x9e3779b97f4a7c15ull;
	ev->u.raw[1] = ~seq;
	ev->u.raw[2] = seq ^ 0xa5a5a5a55a5a5a5aull;
	ev->u.raw[3] = seq + 0x0123456789abcdefull;
	ev->u.raw[4] = (seq << 32) | (seq >> 32);
	ev->u.raw[5] = seq * 0xff51afd7ed558ccdull + 7;
}

/* What a drain callback checks against: the next sequence number expected. */
struct expect {
	uint64_t next;  /* single-threaded: exact; concurrent: a lower bound */
	uint64_t count; /* records seen */
	uint64_t bad;   /* records that were not make_event(seq) */
	uint64_t order; /* records out of order or repeated */
	bool exact;     /* every seq must equal next (no drops in between) */
	uint8_t *seen;  /* concurrent test: one byte per sequence number */
	uint64_t n_seen;
};

static void check_event(const struct weft_event *ev, void *arg)
{
	struct expect *x = arg;
	struct weft_event want;
	uint64_t seq = ev->h.t0;

	make_event(seq, &want);
	if (memcmp(&want, ev, sizeof(want)) != 0)
		x->bad++;
	if (x->exact ? seq != x->next : seq < x->next)
		x->order++;
	if (x->seen) {
		if (seq < x->n_seen)
			x->seen[seq]++;
		else
			x->bad++;
	}
	x->next = seq + 1;
	x->count++;
}

/* Ring storage for the single-threaded tests; large enough for every capacity used. */
enum { BIG = 1u << 14 };
static struct weft_event slots[BIG];

static void test_capacity(uint32_t cap)
{
	struct weft_ring ring;
	struct weft_event ev;
	struct expect x = { .exact = true };
	uint64_t seq = 0;

	weft_ring_init(&ring, slots, cap);
	expect_int(weft_ring_dropped(&ring), 0);

	/* Empty: draining calls nothing and returns 0. */
	expect_int(weft_ring_drain(&ring, check_event, &x), 0);
	expect_int(x.count, 0);

	/* Exactly `cap` pushes succeed, then every push fails and is counted. */
	for (uint32_t i = 0; i < cap; i++) {
		make_event(seq++, &ev);
		expect_true(weft_ring_push(&ring, &ev));
	}
	for (uint32_t i = 0; i < 5; i++) {
		make_event(1000000 + i, &ev);
		expect_true(!weft_ring_push(&ring, &ev));
		expect_int(weft_ring_dropped(&ring), i + 1);
	}

	/* The drain hands over the first `cap` events in order; the dropped ones never appear. */
	expect_int(weft_ring_drain(&ring, check_event, &x), cap);
	expect_int(x.count, cap);
	expect_int(x.next, cap);
	expect_int(x.bad, 0);
	expect_int(x.order, 0);
	expect_int(weft_ring_drain(&ring, check_event, &x), 0);

	/* Room again after the drain; the drop counter keeps its value. */
	make_event(seq++, &ev);
	expect_true(weft_ring_push(&ring, &ev));
	expect_int(weft_ring_dropped(&ring), 5);
	expect_int(weft_ring_drain(&ring, check_event, &x), 1);
	expect_int(x.bad, 0);
	expect_int(x.order, 0);
}

/*
 * Many fill/drain cycles of varying length, so that the slot index wraps
 * around the ring at every offset. Pushes beyond the capacity are dropped
 * and counted; the consumer sees the others in order.
 */
static void test_wraparound(uint32_t cap)
{
	struct weft_ring ring;
	struct weft_event ev;
	struct expect x = { 0 };
	uint64_t seq = 0, pushed = 0, dropped = 0, drained = 0;

	weft_ring_init(&ring, slots, cap);
	for (uint32_t cycle = 0; cycle < 5000; cycle++) {
		/* 0 .. cap + 2 pushes: empty cycles, partial fills, and overfills. */
		uint32_t n = (cycle * 7 + cycle / 3) % (cap + 3);
		uint64_t first = seq;

		for (uint32_t i = 0; i < n; i++) {
			make_event(seq, &ev);
			if (weft_ring_push(&ring, &ev))
				pushed++;
			else
				dropped++;
			seq++;
		}
		/* A push that fails is always the tail of the burst (nothing drains meanwhile). */
		x.exact = true;
		x.next = first;
		drained += weft_ring_drain(&ring, check_event, &x);
		if (n > cap)
			expect_int(x.next, first + cap);
	}
	expect_int(pushed + dropped, seq);
	expect_int(drained, pushed);
	expect_int(x.count, pushed);
	expect_int(weft_ring_dropped(&ring), dropped);
	expect_int(x.bad, 0);
	expect_int(x.order, 0);
}

/*
 * head and tail are free-running 64-bit counters. Start them just below
 * 2^64 and run across the wrap, interleaving pushes and drains.
 */
static void test_counter_wrap(void)
{
	struct weft_ring ring;
	struct weft_event ev;
	struct expect x = { .exact = true };
	const uint32_t cap = 8;
	uint64_t seq = 0;

	weft_ring_init(&ring, slots, cap);
	atomic_store(&ring.head, UINT64_MAX - 20);
	atomic_store(&ring.reserve, UINT64_MAX - 20);
	atomic_store(&ring.switch_at, UINT64_MAX - 20);
	atomic_store(&ring.tail, UINT64_MAX - 20);
	for (int round = 0; round < 10; round++) {
		uint32_t ok = 0;

		for (uint32_t i = 0; i < cap + 1; i++) {
			make_event(seq, &ev);
			if (weft_ring_push(&ring, &ev)) {
				ok++;
				seq++;
			}
		}
		expect_int(ok, cap);
		expect_int(weft_ring_drain(&ring, check_event, &x), cap);
		/* A partial round too, so head and tail sit at different offsets. */
		make_event(seq++, &ev);
		expect_true(weft_ring_push(&ring, &ev));
		expect_int(weft_ring_drain(&ring, check_event, &x), 1);
	}
	expect_true(atomic_load(&ring.head) < 1000); /* wrapped */
	expect_int(weft_ring_dropped(&ring), 10);
	expect_int(x.count, seq);
	expect_int(x.bad, 0);
	expect_int(x.order, 0);
}

/* Interleaved single pushes and partial drains keep FIFO order. */
static void test_interleaved(void)
{
	struct weft_ring ring;
	struct weft_event ev;
	struct expect x = { .exact = true };
	uint64_t seq = 0;

	weft_ring_init(&ring, slots, 4);
	for (int i = 0; i < 1000; i++) {
		make_event(seq++, &ev);
		expect_true(weft_ring_push(&ring, &ev));
		make_event(seq++, &ev);
		expect_true(weft_ring_push(&ring, &ev));
		expect_int(weft_ring_drain(&ring, check_event, &x), 2);
		make_event(seq++, &ev);
		expect_true(weft_ring_push(&ring, &ev));
		expect_int(weft_ring_drain(&ring, check_event, &x), 1);
	}
	expect_int(x.count, seq);
	expect_int(x.bad, 0);
	expect_int(x.order, 0);
	expect_int(weft_ring_dropped(&ring), 0);
}

/* --- One producer thread against a concurrent consumer --------------------------------- */

enum { N_EVENTS = 2000000, MT_CAP = 64 };

struct mt {
	struct weft_ring ring;
	_Alignas(64) atomic_bool done;
	uint64_t failed; /* producer's own count of false returns, read after join */
};

static void *producer(void *arg)
{
	struct mt *m = arg;
	struct weft_event ev;

	for (uint64_t seq = 0; seq < N_EVENTS; seq++) {
		make_event(seq, &ev);
		if (!weft_ring_push(&m->ring, &ev))
			m->failed++;
	}
	atomic_store_explicit(&m->done, true, memory_order_release);
	return NULL;
}

static void test_concurrent(void)
{
	static struct mt m;
	static struct weft_event mt_slots[MT_CAP];
	struct expect x = { 0 };
	pthread_t th;
	uint64_t consumed = 0, dup = 0, dropped;
	bool done;

	x.n_seen = N_EVENTS;
	x.seen = calloc(N_EVENTS, 1);
	assert_true(x.seen != NULL);
	weft_ring_init(&m.ring, mt_slots, MT_CAP);
	atomic_store(&m.done, false);
	assert_int(pthread_create(&th, NULL, producer, &m), 0);
	do {
		/* Read `done` before draining, so the last drain sees every push. */
		done = atomic_load_explicit(&m.done, memory_order_acquire);
		consumed += weft_ring_drain(&m.ring, check_event, &x);
	} while (!done);
	assert_int(pthread_join(th, NULL), 0);
	expect_int(weft_ring_drain(&m.ring, check_event, &x), 0);

	dropped = weft_ring_dropped(&m.ring);
	for (uint64_t i = 0; i < N_EVENTS; i++)
		if (x.seen[i] > 1)
			dup++;
	expect_int(consumed, x.count);
	expect_int(consumed + dropped, N_EVENTS);
	expect_int(dropped, m.failed);
	expect_int(x.bad, 0);
	expect_int(x.order, 0);
	expect_int(dup, 0);
	expect_true(consumed >= MT_CAP);
	printf("concurrent: %" PRIu64 " consumed, %" PRIu64 " dropped\n", consumed, dropped);
	free(x.seen);
}

/*
 * Two stages: a ring set up without slots holds WEFT_RING_FIRST events inline;
 * the next push asks to grow (nothing dropped); after growing, events land in
 * the new slots while the inline ones are drained first, in order; a nested
 * push (a signal handler) that finds the inline slots full drops instead.
 */
static void test_grow(void)
{
	static struct weft_ring ring;
	struct weft_event ev;
	struct expect x = { .exact = true };
	uint64_t seq = 0;

	weft_ring_init(&ring, NULL, 64);
	for (int i = 0; i < WEFT_RING_FIRST; i++) {
		make_event(seq++, &ev);
		expect_int(weft_ring_push_ex(&ring, &ev), WEFT_PUSH_OK);
	}
	make_event(seq, &ev);
	/* A nested frame (a handler's, below a live push further up) cannot grow: it drops. */
	atomic_store(&ring.nest, 1);
	ring.sp = UINTPTR_MAX;
	expect_int(weft_ring_push_ex(&ring, &ev), WEFT_PUSH_DROPPED);
	atomic_store(&ring.nest, 0);
	expect_int(weft_ring_dropped(&ring), 1);
	expect_int(weft_ring_push_ex(&ring, &ev), WEFT_PUSH_GROW);
	expect_int(weft_ring_dropped(&ring), 1);
	expect_int(weft_ring_pending(&ring), WEFT_RING_FIRST);
	/* Grow while all the inline events are still pending, and fill past them. */
	weft_ring_grow(&ring, slots);
	for (int i = 0; i < 48; i++) {
		make_event(seq++, &ev);
		expect_int(weft_ring_push_ex(&ring, &ev), WEFT_PUSH_OK);
	}
	/* 16 inline + 48 new = 64 pending: the full ring is full. */
	make_event(seq, &ev);
	expect_int(weft_ring_push_ex(&ring, &ev), WEFT_PUSH_DROPPED);
	expect_int(weft_ring_drain(&ring, check_event, &x), 64);
	expect_int(x.bad, 0);
	expect_int(x.order, 0);
	/* And on, through the new slots only. */
	for (int round = 0; round < 5; round++) {
		for (int i = 0; i < 40; i++) {
			make_event(seq++, &ev);
			expect_int(weft_ring_push_ex(&ring, &ev), WEFT_PUSH_OK);
		}
		expect_int(weft_ring_drain(&ring, check_event, &x), 40);
	}
	expect_int(x.count, seq);
	expect_int(x.bad, 0);
	expect_int(x.order, 0);
	expect_int(weft_ring_dropped(&ring), 2);
}

/* Drain callback: the types seen, in order. */
struct types {
	uint8_t type[8];
	int n;
};

static void note_type(const struct weft_event *ev, void *arg)
{
	struct types *t = arg;

	if (t->n < 8)
		t->type[t->n] = ev->h.type;
	t->n++;
}

/*
 * A push left half-way by a jump (a program's siglongjmp out of a signal
 * handler): nest stays raised and a slot stays claimed, never written. A
 * push from below the left one's stack pointer (a handler's, on top of a
 * live push) stays nested: it writes its record and publishes nothing. One
 * from at or above it — the thread back in weft after the jump — makes what
 * was claimed and not published void (WEFT_EV_NONE, counted as dropped),
 * publishes it with its own record and brings nest down.
 */
static void test_revive(void)
{
	static struct weft_ring ring;
	struct weft_event ev, half;
	struct types seen = { 0 };

	weft_ring_init(&ring, slots, 64);
	make_event(1, &ev);
	expect_int(weft_ring_push_ex(&ring, &ev), WEFT_PUSH_OK);
	expect_int(weft_ring_pending(&ring), 1);
	/* The left push: nest 1, one slot claimed and half written. */
	make_event(2, &half);
	half.h.type = 0xee;
	slots[1] = half;
	atomic_store(&ring.reserve, 2);
	atomic_store(&ring.nest, 1);
	/* From below it: nested. */
	ring.sp = UINTPTR_MAX;
	make_event(3, &ev);
	expect_int(weft_ring_push_ex(&ring, &ev), WEFT_PUSH_OK);
	expect_int(weft_ring_pending(&ring), 1);
	expect_int(atomic_load(&ring.nest), 1);
	/* From above it: revived. */
	ring.sp = 0;
	make_event(4, &ev);
	expect_int(weft_ring_push_ex(&ring, &ev), WEFT_PUSH_OK);
	expect_int(atomic_load(&ring.nest), 0);
	expect_int(weft_ring_dropped(&ring), 2);
	expect_int(weft_ring_drain(&ring, note_type, &seen), 4);
	expect_int(seen.n, 4);
	make_event(1, &ev);
	expect_int(seen.type[0], ev.h.type);
	expect_int(seen.type[1], WEFT_EV_NONE); /* the left push's slot */
	expect_int(seen.type[2],
		   WEFT_EV_NONE); /* the handler's, never published by the left push */
	make_event(4, &ev);
	expect_int(seen.type[3], ev.h.type);
}

/*
 * A handler's push that lands in an outermost push after it noted its stack
 * pointer and before it raised nest takes itself for the outermost: it must
 * leave the pointer as it found it. Left with its own, a second handler
 * inside the interrupted push compares its stack with the first handler's,
 * can find itself above it, and voids the push's slot as left by a jump
 * while the push still writes it (stress-signal under ThreadSanitizer, whose
 * deferred handlers land at such points).
 */
static void test_interrupted_before_raise(void)
{
	static struct weft_ring ring;
	struct weft_event ev;
	uintptr_t outer = weft_stack_pointer() + 4096; /* the interrupted push's, above us */

	weft_ring_init(&ring, slots, 64);
	ring.sp = outer; /* noted; nest still 0 */
	make_event(1, &ev);
	expect_int(weft_ring_push_ex(&ring, &ev), WEFT_PUSH_OK);
	expect_true(ring.sp == outer);
	expect_int(atomic_load(&ring.nest), 0);
	/* The interrupted push raises nest; a second handler below it is nested, not a revival. */
	atomic_store(&ring.nest, 1);
	atomic_store(&ring.reserve, 2); /* its slot, claimed and being written */
	make_event(2, &ev);
	expect_int(weft_ring_push_ex(&ring, &ev), WEFT_PUSH_OK);
	expect_int(weft_ring_dropped(&ring), 0);
	expect_int(atomic_load(&ring.nest), 1);
	expect_int(weft_ring_pending(&ring), 1);
}

int main(void)
{
	test_capacity(1);
	test_capacity(2);
	test_capacity(8);
	test_capacity(BIG);
	test_wraparound(1);
	test_wraparound(2);
	test_wraparound(16);
	test_wraparound(1024);
	test_counter_wrap();
	test_grow();
	test_revive();
	test_interrupted_before_raise();
	test_interleaved();
	test_concurrent();
	return harness_done();
}
