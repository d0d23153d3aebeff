/* Lock-order inversions (agent/lockorder.h). */
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>

#include "agent/agent.h"
#include "agent/alloc.h"
#include "agent/atomic.h"
#include "agent/clock.h"
#include "agent/guard.h"
#include "agent/hashmap.h"
#include "agent/lockorder.h"

/* One edge: `first` was held when `second` was taken at `pc`. */
struct edge {
	_Atomic uint64_t key; /* 0: free */
	uint64_t first, second, pc;
	_Atomic uint32_t ready;    /* the fields above are written */
	_Atomic uint32_t reported; /* the pair's inversion was recorded (on the lower key's slot) */
};

static struct edge *_Atomic table;
_Atomic uint64_t weft_lockorder_full;

static uint64_t edge_key(uint64_t first, uint64_t second)
{
	return weft_hashmap_hash_u64(first * 0x9e3779b97f4a7c15ull ^ second) | 1u;
}

/* The table, allocated by the first thread that needs it; NULL if that fails. */
static struct edge *edges(void)
{
	struct edge *t = weft_load_acquire(&table), *fresh, *none = NULL;

	if (__builtin_expect(t != NULL, 1))
		return t;
	weft_guard_enter(); /* the private allocator may lock: not through these hooks */
	fresh = weft_zalloc(WEFT_LOCKORDER_EDGES * sizeof(*fresh));
	if (fresh && !weft_cas_acq_rel(&table, &none, fresh)) {
		weft_free(fresh);
		fresh = none;
	}
	weft_guard_leave();
	return fresh;
}

/*
 * The slot of edge first→second: found, or claimed and filled with `pc`
 * (*added set); NULL when the table is full. Linear probing; a claimed slot
 * is never freed, so a probe that reaches a free slot has seen every slot
 * its key could be in.
 */
static struct edge *edge_find(struct edge *t, uint64_t first, uint64_t second, uint64_t pc,
			      bool insert, bool *added)
{
	uint64_t key = edge_key(first, second);

	*added = false;
	for (uint32_t i = 0, at = (uint32_t)key; i < WEFT_LOCKORDER_EDGES; i++, at++) {
		struct edge *e = &t[at % WEFT_LOCKORDER_EDGES];
		uint64_t k = atomic_load(&e->key); /* seq_cst: see edge_add */

		if (k == key)
			return e;
		if (k != 0)
			continue;
		if (!insert)
			return NULL;
		if (!atomic_compare_exchange_strong(&e->key, &k, key)) {
			if (k == key)
				return e;
			continue;
		}
		e->first = first;
		e->second = second;
		e->pc = pc;
		atomic_store(&e->ready, 1);
		*added = true;
		return e;
	}
	if (insert)
		weft_fetch_add_relaxed(&weft_lockorder_full, 1);
	return NULL;
}

/* held → lock taken at pc: a new edge, and an inversion if the reverse is known. */
static void edge_add(struct weft_thread *t, struct edge *tab, uint64_t held, uint64_t lock,
		     uint64_t pc)
{
	struct edge *fwd, *rev, *canon;
	struct weft_event ev = { .h = { .type = WEFT_EV_LOCKORDER } };
	uint32_t no = 0;
	bool added;

	fwd = edge_find(tab, held, lock, pc, true, &added);
	if (!added)
		return; /* known: its inversion, if any, was looked for when it was added */
	/*
	 * Two threads adding a→b and b→a at once each publish theirs, then look
	 * for the other's: with every access to `key` and `ready` sequentially
	 * consistent, at least one of them sees the other's (the store-buffer
	 * case), and the `reported` flag lets only one of them record it.
	 */
	rev = edge_find(tab, lock, held, 0, false, &added);
	if (!rev || !atomic_load(&rev->ready))
		return;
	/* Once per pair: the flag on the slot of the pair's lower key. */
	canon = fwd && weft_load_relaxed(&fwd->key) < weft_load_relaxed(&rev->key) ? fwd : rev;
	if (!weft_cas_acq_rel(&canon->reported, &no, 1))
		return;
	/* The order seen first is the forward one. */
	ev.h.t0 = weft_clock_now();
	ev.u.order.first = lock;
	ev.u.order.second = held;
	ev.u.order.pc_forward = rev->pc;
	ev.u.order.pc_reverse = pc;
	weft_record(t, &ev);
}

void weft_lockorder_acquired(struct weft_thread *t, const void *lock, const void *pc)
{
	struct edge *tab;
	int saved;
	uint8_t n = t->n_held;

	/* Each lock held before this one comes first in an edge. */
	if (n) {
		saved = errno;
		tab = edges();
		for (uint8_t i = 0; tab && i < n && i < WEFT_HELD_MAX; i++)
			if (t->held[i].lock != (uintptr_t)lock)
				edge_add(t, tab, t->held[i].lock, (uintptr_t)lock, (uintptr_t)pc);
		errno = saved;
	}
	if (n < WEFT_HELD_MAX) {
		t->held[n].lock = (uintptr_t)lock;
		t->held[n].pc = (uintptr_t)pc;
	}
	/* Past the stack's depth, only counted: releases bring it back. */
	if (n < UINT8_MAX)
		t->n_held = (uint8_t)(n + 1);
}

void weft_lockorder_released(struct weft_thread *t, const void *lock)
{
	uint8_t n = t->n_held, top = n < WEFT_HELD_MAX ? n : WEFT_HELD_MAX;

	if (!n)
		return;
	if (n > WEFT_HELD_MAX) {
		t->n_held = (uint8_t)(n - 1);
		return;
	}
	/* The newest hold of this lock; others move down. A lock not held is ignored. */
	for (uint8_t i = top; i-- > 0;) {
		if (t->held[i].lock != (uintptr_t)lock)
			continue;
		for (uint8_t k = i; k + 1 < top; k++)
			t->held[k] = t->held[k + 1];
		t->n_held = (uint8_t)(n - 1);
		return;
	}
}
