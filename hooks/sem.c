/*
 * Semaphore and barrier hooks.
 *
 * sem_wait never tries first: glibc's sem_wait and sem_timedwait are
 * cancellation points even when a unit is available, and sem_timedwait and
 * sem_clockwait reject a malformed deadline or clock before they look at the
 * value, so a sem_trywait in front would change what they do. Instead the
 * hook reads the semaphore's value (glibc keeps it in the first word): a
 * positive value means the real call will most likely take a unit at once,
 * and it is made untimed; only a call made on an empty semaphore is timed.
 * Either way the real call alone decides the result, the blocking and the
 * cancellation. sem_post leaves the poster's current span on the semaphore
 * (agent/handoff.h); a blocked waiter that then takes a unit gets it as a
 * `sem.post` link. A semaphore is a work source (agent/task.h): a wait that
 * blocks ends the thread's open task, and one that then takes a unit starts
 * a task. A barrier wait blocks for every thread but the last to
 * arrive, so each is timed.
 */
#include <semaphore.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/handoff.h"
#include "agent/task.h"
#include "hooks/hook.h"

/*
 * The semaphore's value; a racy read of the program's semaphore, on purpose.
 * glibc's struct new_sem: with 64-bit atomics, the value is the low half of
 * the first 64-bit word; otherwise the first 32-bit word shifted right once.
 */
static uint32_t sem_value(const sem_t *s)
{
#if __WORDSIZE == 64
	uint64_t data = *(const volatile uint64_t *)(const void *)s;

	return (uint32_t)data;
#else
	return *(const volatile uint32_t *)(const void *)s >> 1;
#endif
}

/*
 * Whether a thread waits on the semaphore: glibc counts its waiters in the
 * high half of that word (with 64-bit atomics), registered before they
 * block. A post with none hands nothing off: no publication. Without 64-bit
 * atomics the count is elsewhere: always yes.
 */
static bool sem_waiters(const sem_t *s)
{
#if __WORDSIZE == 64
	return (*(const volatile uint64_t *)(const void *)s >> 32) != 0;
#else
	(void)s;
	return true;
#endif
}

/* The shape of every semaphore wait; `call` returns 0 or -1 with errno. */
#define SEM_WAIT(s, call)                                                                          \
	do {                                                                                       \
		struct weft_thread *self_ = weft_hook_thread(WEFT_HOOK_SEM);                       \
		struct weft_wait w_;                                                               \
		WEFT_WAIT_UNWIND(unwind_);                                                         \
		uint64_t since_, spans_[WEFT_HANDOFF_MAX], stamp_ = 0;                             \
		int rc_, n_ = 0;                                                                   \
                                                                                                   \
		if (!self_ || sem_value(s) != 0)                                                   \
			return call;                                                               \
		weft_wait_begin(&w_, self_, WEFT_WAIT_SEM, s, WEFT_CALLER);                        \
		since_ = w_.ev.h.t0; /* a stamp until the wait ends */                             \
		weft_handoff_wait(s, since_);                                                      \
		weft_task_receive(&w_);                                                            \
		unwind_ = (struct weft_wait_unwind){ &w_, true };                                  \
		rc_ = call;                                                                        \
		unwind_.w = NULL;                                                                  \
		if (rc_ == 0)                                                                      \
			n_ = weft_wait_take_handoffs(&w_, s, since_, spans_, &stamp_);             \
		weft_wait_end_handed(&w_, rc_, true, spans_, n_, stamp_, rc_ == 0);                \
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
	if (weft_hook_bad_deadline(CLOCK_REALTIME, abstime))
		return real(s, abstime); /* EINVAL, never blocks */
	SEM_WAIT(s, real(s, abstime));
}

/* sem_clockwait: sem_timedwait against a chosen clock. */
WEFT_EXPORT int sem_clockwait(sem_t *s, clockid_t clk, const struct timespec *abstime)
{
	WEFT_REAL_OR_FAIL(sem_clockwait);
	if (weft_hook_bad_deadline(clk, abstime))
		return real(s, clk, abstime); /* EINVAL, never blocks */
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

	if (self && sem_waiters(s))
		weft_handoff_publish(&self->handoff_memo, s, self->cur_span, false);
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
	/* The serial thread's -1 is a success, not a result worth an attribute. */
	weft_wait_end(&w, rc == PTHREAD_BARRIER_SERIAL_THREAD ? 0 : rc);
	return rc;
}
