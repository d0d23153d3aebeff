/*
 * The fast path of the lock hooks: counting acquisitions and sampling holds.
 *
 * An acquisition that did not block costs one thread-local counter (no clock,
 * no event): the counter is the thread's own, written only by it with a
 * relaxed load and store (not a locked add: this is the hot path), and read
 * by the consumer with relaxed loads. A signal handler that takes a lock
 * between the load and the store of an interrupted increment loses one count:
 * the price of not paying for an atomic read-modify-write on every lock.
 *
 * One acquisition in WEFT_HOLD_SAMPLE (at random, about) is timed until its
 * release: the thread remembers the lock and the time, and the unlock of that
 * lock records a HOLD event attributed to the unlocking site (as Go's mutex
 * profile does). One hold is sampled at a time per thread.
 */
#ifndef WEFT_AGENT_LOCK_H
#define WEFT_AGENT_LOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/agent.h"
#include "agent/clock.h"

/* Starts sampling the hold of `object` and draws the next countdown. */
void weft_lock_hold_begin(struct weft_thread *t, const void *object);

/* Ends the sampled hold: records a HOLD event. */
void weft_lock_hold_end(struct weft_thread *t, const void *pc);

/*
 * A lock of `kind` was acquired, counted only: for locks whose release weft
 * does not see (spin locks), whose hold must never be sampled — a sampled
 * hold that never ends would stop the thread's sampling for good.
 */
static inline void weft_lock_counted(struct weft_thread *t, enum weft_wait_kind kind)
{
	weft_store_relaxed(&t->acquired[kind], weft_load_relaxed(&t->acquired[kind]) + 1);
}

/*
 * Counts an acquisition of `kind`; true when this one's hold is to be
 * sampled (the caller then calls weft_lock_hold_begin).
 */
static inline bool weft_lock_count(struct weft_thread *t, enum weft_wait_kind kind)
{
	weft_lock_counted(t, kind);
	return __builtin_expect(--t->hold_countdown == 0, 0);
}

/* A lock of `kind` was acquired by this thread (blocking or not). */
static inline void weft_lock_acquired(struct weft_thread *t, enum weft_wait_kind kind,
				      const void *object)
{
	if (weft_lock_count(t, kind))
		weft_lock_hold_begin(t, object);
}

/* A lock is about to be released by this thread, from `pc`. */
static inline void weft_lock_released(struct weft_thread *t, const void *object, const void *pc)
{
	if (__builtin_expect(t->hold_obj == (uintptr_t)object, 0))
		weft_lock_hold_end(t, pc);
}

#endif
