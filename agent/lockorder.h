/*
 * Lock-order inversions (WEFT_LOCK_ORDER=1; nothing at all when off).
 *
 * Each thread keeps the mutexes it holds, in the order it took them (a
 * short stack in its state: WEFT_HELD_MAX; deeper nesting is not
 * followed). Taking lock B while holding A adds the edge A→B, with the site
 * that took B, to one table shared by the process. An edge whose reverse is
 * already there — some thread took A while holding B — is an inversion: two
 * threads doing both at once would deadlock, whether or not this run did.
 * The thread that finds it records one LOCKORDER event (the pair and both
 * sites); the pair is reported once per process.
 *
 * The table is open-addressed, WEFT_LOCKORDER_EDGES slots, allocated on the
 * first edge; a slot is claimed with one compare-and-swap on its key (a hash
 * of the ordered pair, never 0) and filled before its `ready` flag is
 * released, so a reader that sees `ready` sees the pair and site. A probe
 * stops after 64 slots: edges that find no room are not recorded (counted in
 * weft_lockorder_full). An edge's key also holds how many times each of its
 * locks was destroyed (pthread_mutex_destroy), so a lock whose address
 * comes back as another's starts with no edges; a lock freed without being
 * destroyed keeps them. Two
 * different pairs with the same 64-bit key would be taken for one: a
 * collision chance of about n²/2⁶⁵ for n edges.
 *
 * The mutex hooks call in only when the option is on (hooks/mutex.c swaps
 * the function pointers its fast paths jump through), so with it off the
 * hot paths are exactly as without this file.
 */
#ifndef WEFT_AGENT_LOCKORDER_H
#define WEFT_AGENT_LOCKORDER_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/registry.h"

#define WEFT_LOCKORDER_EDGES 16384u

/* Edges the table had no room for. */
extern _Atomic uint64_t weft_lockorder_full;

/* weft_lockorder_acquired for a thread that holds some lock already: the edges. */
void weft_lockorder_acquired_nested(struct weft_thread *t, const void *lock, const void *pc);

/* weft_lockorder_released when `lock` is not the newest hold: the stack searched. */
void weft_lockorder_released_deep(struct weft_thread *t, const void *lock);

/*
 * `t` acquired `lock` at `pc` (the hook's caller): its edges from every lock
 * it holds. A thread that holds none (the uncontended pair, most locks) only
 * notes the hold: inline, a few stores.
 */
static inline void weft_lockorder_acquired(struct weft_thread *t, const void *lock, const void *pc)
{
	if (__builtin_expect(t->n_held != 0, 0)) {
		weft_lockorder_acquired_nested(t, lock, pc);
		return;
	}
	t->held[0] = (uintptr_t)lock;
	t->n_held = 1;
}

/*
 * `t` is about to release `lock` (the newest hold of it, if it holds it more
 * than once). Released in the reverse order of acquisition, as most are, it
 * is the top of the stack: inline.
 */
static inline void weft_lockorder_released(struct weft_thread *t, const void *lock)
{
	uint8_t n = t->n_held;

	if (__builtin_expect(n != 0 && t->held[n - 1] == (uintptr_t)lock, 1)) {
		t->n_held = (uint8_t)(n - 1);
		return;
	}
	weft_lockorder_released_deep(t, lock);
}

/* `lock` is being destroyed: its address's edges are forgotten (it may come back as another). */
void weft_lockorder_destroyed(const void *lock);

/* In a forked child: the parent's edges and reports are not the child's. */
void weft_lockorder_after_fork_child(void);

#endif
