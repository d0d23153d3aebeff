/*
 * Semaphore and barrier hooks.
 *
 * sem_wait tries first (sem_trywait takes a unit exactly when sem_wait would
 * at once; like glibc's own fast path, it is no cancellation point then), and
 * times only a wait that blocks. sem_post leaves the poster's current span on
 * the semaphore (agent/handoff.h); a blocked waiter that then takes a unit
 * gets it as a `sem.post` link. A barrier wait blocks for every thread but
 * the last to arrive, so each is timed.
 */
#include <semaphore.h>

#include "agent/handoff.h"
#include "hooks/hook.h"

/* The shape of every blocking semaphore wait; `call` returns 0 or -1 with errno. */
#define SEM_WAIT(s, call)                                                                          \
	do {                                                                                       \
		struct weft_thread *self_ = weft_hook_thread(WEFT_HOOK_SEM);                       \
		struct weft_wait w_;                                                               \
		uint64_t mark_, span_;                                                             \
		int saved_ = errno, rc_;                                                           \
                                                                                                   \
		if (!self_)                                                                        \
			return call;                                                               \
		if (WEFT_REAL(sem_trywait)(s) == 0)                                                \
			return 0;                                                                  \
		if (errno != EAGAIN)                                                               \
			return call; /* EINVAL and the like: the real call says so */             \
		errno = saved_;                                                                    \
		mark_ = weft_handoff_mark(s);                                                      \
		weft_wait_begin(&w_, self_, WEFT_WAIT_SEM, s, WEFT_CALLER);                        \
		rc_ = call;                                                                        \
		if (rc_ == 0 && (span_ = weft_handoff_take(s, mark_)) != 0)                        \
			weft_wait_link(&w_, span_);                                                \
		weft_wait_end_sys(&w_, rc_);                                                       \
		return rc_;                                                                        \
	} while (0)

/*
 * sem_wait: decrements the semaphore, blocking while it is zero; returns 0,
 * or -1 with errno (EINTR: a signal handler interrupted it, EINVAL), and is a
 * cancellation point while it blocks. weft times only a wait that blocked and
 * links the post that ended it.
 */
WEFT_EXPORT int sem_wait(sem_t *s)
{
	WEFT_REAL_OR_FAIL(sem_wait);
	SEM_WAIT(s, real(s));
}

/* sem_timedwait: as sem_wait, giving up with ETIMEDOUT at abstime. */
WEFT_EXPORT int sem_timedwait(sem_t *s, const struct timespec *abstime)
{
	WEFT_REAL_OR_FAIL(sem_timedwait);
	SEM_WAIT(s, real(s, abstime));
}

/* sem_clockwait: sem_timedwait against a chosen clock. */
WEFT_EXPORT int sem_clockwait(sem_t *s, clockid_t clk, const struct timespec *abstime)
{
	WEFT_REAL_OR_FAIL(sem_clockwait);
	SEM_WAIT(s, real(s, clk, abstime));
}

/* sem_trywait: decrements without blocking, or -1 with EAGAIN; passes through. */
WEFT_EXPORT int sem_trywait(sem_t *s)
{
	WEFT_REAL_OR_FAIL(sem_trywait);
	return real(s);
}

/*
 * sem_post: increments the semaphore, waking a waiter; returns 0 or -1 with
 * errno (EOVERFLOW). Async-signal-safe, and so is what weft adds: the
 * caller's current span left on the semaphore.
 */
WEFT_EXPORT int sem_post(sem_t *s)
{
	WEFT_REAL_OR_FAIL(sem_post);
	struct weft_thread *self = weft_hook_thread(WEFT_HOOK_SEM);

	if (self)
		weft_handoff_publish(s, self->cur_span);
	return real(s);
}

/*
 * pthread_barrier_wait: blocks until the barrier's count of threads have
 * arrived; returns PTHREAD_BARRIER_SERIAL_THREAD to one of them and 0 to the
 * others. weft times each arrival's wait.
 */
WEFT_EXPORT int pthread_barrier_wait(pthread_barrier_t *b)
{
	WEFT_REAL_OR_FAIL(pthread_barrier_wait);
	struct weft_thread *self = weft_hook_thread(WEFT_HOOK_SEM);
	struct weft_wait w;
	int rc;

	if (!self)
		return real(b);
	weft_wait_begin(&w, self, WEFT_WAIT_BARRIER, b, WEFT_CALLER);
	rc = real(b);
	weft_wait_end(&w, rc);
	return rc;
}
