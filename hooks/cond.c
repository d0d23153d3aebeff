/*
 * Condition variable hooks: every wait timed, every signal a hand-off.
 *
 * A wait on a condition variable always blocks, so each is timed around the
 * real call and recorded. A signal or broadcast leaves the signalling
 * thread's current span on the condition variable (agent/handoff.h); a
 * waiter that returns 0 after a signal since its wait began gets that span
 * as a `cond.signal` link. Every waiter woken by a broadcast finds the same
 * publication; a timed-out wait (ETIMEDOUT) or a spurious wake-up with no
 * signal since the wait began gets none. A condition variable is a work
 * source (agent/task.h): a wait ends the thread's open task, and one woken
 * by a signal starts a task.
 *
 * glibc has two versions of these functions; the rows bind GLIBC_2.3.2, the
 * default one that every program built since 2003 uses.
 */
#include <pthread.h>
#include <stdbool.h>

#include "agent/handoff.h"
#include "agent/hot.h"
#include "agent/lock.h"
#include "agent/task.h"
#include "hooks/hook.h"

/*
 * The shape of every wait: the mutex is released for the wait (ending a
 * sampled hold of it), the wait's start is stamped, the real call `call` is
 * timed, and a signal published since that stamp becomes the wait's link.
 */
#define COND_WAIT(c, m, call)                                                                      \
	do {                                                                                       \
		struct weft_thread *self_ = weft_hook_thread(WEFT_HOOK_COND);                      \
		struct weft_wait w_;                                                               \
		WEFT_WAIT_UNWIND(unwind_);                                                         \
		uint64_t since_, spans_[WEFT_HANDOFF_MAX], stamp_ = 0;                             \
		int rc_, n_ = 0;                                                                   \
                                                                                                   \
		if (!self_)                                                                        \
			return call;                                                               \
		weft_lock_released(self_, m, WEFT_CALLER);                                         \
		weft_wait_begin(&w_, self_, WEFT_WAIT_COND, c, WEFT_CALLER);                       \
		since_ = w_.ev.h.t0; /* a stamp until the wait ends */                             \
		weft_handoff_wait(c, since_);                                                      \
		weft_task_receive(&w_);                                                            \
		/* A cancellation ends the wait (wait.h). */                                       \
		unwind_ = (struct weft_wait_unwind){ &w_, false };                                 \
		rc_ = call;                                                                        \
		unwind_.w = NULL;                                                                  \
		if (rc_ == 0)                                                                      \
			n_ = weft_wait_take_handoffs(&w_, c, since_, spans_, &stamp_);             \
		/* Recorded after the unlock, outside the critical section. */                     \
		weft_wait_hold(&w_, m);                                                            \
		weft_wait_end_handed(&w_, rc_, false, spans_, n_, stamp_, false);                  \
		weft_defer_end(self_);                                                             \
		return rc_;                                                                        \
	} while (0)

/*
 * pthread_cond_wait: atomically releases the mutex and waits for a signal,
 * then reacquires the mutex; returns 0 (spurious wake-ups included) or an
 * error number, and is a cancellation point (a cancelled waiter reacquires
 * the mutex before its cleanup handlers run). weft times the wait and links a
 * signal that woke it; the wait, the reacquisition and the cancellation are
 * the real call's.
 */
WEFT_EXPORT WEFT_HOT int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
	WEFT_REAL_OR_FAIL(pthread_cond_wait);
	COND_WAIT(c, m, real(c, m));
}

/* pthread_cond_timedwait: as pthread_cond_wait, giving up with ETIMEDOUT at abstime. */
WEFT_EXPORT int pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m,
				       const struct timespec *abstime)
{
	WEFT_REAL_OR_FAIL(pthread_cond_timedwait);
	if (weft_hook_bad_deadline(CLOCK_REALTIME, abstime))
		return real(c, m, abstime); /* EINVAL at once: no wait, the mutex kept */
	COND_WAIT(c, m, real(c, m, abstime));
}

/* pthread_cond_clockwait: pthread_cond_timedwait against a chosen clock. */
WEFT_EXPORT int pthread_cond_clockwait(pthread_cond_t *c, pthread_mutex_t *m, clockid_t clk,
				       const struct timespec *abstime)
{
	WEFT_REAL_OR_FAIL(pthread_cond_clockwait);
	if (weft_hook_bad_deadline(clk, abstime))
		return real(c, m, clk, abstime);
	COND_WAIT(c, m, real(c, m, clk, abstime));
}

/*
 * Whether the condition variable has waiters: glibc counts them in __wrefs
 * (shifted by 3), registered before the waiter releases the mutex, and its
 * signal and broadcast return at once when there are none. A signal with no
 * waiter hands nothing off, so weft publishes nothing either: in a queue
 * that signals at every push and pop, most signals find no waiter, and
 * publishing them would lengthen the critical section they are made in. (A
 * waiter woken counts until it runs: signals made before then are all its
 * hand-offs, as a fan-in's results are.)
 */
static bool has_waiters(pthread_cond_t *c)
{
	return (__atomic_load_n(&c->__data.__wrefs, __ATOMIC_RELAXED) >> 3) != 0;
}

/*
 * A signal or broadcast (`all`) the general way: the symbol resolved (or its
 * fallback), the full observe test, the publication if there are waiters.
 * Out of line, so that the fast paths below keep no frame.
 */
static __attribute__((noinline)) int cond_signal_general(pthread_cond_t *c, bool all)
{
	__typeof__(pthread_cond_signal) *real =
		all ? WEFT_REAL(pthread_cond_broadcast) : WEFT_REAL(pthread_cond_signal);
	struct weft_thread *self = weft_hook_thread(WEFT_HOOK_COND);

	if (!real)
		return weft_real_fail_RET(); /* no libc function: the convention */
	if (self && has_waiters(c))
		weft_handoff_publish(&self->handoff_memo, c, self->cur_span, all);
	return real(c);
}

/* A signal or broadcast with waiters, on an observed thread: the publication, then `real`. */
static WEFT_HOT __attribute__((noinline)) int
cond_signal_publish(pthread_cond_t *c, bool all, __typeof__(pthread_cond_signal) *real)
{
	struct weft_thread *self = weft_self;

	weft_handoff_publish(&self->handoff_memo, c, self->cur_span, all);
	return real(c);
}

/*
 * The fast path of both, written as the mutex hooks' are: one test of the
 * resolved symbol and the thread's gate (agent/guard.h), one of the waiter
 * count, and every path a tail call. A signal finds no waiter at most pushes
 * and pops of a queue; it then costs a few instructions.
 */
#define COND_SIGNAL(c, name, all)                                                                  \
	do {                                                                                       \
		__typeof__(pthread_cond_signal) *real_ = weft_real.name;                           \
                                                                                                   \
		if (__builtin_expect(!real_ || !weft_tls_open(WEFT_HOOK_COND), 0))                 \
			return cond_signal_general(c, all);                                        \
		if (has_waiters(c))                                                                \
			return cond_signal_publish(c, all, real_);                                 \
		return real_(c);                                                                   \
	} while (0)

/*
 * pthread_cond_signal: wakes at least one waiter, if any; returns 0. weft
 * leaves the caller's current span on the condition variable first, so the
 * woken waiter finds it; it never blocks doing so.
 */
WEFT_EXPORT WEFT_HOT int pthread_cond_signal(pthread_cond_t *c)
{
	COND_SIGNAL(c, pthread_cond_signal, false);
}

/* pthread_cond_broadcast: wakes every waiter; each finds the caller's span. */
WEFT_EXPORT int pthread_cond_broadcast(pthread_cond_t *c)
{
	COND_SIGNAL(c, pthread_cond_broadcast, true);
}
