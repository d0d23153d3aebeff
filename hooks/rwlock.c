/*
 * Read-write lock hooks: acquisitions counted, contention timed.
 *
 * As for mutexes: the real try operation first (tryrdlock fails exactly when
 * rdlock would block, writer preference included; trywrlock likewise), a
 * thread-local counter on success, and only a call that found the lock held
 * is timed around the real blocking call. When the lock is write-locked, the
 * writer's thread id (glibc keeps it) is the wait's holder; readers have none
 * a single id could name.
 */
#include <pthread.h>

#include "agent/lock.h"
#include "hooks/hook.h"

static int rwlock_writer(const pthread_rwlock_t *rw)
{
	return ((const volatile pthread_rwlock_t *)rw)->__data.__cur_writer;
}

/* The shape of every blocking acquisition; `try` is the matching try call. */
#define RWLOCK_ACQUIRE(rw, kind, try, call)                                                        \
	do {                                                                                       \
		struct weft_thread *self_ = weft_hook_thread(WEFT_HOOK_RWLOCK);                    \
		struct weft_wait w_;                                                               \
		int rc_;                                                                           \
                                                                                                   \
		if (!self_)                                                                        \
			return call;                                                               \
		rc_ = WEFT_REAL(try)(rw);                                                          \
		if (rc_ == EBUSY && rwlock_writer(rw) == self_->tid) {                             \
			rc_ = call; /* the caller writes: EDEADLK at once */                       \
		} else if (rc_ == EBUSY) {                                                         \
			weft_wait_begin(&w_, self_, kind, rw, WEFT_CALLER);                        \
			weft_wait_holder(&w_, rwlock_writer(rw));                                  \
			rc_ = call;                                                                \
			weft_wait_end(&w_, rc_);                                                   \
		}                                                                                  \
		if (rc_ == 0)                                                                      \
			weft_lock_acquired(self_, kind, rw);                                       \
		return rc_;                                                                        \
	} while (0)

/*
 * pthread_rwlock_rdlock: acquires a read lock, blocking while a writer holds
 * or (writer-preferring locks) waits for the lock; returns 0 or an error
 * number (EAGAIN: too many readers, EDEADLK: the caller holds it for writing).
 * weft counts the acquisition and times only a call that would block.
 */
WEFT_EXPORT int pthread_rwlock_rdlock(pthread_rwlock_t *rw)
{
	WEFT_REAL_OR_FAIL(pthread_rwlock_rdlock);
	RWLOCK_ACQUIRE(rw, WEFT_WAIT_RWLOCK_READ, pthread_rwlock_tryrdlock, real(rw));
}

/* pthread_rwlock_wrlock: acquires the write lock, blocking while anyone holds it. */
WEFT_EXPORT int pthread_rwlock_wrlock(pthread_rwlock_t *rw)
{
	WEFT_REAL_OR_FAIL(pthread_rwlock_wrlock);
	RWLOCK_ACQUIRE(rw, WEFT_WAIT_RWLOCK_WRITE, pthread_rwlock_trywrlock, real(rw));
}

/* pthread_rwlock_timedrdlock: rdlock giving up with ETIMEDOUT at abstime. */
WEFT_EXPORT int pthread_rwlock_timedrdlock(pthread_rwlock_t *rw, const struct timespec *abstime)
{
	WEFT_REAL_OR_FAIL(pthread_rwlock_timedrdlock);
	/* glibc rejects a malformed deadline even when the lock is free. */
	if (weft_hook_bad_deadline(CLOCK_REALTIME, abstime))
		return real(rw, abstime);
	RWLOCK_ACQUIRE(rw, WEFT_WAIT_RWLOCK_READ, pthread_rwlock_tryrdlock, real(rw, abstime));
}

/* pthread_rwlock_timedwrlock: wrlock giving up with ETIMEDOUT at abstime. */
WEFT_EXPORT int pthread_rwlock_timedwrlock(pthread_rwlock_t *rw, const struct timespec *abstime)
{
	WEFT_REAL_OR_FAIL(pthread_rwlock_timedwrlock);
	if (weft_hook_bad_deadline(CLOCK_REALTIME, abstime))
		return real(rw, abstime);
	RWLOCK_ACQUIRE(rw, WEFT_WAIT_RWLOCK_WRITE, pthread_rwlock_trywrlock, real(rw, abstime));
}

/* pthread_rwlock_clockrdlock: timedrdlock against a chosen clock. */
WEFT_EXPORT int pthread_rwlock_clockrdlock(pthread_rwlock_t *rw, clockid_t clk,
					   const struct timespec *abstime)
{
	WEFT_REAL_OR_FAIL(pthread_rwlock_clockrdlock);
	if (weft_hook_bad_deadline(clk, abstime))
		return real(rw, clk, abstime);
	RWLOCK_ACQUIRE(rw, WEFT_WAIT_RWLOCK_READ, pthread_rwlock_tryrdlock, real(rw, clk, abstime));
}

/* pthread_rwlock_clockwrlock: timedwrlock against a chosen clock. */
WEFT_EXPORT int pthread_rwlock_clockwrlock(pthread_rwlock_t *rw, clockid_t clk,
					   const struct timespec *abstime)
{
	WEFT_REAL_OR_FAIL(pthread_rwlock_clockwrlock);
	if (weft_hook_bad_deadline(clk, abstime))
		return real(rw, clk, abstime);
	RWLOCK_ACQUIRE(rw, WEFT_WAIT_RWLOCK_WRITE, pthread_rwlock_trywrlock,
		       real(rw, clk, abstime));
}

/* pthread_rwlock_tryrdlock: never blocks; a success is counted. */
WEFT_EXPORT int pthread_rwlock_tryrdlock(pthread_rwlock_t *rw)
{
	WEFT_REAL_OR_FAIL(pthread_rwlock_tryrdlock);
	struct weft_thread *self = weft_hook_thread(WEFT_HOOK_RWLOCK);
	int rc = real(rw);

	if (self && rc == 0)
		weft_lock_acquired(self, WEFT_WAIT_RWLOCK_READ, rw);
	return rc;
}

/* pthread_rwlock_trywrlock: never blocks; a success is counted. */
WEFT_EXPORT int pthread_rwlock_trywrlock(pthread_rwlock_t *rw)
{
	WEFT_REAL_OR_FAIL(pthread_rwlock_trywrlock);
	struct weft_thread *self = weft_hook_thread(WEFT_HOOK_RWLOCK);
	int rc = real(rw);

	if (self && rc == 0)
		weft_lock_acquired(self, WEFT_WAIT_RWLOCK_WRITE, rw);
	return rc;
}

/* pthread_rwlock_unlock: releases a read or write lock; ends a sampled hold of it. */
WEFT_EXPORT int pthread_rwlock_unlock(pthread_rwlock_t *rw)
{
	WEFT_REAL_OR_FAIL(pthread_rwlock_unlock);
	struct weft_thread *self = weft_hook_thread(WEFT_HOOK_RWLOCK);

	if (self)
		weft_lock_released(self, rw, WEFT_CALLER);
	return real(rw);
}
