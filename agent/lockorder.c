/* Lock-order inversions (agent/lockorder.h). */
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/alloc.h"
#include "agent/atomic.h"
#include "agent/clock.h"
#include "agent/guard.h"
#include "agent/hashmap.h"
#include "agent/large.h"
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

/*
 * Generations of destroyed locks: a lock's address may come back as another
 * lock's, whose order has nothing to do with the old one's, so each
 * destruction starts the address's edges anew (edges carry the generations
 * of both their locks in their key). Open addressing, claimed like the edges.
 */
#define GENS 4096u

static struct {
	_Atomic uint64_t addr; /* 0: free */
	_Atomic uint32_t gen;
} gens[GENS] WEFT_LARGE;
static bool gens_used; /* a lock was destroyed with the option on */

/* How many times the lock at `addr` was destroyed (0 for most: never). */
static uint32_t gen_of(uint64_t addr)
{
	for (uint32_t i = 0, at = (uint32_t)weft_hashmap_hash_u64(addr); i < 16; i++, at++) {
		uint64_t a = weft_load_acquire(&gens[at % GENS].addr);

		if (a == addr)
			return weft_load_acquire(&gens[at % GENS].gen);
		if (!a)
			return 0;
	}
	return 0;
}

void weft_lockorder_destroyed(const void *lock)
{
	uint64_t addr = (uintptr_t)lock;

	gens_used = true;
	for (uint32_t i = 0, at = (uint32_t)weft_hashmap_hash_u64(addr); i < 16; i++, at++) {
		uint64_t a = weft_load_acquire(&gens[at % GENS].addr), none = 0;

		if (a == 0 && !weft_cas_acq_rel(&gens[at % GENS].addr, &none, addr))
			a = none;
		if (a == 0 || a == addr) {
			weft_fetch_add_relaxed(&gens[at % GENS].gen, 1);
			return;
		}
	}
	/* No room: the address keeps its edges (a reused one may be misreported). */
}

static uint64_t edge_key(uint64_t first, uint64_t second)
{
	uint64_t k = first * 0x9e3779b97f4a7c15ull ^ second;

	k ^= ((uint64_t)gen_of(first) << 32 | gen_of(second)) * 0xc2b2ae3d27d4eb4full;
	return weft_hashmap_hash_u64(k) | 1u;
}

/* The longest probe: past it the table counts as full (a full one costs no scan). */
#define PROBE_MAX 64u

void weft_lockorder_after_fork_child(void)
{
	/*
	 * The child's own orders start anew: an order seen in the parent and
	 * its reverse in the child cannot deadlock (the locks are copies). The
	 * parent's table is left allocated: it may have been mid-change.
	 */
	weft_store_relaxed(&table, NULL);
	/* Only if used: touching 64 KiB the child never needs costs it page faults. */
	if (gens_used)
		memset(gens, 0, sizeof(gens));
	gens_used = false;
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
	for (uint32_t i = 0, at = (uint32_t)key; i < PROBE_MAX; i++, at++) {
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

void weft_lockorder_acquired_nested(struct weft_thread *t, const void *lock, const void *pc)
{
	struct edge *tab;
	int saved;
	uint8_t n = t->n_held;

	/*
	 * Each lock held before this one comes first in an edge — only while
	 * the stack holds them all: with some untracked, an edge could be
	 * missing or one from a lock released out of the stack's sight made.
	 */
	if (n && !t->n_untracked) {
		saved = errno;
		tab = edges();
		for (uint8_t i = 0; tab && i < n; i++)
			if (t->held[i] != (uintptr_t)lock)
				edge_add(t, tab, t->held[i], (uintptr_t)lock, (uintptr_t)pc);
		errno = saved;
	}
	if (n < WEFT_HELD_MAX) {
		t->held[n] = (uintptr_t)lock;
		t->n_held = (uint8_t)(n + 1);
	} else if (t->n_untracked < UINT8_MAX) {
		t->n_untracked++;
	}
}

void weft_lockorder_released_deep(struct weft_thread *t, const void *lock)
{
	uint8_t n = t->n_held;

	/* The newest hold of this lock; those above move down. */
	for (uint8_t i = n; i-- > 0;) {
		if (t->held[i] != (uintptr_t)lock)
			continue;
		for (uint8_t k = i; k + 1 < n; k++)
			t->held[k] = t->held[k + 1];
		t->n_held = (uint8_t)(n - 1);
		return;
	}
	/* Not on the stack: one of those past its depth, or one never seen taken. */
	if (t->n_untracked)
		t->n_untracked--;
}
