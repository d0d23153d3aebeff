#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "agent/alloc.h"
#include "agent/registry.h"

/* The per-thread block (agent/guard.h): every family unobserved until registered. */
__thread struct weft_tls weft_tls __attribute__((tls_model("initial-exec"))) = {
	.unobserved = WEFT_TLS_UNOBSERVED_ALL,
};
struct weft_thread weft_thread_dead = { .dead = true };
_Atomic uint32_t weft_registry_pending_exits;
_Atomic int32_t weft_registry_live;

static _Atomic(struct weft_thread *) registry_head;

/*
 * Recycled states: a few states of ended threads, kept for the next thread
 * instead of going back to the private allocator.
 *
 * Without them every thread costs one allocation on its creator and one free
 * on the exporter, each taking the allocator's one arena lock (no thread
 * caches: see agent/alloc_private.c), which creators on several cores then
 * contend for. Each slot is one pointer that changes hands whole: a freeing
 * thread (the exporter, or a creator abandoning a state) fills an empty slot
 * with a release compare-and-swap, and a creator empties a full one with an
 * acquire exchange. A slot is owned by whoever's exchange or CAS moved its
 * pointer, so no pointer can be taken twice and no ABA can arise: there is
 * no list to unlink. A state that finds no empty slot is freed; a creator
 * that finds no full slot allocates. At most SPARE_SLOTS states (about 2.1
 * KiB each, without their full rings: 136 KiB) are held. There are as many as
 * the exporter frees per early wake-up (WEFT_CONSUMER_PENDING_EXITS_WAKE), so
 * that under thread churn most creations find one.
 */
#define SPARE_SLOTS 64

static _Atomic(struct weft_thread *) spare[SPARE_SLOTS];

static struct weft_thread *spare_take(void)
{
	for (unsigned i = 0; i < SPARE_SLOTS; i++) {
		struct weft_thread *t;

		/* A plain load first: an empty slot costs no write to a shared line. */
		if (!weft_load_relaxed(&spare[i]))
			continue;
		/* Acquire: pairs with the release CAS that filled the slot. */
		t = weft_exchange_acq_rel(&spare[i], (struct weft_thread *)NULL);
		if (t)
			return t;
	}
	return NULL;
}

static bool spare_put(struct weft_thread *t)
{
	for (unsigned i = 0; i < SPARE_SLOTS; i++) {
		struct weft_thread *empty = NULL;

		if (weft_load_relaxed(&spare[i]))
			continue;
		/* Release: our last reads and writes of *t come before its reuse. */
		if (weft_cas_release(&spare[i], &empty, t))
			return true;
	}
	return false;
}

void weft_self_set(struct weft_thread *t)
{
	weft_tls.self = t;
	weft_tls.unobserved = t ? (uint16_t)~t->hooks : WEFT_TLS_UNOBSERVED_ALL;
}

/*
 * The first state asked for — the main thread's, adopted at start-up — is
 * static: a process starts without allocating (the private allocator
 * initialises itself on its first call, touching some thirty pages), and the
 * state is already zero (.bss), so only the lines written are touched. Once taken it behaves as any
 * other state: freed, it may go to a spare slot and be reused, but never to weft_free.
 */
static _Alignas(64) struct weft_thread first_state;
static _Atomic bool first_state_taken;

struct weft_thread *weft_registry_alloc(uint32_t ring_capacity)
{
	struct weft_thread *t = spare_take();
	bool no = false;

	if (!t && !weft_load_relaxed(&first_state_taken) &&
	    weft_cas_acq_rel(&first_state_taken, &no, true)) {
		t = &first_state;
		weft_ring_init(&t->ring, NULL, ring_capacity);
		return t;
	}
	if (!t)
		t = weft_alloc_cacheline(sizeof(*t));
	if (!t)
		return NULL;
	/*
	 * Everything but the inline slots, which are written before they are
	 * published and read: zeroing them too would write 1 KiB more per thread.
	 */
	memset(t, 0, offsetof(struct weft_thread, ring.first));
	/* Inline slots first; the full ring when they fill (weft_registry_ring). */
	weft_ring_init(&t->ring, NULL, ring_capacity);
	return t;
}

int weft_registry_ring(struct weft_thread *t)
{
	/* Not zeroed: a slot is written before it is published and read. */
	struct weft_event *slots;

	if (weft_load_relaxed(&t->ring.slots))
		return 0;
	slots = weft_alloc_cacheline(weft_ring_bytes((uint32_t)t->ring.mask + 1));
	if (!slots)
		return -ENOMEM;
	weft_ring_grow(&t->ring, slots);
	return 0;
}

void weft_registry_free(struct weft_thread *t)
{
	weft_free(weft_load_relaxed(&t->ring.slots));
	if (!spare_put(t) && t != &first_state)
		weft_free(t);
}

void weft_registry_push(struct weft_thread *t)
{
	struct weft_thread *head = weft_load_relaxed(&registry_head);

	/*
	 * Release: everything written to *t before the push (ids, tid, start
	 * time) is visible to the exporter once it has taken the stack.
	 */
	do
		t->next = head;
	while (!weft_cas_release(&registry_head, &head, t));
}

struct weft_thread *weft_registry_take(void)
{
	/* Acquire pairs with the pushers' release CAS. */
	return weft_exchange_acq_rel(&registry_head, (struct weft_thread *)NULL);
}

struct cycle_ctx {
	struct weft_thread *t;
	const struct weft_registry_visitor *v;
	void *arg;
};

static void cycle_event(const struct weft_event *ev, void *arg)
{
	struct cycle_ctx *c = arg;

	c->v->event(c->t, ev, c->arg);
}

static void cycle_take(struct weft_registry_reader *r, const struct weft_registry_visitor *v,
		       void *arg)
{
	struct weft_thread *list = weft_registry_take(), *rev = NULL;

	/* The registry is a stack; reverse it to report threads in publication order. */
	while (list) {
		struct weft_thread *next = list->next;

		list->next = rev;
		rev = list;
		list = next;
	}
	while (rev) {
		struct weft_thread *next = rev->next;

		if (v->taken)
			v->taken(rev, arg);
		rev->next = r->threads;
		r->threads = rev;
		rev = next;
	}
}

void weft_registry_cycle(struct weft_registry_reader *r, const struct weft_registry_visitor *v,
			 void *arg)
{
	struct weft_thread **pp, *t;

	cycle_take(r, v, arg);
	for (t = r->threads; t; t = t->next) {
		struct cycle_ctx c = { t, v, arg };
		uint64_t dropped;

		/* Acquire: pairs with the owner's release store in weft_registry_exit. */
		t->exit_seen = weft_load_acquire(&t->exited) != 0;
		if (v->event)
			weft_ring_drain(&t->ring, cycle_event, &c);
		else
			weft_ring_drain(&t->ring, NULL, NULL);
		/* The ring's counter only grows; report what is new since last time. */
		dropped = weft_ring_dropped(&t->ring);
		if (v->drained)
			v->drained(t, dropped - t->dropped_seen, arg);
		t->dropped_seen = dropped;
	}
	for (pp = &r->threads; (t = *pp);) {
		if (!t->exit_seen) {
			pp = &t->next;
			continue;
		}
		*pp = t->next;
		if (v->exited)
			v->exited(t, arg);
		weft_fetch_add_relaxed(&weft_registry_pending_exits, (uint32_t)-1);
		weft_registry_free(t);
	}
}

uint32_t weft_registry_exit(struct weft_thread *t, uint64_t end_ns)
{
	uint32_t pending;

	weft_self_set(&weft_thread_dead);
	weft_store_relaxed(&t->wait_kind, 0);
	weft_store_relaxed(&t->end_ns, end_ns);
	pending = weft_fetch_add_relaxed(&weft_registry_pending_exits, 1) + 1;
	/* Sequentially consistent: see weft_thread_end. */
	atomic_fetch_sub(&weft_registry_live, 1);
	/* Release: the ring writes and end time above are visible with `exited`. */
	weft_store_release(&t->exited, 1);
	return pending;
}

void weft_registry_reset_after_fork(void)
{
	weft_store_relaxed(&registry_head, NULL);
	weft_store_relaxed(&weft_registry_pending_exits, 0);
	weft_store_relaxed(&weft_registry_live, 0);
}
