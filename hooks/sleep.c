/*
 * Sleeps: nanosleep, clock_nanosleep, usleep, sleep and thrd_sleep are waits
 * of kind `sleep`, so that time a thread spends asleep is never mistaken for
 * work (a task's or a thread's). A sleep is no work source: it ends no task
 * and starts none, and it has no object.
 *
 * glibc's sleep, usleep and thrd_sleep call its internal nanosleep, not the
 * exported one, so each is hooked and none is counted twice. A call that
 * cannot block is passed through untimed: a malformed duration (EINVAL), a
 * zero one, an absolute deadline already past. Every other call is timed
 * around the real call, whose result, errno, remaining time, EINTR and
 * cancellation (all five are cancellation points) are the program's.
 */
#include <errno.h>
#include <threads.h>
#include <time.h>
#include <unistd.h>

#include "hooks/hook.h"

/* Whether a relative duration is one the call sleeps for: valid and not zero. */
static bool sleeps_for(const struct timespec *d)
{
	return d->tv_sec >= 0 && (unsigned long)d->tv_nsec < 1000000000UL &&
	       (d->tv_sec | d->tv_nsec) != 0;
}

/* The calling thread, if it is observed and `d` (NULL: unknown) makes it sleep. */
static struct weft_thread *sleeper(const struct timespec *d)
{
	if (d && !sleeps_for(d))
		return NULL;
	return weft_hook_thread(WEFT_HOOK_SLEEP);
}

/*
 * Brackets a sleep: `call` returns an int that `end` (weft_wait_end or
 * weft_wait_end_sys) understands. A cancellation ends the wait (wait.h).
 */
#define SLEEP_WAIT(self, sys, end, call)                                                           \
	do {                                                                                       \
		struct weft_wait w_;                                                               \
		WEFT_WAIT_UNWIND(unwind_);                                                         \
		int rc_;                                                                           \
                                                                                                   \
		weft_wait_begin(&w_, self, WEFT_WAIT_SLEEP, NULL, WEFT_CALLER);                    \
		unwind_ = (struct weft_wait_unwind){ &w_, sys };                                   \
		rc_ = call;                                                                        \
		unwind_.w = NULL;                                                                  \
		end(&w_, rc_);                                                                     \
		return rc_;                                                                        \
	} while (0)

/*
 * nanosleep: sleeps for *req on CLOCK_MONOTONIC; returns 0, or -1 with errno
 * (EINTR, the time left in *rem when rem is not NULL; EINVAL; EFAULT). weft
 * times a call with a valid, non-zero duration.
 */
WEFT_EXPORT int nanosleep(const struct timespec *req, struct timespec *rem)
{
	WEFT_REAL_OR_FAIL(nanosleep);
	struct weft_thread *self;

	if (!req || !(self = sleeper(req)))
		return real(req, rem);
	SLEEP_WAIT(self, true, weft_wait_end_sys, real(req, rem));
}

/*
 * Whether an absolute deadline on `clk` is still ahead: one clock read, made
 * only for absolute sleeps. An unreadable clock is left to the real call
 * (which fails the same way) and counted as no sleep.
 */
static bool deadline_ahead(clockid_t clk, const struct timespec *at)
{
	struct timespec now;

	if (clock_gettime(clk, &now) != 0)
		return false;
	return at->tv_sec > now.tv_sec || (at->tv_sec == now.tv_sec && at->tv_nsec > now.tv_nsec);
}

/*
 * clock_nanosleep: sleeps on `clk` for *req, or until *req with TIMER_ABSTIME;
 * returns 0 or an error number (EINTR with *rem for a relative sleep, EINVAL,
 * ENOTSUP, EFAULT), never errno. weft times a relative sleep with a valid,
 * non-zero duration and an absolute one whose deadline is ahead; a call the
 * real function then rejects (a clock it cannot sleep on) is not recorded.
 */
WEFT_EXPORT int clock_nanosleep(clockid_t clk, int flags, const struct timespec *req,
				struct timespec *rem)
{
	WEFT_REAL_OR_FAIL(clock_nanosleep);
	struct weft_thread *self;
	struct weft_wait w;
	WEFT_WAIT_UNWIND(unwind);
	int rc, saved;

	if (!req || (unsigned long)req->tv_nsec >= 1000000000UL)
		return real(clk, flags, req, rem);
	if (flags & TIMER_ABSTIME ? !deadline_ahead(clk, req) : !sleeps_for(req))
		return real(clk, flags, req, rem);
	if (!(self = weft_hook_thread(WEFT_HOOK_SLEEP)))
		return real(clk, flags, req, rem);
	weft_wait_begin(&w, self, WEFT_WAIT_SLEEP, NULL, WEFT_CALLER);
	unwind = (struct weft_wait_unwind){ &w, false };
	rc = real(clk, flags, req, rem);
	unwind.w = NULL;
	if (rc == EINVAL || rc == ENOTSUP || rc == EFAULT) {
		saved = errno;
		weft_wait_cancel(&w);
		errno = saved;
		return rc;
	}
	weft_wait_end(&w, rc);
	return rc;
}

/*
 * usleep: sleeps for `usec` microseconds; returns 0 or -1 with errno (EINTR,
 * EINVAL). weft times a non-zero sleep.
 */
WEFT_EXPORT int usleep(useconds_t usec)
{
	WEFT_REAL_OR_FAIL(usleep);
	struct weft_thread *self;

	if (usec == 0 || !(self = sleeper(NULL)))
		return real(usec);
	SLEEP_WAIT(self, true, weft_wait_end_sys, real(usec));
}

/* The wait's result for sleep: the seconds left (0: slept in full), as an int. */
static void end_sleep(struct weft_wait *w, unsigned left)
{
	weft_wait_end(w, left > INT32_MAX ? INT32_MAX : (int)left);
}

/*
 * sleep: sleeps for `seconds`; returns 0, or the seconds left when a signal
 * handler interrupted it. No failure: the row's fallback (the symbol cannot
 * be resolved) is glibc's way, nanosleep's system call (agent/real.c).
 */
WEFT_EXPORT unsigned int sleep(unsigned int seconds)
{
	__typeof__(weft_real.sleep) const real = WEFT_REAL(sleep); /* never NULL: a fallback */
	struct weft_thread *self;
	struct weft_wait w;
	WEFT_WAIT_UNWIND(unwind);
	unsigned left;

	if (seconds == 0 || !(self = sleeper(NULL)))
		return real(seconds);
	weft_wait_begin(&w, self, WEFT_WAIT_SLEEP, NULL, WEFT_CALLER);
	unwind = (struct weft_wait_unwind){ &w, false };
	left = real(seconds);
	unwind.w = NULL;
	end_sleep(&w, left);
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

	if (__builtin_expect(real == NULL, 0))
		return -2;
	if (!duration || !(self = sleeper(duration)))
		return real(duration, remaining);
	SLEEP_WAIT(self, false, weft_wait_end, real(duration, remaining));
}
