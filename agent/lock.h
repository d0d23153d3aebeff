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
 *
 * Whoever starts a sampled hold calls weft_lock_sample, never
 * weft_lock_hold_begin directly: the mutex unlock hook sees a sampled hold
 * only through the thread's unlock watch (agent/guard.h).
 */
#ifndef WEFT_AGENT_LOCK_H
#define WEFT_AGENT_LOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/agent.h"
#include "agent/clock.h"
#include "agent/guard.h"

/* Starts sampling the hold of `object`, a lock of `kind`, and draws the next sample's count. */
void weft_lock_hold_begin(struct weft_thread *t, enum weft_wait_kind kind, const void *object);

/* Ends the sampled hold: records a HOLD event. */
void weft_lock_hold_end(struct weft_thread *t, const void *pc);

/*
 * Adds one to a counter that only the calling thread writes and the consumer
 * reads with relaxed loads. On x86-64 one `add` to memory: a single
 * instruction, so a signal handler cannot split it and a reader on another
 * core sees the old or the new value. Elsewhere (and under ThreadSanitizer,
 * which does not see inside asm) a relaxed load and store.
 */
static inline void weft_lock_bump(_Atomic uint64_t *counter)
{
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
	__asm__("addq $1, %0" : "+m"(*counter) : : "cc");
#else
	weft_store_relaxed(counter, weft_load_relaxed(counter) + 1);
#endif
}

/*
 * A lock of `kind` was acquired, counted only: for locks whose release weft
 * does not see (spin locks), whose hold must never be sampled — a sampled
 * hold that never ends would stop the thread's sampling for good.
 */
static inline void weft_lock_counted(struct weft_thread *t, enum weft_wait_kind kind)
{
	weft_lock_bump(&t->acquired[kind]);
}

/*
 * Counts an acquisition of `kind` (a kind whose holds are sampled); true
 * when this one's hold is to be sampled (the caller then calls
 * weft_lock_sample). One store on the fast path: the count itself, compared
 * with the count drawn for the next sample (at or past it: a signal
 * handler's acquisition between the add and the compare may have passed
 * it).
 */
static inline bool weft_lock_count(struct weft_thread *t, enum weft_wait_kind kind)
{
	weft_lock_counted(t, kind);
	return __builtin_expect(weft_load_relaxed(&t->acquired[kind]) >= t->hold_at[kind], 0);
}

/*
 * Starts sampling the hold of `object`, a lock of `kind`
 * (weft_lock_hold_begin), and puts the lock sampled in the thread's unlock
 * watch, so that the mutex unlock hook's fast path, which looks at nothing
 * else, sends its unlock the slow way. (A watch left behind by an ended
 * hold only costs one unlock the slow way, which clears it:
 * weft_lock_watch_sync.)
 */
static inline void weft_lock_sample(struct weft_thread *t, enum weft_wait_kind kind,
				    const void *object)
{
	weft_lock_hold_begin(t, kind, object);
	weft_tls.unlock_watch = t->hold_obj;
}

/*
 * Brings the unlock watch back to the calling thread's sampled hold, if any,
 * else to the lock whose unlock its held-back records wait for (agent.h).
 */
static inline void weft_lock_watch_sync(void)
{
	struct weft_thread *t = weft_self;

	weft_tls.unlock_watch = !t              ? 0
				: t->hold_obj   ? t->hold_obj
				: t->deferred_n ? t->deferred_lock
						: 0;
}

/* A lock of `kind` was acquired by this thread (blocking or not). */
static inline void weft_lock_acquired(struct weft_thread *t, enum weft_wait_kind kind,
				      const void *object)
{
	if (weft_lock_count(t, kind))
		weft_lock_sample(t, kind, object);
}

/* A lock is about to be released by this thread, from `pc`. */
static inline void weft_lock_released(struct weft_thread *t, const void *object, const void *pc)
{
	if (__builtin_expect(t->hold_obj == (uintptr_t)object, 0))
		weft_lock_hold_end(t, pc);
}

#endif
