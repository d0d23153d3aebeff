/*
 * Sleeps: nanosleep, clock_nanosleep, usleep, sleep and thrd_sleep are waits
 * of kind `sleep`, so that time a thread spends asleep is never mistaken for
 * work (a task's or a thread's). A sleep is no work source: it ends no task
 * and starts none, and it has no object.
 *
 * glibc's sleep, usleep and thrd_sleep call its internal nanosleep, not the
 * exported one, so each is hooked and none is counted twice. The hooks read
 * the program's timespec only after the real call has read it without
 * failing (a bad pointer must fail with EFAULT in the real call, not fault in
 * weft): every call with a non-zero integer argument or a timespec is timed
 * around the real call, and given back, unrecorded, when it failed at once
 * (EINVAL, EFAULT, ENOTSUP) or asked for no sleep (a zero duration, an
 * absolute deadline already past when it began; on a clock weft does not
 * read, a return within WEFT_WAIT_SLEPT_NS).
 * The real call's result, errno, remaining time, EINTR and cancellation (all
 * five are cancellation points) are the program's.
 */
#include <errno.h>
#include <threads.h>
#include <time.h>
#include <unistd.h>

#include "hooks/hook.h"

/* Starts timing a sleep of the observed thread `self`; a cancellation ends it (wait.h). */
#define SLEEP_BEGIN(self, w, unwind, sys)                                                          \
	do {                                                                                       \
		weft_wait_begin(&(w), self, WEFT_WAIT_SLEEP, NULL, WEFT_CALLER);                   \
		(unwind) = (struct weft_wait_unwind){ &(w), sys };                                 \
	} while (0)

/*
 * Ends a sleep: given back when `no_sleep` (rejected at once, or nothing
 * asked: evaluated after the call), else recorded with `end`; errno kept.
 */
#define SLEEP_END(w, unwind, no_sleep, end, rc)                                                    \
	do {                                                                                       \
		int saved_ = *weft_errno();                                                        \
                                                                                                   \
		(unwind).w = NULL;                                                                 \
		if (no_sleep)                                                                      \
			weft_wait_cancel(&(w));                                                    \
		else                                                                               \
			end(&(w), rc);                                                             \
		*weft_errno() = saved_;                                                            \
	} while (0)

/* Whether a duration the real call has read is zero. */
static bool zero(const struct timespec *d)
{
	return d->tv_sec == 0 && d->tv_nsec == 0;
}

/*
 * Whether the sleep that began at `w`'s start asked for none: read after a
 * real call that did not fail, which read *req itself. A relative sleep of
 * zero; a deadline not after the start, on the clocks weft reads; on the
 * others, a return within WEFT_WAIT_SLEPT_NS.
 */
static bool no_sleep(struct weft_wait *w, clockid_t clk, int flags, const struct timespec *req)
{
	uint64_t at, start = weft_wait_start_ns(w);

	if (!(flags & TIMER_ABSTIME))
		return zero(req);
	if (clk == CLOCK_REALTIME)
		start = weft_clock_to_unix(start);
	else if (clk != CLOCK_MONOTONIC)
		return weft_clock_now() - start < WEFT_WAIT_SLEPT_NS;
	if (req->tv_sec < 0)
		return true;
	at = (uint64_t)req->tv_sec * 1000000000u + (uint64_t)req->tv_nsec;
	return at <= start;
}

/* A -1/errno call rejected before it slept. */
static bool sys_rejected(int rc)
{
	return rc == -1 && (errno == EINVAL || errno == EFAULT);
}

/*
 * nanosleep: sleeps for *req on CLOCK_MONOTONIC; returns 0, or -1 with errno
 * (EINTR, the time left in *rem when rem is not NULL; EINVAL; EFAULT).
 */
WEFT_EXPORT int nanosleep(const struct timespec *req, struct timespec *rem)
{
	WEFT_REAL_OR_FAIL(nanosleep);
	struct weft_thread *self = weft_hook_thread(WEFT_HOOK_SLEEP);
	struct weft_wait w;
	WEFT_WAIT_UNWIND(unwind);
	int rc;

	if (!self)
		return real(req, rem);
	SLEEP_BEGIN(self, w, unwind, true);
	rc = real(req, rem);
	SLEEP_END(w, unwind, sys_rejected(rc) || (rc == 0 && zero(req)), weft_wait_end_sys, rc);
	return rc;
}

/*
 * clock_nanosleep: sleeps on `clk` for *req, or until *req with TIMER_ABSTIME;
 * returns 0 or an error number (EINTR with *rem for a relative sleep, EINVAL,
 * ENOTSUP, EFAULT), never errno.
 */
WEFT_EXPORT int clock_nanosleep(clockid_t clk, int flags, const struct timespec *req,
				struct timespec *rem)
{
	WEFT_REAL_OR_FAIL(clock_nanosleep);
	struct weft_thread *self = weft_hook_thread(WEFT_HOOK_SLEEP);
	struct weft_wait w;
	WEFT_WAIT_UNWIND(unwind);
	int rc;

	if (!self)
		return real(clk, flags, req, rem);
	SLEEP_BEGIN(self, w, unwind, false);
	rc = real(clk, flags, req, rem);
	SLEEP_END(w, unwind,
		  rc == EINVAL || rc == ENOTSUP || rc == EFAULT ||
			  (rc == 0 && no_sleep(&w, clk, flags, req)),
		  weft_wait_end, rc);
	return rc;
}

/* usleep: sleeps for `usec` microseconds; returns 0 or -1 with errno (EINTR, EINVAL). */
WEFT_EXPORT int usleep(useconds_t usec)
{
	WEFT_REAL_OR_FAIL(usleep);
	struct weft_thread *self;
	struct weft_wait w;
	WEFT_WAIT_UNWIND(unwind);
	int rc;

	if (usec == 0 || !(self = weft_hook_thread(WEFT_HOOK_SLEEP)))
		return real(usec);
	SLEEP_BEGIN(self, w, unwind, true);
	rc = real(usec);
	SLEEP_END(w, unwind, sys_rejected(rc), weft_wait_end_sys, rc);
	return rc;
}

/*
 * sleep: sleeps for `seconds`; returns 0, or the seconds left when a signal
 * handler interrupted it (recorded as the wait's result). No failure: the
 * row's fallback (the symbol cannot be resolved) is glibc's way, nanosleep's
 * system call (agent/real.c).
 */
WEFT_EXPORT unsigned int sleep(unsigned int seconds)
{
	__typeof__(weft_real.sleep) const real = WEFT_REAL(sleep); /* never NULL: a fallback */
	struct weft_thread *self;
	struct weft_wait w;
	WEFT_WAIT_UNWIND(unwind);
	unsigned left;

	if (seconds == 0 || !(self = weft_hook_thread(WEFT_HOOK_SLEEP)))
		return real(seconds);
	SLEEP_BEGIN(self, w, unwind, false);
	left = real(seconds);
	SLEEP_END(w, unwind, false, weft_wait_end, left > INT32_MAX ? INT32_MAX : (int)left);
	return left;
}

/*
 * thrd_sleep (C11): sleeps for *duration; returns 0, -1 when a signal
 * interrupted it (the time left in *remaining), or another negative value
 * on failure. No errno contract. Unresolvable, it fails with -2.
 */
WEFT_EXPORT int thrd_sleep(const struct timespec *duration, struct timespec *remaining)
{
	__typeof__(weft_real.thrd_sleep) const real = WEFT_REAL(thrd_sleep);
	struct weft_thread *self;
	struct weft_wait w;
	WEFT_WAIT_UNWIND(unwind);
	int rc;

	if (__builtin_expect(real == NULL, 0))
		return -2;
	if (!(self = weft_hook_thread(WEFT_HOOK_SLEEP)))
		return real(duration, remaining);
	SLEEP_BEGIN(self, w, unwind, false);
	rc = real(duration, remaining);
	SLEEP_END(w, unwind, rc < -1 || (rc == 0 && zero(duration)), weft_wait_end, rc);
	return rc;
}
